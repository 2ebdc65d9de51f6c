"""Plots of fitted recommenders and of their data (matplotlib, the ``plot`` extra).

Displays in the style of :class:`sklearn.metrics.RocCurveDisplay`: a ``from_estimator`` (or
``from_*``) class method computes and draws; the display keeps its data and the matplotlib
artists (``ax_``, ``figure_``, ``lines_``...). Importing this module does not import
matplotlib; drawing does (``pip install 'skadv[plot]'``, else an ``ImportError``).
"""

from skadv.plotting._distribution import InteractionDistributionDisplay
from skadv.plotting._poisoning import PoisoningCurveDisplay
from skadv.plotting._robustness import RobustnessCurveDisplay
from skadv.plotting._search import GridSearchHeatmapDisplay
from skadv.plotting._training import TrainingCurveDisplay

__all__ = [
    "GridSearchHeatmapDisplay",
    "InteractionDistributionDisplay",
    "PoisoningCurveDisplay",
    "RobustnessCurveDisplay",
    "TrainingCurveDisplay",
]

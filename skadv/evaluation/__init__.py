"""Evaluation: compare recommenders (metrics over seeds, paired tests over users) and
measure their robustness (fit, attack and score).

Everything here orchestrates the layers below it: it clones and fits estimators, runs the
attacks of :mod:`skadv.attacks` and measures the result with the pure functions and scorers of
:mod:`skadv.metrics`. The robustness functions (moved here from :mod:`skadv.metrics`) stay
importable from there too, through a lazy re-export.
"""

from skadv.evaluation._compare import compare, paired_test
from skadv.evaluation._report import robustness_report
from skadv.evaluation._robustness import make_robustness_scorer, robustness_curve

__all__ = [
    "compare",
    "paired_test",
    "make_robustness_scorer",
    "robustness_curve",
    "robustness_report",
]

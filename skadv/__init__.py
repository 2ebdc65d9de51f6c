"""skadv: adversarial training of recommender systems, the scikit-learn way.

Importing skadv never imports PyTorch; the torch backend is loaded inside ``fit``.
"""

from skadv.base import BaseRecommender
from skadv.baseline import PopularityRecommender
from skadv.mf import AdversarialMFRecommender

__version__ = "0.1.0.dev0"

__all__ = [
    "AdversarialMFRecommender",
    "BaseRecommender",
    "PopularityRecommender",
    "__version__",
]

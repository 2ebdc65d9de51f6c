"""skadv: adversarial training of recommender systems, the scikit-learn way.

Importing skadv never imports PyTorch; the torch backend is loaded inside ``fit``.
"""

import importlib

from skadv._version import __version__
from skadv.base import BaseRecommender
from skadv.baseline import (
    EASERecommender,
    ImplicitALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from skadv.mf import AdversarialMFRecommender

__all__ = [
    "AdversarialMFRecommender",
    "BaseRecommender",
    "CFGANRecommender",
    "EASERecommender",
    "GANAugmenter",
    "ImplicitALSRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "__version__",
]

# Loaded on first use: the module is torch-free, but keeps its dependencies out of ``import
# skadv`` like skadv.neural.
_LAZY = {"CFGANRecommender": "skadv.augmentation", "GANAugmenter": "skadv.augmentation"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

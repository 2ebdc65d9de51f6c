"""Data augmentation with generative adversarial networks (PyTorch): CFGAN.

``CFGANRecommender`` trains a CFGAN and recommends from its generator; ``GANAugmenter`` uses
it as a sampler (``fit_resample``: generated interactions for sparse users, generated new
users) and as a meta-estimator wrapping another recommender. Training needs PyTorch
(``pip install 'skadv[torch]'``), imported by ``fit``, never by ``import skadv.augmentation``;
fitted models hold NumPy arrays and score, sample and recommend without torch.
"""

import importlib

__all__ = ["CFGANRecommender", "GANAugmenter"]

_MODULES = {
    "CFGANRecommender": "skadv.augmentation._gan",
    "GANAugmenter": "skadv.augmentation._augmenter",
}


def __getattr__(name):
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Neural recommenders and text encoders trained with adversarial perturbations (PyTorch).

Everything here needs PyTorch (``pip install 'skadv[torch]'``; text models also need
``transformers``: ``pip install 'skadv[text]'``), imported when a model is fitted or used, never
by ``import skadv.neural``.
"""

import importlib

__all__ = ["AdversarialNeuralRecommender", "AdversarialTextRecommender", "TextEncoder"]

_MODULES = {
    "AdversarialNeuralRecommender": "skadv.neural._neural",
    "AdversarialTextRecommender": "skadv.neural._text",
    "TextEncoder": "skadv.neural._text_encoder",
}


def __getattr__(name):
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Neural recommenders and text encoders trained with adversarial perturbations (PyTorch).

Training needs PyTorch (``pip install 'skadv[torch]'``; text models also need ``transformers``:
``pip install 'skadv[text]'``), imported by ``fit``, never by ``import skadv.neural``. Fitted
models hold NumPy arrays and score (``predict``, ``recommend``, ``score``) without torch; only
encoding new texts (``add_items``, ``encode_items``, ``TextEncoder``) loads the encoder again.
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

"""The public classes of skadv, found by walking its public subpackages (as
:func:`sklearn.utils.discovery.all_estimators` does), for the common-check test modules.

Imported by name from the test modules (pytest puts ``tests/`` on ``sys.path`` for its
``conftest.py``); not a test module itself.
"""

import importlib
import importlib.util
import inspect
import pkgutil

import skadv

HAS_TORCH = importlib.util.find_spec("torch") is not None

#: Classes whose fit needs PyTorch (their modules import without it).
NEEDS_TORCH = {
    "AdversarialNeuralRecommender",
    "AdversarialTextRecommender",
    "CFGANRecommender",
    "DiscriminatorDetector",
    "GANAttack",
    "GANAugmenter",
    "SurrogateAttack",
    "TextEncoder",
}


def public_classes():
    """``{name: class}`` of every class in the ``__all__`` of a public skadv package."""
    found = {}
    packages = [
        info.name
        for info in pkgutil.walk_packages(skadv.__path__, "skadv.")
        if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
    ]
    for package in ["skadv", *packages]:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", []):
            try:
                obj = getattr(module, name)
            except ImportError:  # a lazily imported torch-only class without torch
                continue
            if inspect.isclass(obj) and not inspect.isabstract(obj):
                found.setdefault(name, obj)
    return found

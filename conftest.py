"""Root pytest configuration: optional-dependency doctests and the hypothesis profile."""

import importlib.util
import os

# Doctest collection imports every module under skadv/; the torch backend imports torch at
# module level (it is only ever imported from fit when torch is installed).
collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("skadv/mf/_torch_backend.py")

# Property tests: no per-example deadline (a loaded 2-core CI machine makes timings
# meaningless), and a fixed example sequence on CI so that a run is reproducible.
try:
    from hypothesis import settings

    settings.register_profile("skadv", deadline=None, derandomize=bool(os.environ.get("CI")))
    settings.load_profile("skadv")
except ImportError:  # hypothesis is a test extra
    pass

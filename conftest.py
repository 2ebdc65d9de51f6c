"""Root pytest configuration: modules whose doctests need optional dependencies."""

import importlib.util

# Doctest collection imports every module under skadv/; the torch backend imports torch at
# module level (it is only ever imported from fit when torch is installed).
collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("skadv/mf/_torch_backend.py")

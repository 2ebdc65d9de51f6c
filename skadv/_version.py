"""The package version, in a leaf module: ``skadv/__init__.py`` and ``skadv.utils`` read it
without importing the top-level package (keep it equal to ``version`` in pyproject.toml)."""

__version__ = "0.1.0.dev0"

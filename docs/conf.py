"""Sphinx configuration for the skadv documentation (``pip install -e ".[docs]"``)."""

import skadv

project = "skadv"
author = "The skadv developers"
release = skadv.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
}
html_theme = "pydata_sphinx_theme"
exclude_patterns = ["_build"]

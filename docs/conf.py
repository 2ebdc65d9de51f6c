"""Sphinx configuration for the skadv documentation.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Generated sources (``docs/generated``, ``docs/auto_examples``) and the output (``docs/_build``)
are ignored by git. ``SKADV_DOCS_INTERSPHINX=1`` links to the Python, NumPy and scikit-learn
documentation (needs the network; off by default so that an offline build has no warnings).
"""

import os
import re
import sys
from pathlib import Path

# Document the checkout this file is in (its compiled kernels are built in place).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The text example loads MiniLM from a local package: never from the network.
for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
    os.environ.setdefault(name, "1")

from docutils.parsers.rst import states  # noqa: E402

import skadv  # noqa: E402

project = "skadv"
author = "The skadv developers"
copyright = "the skadv developers"
release = version = skadv.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "examples/GALLERY_HEADER.rst"]
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()

if os.environ.get("SKADV_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
    }

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # gridsearch_movielens.py is shown, not run (see header)
    "abort_on_example_error": True,
    "doc_module": ("skadv",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skadv": None},
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "show_memory": False,
    "download_all_examples": False,
    "capture_repr": (),  # print what matters; no "<Display object at 0x...>" lines
}

html_theme = "pydata_sphinx_theme"
html_title = f"skadv {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "migrating": [], "changelog": []}
html_static_path = ["_static"]
html_css_files = ["skadv.css"]

# ``(n_users_, n_factors)`` in a numpydoc type reads, to reStructuredText, as a reference to a
# target ``n_users`` (a name followed by ``_``): escape trailing underscores inside the shape
# of a type line, so the docstrings stay plain for help() and render literally here.
_SHAPE = re.compile(r"shape \(([^)]*)\)")
_TRAILING_UNDERSCORE = re.compile(r"(\w)_(?=[,)\s]|$)")


def _escape_shapes(app, what, name, obj, options, lines):
    for k, line in enumerate(lines):
        if "shape (" in line:
            lines[k] = _SHAPE.sub(
                lambda m: "shape (" + _TRAILING_UNDERSCORE.sub(r"\1\\_", m.group(1)) + ")", line
            )


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Document our own methods; leave scikit-learn's inherited ones (get_params,
    set_output, the set_*_request helpers...) to scikit-learn's documentation."""
    module = getattr(obj, "__module__", None) or ""
    return True if module.startswith("sklearn.") else None


def _no_email_links(self, match, lineno):
    """Leave "NDCG@10" as text: docutils links anything shaped like an address."""
    if match.group("email"):
        raise states.MarkupMismatch
    return _standalone_uri(self, match, lineno)


_standalone_uri = states.Inliner.standalone_uri
states.Inliner.standalone_uri = _no_email_links


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shapes, priority=400)
    app.connect("autodoc-skip-member", _skip_sklearn_members)

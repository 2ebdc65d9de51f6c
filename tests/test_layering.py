"""The package's layering, stated as tests: who may import whom.

- the training core (skadv.training) is backend-neutral and torch-free;
- the two MF backends are twins behind it: neither imports the other;
- skadv.neural imports no private name of skadv.mf, and skadv.metrics none of skadv.attacks;
- ``import skadv`` (and each subpackage) imports neither torch, transformers nor matplotlib.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "skadv"


def _imports(path):
    """(module, name) of every import in a source file; name is None for ``import module``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
    return found


def _private_imports_of(path, package):
    """Imports in ``path`` that reach a private module or name of ``package``."""
    bad = []
    for module, name in _imports(path):
        if module != package and not module.startswith(package + "."):
            continue
        private_module = any(part.startswith("_") for part in module.split(".")[1:])
        if private_module or (name is not None and name.startswith("_")):
            bad.append(f"{module}:{name}")
    return bad


def test_mf_backends_do_not_import_each_other():
    torch_backend = _imports(PACKAGE / "mf" / "_torch_backend.py")
    cython_backend = _imports(PACKAGE / "mf" / "_cython_backend.py")
    assert not [m for m, n in torch_backend if "_cython_backend" in m or n == "_cython_backend"]
    assert not [m for m, n in cython_backend if "_torch_backend" in m or n == "_torch_backend"]


@pytest.mark.parametrize("path", sorted((PACKAGE / "neural").glob("*.py")), ids=lambda p: p.name)
def test_neural_imports_no_private_name_of_mf(path):
    assert _private_imports_of(path, "skadv.mf") == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "metrics").glob("*.py")), ids=lambda p: p.name)
def test_metrics_import_no_private_name_of_attacks(path):
    assert _private_imports_of(path, "skadv.attacks") == []


def test_training_core_is_torch_free():
    modules = {m.split(".")[0] for m, _ in _imports(PACKAGE / "training.py")}
    assert not modules & {"torch", "transformers"}


def test_import_skadv_imports_no_optional_heavy_dependency():
    code = (
        "import sys, skadv, skadv.training, skadv.metrics, skadv.model_selection, "
        "skadv.datasets, skadv.mf, skadv.attacks, skadv.neural, skadv.augmentation, "
        "skadv.plotting; "
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

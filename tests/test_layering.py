"""The package's layering, stated as import contracts over the ``ast`` import graph.

The target house of the redesign (the layering of STYLE.md), lowest layer first; a module may
import its own layer and the layers below it::

    0  skadv.utils, skadv._ext, skadv._version
    1  skadv.datasets, skadv.metrics, skadv.model_selection
    2  skadv.base (with its serving mixins skadv._serving, skadv._fold_in)
    3  the torch layer: skadv._torch
    4  skadv.training
    5  the families: skadv.baseline, skadv.mf, skadv.neural, skadv.augmentation
    6  skadv.attacks
    7  skadv.detection
    8  skadv.evaluation
    9  skadv.plotting
    10 skadv (the top-level ``__init__``), skadv.__main__ and skadv.io (persistence: knows
       every skadv type, reading the package's source)

Every import of a skadv module is read from the source (``import a.b``, ``from a import b``;
``from a import b`` counts as an import of the module ``a.b`` when that is a module, else of
``a``; a package means its ``__init__``). An import inside a function body is *lazy*; every
other one (module body, class body, ``if``/``try`` at module level) is *module-level*. The
rules:

(a) layers: no module-level import goes to a higher layer. A lazy import may go up only when it
    is listed in ``LAZY_UPWARD`` with its reason (backward-compatible re-exports); any other
    lazy upward import is a violation. Families import only the layers below them: no import,
    public or private, lazy or not, from one family into another family's layer-5 modules.
(b) no cycles: the graph of all imports, module-level and lazy, minus the documented
    ``LAZY_UPWARD`` edges, has no cycle (no strongly connected component of two or more
    modules).
(c) private names: the private modules and names (a leading ``_`` after the package) of a
    family (baseline, mf, neural, augmentation) are imported only inside that family, by no
    other family nor any other package: what two packages share moves down a layer.

``KNOWN_VIOLATIONS`` is empty since the torch layer moved to ``skadv._torch``; a violation that
must stay for a while is listed there with a one-line reason, and the tests fail on a
violation not in the list and on a listed one that is gone: the list only shrinks.
Plus the older checks: the training core is torch-free, the two MF backends never import each
other, and ``import skadv`` imports neither torch, transformers nor matplotlib.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "skadv"

LAYERS = {
    "skadv.utils": 0,
    "skadv._ext": 0,
    "skadv._version": 0,
    "skadv.datasets": 1,
    "skadv.metrics": 1,
    "skadv.model_selection": 1,
    "skadv.base": 2,
    "skadv._serving": 2,
    "skadv._fold_in": 2,
    "skadv._torch": 3,
    "skadv.training": 4,
    "skadv.baseline": 5,
    "skadv.mf": 5,
    "skadv.neural": 5,
    "skadv.augmentation": 5,
    "skadv.attacks": 6,
    "skadv.detection": 7,
    "skadv.evaluation": 8,
    "skadv.plotting": 9,
    "skadv.__main__": 10,
    "skadv.io": 10,
}
TOP = 10  # skadv/__init__.py: exactly "skadv"; a new top-level module must be placed above
FAMILIES = ("skadv.baseline", "skadv.mf", "skadv.neural", "skadv.augmentation")

#: Lazy imports that may go up a layer: ``(importer, imported module) -> reason``. They are
#: left out of the cycle graph: they run on first attribute access, once both sides are loaded.
LAZY_UPWARD = {
    ("skadv.metrics", "skadv.evaluation"): (
        "PEP 562 re-export of robustness_report, robustness_curve and make_robustness_scorer, "
        "moved to skadv.evaluation: skadv.metrics.<name> keeps working"
    ),
}

#: Violations this step does not remove: ``"rule: importer -> imported" -> reason``.
KNOWN_VIOLATIONS = {}


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module):
    """The layer of a skadv module: its longest prefix in ``LAYERS``; None if unplaced."""
    if module == "skadv":
        return TOP
    matches = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def family_of(module):
    return next((f for f in FAMILIES if module == f or module.startswith(f + ".")), None)


def _resolve(importer, node):
    """The absolute module of a ``from`` import (relative imports resolved)."""
    if node.level == 0:
        return node.module
    package = importer.split(".")
    if not MODULES[importer].name == "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module):
    """``(imported module, imported name or None, lazy, line)`` of each skadv import."""
    found = []

    def visit(node, lazy):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, None, inner, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                source = _resolve(module, child)
                for alias in child.names:
                    target = f"{source}.{alias.name}"
                    if target in MODULES:  # "from package import module"
                        found.append((target, None, inner, child.lineno))
                    else:
                        found.append((source, alias.name, inner, child.lineno))
            visit(child, inner)

    visit(ast.parse(MODULES[module].read_text()), False)
    return [f for f in found if f[0] == "skadv" or f[0].startswith("skadv.")]


def _is_private(target, name):
    family = family_of(target)
    private_module = any(part.startswith("_") for part in target[len(family) + 1 :].split("."))
    return private_module or (name is not None and name.startswith("_"))


def layer_violations():
    found = {}
    for importer in MODULES:
        for target, _, lazy, line in imports_of(importer):
            where = f"{MODULES[importer]}:{line}"
            same_layer = layer_of(target) == layer_of(importer) == LAYERS["skadv.mf"]
            if same_layer and family_of(importer) != family_of(target):
                found.setdefault(f"sideways: {importer} -> {target}", where)
            if layer_of(target) <= layer_of(importer):
                continue
            if lazy and (importer, target) in LAZY_UPWARD:
                continue
            rule = "upward lazy" if lazy else "upward"
            found.setdefault(f"{rule}: {importer} -> {target}", where)
    return found


def private_violations():
    found = {}
    for importer in MODULES:
        for target, name, _, line in imports_of(importer):
            family = family_of(target)
            if family is None or family_of(importer) == family or not _is_private(target, name):
                continue
            shown = target if name is None or not name.startswith("_") else f"{target}.{name}"
            found.setdefault(f"private: {importer} -> {shown}", f"{MODULES[importer]}:{line}")
    return found


def import_graph():
    """``{module: set of imported modules}``, every import but the ``LAZY_UPWARD`` ones."""
    graph = {module: set() for module in MODULES}
    for importer in MODULES:
        for target, _, lazy, _ in imports_of(importer):
            if target in MODULES and target != importer:
                if not (lazy and (importer, target) in LAZY_UPWARD):
                    graph[importer].add(target)
    return graph


def strongly_connected_components(graph):
    """Tarjan's algorithm, iterative; components in no particular order."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _a_cycle(graph, members):
    """One cycle through the first member of a strongly connected component, for messages."""
    members = set(members)
    start = min(members)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for child in sorted(graph[path[-1]] & members):
            if child == start:
                return path + [start]
            if child not in seen:
                seen.add(child)
                paths.append(path + [child])
    return [start]


def cycle_violations():
    graph = import_graph()
    found = {}
    for component in strongly_connected_components(graph):
        if len(component) > 1:
            path = " -> ".join(_a_cycle(graph, component))
            found[f"cycle: {', '.join(component)}"] = f"e.g. {path}"
    return found


RULES = {"layer": layer_violations, "private": private_violations, "cycle": cycle_violations}
_KINDS = {"layer": ("upward", "upward lazy", "sideways"), "private": ("private",),
          "cycle": ("cycle",)}  # fmt: skip


def _known(rule):
    return {v for v in KNOWN_VIOLATIONS if v.split(":")[0] in _KINDS[rule]}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []


@pytest.mark.parametrize("rule", sorted(RULES))
def test_no_new_violation(rule):
    new = {v: where for v, where in RULES[rule]().items() if v not in KNOWN_VIOLATIONS}
    assert not new, "new import-contract violations (see the module docstring):\n" + "\n".join(
        f"  {v}  ({where})" for v, where in sorted(new.items())
    )


@pytest.mark.parametrize("rule", sorted(RULES))
def test_known_violations_are_still_there(rule):
    gone = sorted(_known(rule) - set(RULES[rule]()))
    assert not gone, f"fixed, so remove from KNOWN_VIOLATIONS (the list only shrinks): {gone}"


def test_known_violations_have_reasons():
    assert all(isinstance(r, str) and r.strip() for r in KNOWN_VIOLATIONS.values())
    kinds = {kind for kinds in _KINDS.values() for kind in kinds}
    assert all(v.split(":")[0] in kinds for v in KNOWN_VIOLATIONS)


def test_lazy_upward_imports_are_all_used():
    used = {
        (importer, target)
        for importer in MODULES
        for target, _, lazy, _ in imports_of(importer)
        if lazy and layer_of(target) > layer_of(importer)
    }
    assert set(LAZY_UPWARD) <= used


def test_metrics_re_exports_evaluation_lazily():
    code = (
        "import sys, skadv.metrics as m; "
        "before = sorted(k for k in ('skadv.evaluation', 'skadv.attacks') if k in sys.modules); "
        "import skadv.evaluation as e; "
        "moved = m._MOVED_TO_EVALUATION; "
        "same = all(getattr(m, n) is getattr(e, n) for n in moved); "
        "print(before, same, set(moved) <= set(m.__all__) & set(e.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True True"


def test_mf_backends_do_not_import_each_other():
    torch_backend = {t for t, _, _, _ in imports_of("skadv.mf._torch_backend")}
    cython_backend = {t for t, _, _, _ in imports_of("skadv.mf._cython_backend")}
    assert "skadv.mf._cython_backend" not in torch_backend
    assert "skadv.mf._torch_backend" not in cython_backend


def test_training_core_is_torch_free():
    tree = ast.parse(MODULES["skadv.training"].read_text())
    modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
               for a in n.names}  # fmt: skip
    modules |= {n.module.split(".")[0] for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module}  # fmt: skip
    assert not modules & {"torch", "transformers"}


def test_import_skadv_imports_no_optional_heavy_dependency():
    code = (
        "import sys, skadv, skadv.training, skadv.metrics, skadv.model_selection, "
        "skadv.datasets, skadv.mf, skadv.attacks, skadv.neural, skadv.augmentation, "
        "skadv.detection, skadv.evaluation, skadv.plotting; "
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

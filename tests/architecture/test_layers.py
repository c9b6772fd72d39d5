"""The package's layers import downward only, and no import closes a cycle.

Layers, lowest first (see README, "Architecture"): ``core`` < ``config`` < ``sim`` < ``analysis``
< ``storage`` < ``engine`` < ``apps``. A module may import its own layer and the layers below it.
Every ``import`` is read from the source with :mod:`ast`, at module level and inside functions
alike (a function-level import is still a dependency). Imports under ``if TYPE_CHECKING:`` run
for type checkers only: they must respect the layer order but do not count as cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "ketsim"
LAYERS = ("core", "config", "sim", "analysis", "storage", "engine", "apps")
#: modules at the package root: the lazy public API and ``python -m ketsim``
ROOT_MODULES = {"ketsim": len(LAYERS), "ketsim.__main__": len(LAYERS)}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer_of(module: str) -> int:
    if module in ROOT_MODULES:
        return ROOT_MODULES[module]
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        raise AssertionError(f"{module}: not inside a layer package ({', '.join(LAYERS)})")
    return LAYERS.index(parts[1])


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(n) for b in node.body for n in ast.walk(b))
    return ids


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(imported ketsim module, line, type-checking only) of every import in a file."""
    me = module_name(path)
    return imports_in(path.read_text(), me, path.name == "__init__.py")


def imports_in(source: str, me: str, is_package: bool) -> list[tuple[str, int, bool]]:
    """:func:`imports_of` for the source of module ``me``."""
    tree = ast.parse(source)
    tc = _type_checking_nodes(tree)
    pkg = me if is_package else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # ``from ketsim.x import y``: y may be a submodule
            names = [
                f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names
            ]
        else:
            continue
        for n in names:
            if n == "ketsim" or n.startswith("ketsim."):
                out.append((_resolve(n), node.lineno, id(node) in tc))
    return out


def _is_module(name: str) -> bool:
    p = PKG.parent / name.replace(".", "/")
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _resolve(name: str) -> str:
    while not _is_module(name):
        name = name.rsplit(".", 1)[0]
    return name


MODULES = sorted(PKG.rglob("*.py"))


def test_every_module_is_in_a_layer():
    for path in MODULES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_run_down_the_layers(path):
    me = module_name(path)
    mine = layer_of(me)
    up = [
        f"line {line}: {me} ({LAYERS[mine] if mine < len(LAYERS) else 'root'}) imports {dep} "
        f"({LAYERS[layer_of(dep)] if layer_of(dep) < len(LAYERS) else 'root'})"
        for dep, line, _ in imports_of(path)
        if dep not in ROOT_MODULES and layer_of(dep) > mine
    ]
    assert not up, "imports that run up a layer:\n" + "\n".join(up)


def test_no_import_cycles():
    graph = {module_name(p): set() for p in MODULES}
    for p in MODULES:
        me = module_name(p)
        for dep, _, type_only in imports_of(p):
            # the package root is every module's parent, imported for __version__ only
            if not type_only and dep != me and dep not in ROOT_MODULES:
                graph[me].add(dep)
    # Tarjan's strongly connected components: any with more than one module is a cycle
    index, low, stack, on, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_reader_sees_every_kind_of_import():
    """Function-level, relative and type-checking imports are all found (the checks can fail)."""
    src = (
        "from typing import TYPE_CHECKING\n"
        "import ketsim.engine.power\n"
        "from ..apps import cli\n"
        "if TYPE_CHECKING:\n"
        "    from ketsim.sim.trial import TrialModel\n"
        "def f():\n"
        "    from ketsim.config.scenario import Scenario\n"
    )
    got = sorted(imports_in(src, "ketsim.core.units", False))
    assert got == [
        ("ketsim.apps.cli", 3, False),
        ("ketsim.config.scenario", 7, False),
        ("ketsim.engine.power", 2, False),
        ("ketsim.sim.trial", 5, True),
    ]
    assert all(layer_of(dep) > layer_of("ketsim.core.units") for dep, _, _ in got)


#: libraries heavy enough (or optional) to import only inside the function that needs them
HEAVY_OPTIONAL = ("matplotlib", "solara", "dask", "distributed", "mesa.visualization")
#: scipy.stats costs ~0.5 s of every worker's start-up; the worker path computes its
#: distribution functions from scipy.special (ketsim.core.distributions), and only these
#: functions, off that path, import it on demand
SCIPY_STATS_ALLOWED = {
    "ketsim/core/stats/multiplicity.py",  # Dunnett: Sobol lattice, chi-square nodes
}
#: modules whose commands import their own subsystem on demand, so that ``ketsim --help`` or
#: ``ketsim scenario validate`` starts in ~0.2 s instead of importing the engine (mesa, scipy)
LAZY_BY_DESIGN = (
    "ketsim/apps/cli/",
    "ketsim/apps/explore_cli.py",
    "ketsim/apps/explorer/",
    "ketsim/apps/calibrate/cli.py",
)


def test_function_level_imports_only_for_heavy_optional_libraries():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).as_posix()
        tree = ast.parse(path.read_text())
        tc = _type_checking_nodes(tree)
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in tc:
                    continue
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                mod = mod or ""
                if mod.startswith(HEAVY_OPTIONAL) or rel.startswith(LAZY_BY_DESIGN):
                    continue
                names = [a.name for a in node.names]
                if rel in SCIPY_STATS_ALLOWED and (mod == "scipy.stats" or "stats" in names):
                    continue
                bad.append(f"{rel}:{node.lineno} imports {mod} inside {fn.name}()")
    assert not bad, "function-level imports of non-optional modules:\n" + "\n".join(
        sorted(set(bad))
    )


def test_worker_path_does_not_import_scipy_stats():
    """A Monte Carlo worker imports ketsim.engine.executors; scipy.stats must not come with it."""
    import subprocess
    import sys

    code = (
        "import sys, ketsim.engine.executors, ketsim.engine.chunks; "
        "bad = [m for m in sys.modules if m == 'scipy.stats']; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)

"""The package's shape: layers by role, no import cycle among ``videocolor`` modules (imports at any depth count), short modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "videocolor"
MAX_LINES = 400
MAX_INIT_LINES = 60
MAX_FLAT_MODULES = 12
# The layers, lowest first: a module imports its own layer and those below, never one above.
LAYERS = (("ops",), ("models", "io"), ("analysis",), ("render",), ("colorist", "jobs", "evaluation"), ("api",), ("_cli",))
# The flat core: imported from any layer but ``ops`` (which takes only ``errors``); it imports no layer above ``io``.
CORE = {"config", "settings_fields", "errors", "checks", "timecode", "home", "records", "_version"}
ENTRY = {"videocolor", "videocolor._console", "videocolor.__main__"}  # the package and the command: above everything


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The ``videocolor`` modules that ``path`` imports anywhere in its body (module level or inside functions).

    ``from X import name`` counts as importing ``X`` and, when it is a module, ``X.name``. Importing ``a.b``
    also runs the package ``a`` first, but that is not counted as an edge, or every import of a sibling would
    close a loop through the package; what a package's ``__init__`` imports is counted as its own edges.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_of(module: str) -> int | None:
    """The rank in ``LAYERS`` of a ``videocolor`` module, -1 for the core, ``None`` when it belongs to no layer."""
    top = module.partition(".")[2].partition(".")[0]
    if top in CORE:
        return -1
    return next((rank for rank, names in enumerate(LAYERS) if top in names), None)


def layer_breaches(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes against ``LAYERS``, as ``importer -> imported`` lines."""
    breaches = []
    for name, imported in sorted(graph.items()):
        if name in ENTRY:
            continue
        rank = layer_of(name)
        if rank is None:
            breaches.append(f"{name} belongs to no layer")
            continue
        for target in sorted(imported):
            target_rank = layer_of(target)
            if rank == 0:  # ops: pure operations know nothing of the package above them
                allowed = target.partition(".")[2].partition(".")[0] in ("ops", "errors")
            elif rank == -1:
                allowed = target_rank is not None and target_rank <= 1
            else:
                allowed = target_rank is not None and target_rank <= rank
            if not allowed:
                breaches.append(f"{name} -> {target}")
    return breaches


def test_finds_planted_layer_breaches() -> None:
    graph = {
        "videocolor.ops.flow": {"videocolor.errors", "videocolor.ops.color", "videocolor.config"},
        "videocolor.models.exemplar": {"videocolor.ops.fusion", "videocolor.io.images", "videocolor.render.temporal"},
        "videocolor.render.pipeline": {"videocolor.analysis.keyframes", "videocolor.colorist.preview"},
        "videocolor.config": {"videocolor.models.registry", "videocolor.jobs.tasks"},
        "videocolor.temporal": set(),
    }
    assert layer_breaches(graph) == [
        "videocolor.config -> videocolor.jobs.tasks",
        "videocolor.models.exemplar -> videocolor.render.temporal",
        "videocolor.ops.flow -> videocolor.config",
        "videocolor.render.pipeline -> videocolor.colorist.preview",
        "videocolor.temporal belongs to no layer",
    ]


def test_layers_by_role() -> None:
    """``ops`` imports only ``errors`` and itself; models never import the render, the analysis or anything above."""
    assert layer_breaches(import_graph()) == []


def test_flat_core_is_small() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= MAX_FLAT_MODULES, f"{len(flat)} modules directly in videocolor/: {flat}"


def test_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert "videocolor.api" in graph["videocolor._cli.main"], "the graph must see imports inside functions"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_help_and_version_answer_without_importing_torch() -> None:
    """torch takes seconds to import: the command line parses its arguments first."""
    script = (
        "import contextlib, io, sys\n"
        "from videocolor._cli.main import main\n"
        "for argv in (['--help'], ['--version'], ['batch', '--help'], ['image', '--help'], ['shots', '--help'], ['status', '--help'], ['weights', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
        "print(sorted(m for m in ('torch', 'videocolor.api', 'videocolor.jobs.batch') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_modules_are_short_and_package_inits_only_re_export(path: Path) -> None:
    name = str(path.relative_to(PACKAGE.parent))
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    limit = MAX_INIT_LINES if path.name == "__init__.py" else MAX_LINES
    assert lines <= limit, f"{name}: {lines} lines"
    if path.name == "__init__.py":
        body = ast.parse(text).body
        defined = [n.name for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name != "__getattr__"]
        assert not defined, f"{name} defines {defined}; a package's __init__ only re-exports"

"""The package's shape: the architecture tree (docs/architecture.md) names every module, and the import rules hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "edgemnist"
ARCHITECTURE = REPO / "docs" / "architecture.md"
START, END = "<!-- arch:start -->", "<!-- arch:end -->"
_ENTRY = re.compile(r"^[\w.]+(?:\.py|/)$")


def _modules() -> set[str]:
    """Every module file of the package, as a path relative to the repo (``edgemnist/export/base.py``)."""
    return {
        p.relative_to(REPO).as_posix()
        for p in PKG.rglob("*.py")
        if "__pycache__" not in p.parts and p.name not in ("__init__.py", "__main__.py")
    }


def _tree_entries() -> set[str]:
    """The files and folders the architecture tree lists, as full paths (indentation = nesting)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text[text.index(START) + len(START) : text.index(END)]
    stack: list[tuple[int, str]] = []
    entries = set()
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("```"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        names = []
        for token in re.split(r"\s{2,}", stripped):
            if not _ENTRY.match(token):
                break
            names.append(token)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        for name in names:
            entries.add(parent + name.rstrip("/"))
        if len(names) == 1 and names[0].endswith("/"):
            stack.append((indent, parent + names[0]))
    return entries


def test_the_architecture_tree_names_every_module():
    listed = _tree_entries()
    missing = sorted(m for m in _modules() if m not in listed)
    assert not missing, f"modules missing from {ARCHITECTURE.name}'s tree (between {START} and {END}): {missing}"
    gone = sorted(e for e in listed if e.startswith("edgemnist/") and e.endswith(".py") and not (REPO / e).exists())
    assert not gone, f"{ARCHITECTURE.name}'s tree names modules that do not exist: {gone}"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in ``path``, lazy ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
    return out


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def test_the_device_path_imports_nothing_from_the_exporters():
    for path in (PKG / "predictor").glob("*.py"):
        bad = [m for m, _ in _imports(path) if m.startswith("edgemnist.export")]
        assert not bad, f"{path.name} imports {bad}"
    micro = {m for m, _ in _imports(PKG / "predictor" / "micro.py") if m.startswith("edgemnist.")}
    assert {m for m in micro if not m.startswith(("edgemnist.tflm", "edgemnist.predictor.base"))} <= {
        "edgemnist.errors",
        "edgemnist.spec",
        "edgemnist.fileio",
        "edgemnist.manifest",
        "edgemnist.signing",
    }  # only a verified signature may lift the child-process arena check
    for path in (PKG / "tflm").glob("*.py"):
        bad = [m for m, _ in _imports(path) if m.startswith(("edgemnist.export", "edgemnist.predictor"))]
        assert not bad, f"tflm/{path.name} imports {bad}"


def test_no_child_module_imports_its_parent_package():
    offenders = []
    for init in PKG.rglob("__init__.py"):  # the subpackages (a module may read edgemnist.__version__)
        pkg = init.parent
        if pkg == PKG:
            continue
        parent = _dotted(init)
        submodules = {p.stem for p in pkg.glob("*.py")} | {p.name for p in pkg.iterdir() if p.is_dir()}
        for path in pkg.glob("*.py"):
            if path.name == "__init__.py":
                continue
            for module, names in _imports(path):
                if module == parent and not set(names) <= submodules:
                    offenders.append(f"{path.relative_to(REPO)}: from {module} import {', '.join(names)}")
    assert not offenders, "\n".join(offenders)


def test_no_import_cycle_between_edgemnist_packages():
    units = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    graph: dict[str, set[str]] = {u: set() for u in units}
    for unit in units:
        for path in (PKG / unit).rglob("*.py"):
            for module, _ in _imports(path):
                parts = module.split(".")
                if parts[0] == "edgemnist" and len(parts) > 1 and parts[1] in units and parts[1] != unit:
                    graph[unit].add(parts[1])

    def reach(a: str, seen: set[str]) -> set[str]:
        for b in graph[a] - seen:
            seen.add(b)
            reach(b, seen)
        return seen

    cycles = sorted(a for a in units if a in reach(a, set()))
    assert not cycles, f"packages in an import cycle: {cycles} ({ {u: sorted(graph[u]) for u in cycles} })"


def _module_graph() -> dict[str, set[str]]:
    """Module -> the edgemnist modules it imports (lazy and ``TYPE_CHECKING`` imports included): ``from pkg import
    name`` counts as importing ``pkg.name`` when that is a module, else ``pkg`` itself. Importing an ancestor package
    (``from edgemnist import __version__``) is not an edge: Python initialises it before any of its modules."""
    modules = {_dotted(p): p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for module, names in _imports(path):
            targets = [f"{module}.{n}" if f"{module}.{n}" in modules else module for n in names] or [module]
            for target in targets:
                if target in modules and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan): each is a set of modules in a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle_inside_one_package():
    graph = {"p.base": {"p.pipeline"}, "p.pipeline": {"p.base", "p.landing"}, "p.landing": {"p.base"}, "p.x": set()}
    assert _cycles(graph) == [["p.base", "p.landing", "p.pipeline"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_edgemnist_modules():
    """Not between packages (above), and not between the modules of one package either (export.base importing
    export.pipeline, which imports export.base), lazy imports included."""
    graph = _module_graph()
    cycles = _cycles(graph)
    assert not cycles, "modules in an import cycle: " + "; ".join(
        " <-> ".join(c) + f" ({ {m: sorted(graph[m] & set(c)) for m in c} })" for c in cycles
    )


def test_no_hook_probing_and_no_top_level_bench_modules():
    for path in [*(PKG / "export").glob("*.py"), PKG / "commands" / "export.py", PKG / "predictor" / "predictor.py"]:
        text = path.read_text(encoding="utf-8")
        assert "hasattr(" not in text and "getattr(backend" not in text, f"{path.name} probes for hooks"
    assert not list(PKG.glob("bench_*.py"))


def test_fast_tier_modules_never_import_tensorflow_at_module_level():
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in top if isinstance(n, ast.ImportFrom) and n.module]
        assert not [n for n in names if n.split(".")[0] in ("tensorflow", "keras", "tf2onnx")], path


def test_help_imports_neither_numpy_nor_the_pipeline():
    """The CLI reads its defaults from the frozen configs, which import nothing heavy: --help stays light."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom edgemnist.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('numpy', 'edgemnist.export.pipeline', 'edgemnist.predictor')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"

"""The package's folder tree is its data flow: a stage imports only earlier stages, and
no module-level import cycle exists (read from the source with ``ast``, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "python" / "repalign"

# the data flow, earliest first; modules in one tuple are one layer. The R bridge (r) comes
# before dynamics, whose GLMM calls R through it; the pipeline composes every stage.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",), ("config", "task", "store", "children", "rlib", "versions", "families"), ("datasets",), ("models",),
    ("features",), ("representations",), ("metrics",),
    ("learners",), ("embeddings",), ("r_config", "r"), ("dynamics",), ("pipeline",), ("cli",), ("__init__", "__main__"),
)
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    """repalign modules a file imports: everywhere, or only at module level (outside functions
    and ``if TYPE_CHECKING`` blocks), which is what can form an import cycle."""
    out: set[str] = set()
    nodes = ast.walk(tree) if not top_level_only else _top_level(tree.body)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("repalign"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)  # `from repalign.x import y` (y a module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("repalign"))
    return out


def _top_level(body):
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _top_level([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = _imports(ast.parse(path.read_text()), top_level_only)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer():
    unknown = sorted({_stage(m) for m in _graph(False)} - set(RANK))
    assert not unknown, f"modules outside the layer list (add them to LAYERS): {unknown}"


def test_no_stage_imports_a_later_stage():
    backwards = sorted(
        f"{a} imports {b}"
        for a, targets in _graph(False).items()
        for b in targets
        if _stage(a) != _stage(b) and RANK[_stage(b)] > RANK[_stage(a)] and _stage(a) not in ("__init__", "__main__")
    )
    assert not backwards, "imports against the data flow:\n" + "\n".join(backwards)


def test_no_import_cycles():
    graph = _graph(True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            # a package and its own submodules importing each other is how packages re-export
            if len(comp) > 1 and not all(c.startswith(min(comp, key=len)) for c in comp):
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"module-level import cycles: {cycles}"


def test_the_checker_sees_a_planted_backward_import(tmp_path):
    # the rule above must be able to fail: a metrics module importing the pipeline is caught
    tree = ast.parse("from repalign.pipeline import run\n")
    targets = _imports(tree, False)
    assert "repalign.pipeline" in targets and RANK[_stage("repalign.pipeline")] > RANK["metrics"]

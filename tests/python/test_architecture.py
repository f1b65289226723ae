"""The package's folder tree is its data flow: a stage imports only earlier stages, and
no module-level import cycle exists (read from the source with ``ast``, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

from repalign.stages import STAGES

PKG = Path(__file__).resolve().parents[2] / "python" / "repalign"

#: what each stage's package needs besides the stage itself (the [r] stage's section schema)
_WITH = {"r_stage": ("r_config",)}
# the data flow, earliest first; modules in one tuple are one layer. The foundation, the R
# bridge (r: any stage may call R through it), the data and the models come first; then the
# stages in the one order of repalign.stages.STAGES; the pipeline composes every stage.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("config", "task", "store", "children", "rlib", "versions", "families", "stages", "device"),
    ("r",),
    ("datasets",),
    ("models",),
    ("style", "plotting"),  # the figures' style and drawing helpers: each stage draws its own figures
    *(((package,) + _WITH.get(package, ())) for _name, _module, package in STAGES),
    ("pipeline",),
    ("cli",),
    ("__init__", "__main__"),
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


def test_every_stage_is_a_layer_of_its_own_in_the_pipeline_order():
    ranks = [RANK[package] for _name, _module, package in STAGES]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


def test_the_checker_sees_a_planted_backward_import(tmp_path):
    # the rule above must be able to fail: a metrics module importing the pipeline is caught
    tree = ast.parse("from repalign.pipeline import run\n")
    targets = _imports(tree, False)
    assert "repalign.pipeline" in targets and RANK[_stage("repalign.pipeline")] > RANK["metrics"]


def test_the_stage_order_is_read_from_one_place():
    """The docs' stage table and the package docstring list the stages in the order of
    repalign.stages.STAGES, and the pipeline plans them in it."""
    import re

    import repalign
    from repalign.pipeline import registrations

    names = [name for name, _module, _package in STAGES]
    assert [s.name for s in registrations()] == names
    docs = (PKG.parents[1] / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \| `([a-z_]+)` \|", docs, flags=re.M)
    assert rows == [(name, package) for name, _module, package in STAGES]
    listed = re.search(r"features → [a-z →]+", repalign.__doc__).group(0).split(" → ")
    assert listed == names


def test_the_docs_list_the_registered_families():
    import repalign.metrics  # noqa: F401  (registers its families)
    import repalign.r_stage  # noqa: F401
    from repalign.families import docs_table

    docs = (PKG.parents[1] / "docs" / "architecture.md").read_text()
    shown = docs.split("<!-- families:start -->\n", 1)[1].split("\n<!-- families:end -->", 1)[0]
    assert shown == docs_table()


TOY_STUDY = """
[run]
output = "out"

[[stimuli]]
name = "digits"
source = "digits"
n = 2

[[models]]
name = "pixels:4"

[[metrics]]
metric = "dimensionality"
methods = ["pr"]
"""


def test_a_toy_family_reaches_the_run_and_the_report(tmp_path, monkeypatch, capsys):
    """A result family registered here (nothing in pipeline/ changed) prints its lines after
    the run, puts its section, figure and finding into the report and its row into the docs
    table; the metric rows it claims (registered first, it takes the dimensionality rows from
    the dimensionality family) form its own report table and figure group, and the numbers of
    its finding link to that table."""
    import json
    import re

    import pandas as pd

    import repalign.families as fams
    from repalign.config import load_config
    from repalign.pipeline import figures as figs
    from repalign.pipeline import run

    def lines(table: pd.DataFrame) -> list[str]:
        return [f"toy family: {len(table)} dimensionality rows"]

    def findings(metrics: pd.DataFrame) -> list[str]:
        mine = metrics[metrics["metric"] == "dimensionality_pr"]
        return [f"Toy finding over {len(metrics)} metric rows: mean {mine['value'].mean():.4f}."] if len(mine) else []

    def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list:
        import matplotlib.pyplot as plt

        out_dir.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot(metrics["value"])
        fig.savefig(out_dir / "toy.png")
        plt.close(fig)
        return [
            fams.FamilyFigure(
                "toy", "Toy figure", "Toy caption.", out_dir / "toy.png", tables=("tab-metrics-toy", *sorted(tables))
            )
        ]

    def tables(roots) -> list:
        return [
            fams.FamilyTable(fams.anchor("toy", p.stem), p.stem, pd.read_csv(p), p)
            for p in fams.files_under(roots, "toy_*.csv")
        ]

    toy = fams.ResultFamily(
        name="toy",
        title="Toy family",
        task_prefix="metrics:dimensionality:",
        summary_lines=lines,
        figures=figures,
        report_section=lambda metrics, roots: '<section id="toy-family"><h2>Toy family</h2></section>',
        findings=findings,
        metrics=lambda name: name == "dimensionality_pr",
        tables=tables,
        tables_title="Toy tables",
    )
    monkeypatch.setattr(fams, "_REGISTRY", {"toy": toy, **fams._REGISTRY})
    assert figs.metric_family("dimensionality_pr") == "toy" and figs.metric_family("dimensionality_twonn") == (
        "dimensionality"
    )
    (tmp_path / "study.toml").write_text(TOY_STUDY)
    status = run(load_config(tmp_path / "study.toml"), report=True, progress=False)
    assert status and all(s == "done" for s in status.values())
    captured = capsys.readouterr()
    printed = captured.out + captured.err  # the run's console writes to stderr
    (line,) = [ln for ln in printed.splitlines() if ln.startswith("toy family:")]
    assert int(line.split()[2]) > 0
    out = tmp_path / "out"
    html = (out / "report.html").read_text()
    assert '<section id="toy-family">' in html
    # its metric rows: its own table (the dimensionality family's is gone), its finding linked to it
    rows = pd.concat(pd.read_parquet(p) for p in out.rglob("dimensionality*.parquet"))
    mean = f"{rows.loc[rows['metric'] == 'dimensionality_pr', 'value'].mean():.4f}"
    assert "<details id='tab-metrics-toy'><summary>metrics: Toy family" in html
    assert "id='tab-metrics-dimensionality'" not in html
    (finding,) = [f for f in json.loads((out / "findings.json").read_text()) if f.startswith("Toy finding")]
    assert finding.endswith(f"mean {mean}.")
    assert f"<a href='#tab-metrics-toy'>{mean}</a>" in html
    # its figure, listed under its title in the overview and citing its table
    assert "<li><b>Toy family</b> (1): <a href='#fig-toy'>Toy figure</a></li>" in html
    assert re.search(r"<figure id='fig-toy'.*Data: <a href='#tab-metrics-toy'>metrics: Toy family</a>", html)
    assert "| `toy` | Toy family | `metrics:dimensionality:` |" in fams.docs_table()
    # its tables found among the run's files: shown under its heading and given to its figure;
    # one in a folder of the R stage keeps the R table's anchor and is shown once
    from repalign.pipeline.report import write_report

    pd.DataFrame({"x": [1, 2]}).to_csv(out / "toy_a.csv", index=False)
    (out / "r" / "fit").mkdir(parents=True)
    (out / "r" / "fit" / "summary.txt").write_text("fitted\n")
    pd.DataFrame({"x": [3, 4, 5]}).to_csv(out / "r" / "fit" / "toy_b.csv", index=False)
    html = write_report(load_config(tmp_path / "study.toml"), status, 0.0).read_text()
    assert "<h2>Toy tables</h2>\n<details id='tab-toy-toy_a'><summary>toy_a (2 rows)" in html
    assert "tab-toy-toy_b" not in html and html.count("<details id='tab-r-toy_b'><summary>toy_b (3 rows)") == 1
    assert re.search(
        r"<figure id='fig-toy'.*Data: <a href='#tab-metrics-toy'>metrics: Toy family</a>, "
        r"<a href='#tab-r-toy_b'>toy_b</a>, <a href='#tab-toy-toy_a'>toy_a</a>\.",
        html,
    )
    assert not [p for p in (PKG / "pipeline").rglob("*.py") if "toy" in p.read_text()]


def test_figure_groups_come_from_the_registered_families(monkeypatch):
    """The report's figure groups are the registered families, in registration order and with
    their own titles (a family registered in a test joins at its place), then the groups of the
    stages that are no family; every family that draws does so in its own module, not in
    pipeline/, and pipeline/figures.py defines no family's plot function."""
    import repalign.families as fams
    import repalign.metrics  # noqa: F401
    from repalign.pipeline import figures as figs

    owning = [f for f in fams.families() if f.metrics is not None]
    assert {f.name for f in owning} >= {"odd_one_out", "rsa", "cka", "dimensionality", "error_consistency"}
    drawing = [f for f in fams.families() if f.figures is not fams._nothing]
    assert {f.name for f in drawing} >= {"odd_one_out", "rsa", "cka", "dimensionality", "error_consistency"}
    assert not [f.name for f in drawing if f.figures.__module__.startswith("repalign.pipeline")]
    source = (PKG / "pipeline" / "figures.py").read_text()
    assert not [f.name for f in fams.families() if f"def plot_{f.name}" in source]
    toy = fams.ResultFamily(name="toy", title="Toy family", task_prefix="metrics:toy:")
    monkeypatch.setattr(fams, "_REGISTRY", {**fams._REGISTRY, "toy": toy})
    groups = figs.figure_groups()
    n = len(fams.families())
    assert list(groups.items())[:n] == [(f.name, f.title) for f in fams.families()]
    assert list(groups)[n - 1] == "toy" and list(groups)[n:] == [*figs.STAGE_GROUPS, "other"]

"""Every code block of README.md and docs/*.md that is meant to run, runs here.

A fenced block is found by its language (toml, python, r, bash/sh); the HTML comments
on the lines just above its fence say how it is run:

* ``<!-- not-run: REASON -->``: never run (e.g. it installs, clones, submits jobs or
  trains for hours); the reason is required and the block is counted;
* ``<!-- data -->``: needs the real data (``REPALIGN_DATA_DIR``): marked ``data``, so
  it runs in CI's data pass and skips (or fails with ``REPALIGN_REQUIRE_DATA=1``)
  without the data;
* ``<!-- run -->``: TOML only: run the study (``repalign.pipeline.run.run``), not only
  plan it; shell only: run it (shell blocks run only when marked so);
* ``<!-- images: PATH -->``: before running, make a small folder of images at PATH
  (relative to the block's working directory): 30 scikit-learn digits as PNG files
  in three category sub-folders;
* ``<!-- copy: PATH -->``: copy the repository's file PATH to the same relative path;
* ``<!-- mkdir: PATH -->``: make an (empty) directory PATH;
* ``<!-- features: PATH SOURCE [N] -->``: a Parquet features file at PATH for the ids
  of the stimulus set ``{"source": SOURCE, "n": N}`` (a ``stimulus_id`` column and 8
  seeded Gaussian columns ``d0`` … ``d7``);
* ``<!-- synthetic-study: DIR -->``: the synthetic alignment study of
  ``builders.alignment_study`` (15 models, a planted effect of training size):
  ``DIR/trials.parquet``, ``DIR/metrics.parquet`` and its metadata at
  ``data/models.csv``;
* ``<!-- continues -->``: the block continues the previous block of its language in
  the same file: they run as one script (and the earlier blocks' fixtures are made);
* ``<!-- demircan-choices: PATH -->``: write a human-choices file in the Demircan et
  al. format at PATH (one participant, condition file 1, trials 0..119).

How each language runs, in an empty temporary directory:

* TOML: written to ``study.toml`` (``[run] output = "out"`` prepended when the block
  has no ``[run]``; a block without a stage section, e.g. ``[executor]``, gets a
  10-image digits set as its stage), loaded with ``repalign.config.load_config``,
  validated and planned with ``repalign.pipeline.plan.plan_all`` and its
  ``[executor]`` parsed; ``run`` blocks then run offline;
* Python: ``exec`` in a fresh namespace; a one-line expression whose comment starts
  with a number (``M.noise_ceiling(nc)  # 0.6722``) or a tuple of numbers must give
  that number to the quoted precision, so a quoted number cannot go stale;
* R: ``Rscript`` with this checkout's R library (``.rlib``) first on ``R_LIBS``;
* shell: ``bash -euo pipefail`` with this checkout's ``python`` directory first on
  ``PYTHONPATH`` and the environment's ``bin`` first on ``PATH``.

``python tests/python/test_docs_examples.py`` prints the counts (executed offline,
executed with data, not run) and every not-run block with its reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
LANGS = {
    "toml": "toml",
    "python": "python",
    "py": "python",
    "r": "r",
    "R": "r",
    "bash": "sh",
    "sh": "sh",
    "shell": "sh",
    "console": "sh",
}
_MARK = re.compile(
    r"^\s*<!--\s*(not-run|data|run|images|copy|mkdir|demircan-choices|features|synthetic-study|continues)\s*(?::\s*(.*?))?\s*-->\s*$"
)


@dataclass
class Block:
    """One fenced code block: file (relative to the repository), line of its
    opening fence (1-based), language (toml | python | r | sh), text, and the markers
    of the HTML comments just above it (name -> value, "" when it has none)."""

    file: str
    line: int
    lang: str
    text: str
    marks: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}-{self.lang}"

    @property
    def runs(self) -> bool:
        """Whether the test suite runs it (shell blocks only when marked ``run``)."""
        if "not-run" in self.marks:
            return False
        return self.lang != "sh" or "run" in self.marks


def extract_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """Every fenced block of a Markdown file whose language is one of ``LANGS``,
    with the markers of the comment lines directly above its fence."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+|~~~+)\s*([A-Za-z]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(2), m.group(3), i
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        marks: dict[str, str] = {}
        k = start - 1
        while k >= 0 and _MARK.match(lines[k]):
            mk = _MARK.match(lines[k])
            marks[mk.group(1)] = mk.group(2) or ""
            k -= 1
        if lang in LANGS:
            blocks.append(
                Block(
                    str(path.relative_to(root)), start + 1, LANGS[lang], "\n".join(lines[start + 1 : j]) + "\n", marks
                )
            )
        i = j + 1
    return blocks


def chained(blocks: list[Block]) -> list[Block]:
    """Blocks marked ``continues`` carry the text (and fixtures) of the previous block
    of their language in the same file before their own."""
    out: list[Block] = []
    for b in blocks:
        if "continues" in b.marks:
            prev = next((p for p in reversed(out) if p.file == b.file and p.lang == b.lang), None)
            assert prev is not None, f"{b.id}: <!-- continues --> but no earlier {b.lang} block in {b.file}"
            b = Block(b.file, b.line, b.lang, prev.text + b.text, {**prev.marks, **b.marks})
        out.append(b)
    return out


ALL_BLOCKS = chained([b for p in DOC_FILES for b in extract_blocks(p)])


def _params():
    for b in ALL_BLOCKS:
        if b.runs:
            yield pytest.param(b, id=b.id, marks=[pytest.mark.data] if "data" in b.marks else [])


# ---- fixtures a block asks for -------------------------------------------------------------


def make_images(folder: Path, n: int = 30) -> None:
    """``n`` scikit-learn digits as 64 × 64 RGB PNG files, ``digit<k>/<i>.png`` with
    k = label mod 3 (three categories)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    for i in range(n):
        sub = folder / f"digit{d.target[i] % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((d.images[i] * 15).astype(np.uint8)).resize((64, 64)).convert("RGB")
        img.save(sub / f"{i:03d}.png")


def make_demircan_choices(path: Path) -> None:
    """One participant's 120 category-learning choices on condition file 1 (the
    format of repalign.learners.human_choices; choices alternate 0/1)."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {"participant": "p1", "cond_file": 1, "trial": range(120), "choice": [i % 2 for i in range(120)]}
    ).to_csv(path, index=False)


def make_fixtures(block: Block, cwd: Path) -> None:
    """What the block's markers ask for, under ``cwd``."""
    import shutil

    if "images" in block.marks:
        make_images(cwd / block.marks["images"])
    if "copy" in block.marks:
        for rel in block.marks["copy"].split():
            (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, cwd / rel)
    if "mkdir" in block.marks:
        for rel in block.marks["mkdir"].split():
            (cwd / rel).mkdir(parents=True, exist_ok=True)
    if "features" in block.marks:
        import numpy as np
        import pandas as pd

        from repalign.features import load_stimulus_set

        rel, source, *n = block.marks["features"].split()
        ids = load_stimulus_set({"source": source, **({"n": int(n[0])} if n else {})}).ids
        values = np.random.default_rng(0).normal(size=(len(ids), 8))
        (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(values, columns=[f"d{i}" for i in range(8)]).assign(stimulus_id=list(ids)).to_parquet(cwd / rel)
    if "synthetic-study" in block.marks:
        from builders import alignment_study

        from repalign.store import write_table

        trials, models, metrics = alignment_study()
        out = cwd / block.marks["synthetic-study"]
        write_table(trials, out / "trials.parquet", "trials", {"source": "builders.alignment_study"})
        write_table(metrics, out / "metrics.parquet", "metrics", {"source": "builders.alignment_study"})
        (cwd / "data").mkdir(exist_ok=True)
        models.to_csv(cwd / "data" / "models.csv", index=False)
    if "demircan-choices" in block.marks:
        make_demircan_choices(cwd / block.marks["demircan-choices"])


def _env(block: Block) -> dict[str, str]:
    from repalign.children import child_env

    env = child_env()  # without what an R embedded earlier in this process changed (LD_LIBRARY_PATH, …)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    rlib = ROOT / ".rlib"
    if rlib.is_dir():
        env["R_LIBS"] = os.pathsep.join([str(rlib)] + ([env["R_LIBS"]] if env.get("R_LIBS") else []))
    env.setdefault("RETICULATE_PYTHON", sys.executable)
    if "data" not in block.marks:
        env["REPALIGN_OFFLINE"] = "1"  # an offline block never downloads
    return env


# ---- runners ------------------------------------------------------------------------------

STAGE_RE = re.compile(r"^\s*\[\[?\s*(stimuli|models|representations|metrics|learners|embed|dynamics|r)\s*[\].]", re.M)


def run_toml(block: Block, cwd: Path) -> None:
    from repalign.config import load_config
    from repalign.pipeline.executors import ExecutorSettings
    from repalign.pipeline.plan import plan_all

    text = block.text
    if not re.search(r"^\s*\[run\]", text, re.M):
        text = '[run]\noutput = "out"\n\n' + text
    if not STAGE_RE.search(text):
        text += '\n[[stimuli]]\nname = "digits"\nsource = "digits"\nn = 10\n'
    path = cwd / "study.toml"
    path.write_text(text)
    config = load_config(path)
    ExecutorSettings.from_config(config)
    tasks = plan_all(config)
    if STAGE_RE.search(block.text):
        assert tasks, f"{block.id}: the config plans no task"
    if "run" in block.marks:
        from rich.console import Console

        from repalign.pipeline.run import run

        status = run(config, progress=False, console=Console(stderr=True, quiet=True))
        assert all(
            s.startswith("done") or s.startswith("cached") or s.startswith("skipped") for s in status.values()
        ), status


_QUOTED = re.compile(
    r"^(?P<expr>[^#]*?\S)\s+#\s*(?P<num>\(\s*-?\d+\.\d+(?:\s*,\s*-?\d+\.\d+)*\s*\)|-?\d+\.\d+)(?=\s|$)"
)


def with_number_checks(text: str) -> tuple[str, int]:
    """The block with every one-line expression whose comment starts with a number
    (``M.noise_ceiling(nc)   # 0.6722``) or a tuple of numbers (``# (0.477, 0.577)``)
    turned into a check that the expression gives that number to the quoted
    precision; returns (code, number of checks)."""
    import ast

    out, n = [], 0
    for line in text.splitlines():
        m = _QUOTED.match(line)
        if m:
            try:
                ok = isinstance(ast.parse(m.group("expr")).body[0], ast.Expr)
            except SyntaxError:
                ok = False
            if ok:
                line = f"__docs_check__(({m.group('expr')}), {m.group('num')!r}, {m.group('expr')!r})"
                n += 1
        out.append(line)
    return "\n".join(out) + "\n", n


def docs_check(value, quoted: str, expr: str) -> None:
    """``value`` (a number or a sequence of numbers) rounds to ``quoted``."""
    import numpy as np

    nums = re.findall(r"-?\d+\.(\d+)", quoted)
    want = [float(x) for x in re.findall(r"-?\d+\.\d+", quoted)]
    got = np.atleast_1d(np.asarray(value, dtype=float)).ravel().tolist()
    assert len(got) == len(want), f"{expr}: gives {got}, the docs quote {quoted}"
    for g, w, d in zip(got, want, nums):
        assert abs(g - w) <= 0.5 * 10 ** -len(d) + 1e-12, f"{expr}: gives {g}, the docs quote {quoted}"


def run_python(block: Block, cwd: Path) -> None:
    text, _ = with_number_checks(block.text)
    code = compile(text, block.id, "exec")
    exec(code, {"__name__": "__docs_example__", "__docs_check__": docs_check})  # noqa: S102 (the docs' own example)


def run_r(block: Block, cwd: Path) -> None:
    if not (ROOT / ".rlib" / "repalign").is_dir():
        pytest.skip("the R package is not installed in .rlib (make install-rpkg)")
    script = cwd / "example.R"
    script.write_text(block.text)
    proc = subprocess.run(
        ["Rscript", str(script)], cwd=cwd, env=_env(block), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{block.id}: Rscript exit {proc.returncode}\n{proc.stderr[-3000:]}"


def run_sh(block: Block, cwd: Path) -> None:
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=cwd,
        env=_env(block),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{block.id}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


RUNNERS = {"toml": run_toml, "python": run_python, "r": run_r, "sh": run_sh}


@pytest.mark.parametrize("block", list(_params()))
def test_doc_example_runs(block: Block, tmp_path, monkeypatch):
    """The block runs as written (with its fixtures) in an empty directory."""
    env = _env(block)
    for k in ("REPALIGN_OFFLINE", "R_LIBS", "RETICULATE_PYTHON"):
        if k in env:
            monkeypatch.setenv(k, env[k])
    monkeypatch.chdir(tmp_path)
    make_fixtures(block, tmp_path)
    RUNNERS[block.lang](block, tmp_path)


def test_every_block_is_run_or_says_why():
    """A block that does not run says why; markers are known and well-formed."""
    assert len(ALL_BLOCKS) > 20, "the extractor found too few blocks"
    for b in ALL_BLOCKS:
        if "not-run" in b.marks:
            assert len(b.marks["not-run"]) > 5, f"{b.id}: <!-- not-run: REASON --> needs a reason"
        elif b.lang == "sh":
            assert "run" in b.marks, (
                f"{b.id}: a shell block runs only when marked <!-- run -->; else <!-- not-run: REASON -->"
            )
        if "images" in b.marks:
            assert b.marks["images"] and not Path(b.marks["images"]).is_absolute(), (
                f"{b.id}: images needs a relative path"
            )


def test_quoted_numbers_are_checked():
    """A planted wrong number fails, the right one passes, other comments are left alone."""
    code, n = with_number_checks(
        "x = 2\nx / 3          # 0.667  (two thirds)\n(x, x / 4)  # (2.0, 0.50)\nx  # a comment\nstr(  # 1.5\n)\n"
    )
    assert n == 2
    exec(code, {"__docs_check__": docs_check})
    bad, _ = with_number_checks("2 / 3   # 0.67\n")
    exec(bad, {"__docs_check__": docs_check})  # 0.6667 rounds to 0.67
    bad, _ = with_number_checks("2 / 3   # 0.668\n")
    with pytest.raises(AssertionError, match="the docs quote 0.668"):
        exec(bad, {"__docs_check__": docs_check})


def test_extractor_reads_markers(tmp_path):
    """Planted blocks: languages, lines and stacked markers come back as written."""
    md = tmp_path / "x.md"
    md.write_text(
        "text\n<!-- data -->\n<!-- images: a/b -->\n```toml\n[run]\n```\n\n```\nplain\n```\n"
        "<!-- not-run: installs things -->\n```bash\nmake x\n```\n```python\nx = 1\n```\n"
    )
    blocks = extract_blocks(md, root=tmp_path)
    assert [(b.line, b.lang) for b in blocks] == [(4, "toml"), (12, "sh"), (15, "python")]
    assert blocks[0].marks == {"images": "a/b", "data": ""} and blocks[0].text == "[run]\n"
    assert blocks[1].marks == {"not-run": "installs things"} and not blocks[1].runs
    assert blocks[2].runs and blocks[2].marks == {}


# ---- numbers quoted from the demo run ---------------------------------------------------------

_NUM = r"(−?-?\d+\.\d+)"
_DEMO_RHO = {
    "train_size": "training-set size",
    "params": "parameter count",
    "intrinsic_dim": "intrinsic dimensionality",
}


def _close(got: float, quoted: str) -> bool:
    q = quoted.replace("−", "-")
    return abs(got - float(q)) <= 0.5 * 10 ** -len(q.split(".")[1]) + 1e-12


def demo_quote_problems(out: Path) -> list[str]:
    """Where README.md's quoted demo finding and docs/r.md's demo correlations differ
    from a demo run's ``findings.json`` and ``model_correlations.csv`` (empty: they agree)."""
    import json

    import pandas as pd

    problems = []
    readme = (ROOT / "README.md").read_text()
    quote = " ".join(ln[1:].strip() for ln in readme.splitlines() if ln.startswith(">"))
    quote = quote.split(" — ")[0].strip()
    findings = [" ".join(f.split()) for f in json.loads((out / "findings.json").read_text())]
    nums = re.findall(r"\d+\.\d+", quote)
    if not any(
        all(n in f for n in nums) and "most aligned model is " + quote.split("model is ")[1].split(" ")[0] in f
        for f in findings
    ):
        problems.append(f"README quote {quote!r} matches no finding of the run: {findings}")
    text = " ".join((ROOT / "docs" / "r.md").read_text().split())
    cor = pd.read_csv(next(out.glob("r/*/model_correlations.csv")))
    pooled = cor[cor["group"] == "all"].set_index("predictor")
    for pred, label in _DEMO_RHO.items():
        m = re.search(rf"{label} {_NUM} \[{_NUM}, {_NUM}\] \(p {_NUM}\)", text)
        if m is None:
            problems.append(f"docs/r.md quotes no demo rho for {label}")
            continue
        row = pooled.loc[pred]
        for col, q in zip(("rho", "conf.low", "conf.high", "p.value"), m.groups()):
            if not _close(float(row[col]), q):
                problems.append(f"docs/r.md demo {label} {col}: quoted {q}, the run gives {row[col]:.4f}")
    return problems


def test_demo_quote_checker_catches_planted_changes(tmp_path):
    """A run whose finding and correlations differ from the quoted ones is caught;
    one that gives the quoted numbers passes."""
    import json

    import pandas as pd

    (tmp_path / "r" / "k").mkdir(parents=True)
    good = (
        "Task pooled: the most aligned model is efficientnet_lite1 (penultimate) with cross-validated "
        "pseudo-R² 0.552 [0.513, 0.588], ahead of efficientnet_lite2 (penultimate) at 0.116 (margin 0.436)."
    )
    rows = [
        ("train_size", 0.8660, 0.7255, 1.0, 0.0577),
        ("params", 0.7182, -0.0228, 1.0, 0.1718),
        ("intrinsic_dim", 0.6, -1.0, 1.0, 0.2848),
    ]
    cor = pd.DataFrame(
        [
            {"group": "all", "predictor": p, "rho": r, "conf.low": lo, "conf.high": hi, "p.value": pv}
            for p, r, lo, hi, pv in rows
        ]
    )
    cor.to_csv(tmp_path / "r" / "k" / "model_correlations.csv", index=False)
    (tmp_path / "findings.json").write_text(json.dumps([good]))
    assert demo_quote_problems(tmp_path) == []
    (tmp_path / "findings.json").write_text(json.dumps([good.replace("0.552", "0.551")]))
    cor.loc[2, "rho"] = 0.9
    cor.to_csv(tmp_path / "r" / "k" / "model_correlations.csv", index=False)
    problems = demo_quote_problems(tmp_path)
    assert len(problems) == 2 and "README quote" in problems[0] and "intrinsic dimensionality rho" in problems[1]


def test_demo_numbers_in_the_docs(demo_run):
    """README's demo finding and docs/r.md's demo correlations are those of the run."""
    out, _ = demo_run
    assert demo_quote_problems(Path(out)) == []


def counts() -> dict[str, int]:
    """Blocks executed offline, executed in the data pass, and not run."""
    runs = [b for b in ALL_BLOCKS if b.runs]
    return {
        "offline": sum("data" not in b.marks for b in runs),
        "data": sum("data" in b.marks for b in runs),
        "not_run": len(ALL_BLOCKS) - len(runs),
        "total": len(ALL_BLOCKS),
        "quoted_numbers_checked": sum(with_number_checks(b.text)[1] for b in runs if b.lang == "python"),
    }


if __name__ == "__main__":
    print(counts())
    for b in ALL_BLOCKS:
        state = (
            "data"
            if b.runs and "data" in b.marks
            else "offline"
            if b.runs
            else f"not-run: {b.marks.get('not-run', '(shell, unmarked)')}"
        )
        print(f"{b.id:40s} {state}")

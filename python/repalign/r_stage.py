"""The ``[r]`` stage: one task running ``Rscript analysis/fit_models.R`` on the run's
tables (``plan_r``, ``run_fit_models``), and the cross-benchmark model's result family.

Its options are declared once, in ``repalign.r_config.RSection``; R is reached through
``repalign.r`` (errors, ``check_r``) and ``repalign.rlib`` (library, environment,
child processes).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from repalign.r import RError, RNote, RUnavailableError, check_r
from repalign.r_config import RSection
from repalign.rlib import PROJECT_ROOT, r_code_key, r_env, run_child
from repalign.stages import Stage


def plan_r(config, upstream: Sequence[Any], section: RSection) -> list:
    """One task running ``Rscript analysis/fit_models.R`` on the run's tables.

    section: the validated ``[r]`` section (``repalign.pipeline.plan.plan_stage(config,
    "r")`` plans this stage alone, with no upstream tasks).

    ``[r]`` keys (all optional): ``input`` (directory of tables; default: the Parquet
    outputs of ``upstream`` tasks, else the run's output directory), ``models``
    (metadata CSV), ``engine`` (lme4|brms), ``levels`` (["model", "trial"]), ``cv`` (kfold|loo), ``k``, ``by`` (list of
    columns), ``n_boot``, ``seed`` (default: the run's), ``id_metric``, ``id_dataset``,
    ``chains``, ``iter``, ``workers``. The task is keyed by these options, the keys of
    the upstream tasks (content keys), the sha256 of the model metadata file and of
    the tables under ``input``, and the R code (``r_code_key``: installed package
    version, sha256 of its sources and of the script); it writes
    ``<output>/r/<key>/`` atomically, sealed by a manifest (``summary.txt`` is the
    task's output).
    """
    import hashlib
    import json

    from repalign.errors import ValidationError
    from repalign.models.spec import models_csv as _models_csv
    from repalign.task import Task

    opts = section.options(config.seed)
    for name in ("input", "models"):
        if name in opts:
            opts[name] = str(config.resolve(opts[name]))
    # the upstream tables, and the [dynamics] stage's GLMM (fit_run reads it instead of fitting it again)
    inputs = sorted(
        str(p)
        for t in upstream
        for p in t.outputs
        if str(p).endswith(".parquet") or (t.stage == "dynamics" and Path(p).name == "glmm.csv")
    )
    if "input" not in opts and not inputs:
        opts["input"] = str(config.output)
    # the metadata file fit_models.R would pick, named explicitly so that key and script agree;
    # the curated table is the one the Python side reads ($REPALIGN_MODELS_CSV, else the package's)
    if "models" not in opts:
        curated = _models_csv()
        if os.environ.get("REPALIGN_MODELS_CSV") and not curated.is_file():
            raise ValidationError(f"REPALIGN_MODELS_CSV: no model metadata file at {curated}")
        for cand in ([Path(opts["input"]) / "models.csv"] if "input" in opts and not inputs else []) + [curated]:
            if cand.is_file():
                opts["models"] = str(cand)
                break
    content = _r_input_content(opts, exclude=Path(config.output) / "r")
    # the metadata file's path is left out: its content is in the key
    ident = json.dumps(
        {
            "options": {k: v for k, v in opts.items() if k != "models"},
            "upstream": sorted(t.key for t in upstream),
            "content": content,
            "code": r_code_key(),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    out = Path(config.output) / "r" / key
    return [
        Task(
            key=f"r:{key}",
            stage="r",
            outputs=(out / "summary.txt",),
            fn=run_fit_models,
            kwargs={"output": str(out), "options": opts, "inputs": inputs},
            deps=tuple(t.key for t in upstream),
            label=f"R models ({opts['engine']})",
        )
    ]


def _r_input_content(opts: dict, exclude: Path) -> dict:
    """sha256 of what the R stage reads besides upstream tables (which are keyed by
    their tasks): the model metadata file and every Parquet table under ``input``
    (the R stage's own outputs, under ``exclude``, left out)."""
    from repalign.errors import ValidationError
    from repalign.store import PARTS_MARKER, file_sha256, files_sha256, is_temporary

    content = {}
    if opts.get("models"):
        path = Path(opts["models"])
        if not path.is_file():
            raise ValidationError(f"[r] models: no model metadata file at {path}")
        content["models"] = file_sha256(path)
    if opts.get("input"):
        root = Path(opts["input"])
        if not root.is_dir():
            raise ValidationError(f"[r] input: {root} is not a directory")
        tables = [
            p
            for p in root.rglob("*.parquet")
            if exclude not in p.parents and not is_temporary(p) and not (p.parent / PARTS_MARKER).is_file()
        ]
        content["input"] = files_sha256(tables, root)
    return content


NOTHING_TO_FIT_STATUS = 3  # fit_models.R's exit status when the tables hold nothing to fit


def nothing_to_fit_note(stderr: str) -> str:
    """The one line that reports an ``[r]`` stage with nothing to do, from the
    ``nothing to fit: …`` line of ``fit_models.R`` (the temporary input directory
    left out of it)."""
    line = next((ln for ln in reversed(stderr.splitlines()) if ln.startswith("nothing to fit")), "")
    found = line.rsplit("(found ", 1)[1].rstrip(")") if "(found " in line else "no such tables"
    return (
        f"[r] nothing to fit, stage skipped: the run's tables hold no trials with human choices, no dynamics "
        f"and no decisions tables (found {found}); [[learners]] with human choices, [dynamics] or a "
        f"classification metric give it something to fit"
    )


def fit_models_flags(options: dict) -> list[str]:
    """The ``fit_models.R`` flags of the ``[r]`` options (every ``RSection`` key but
    ``input``, which the stage stages itself): ``--<key with - for _> <value>``, lists
    comma-joined (``levels = []`` → ``none``: no hierarchical alignment models)."""
    from repalign.r_config import r_flag

    args: list[str] = []
    for key in RSection.model_fields:
        value = options.get(key)
        if key == "input" or value is None or (key == "by" and not value):
            continue
        if isinstance(value, list):
            value = ",".join(value) or "none"
        args += [r_flag(key), str(value)]
    return args


def run_fit_models(output: str, options: dict, inputs: Sequence[str] = ()) -> Path:
    """Run ``analysis/fit_models.R`` into ``output`` atomically (a partial directory
    renamed into place); the script's summary goes to ``summary.txt``. When the
    tables hold nothing to fit (exit status 3: e.g. metrics only, no human
    choices) the stage is done with nothing to do: ``summary.txt`` and
    ``warnings.txt`` hold one line saying so (the report shows it), also printed."""
    import shutil as _sh

    from repalign.store import publish_dir, temp_name

    if PROJECT_ROOT is None:
        raise RUnavailableError(
            "the [r] stage runs analysis/fit_models.R of a source checkout; this repalign is an "
            "installed wheel: run the study from a checkout (git clone … && make install)"
        )
    script = PROJECT_ROOT / "analysis" / "fit_models.R"
    if not script.is_file():
        raise RUnavailableError(f"R analysis script not found: {script}")
    check_r()
    out = Path(output)
    tmp = temp_name(out)  # this writer's own directory: r/.repalign-tmp/<key>.<pid>-<random>
    tmp.mkdir(parents=True)
    try:
        if inputs:
            staging = tmp / "_input"
            staging.mkdir()
            for i, p in enumerate(inputs):
                (staging / f"{i:03d}-{Path(p).name}").symlink_to(Path(p).resolve())
            input_dir = staging
        else:
            input_dir = Path(options["input"])
        args = ["Rscript", str(script), "--input", str(input_dir), "--output", str(tmp), *fit_models_flags(options)]
        proc = run_child(args, env=r_env(), cwd=PROJECT_ROOT)
        if proc.returncode == NOTHING_TO_FIT_STATUS:
            # a stage with nothing to do (e.g. metrics only, no human choices): one line, not a failure
            note = nothing_to_fit_note(proc.stderr)
            if inputs:
                _sh.rmtree(tmp / "_input")
            (tmp / "summary.txt").write_text(note + "\n")
            (tmp / "warnings.txt").write_text(note + "\n")
            publish_dir(tmp, out)
            print(note, file=sys.stderr)
            return out
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
            raise RError(f"Rscript analysis/fit_models.R failed (exit {proc.returncode}):\n{tail}")
        if inputs:
            _sh.rmtree(tmp / "_input")
        # R's notes (e.g. k capped at the number of participants) go to the summary and
        # to the caller as warnings, which the run shows once
        notes = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("note: ")]
        for note in dict.fromkeys(notes):
            warnings.warn(f"[r] {note}", RNote, stacklevel=2)
        (tmp / "summary.txt").write_text(proc.stdout + "".join(f"{n}\n" for n in dict.fromkeys(notes)))
        publish_dir(tmp, out)
    finally:
        _sh.rmtree(tmp, ignore_errors=True)
    return out


# ---- the cross-benchmark model as a result family (console lines, report section) ------------
def _benchmark_lines(summary: Path) -> list[str]:
    """The R stage's ``benchmark_model <term> <estimate> [<lo>, <hi>] benchmarks <B> models <M>``
    lines (from its summary.txt)."""
    return [ln for ln in Path(summary).read_text(errors="replace").splitlines() if ln.startswith("benchmark_model ")]


def _benchmark_section(metrics: pd.DataFrame, roots: Sequence[Path]) -> str:
    """The report's "what predicts alignment across benchmarks" section: the fixed effects and the
    per-benchmark slopes (partial pooling beside no pooling) of the R stage, when it fitted the model."""
    import html

    from repalign.families import files_under, table_html

    coefs = files_under(roots, "benchmark_coefficients.csv")
    if not coefs:
        return ""
    tab = pd.read_csv(coefs[-1])
    keep = [c for c in ("term", "estimate", "conf.low", "conf.high", "inference", "n_models", "note") if c in tab]
    parts = [
        '<section id="benchmark-model"><h2>What predicts alignment across benchmarks</h2>',
        "<p>One hierarchical model over every benchmark of the run (docs/r.md §3b): alignment on a common "
        "scale ~ log10(training images + 1) × objective + intrinsic dimensionality + (1 | model) + "
        "(1 + log10(training images + 1) | benchmark).</p>",
        table_html(tab[keep]),
    ]
    for png in files_under(roots, "benchmark_slopes.png")[-1:]:
        import base64

        data = base64.b64encode(png.read_bytes()).decode()
        parts.append(
            f'<figure><img alt="per-benchmark slopes" src="data:image/png;base64,{data}">'
            "<figcaption>Each benchmark's training-size slope: partial pooling (blue, the hierarchical "
            "model) beside the benchmark's own fit (grey, no pooling); 95% intervals.</figcaption></figure>"
        )
    slopes = files_under(roots, "benchmark_slopes.csv")
    if slopes:
        parts.append(
            "<details><summary>Per-benchmark slopes</summary>" + table_html(pd.read_csv(slopes[-1])) + "</details>"
        )
    parts.append("</section>")
    return "\n".join(p if p.startswith("<") else html.escape(p) for p in parts)


def _register_benchmark_family() -> None:
    from repalign.families import ResultFamily, register

    register(
        ResultFamily(
            name="benchmark_model",
            title="What predicts alignment across benchmarks",
            task_prefix="r:",
            read=Path,
            summary_lines=_benchmark_lines,
            report_section=_benchmark_section,
        )
    )


_register_benchmark_family()


def _plan_stage(config, entries: dict, resolved, upstream: Sequence[Any]) -> list:
    return plan_r(config, upstream, entries["r"])


STAGE = Stage("r", ("r",), _plan_stage, models={"r": RSection}, tasks=(run_fit_models,))

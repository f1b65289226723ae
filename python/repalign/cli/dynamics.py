"""``repalign dynamics``: learning curves, generalisation lag and data efficiency
of humans, fine-tuned networks and simulated learners (Huber et al. 2024)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from repalign.cli._stage import LOCK_TIMEOUT, OUTPUT, QUIET, stage_lock
from repalign.config import Config, load_config
from repalign.task import run_local

console = Console()


def _fmt(x) -> str:
    return "—" if pd.isna(x) else (f"{x:.3f}" if isinstance(x, float) else str(x))


def dynamics(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Study config (TOML) with a [dynamics] section; "
        "default: all seven Huber et al. agents with default parameters.",
    ),
    output: Path | None = OUTPUT,
    lock_timeout: float | None = LOCK_TIMEOUT,
    quiet: bool = QUIET,
    progress: bool = typer.Option(True, "--progress/--no-progress", hidden=True),  # old spelling of --quiet
) -> None:
    """Trial tables, learning curves, generalisation lag and data efficiency; prints the lag per agent."""
    from repalign.dynamics.plan import analysis_outputs
    from repalign.pipeline.plan import plan_stage
    from repalign.store import read_table

    if config is not None:
        cfg = load_config(config, output)
    else:
        out = (output or Path("results/dynamics")).resolve()
        cfg = Config(path=Path.cwd() / "dynamics.toml", raw={"dynamics": {}}, output=out)
    tasks = plan_stage(cfg, "dynamics", with_inputs=True)  # validated and planned as `repalign run` does
    with stage_lock(cfg, lock_timeout):
        run_local(tasks, progress=progress and not quiet)
    outputs = analysis_outputs(tasks)
    if quiet:
        return
    lag = read_table(outputs["lag"])
    curves = read_table(outputs["curves"])
    test = curves[curves["phase"] == "test"].pivot(index="agent", columns="epoch", values="mean")
    table = Table(
        "agent",
        "type",
        "runs",
        "test acc. (first→last epoch)",
        "j",
        "window",
        "lag",
        title=f"Generalisation lag (j: first epoch with train accuracy > chance band "
        f"upper bound {lag['chance_upper'].iloc[0]:.3f})",
    )
    for row in lag.itertuples():
        t = test.loc[row.agent].dropna()
        window = f"{_fmt(row.window_start)}–{row.window_end}" if not pd.isna(row.window_start) else "—"
        table.add_row(
            row.agent,
            row.agent_type,
            str(row.n_runs),
            f"{t.iloc[0]:.3f} → {t.iloc[-1]:.3f}",
            _fmt(row.first_above_chance),
            window,
            _fmt(row.lag),
        )
    console.print(table)
    console.print(
        "runs: the lag uses the human runs of \\[dynamics] human_runs (default: the 7 who learned); "
        "test accuracies use all runs."
    )
    if "glmm" in outputs:
        slopes = pd.read_csv(Path(outputs["glmm"]).parent / "slopes.csv")
        slopes.columns = [c.replace(".", "_") for c in slopes.columns]
        d = slopes[slopes["quantity"] == "test_minus_train"]
        gt = Table(
            "agent",
            "test − train epoch slope (log-odds)",
            "s.e.",
            "z",
            "p",
            "note",
            title="GLMM phase × epoch interaction per agent (correct ~ epoch * phase * agent + (1 | run))",
        )
        for row in d.itertuples():
            gt.add_row(
                row.agent,
                f"{row.estimate:.3f}",
                f"{row.std_error:.3f}",
                f"{row.statistic:.2f}",
                f"{row.p_value:.2g}",
                "ceiling/floor: unreliable" if getattr(row, "separated", False) is True else "",
            )
        console.print(gt)
    for name, path in outputs.items():
        console.print(f"{name}: {path}", soft_wrap=True)

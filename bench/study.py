"""Benchmark: what the whole naturalcogsci study (Demircan et al. 2024) costs on one node.

An NCS-size study built from stand-in features and run through the real pipeline
(``repalign.pipeline.plan.plan_all``) and executors (``repalign.task.run_local`` at
1 worker, ``repalign.pipeline.executors.run_dask`` on a 2-worker LocalCluster):

* models: random Gaussian features (``source = "random"``) at the output widths of
  the naturalcogsci models (``WIDTHS``, cycled), over the THINGS concepts, i.e. on
  the stimulus ids of the real condition files (the category and reward tasks look
  their images up by concept);
* learners: category and reward, ``variant = "default"`` and ``"published"``, on the
  first N real condition files of each (things-category-tasks, things-reward-tasks);
* human choices: one synthetic participant per condition file (choices drawn from the
  true category / the better option with probability 0.8, seeded), written in the
  paper's ``above_chance.csv`` format, so the ``[r]`` stage runs the cross-validated
  choice models, the model-level statistics and the hierarchical alignment models
  on a stand-in models.csv (training-set size, parameters);
* one config per learner variant with both task kinds, ``[r] by = ["model", "layer",
  "task_kind"]`` as analysis/configs/naturalcogsci.toml (with --quick the ``[r]`` stage
  runs in the default variant's configs only: its cost does not depend on the variant).

Measured (one run each, the machine as it is): per pipeline task at 1 worker its wall
time and CPU seconds (this process and its children: R), per stage the sums and the
peak resident memory of the worker (sampled); at 2 workers the wall time, the peak
memory of each worker (its ru_maxrss), the lost worker time (1 − Σ task times at 1
worker / (2 × wall at 2 workers), cluster start-up excluded: on a shared, loaded
machine mostly other people's load) and the scheduling overhead proper: Dask's cost per
task (no-op tasks on the same cluster) × tasks / the tasks' CPU seconds.

Cost model (least squares over the tasks of every run): a learner task's CPU seconds
= n_files × (c0 + c1 · width) per learner and variant; the [r] stage = r0 + r1 ·
models × files (files of both kinds). Projection: the whole study (86 models × 1,050
category + 240 reward files, widths of the listed models, their mean for the rest) as
core-seconds, on one 16-core node (greedy longest-task-first over 16 workers, + the
[r] stage after the learners) and on k SLURM nodes of 16 cores. Printed last:
``projected_hours_16_cores default <h> published <h>``.

Run: ``REPALIGN_DATA_DIR=… OMP_NUM_THREADS=1 .venv/bin/python bench/study.py --quick`` (3x3, 4x3 and 3x4
models x files; 2 workers once, on the default variant's first size; ~1.5 CPU-min, ≤ 10 min
on 2 cores at load ~20); without --quick: 2x50, 4x50, 8x50, 8x100 models x files, 1 and 2
workers each (a few CPU-hours, most of it the published reward learner). Needs the R
package (R_LIBS).
"""

from __future__ import annotations

import argparse
import heapq
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# output widths (features per stimulus) of the naturalcogsci models listed in
# analysis/configs/naturalcogsci.toml, in that file's order (their architectures'
# published embedding / penultimate sizes), then SPoSE-49 ("Task")
WIDTHS = (
    768,
    512,
    512,
    640,
    512,
    1024,
    1024,
    1024,
    768,
    512,
    4096,
    512,
    512,
    2048,
    2048,
    2048,
    768,
    768,
    1024,
    1536,
    768,
    768,
    1024,
    768,
    768,
    1024,
    1024,
    1280,
    1280,
    512,
    512,
    768,
    384,
    768,
    1024,
    1536,
    768,
    1024,
    1280,
    49,
)
N_MODELS, N_CATEGORY, N_REWARD = 86, 1050, 240
LEARNERS = [("category", "demircan-category", v) for v in ("default", "published")] + [
    ("reward", "demircan-reward", v) for v in ("default", "published")
]


# --- the study --------------------------------------------------------------------------------
def _choices(kind: str, files: list[int], path: Path, seed: int) -> None:
    """One synthetic participant per condition file, in the paper's format (0-based
    trials): category → the true category, reward → the better option, each with
    probability 0.8."""
    import pandas as pd

    from repalign.datasets import load_category_tasks, load_reward_tasks

    rng = np.random.default_rng(seed)
    rows = []
    tasks = load_category_tasks(files) if kind == "category" else load_reward_tasks(files)
    for f, task in zip(files, tasks):
        truth = (
            np.asarray(task.categories)
            if kind == "category"
            else (np.asarray(task.rewards)[:, 1] > np.asarray(task.rewards)[:, 0]).astype(int)
        )
        flip = rng.random(len(truth)) > 0.8
        for t, c in enumerate(np.where(flip, 1 - truth, truth)):
            rows.append((f"{kind[0]}{f}", f, t, int(c)))  # distinct participants per task kind
    pd.DataFrame(rows, columns=["participant", "cond_file", "trial", "choice"]).to_csv(path, index=False)


def write_study(root: Path, n_models: int, n_files: int, n_boot: int, variant: str, with_r: bool = True) -> Path:
    """The study config of one learner variant (as the paper's config runs one) with
    both task kinds, and its stand-in features (.npy over the THINGS concepts), choices
    and models.csv under root; returns the TOML path. with_r: include the ``[r]`` stage."""
    from repalign.datasets import load_things_ids

    ids = list(load_things_ids())
    (root / "things_ids.txt").write_text("\n".join(ids) + "\n")
    rng = np.random.default_rng(n_models)
    if not (root / "category.csv").is_file():
        _choices("category", list(range(1, n_files + 1)), root / "category.csv", 1)
        _choices("reward", list(range(1, n_files + 1)), root / "reward.csv", 2)
    names = [f"standin{i:02d}_d{WIDTHS[i % len(WIDTHS)]}" for i in range(n_models)]
    meta = ["name,backend,architecture,weights,family,objective,train_data,train_size,params,resolution,source"]
    lines = ["[run]", f'name = "study-bench-{variant}"', f'output = "out-{variant}"', "seed = 0", ""]
    for i, n in enumerate(names):
        meta.append(
            f"{n},random,standin,none,standin,{'supervised' if i % 2 else 'self-supervised'},none,"
            f"{int(10 ** rng.uniform(6, 9))},{int(10 ** rng.uniform(6, 9))},224,stand-in for bench/study.py"
        )
        if not (root / f"{n}.npy").is_file():
            np.save(
                root / f"{n}.npy", np.random.default_rng(i + 1).standard_normal((len(ids), WIDTHS[i % len(WIDTHS)]))
            )
        lines += [
            "[[representations]]",
            f'name = "{n}"',
            'source = "file"',
            f'path = "{n}.npy"',
            'ids_file = "things_ids.txt"',
            f'model = "{n}"',
            'layer = "output"',
            "",
        ]
    (root / "models.csv").write_text("\n".join(meta) + "\n")
    reps = "[" + ", ".join(f'"{n}"' for n in names) + "]"
    for k, task, v in LEARNERS:
        if v == variant:
            lines += [
                "[[learners]]",
                f'task = "{task}"',
                f'name = "{k}"',
                f'variant = "{variant}"',
                f'choices = "{k}.csv"',
                f"representations = {reps}",
                "",
            ]
    if with_r:
        lines += [
            "[r]",
            'engine = "lme4"',
            'models = "models.csv"',
            'by = ["model", "layer", "task_kind"]',
            "k = 5",
            f"n_boot = {n_boot}",
            'levels = ["model"]',
            "",
        ]
    path = root / f"study-{variant}.toml"
    path.write_text("\n".join(lines))
    return path


def _kind(task) -> tuple[str, int]:
    """The cost class of a pipeline task ('category/published', …, 'r' or its stage) and
    the width of its stand-in features (0 when none)."""
    if task.stage == "learners":
        spec = task.kwargs["job"].spec  # a learner task receives its LearnerJob and representation by name
        kind = spec["task"].split("-")[1]
        width = int(str(task.kwargs["ref"].model).rsplit("_d", 1)[1])  # stand-in models are named …_d<width>
        return f"{kind}/{spec.get('variant', 'default')}", width
    return task.stage, 0  # the [r] stage: stage "r"


class PeakRSS:
    """Peak resident memory (bytes) of this process and its children, sampled at 20 Hz."""

    def __init__(self):
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _rss(self) -> int:
        total = self.proc.memory_info().rss
        for c in self.proc.children(recursive=True):
            try:
                total += c.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def _loop(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self.peak = self._rss()
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _timed(fn, kind_width, rows):
    def run(*a, **k):
        c0, w0 = _cpu(), time.perf_counter()
        with PeakRSS() as mem:
            out = fn(*a, **k)
        rows.append((*kind_width, time.perf_counter() - w0, _cpu() - c0, mem.peak))
        return out

    return run


def run_one_worker(cfg: Path, out: Path):
    """Every task in dependency order through the local executor, one at a time;
    returns [(kind, width, wall s, cpu s, peak rss bytes)] per task."""
    from repalign.config import load_config
    from repalign.pipeline.plan import plan_all
    from repalign.task import order_tasks, run_local

    rows = []
    tasks = order_tasks(plan_all(load_config(cfg, output=out)))
    for t in tasks:  # time each task's body inside the executor (Task is frozen: set the field directly)
        object.__setattr__(t, "fn", _timed(t.fn, _kind(t), rows))
    status = run_local(tasks, progress=False)
    bad = {k: s for k, s in status.items() if s not in ("done", "skipped")}
    if bad:
        raise SystemExit(f"study bench: tasks did not finish: {bad}")
    return rows


def _worker_stats():
    import resource as r

    u = r.getrusage(r.RUSAGE_SELF)
    c = r.getrusage(r.RUSAGE_CHILDREN)
    return u.ru_maxrss * 1024, max(c.ru_maxrss, 0) * 1024


def run_two_workers(cfg: Path, out: Path):
    """All tasks on a 2-worker Dask LocalCluster (repalign's run_dask); returns (wall s
    without cluster start-up, start-up s, peak rss per worker in bytes, no-op overhead per task s)."""
    from dask.distributed import Client, LocalCluster

    from repalign.config import load_config
    from repalign.pipeline.executors import ExecutorSettings, run_dask
    from repalign.pipeline.plan import plan_all

    tasks = plan_all(load_config(cfg, output=out))
    t0 = time.perf_counter()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, memory_limit="8GB"
    ) as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(2)
            start = time.perf_counter() - t0
            w0 = time.perf_counter()
            run_dask(tasks, ExecutorSettings(kind="dask", n_workers=2), progress=False, cluster=cluster)
            wall = time.perf_counter() - w0
            with Client(cluster) as c2:
                peaks = [max(v) for v in c2.run(_worker_stats).values()]
                n0 = time.perf_counter()
                c2.gather([c2.submit(abs, -i, pure=False) for i in range(len(tasks))])
                noop = (time.perf_counter() - n0) / max(len(tasks), 1)
    return wall, start, peaks, noop


# --- cost model and projection ------------------------------------------------------------------
def fit_costs(points):
    """points: [(kind, n_files, width, n_models, cpu s, …)] → ({kind: (c0, c1)} per file,
    (r0, r1) of the [r] stage, [(kind, label, measured, fitted)]). Non-negative least
    squares (scipy.optimize.nnls): a cost never falls with width or size."""
    from scipy.optimize import nnls

    coef, fitted = {}, []
    for kind in sorted({p[0] for p in points if p[0] != "r"}):
        P = [p for p in points if p[0] == kind]
        A = np.array([[p[1], p[1] * p[2]] for p in P], dtype=float)
        b = np.array([p[4] for p in P])
        c = nnls(A, b)[0]
        coef[kind] = (float(c[0]), float(c[1]))
        fitted += [(kind, f"{p[3]}x{p[1]} d={p[2]}", p[4], float(A[i] @ c)) for i, p in enumerate(P)]
    R = [p for p in points if p[0] == "r"]
    A = np.array([[1.0, p[3] * p[1]] for p in R])
    b = np.array([p[4] for p in R])
    r = nnls(A, b)[0]
    fitted += [("r", f"{p[3]}x{p[1]}", p[4], float(A[i] @ r)) for i, p in enumerate(R)]
    return coef, (float(r[0]), float(r[1])), fitted


def projection(coef, rcoef, variant: str, cores: int, overhead: float, nodes: int = 1, r_workers: int = 1):
    """Wall hours of the whole study with one variant's learners on nodes × cores workers:
    one learner task per (model, learner) — 86 × 2 — placed longest first on the least
    loaded worker (greedy), stretched by the measured scheduling overhead, then the
    [r] run (both task kinds, as analysis/configs/naturalcogsci.toml; its per-model-file part
    spread over ``r_workers``, the ``[r] workers`` option, as if it divided evenly — an
    assumption, not measured here).
    Returns (hours, core-hours of the learners, longest task s)."""
    widths = list(WIDTHS) + [float(np.mean(WIDTHS))] * (N_MODELS - len(WIDTHS))
    jobs = []
    for d in widths:
        for kind, n in (("category", N_CATEGORY), ("reward", N_REWARD)):
            c0, c1 = coef[f"{kind}/{variant}"]
            jobs.append(n * (c0 + c1 * d))
    workers = [0.0] * (cores * nodes)
    heapq.heapify(workers)
    for j in sorted(jobs, reverse=True):
        heapq.heappush(workers, heapq.heappop(workers) + j)
    learners = max(workers) * (1 + overhead)
    r = rcoef[0] + rcoef[1] * N_MODELS * (N_CATEGORY + N_REWARD) / r_workers  # one [r] run, both kinds
    return (learners + r) / 3600, sum(jobs) / 3600, max(jobs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="3x3, 4x3 and 3x4 models x files; [r] with the default variant only; 2 workers once",
    )
    ap.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="MxN",
        help="models x condition files of each kind, e.g. 2x50 4x50 8x100 (default without --quick)",
    )
    ap.add_argument("--slurm-nodes", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--save", default=None, help="write the measured points and table to this JSON file")
    ap.add_argument("--refit", default=None, help="no runs: refit and project from a --save JSON file")
    args = ap.parse_args()
    sizes = [
        tuple(map(int, x.split("x")))
        for x in (args.sizes or (["3x3", "4x3", "3x4"] if args.quick else ["2x50", "4x50", "8x50", "8x100"]))
    ]
    n_boot = 20 if args.quick else 200
    work = Path(tempfile.mkdtemp(prefix="repalign-study-"))
    load = os.getloadavg()
    print(
        f"study bench: stand-in features at the models' widths, real condition files; {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        flush=True,
    )
    points, table = [], []
    if args.refit:
        import json

        saved = json.loads(Path(args.refit).read_text())
        points, table = [tuple(p) for p in saved["points"]], saved["table"]
        sizes = []
    try:
        for i, (m, n) in enumerate(sizes):
            if True:
                root = work / f"m{m}_f{n}"
                root.mkdir()
                for variant in ("default", "published"):
                    line = {"variant": variant, "models": m, "files": n, "tasks": 0, "wall1": 0.0, "stages": {}}
                    with_r = variant == "default" or not args.quick
                    cfg = write_study(root, m, n, n_boot, variant, with_r)
                    rows = run_one_worker(cfg, root / f"w1-{variant}")
                    by = line["stages"]
                    for k, width, wall, cpu, peak in rows:
                        s = by.setdefault(k, [0.0, 0.0, 0, 0])
                        s[0] += wall
                        s[1] += cpu
                        s[2] = max(s[2], peak)
                        s[3] += 1
                        # the [r] stage's size: models x files of both kinds
                        points.append((k, 2 * n if k == "r" else n, width, m, cpu, variant))
                    line["tasks"] += len(rows)
                    line["wall1"] += sum(r[2] for r in rows)
                    line["cpu1"] = sum(r[3] for r in rows)
                    if not args.quick or (i == 0 and variant == "default"):
                        wall2, start, peaks, noop = run_two_workers(cfg, root / f"w2-{variant}")
                        line.update(wall2=wall2, start=start, peaks=peaks, noop=noop, w1_for_2=sum(r[2] for r in rows))
                        line["lost"] = max(0.0, 1 - line["w1_for_2"] / (2 * line["wall2"]))
                        line["overhead"] = line["noop"] * line["tasks"] / line["cpu1"]
                    table.append(line)
                    _print_row(line)
                if not args.keep:
                    shutil.rmtree(root, ignore_errors=True)
        coef, rcoef, fitted = fit_costs(points)
        print("\ncost model (CPU s per condition file = c0 + c1 * width; [r] = r0 + r1 * models*files):")
        for kind, (c0, c1) in coef.items():
            print(f"  {kind:20s} c0 {c0:.4f} s  c1 {c1 * 1e3:.4f} ms/feature   (at d=768: {c0 + 768 * c1:.3f} s/file)")
        print(f"  r                    r0 {rcoef[0]:.1f} s  r1 {rcoef[1] * 1e3:.3f} ms per model-file")
        res = [(f - m_) / m_ for _, _, m_, f in fitted if m_ > 0]
        print(
            f"  residuals: median |rel| {np.median(np.abs(res)):.2f}, max |rel| {np.max(np.abs(res)):.2f} over "
            f"{len(res)} tasks"
        )
        for kind, what, meas, fit in fitted:
            print(f"    {kind:20s} {what:14s} measured {meas:8.2f} s  fitted {fit:8.2f} s")
        two = [t for t in table if "wall2" in t]
        overhead = max(t["overhead"] for t in two) if two else 0.0
        print(
            f"\nscheduling overhead at 2 workers (Dask's per-task cost / task CPU s): {overhead:.2%} "
            "(stretches the projection; at the full study's task sizes it is smaller still)"
        )
        hours = {}
        for variant in ("default", "published"):
            for r_workers in (1, 16):
                h, core_h, longest = projection(coef, rcoef, variant, 16, overhead, r_workers=r_workers)
                line = (
                    f"  {variant:9s} learners {core_h:7.2f} core-h, longest task {longest / 60:6.1f} min; "
                    f"[r] workers={r_workers:2d}: 1 node x 16 cores {h:6.2f} h"
                )
                for k in args.slurm_nodes:
                    hours = projection(coef, rcoef, variant, 16, overhead, nodes=k, r_workers=r_workers)[0]
                    line += f"; {k} nodes {hours:5.2f} h"
                print(line)
                if r_workers == 16:
                    hours[variant] = h
        print("(the line below: [r] workers = 16, i.e. the [r] stage's choice models spread over the node's cores)")
        print(f"projected_hours_16_cores default {hours['default']:.2f} published {hours['published']:.2f}")
        if args.save:
            import json

            Path(args.save).write_text(json.dumps({"points": points, "table": table}, default=str, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")


def _print_row(t) -> None:
    st = "  ".join(f"{k} {v[1]:.1f} cpu-s/{v[0]:.1f} s/{v[2] / 2**30:.2f} GB" for k, v in sorted(t["stages"].items()))
    s = (
        f"{t['variant']:9s} {t['models']} models x {t['files']} files: {t['tasks']} tasks, "
        f"1 worker {t['wall1']:.1f} s | {st}"
    )
    if "wall2" in t:
        s += (
            f" | 2 workers {t['wall2']:.1f} s (+{t['start']:.1f} s start-up), peak/worker "
            f"{max(t['peaks']) / 2**30:.2f} GB, lost worker time {t['lost']:.1%}, "
            f"dask per-task cost {t['noop'] * 1e3:.1f} ms = {t['overhead']:.2%} of the tasks' CPU s"
        )
    print(s, flush=True)


if __name__ == "__main__":
    main()

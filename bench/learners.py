"""Benchmark: repalign's batched learners vs a plain per-trial scikit-learn
reference (clone + fit at every trial), on the real task structures.

* category: the first N Demircan condition files (120 trials), 17-value C grid
  (every C's trial-wise sequence plus the final fits of the reference's selection
  rule);
* reward: N THINGSDecisions participants (150 trials, 2 options per trial).

Features are "network-like" d-dimensional representations of the THINGS
concepts: SPoSE-49 through a fixed random linear map to d dims plus noise
(seeded), so the tasks are learnable as with real model features.

The reference is slow (seconds to a minute per participant), so it is timed on
``--ref-participants`` participants and extrapolated linearly to N (its cost is
the same for every participant); max |Δ| is measured on those participants.
``--ref-trial-stride k`` times the reward reference on every k-th trial only and
scales by k (its per-trial cost grows smoothly with the trial number).
For the category learner, the equal-output reference uses liblinear with
tol=1e-10 (timed on ``--ref-participants``); scikit-learn's default tol=1e-4 (as
the original code ran; timed on one participant) stops far from the optimum for
large C, so its probabilities differ from the exact ones by up to ~0.5.

repalign runs on CPU tensors, i.e. its CPU kernels (numba; ``--threads`` threads,
one participant per thread); they are loaded by a small warm-up call first (the
first call ever compiles them, ~10 s, cached on disk). The reference always runs
on one thread (scikit-learn's liblinear and this loop are single-threaded).

Run: ``REPALIGN_DATA_DIR=… .venv/bin/python bench/learners.py`` (minutes).
``--threads 1`` (default) gives the per-core speed-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

# the per-trial scikit-learn references, shared with the equivalence tests (not in the package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from reference_impls import ref_category, ref_category_final_accuracy, ref_reward  # noqa: E402


def features(d: int, seed: int = 0):
    from repalign.datasets import Embedding, load_spose

    sp = load_spose(49)
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(49, d)) / np.sqrt(49)
    values = sp.values @ A + 0.5 * rng.normal(size=(len(sp.ids), d))
    return Embedding(sp.ids, values, f"spose-projected-{d}")


def _ref_category_and_rule(X, y, C, tol):
    """The reference's work for one C: the trial-wise sequence and the final fit of
    its selection rule (timed together)."""
    p = ref_category(X, y, C, tol=tol)
    ref_category_final_accuracy(X, y, C, tol=tol)
    return p


def bench_category(n: int, n_ref: int, d: int):
    from repalign.datasets import load_category_tasks
    from repalign.learners import DEFAULT_C_GRID
    from repalign.learners.category import _LADDER, category_probabilities, final_fit_accuracy

    emb = features(d)
    tasks = load_category_tasks(range(1, n + 1))
    X = np.stack([emb.values[emb.index_of(t.concepts)] for t in tasks])
    y = np.stack([t.categories for t in tasks])
    category_probabilities(torch.as_tensor(X[:1, :10]), torch.as_tensor(y[:1, :10]), [1.0, 2.0])  # load kernels
    final_fit_accuracy(torch.as_tensor(X[:1, :10]), torch.as_tensor(y[:1, :10]), [1.0, 2.0])
    t0 = time.perf_counter()
    p, _ = category_probabilities(torch.as_tensor(X), torch.as_tensor(y), DEFAULT_C_GRID)
    fast = time.perf_counter() - t0
    p = p.numpy()
    # the reference rule end to end: choose C by the final fits' training accuracy,
    # then only the chosen C's sequence (warm-started along a short C ladder)
    t0 = time.perf_counter()
    acc = final_fit_accuracy(torch.as_tensor(X), torch.as_tensor(y), DEFAULT_C_GRID).numpy()
    best = np.argmax(acc, axis=1)
    ladder = np.asarray(DEFAULT_C_GRID)[best][:, None] * _LADDER[None, :]
    p_rule = category_probabilities(torch.as_tensor(X), torch.as_tensor(y), ladder)[0][:, -1].numpy()
    fast_rule = time.perf_counter() - t0
    with threadpool_limits(1):
        t0 = time.perf_counter()
        tight = np.stack(
            [[_ref_category_and_rule(X[b], y[b], C, tol=1e-10) for C in DEFAULT_C_GRID] for b in range(n_ref)]
        )
        slow_tight = (time.perf_counter() - t0) / n_ref * n
        t0 = time.perf_counter()
        default = np.stack([_ref_category_and_rule(X[0], y[0], C, tol=1e-4) for C in DEFAULT_C_GRID])
        slow_default = (time.perf_counter() - t0) * n
    d_rule = max(np.abs(tight[b, best[b]] - p_rule[b]).max() for b in range(n_ref))
    return (
        fast,
        slow_tight,
        slow_default,
        np.abs(tight - p[:n_ref]).max(),
        np.abs(default - p[0]).max(),
        fast_rule,
        d_rule,
    )


def bench_reward(n: int, n_ref: int, d: int, stride: int = 1):
    from repalign.datasets import load_things_decisions
    from repalign.learners.reward import reward_values

    emb = features(d)
    tasks = load_things_decisions().tasks()[:n]
    X = np.stack([emb.values[emb.index_of(t.concepts.reshape(-1))].reshape(len(t), 2, d) for t in tasks])
    R = np.stack([t.rewards for t in tasks])
    reward_values(torch.as_tensor(X[:1, :5]), torch.as_tensor(R[:1, :5]))  # load the kernel
    t0 = time.perf_counter()
    V = reward_values(torch.as_tensor(X), torch.as_tensor(R)).numpy()
    fast = time.perf_counter() - t0
    with threadpool_limits(1):
        t0 = time.perf_counter()
        ref = np.stack([ref_reward(X[b], R[b], stride=stride) for b in range(n_ref)])
        slow = (time.perf_counter() - t0) / n_ref * n * stride  # every stride-th trial timed
    return fast, slow, np.nanmax(np.abs(ref - V[:n_ref]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=20)
    ap.add_argument("--ref-participants", type=int, default=2)
    ap.add_argument("--dims", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--ref-trial-stride",
        type=int,
        default=1,
        help="reward reference: fit only every k-th trial and scale its time by k",
    )
    ap.add_argument("--learners", nargs="+", default=["category", "reward"], choices=["category", "reward"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n, k = args.participants, args.ref_participants
    print(
        f"{n} participants; reference timed on {k} and extrapolated, 1 thread; repalign threads={args.threads}; "
        f"device=cpu; torch {torch.__version__}"
    )
    with threadpool_limits(args.threads):  # BLAS inside repalign's kernels too
        for d in args.dims:
            if "category" in args.learners:
                fast, slow_t, slow_d, dt, dd, fast_rule, d_rule = bench_category(n, k, d)
                print(
                    f"category  d={d:5d}  all 17 C sequences: repalign {fast:7.1f} s | reference tol=1e-10 "
                    f"{slow_t:7.1f} s "
                    f"-> {slow_t / fast:5.1f}x, max|Δp| {dt:.1e} | reference default tol {slow_d:7.1f} s "
                    f"-> {slow_d / fast:5.1f}x, max|Δp| {dd:.1e}",
                    flush=True,
                )
                print(
                    f"category  d={d:5d}  reference rule (select C, chosen sequence): repalign {fast_rule:7.1f} s | "
                    f"reference tol=1e-10 {slow_t:7.1f} s -> {slow_t / fast_rule:5.1f}x, max|Δp| {d_rule:.1e} | "
                    f"default tol -> {slow_d / fast_rule:5.1f}x",
                    flush=True,
                )
            if "reward" in args.learners:
                fast, slow, dv = bench_reward(n, k, d, args.ref_trial_stride)
                print(
                    f"reward    d={d:5d}         repalign {fast:8.1f} s   reference {slow:8.1f} s (extrapolated)   "
                    f"speed-up {slow / fast:6.1f}x   max|Δvalue| {dv:.1e}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

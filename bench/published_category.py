"""Benchmark: the published category learner (``variant="published"``) — the fast path
(repalign.learners._published: closed-form in-place standardisation at model widths,
bit-exact numba standardisation below ``EXACT_BELOW`` features, liblinear on an
n-column orthogonal reduction of each fit's design; repalign.learners._published_pass)
against today's scikit-learn loop kept as the reference (``ref_published_category`` in
tests/python/reference_impls.py: a LogisticRegression per fit, numpy statistics).

Both run the whole published pipeline per task (17-value C search by training
accuracy, then the final trial-wise pass) on N Demircan condition files (120 trials
each; the first N, or N spread over all 1,050 with --spread), one thread, at several
feature widths: SPoSE-49 (the registry's "Task" model) and features at model widths
(the widths of the naturalcogsci models: 512 CLIP, 768 ViT-B, 2048 ResNet-50):
random normal features, or (--projected) SPoSE-49 projected to the width plus noise
(correlated columns, as a network's). Prints the CPU seconds of each per task (the
process's own CPU time, one thread: robust to other load on the machine; wall time
alongside), the ratio from this one run, the largest |Δp| and how many chosen C agree.

Run: ``REPALIGN_DATA_DIR=… OMP_NUM_THREADS=1 .venv/bin/python bench/published_category.py`` (a few minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from reference_impls import ref_published_category  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=8, help="number of condition files")
    ap.add_argument("--spread", action="store_true", help="spread the files over all 1,050 (default: the first N)")
    ap.add_argument("--projected", action="store_true", help="model widths: SPoSE-49 projected plus noise, not random")
    ap.add_argument("--dims", type=int, nargs="+", default=[49, 512, 768, 2048], help="49 = SPoSE-49 itself")
    args = ap.parse_args()
    from repalign.datasets import load_category_tasks, load_spose
    from repalign.learners._published import published_category

    ids = np.linspace(1, 1050, args.tasks).round().astype(int) if args.spread else range(1, args.tasks + 1)
    tasks = load_category_tasks([int(i) for i in ids])
    sp = load_spose(49)
    rng = np.random.default_rng(0)
    published_category(rng.normal(size=(8, 3)), np.array([0, 1] * 4))  # load the numba kernels
    published_category(rng.normal(size=(8, 300)), np.array([0, 1] * 4))
    print(
        f"published category learner, {len(tasks)} condition files x 120 trials, 1 thread, "
        f"reference = today's scikit-learn loop; CPU s/task (wall s/task)"
    )
    with threadpool_limits(1):
        for d in args.dims:
            if d == 49:
                values = sp.values
            elif args.projected:
                values = sp.values @ rng.normal(size=(sp.values.shape[1], d)) + rng.normal(size=(len(sp.ids), d))
            else:
                values = rng.normal(size=(len(sp.ids), d))
            cpu = {"ref": 0.0, "fast": 0.0}
            wall = {"ref": 0.0, "fast": 0.0}
            dp, same_c = 0.0, 0
            for task in tasks:
                X = values[sp.index_of(task.concepts)]
                y = np.asarray(task.categories, dtype=np.int64)
                c0, w0 = time.process_time(), time.perf_counter()
                p_ref, c_ref = ref_published_category(X, y)
                c1, w1 = time.process_time(), time.perf_counter()
                p, c = published_category(X, y)
                c2, w2 = time.process_time(), time.perf_counter()
                cpu["ref"] += c1 - c0
                cpu["fast"] += c2 - c1
                wall["ref"] += w1 - w0
                wall["fast"] += w2 - w1
                dp = max(dp, float(np.abs(p - p_ref).max()))
                same_c += c == c_ref
            n = len(tasks)
            print(
                f"d={d:5d}  reference {cpu['ref'] / n:6.3f} ({wall['ref'] / n:6.3f}) s/task  "
                f"fast {cpu['fast'] / n:6.3f} ({wall['fast'] / n:6.3f}) s/task  "
                f"-> {cpu['ref'] / cpu['fast']:4.1f}x CPU ({wall['ref'] / wall['fast']:4.1f}x wall)   "
                f"max|dp| {dp:.1e}   same C: {same_c}/{n}",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Benchmark: the published category learner (``variant="published"``) — the fast path
(repalign.learners._published: numba in-place standardisation, direct liblinear calls)
against today's scikit-learn loop kept as the reference (``ref_published_category`` in
tests/python/reference_impls.py: a LogisticRegression per fit, numpy statistics).

Both run the whole published pipeline per task (17-value C search by training
accuracy, then the final trial-wise pass) on the first N Demircan condition files
(120 trials each), one thread, at several feature widths: SPoSE-49 (the registry's
"Task" model) and random features at model widths (the widths of the naturalcogsci
models: 512 CLIP, 768 ViT-B, 2048 ResNet-50). Prints the time of each, the ratio from
this one run, the largest |Δp| and whether every chosen C agrees.

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
    ap.add_argument("--tasks", type=int, default=8, help="first N condition files")
    ap.add_argument("--dims", type=int, nargs="+", default=[49, 512, 768, 2048], help="49 = SPoSE-49 itself")
    args = ap.parse_args()
    from repalign.datasets import load_category_tasks, load_spose
    from repalign.learners._published import published_category

    tasks = load_category_tasks(range(1, args.tasks + 1))
    sp = load_spose(49)
    rng = np.random.default_rng(0)
    published_category(rng.normal(size=(8, 3)), np.array([0, 1] * 4))  # load the numba kernels
    print(f"published category learner, {len(tasks)} condition files x 120 trials, 1 thread, "
          f"reference = today's scikit-learn loop")
    with threadpool_limits(1):
        for d in args.dims:
            values = sp.values if d == 49 else rng.normal(size=(len(sp.ids), d))
            t_ref = t_fast = 0.0
            dp, same_c = 0.0, True
            for task in tasks:
                X = values[sp.index_of(task.concepts)]
                y = np.asarray(task.categories, dtype=np.int64)
                t0 = time.perf_counter()
                p_ref, c_ref = ref_published_category(X, y)
                t1 = time.perf_counter()
                p, c = published_category(X, y)
                t2 = time.perf_counter()
                t_ref += t1 - t0
                t_fast += t2 - t1
                dp = max(dp, float(np.abs(p - p_ref).max()))
                same_c &= c == c_ref
            print(f"d={d:5d}  reference {t_ref / len(tasks):6.3f} s/task  fast {t_fast / len(tasks):6.3f} s/task  "
                  f"-> {t_ref / t_fast:4.1f}x   max|dp| {dp:.1e}   same C: {same_c}", flush=True)


if __name__ == "__main__":
    main()

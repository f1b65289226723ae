"""Odd-one-out throughput: repalign's vectorised zero-shot accuracy vs per-triplet loops.

5M random triplets over 1854 objects with d = 768 features (the size of THINGS with a
ViT-B embedding). The loops run on a 50k subset; the ratio compares time per triplet.
Loop A is the common reference-code pattern (numpy dot products, one triplet at a
time); loop B is pure Python (no numpy inside the loop). Run: python bench/odd_one_out.py
"""

from __future__ import annotations

import time

import numpy as np

from repalign.metrics import odd_one_out_accuracy, odd_one_out_choices

N_OBJECTS, D, N_TRIPLETS, N_LOOP, N_PURE = 1854, 768, 5_000_000, 50_000, 50_000


def random_triplets(rng, n_objects, n):
    # Three distinct items per row: draw, then redraw rows with repeats.
    t = rng.integers(0, n_objects, size=(n, 3))
    bad = (t[:, 0] == t[:, 1]) | (t[:, 0] == t[:, 2]) | (t[:, 1] == t[:, 2])
    while bad.any():
        t[bad] = rng.integers(0, n_objects, size=(int(bad.sum()), 3))
        bad = (t[:, 0] == t[:, 1]) | (t[:, 0] == t[:, 2]) | (t[:, 1] == t[:, 2])
    return t


def loop_numpy(X, t):
    correct = 0
    for a, b, c in t:
        s01, s02, s12 = X[a] @ X[b], X[a] @ X[c], X[b] @ X[c]
        correct += s01 > s02 and s01 > s12
    return correct / len(t)


def loop_pure(rows, t):
    correct = 0
    for a, b, c in t:
        xa, xb, xc = rows[a], rows[b], rows[c]
        s01 = sum(u * v for u, v in zip(xa, xb))
        s02 = sum(u * v for u, v in zip(xa, xc))
        s12 = sum(u * v for u, v in zip(xb, xc))
        correct += s01 > s02 and s01 > s12
    return correct / len(t)


def timed(fn, *args, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_OBJECTS, D))
    t = random_triplets(rng, N_OBJECTS, N_TRIPLETS)
    acc, t_vec = timed(odd_one_out_accuracy, X, t, "dot", repeat=3)
    _, t_choices = timed(odd_one_out_choices, X, t, "dot")
    sub = t[:N_LOOP]
    acc_loop, t_loop = timed(loop_numpy, X, sub)
    acc_sub = odd_one_out_accuracy(X, sub)
    assert abs(acc_loop - acc_sub) < 1e-12, (acc_loop, acc_sub)
    rows = X.tolist()
    acc_pure, t_pure = timed(loop_pure, rows, t[:N_PURE])
    assert abs(acc_pure - odd_one_out_accuracy(X, t[:N_PURE])) < 1e-12
    per_vec = t_vec / N_TRIPLETS
    print(f"objects={N_OBJECTS} d={D} triplets={N_TRIPLETS:,}")
    print(
        f"vectorised accuracy : {t_vec:8.3f} s  ({N_TRIPLETS / t_vec / 1e6:6.2f} M triplets/s; accuracy {acc:.4f}, "
        "chance 1/3)"
    )
    print(f"vectorised choices  : {t_choices:8.3f} s  (positions 0-2 for every triplet)")
    print(f"loop A, numpy dots  : {t_loop:8.3f} s for {N_LOOP:,}  ({t_loop / N_LOOP * 1e6:7.2f} us/triplet)")
    print(f"loop B, pure Python : {t_pure:8.3f} s for {N_PURE:,}  ({t_pure / N_PURE * 1e6:7.2f} us/triplet)")
    print(f"ratio vs loop A (per triplet): {t_loop / N_LOOP / per_vec:8.0f}x   (target >= 1000x)")
    print(f"ratio vs loop B (per triplet): {t_pure / N_PURE / per_vec:8.0f}x")


if __name__ == "__main__":
    main()

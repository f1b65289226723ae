"""Make the example of docs/own-human-data.md: 30 images and a synthetic human study of them.

    python examples/own-human/make.py [FOLDER]     # default: examples/own-human

writes FOLDER/images/digit<k>/<i>.png (scikit-learn's first 30 handwritten digits, 64 × 64
RGB, k = digit mod 3: three categories) and three human-data files whose ground truth is
planted: the "people" see each digit as its 8 × 8 pixel values (the representation of the
model ``pixels:8``), plus noise.

* rdms.csv — 4 subjects' RDMs (long table: subject, stimulus_1, stimulus_2, dissimilarity):
  correlation distance of the pixel values plus Gaussian noise (sd 0.15);
* triplets.csv — odd-one-out choices (participant, stimulus_1..3, odd): 80 triplets, each
  answered by 4 of 6 participants, the odd one drawn with probability ∝ exp(similarity of
  the other two / 0.05), similarity = Pearson r of the pixel values;
* decisions.csv — 5 participants label every image (participant, stimulus_id, response):
  the true category (the sub-folder) with probability 0.95 on the 20 images nearest to their
  category's mean pixel pattern and 0.4 on the 10 others; a wrong answer is the other
  category whose mean pattern is nearest (so people err on the same, ambiguous, images).

Synthetic, not real data; seeded, so the files are the same on every machine (the test
suite checks the shipped files against this script).
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits

N_IMAGES = 30


def make(folder: Path) -> None:
    d = load_digits()
    rng = np.random.default_rng(0)
    ids, cats = [], []
    for i in range(N_IMAGES):
        cat = f"digit{d.target[i] % 3}"
        (folder / "images" / cat).mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((d.images[i] * 15).astype(np.uint8)).resize((64, 64)).convert("RGB")
        img.save(folder / "images" / cat / f"{i:03d}.png")
        ids.append(f"{cat}/{i:03d}")
        cats.append(cat)
    X = d.images[:N_IMAGES].reshape(N_IMAGES, -1)  # the planted human representation (30, 64)
    sim = np.corrcoef(X)

    rows = []
    for s in range(4):
        noise = rng.normal(0, 0.15, size=sim.shape)
        for a, b in combinations(range(N_IMAGES), 2):
            rows.append((f"s{s + 1}", ids[a], ids[b], round(1 - sim[a, b] + noise[a, b], 4)))
    pd.DataFrame(rows, columns=["subject", "stimulus_1", "stimulus_2", "dissimilarity"]).to_csv(
        folder / "rdms.csv", index=False
    )

    rows = []
    for _ in range(80):
        t = rng.choice(N_IMAGES, 3, replace=False)
        pair_sim = np.array([sim[t[1], t[2]], sim[t[0], t[2]], sim[t[0], t[1]]])  # evidence that item k is odd
        p = np.exp((pair_sim - pair_sim.max()) / 0.05)
        for who in rng.choice(6, 4, replace=False):
            odd = t[rng.choice(3, p=p / p.sum())]
            rows.append((f"p{who + 1}", ids[t[0]], ids[t[1]], ids[t[2]], ids[odd]))
    pd.DataFrame(rows, columns=["participant", "stimulus_1", "stimulus_2", "stimulus_3", "odd"]).to_csv(
        folder / "triplets.csv", index=False
    )

    labels = sorted(set(cats))
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    means = np.stack([U[[c == k for c in cats]].mean(axis=0) for k in labels])
    cos = U @ means.T / np.linalg.norm(means, axis=1)
    own = np.array([labels.index(c) for c in cats])
    margin = cos[np.arange(N_IMAGES), own] - np.where(np.eye(len(labels))[own] > 0, -np.inf, cos).max(axis=1)
    hard = margin <= np.sort(margin)[9]  # the 10 most ambiguous images
    lure = np.where(np.eye(len(labels))[own] > 0, -np.inf, cos).argmax(axis=1)
    rows = []
    for who in range(5):
        for i, sid in enumerate(ids):
            right = rng.random() < (0.4 if hard[i] else 0.95)
            rows.append((f"p{who + 1}", sid, cats[i] if right else labels[lure[i]]))
    pd.DataFrame(rows, columns=["participant", "stimulus_id", "response"]).to_csv(folder / "decisions.csv", index=False)


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)

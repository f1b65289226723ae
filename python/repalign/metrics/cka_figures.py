"""The CKA family's figure: a heatmap of CKA between representations and references, rows
in the RSA figure's order; registered as ``CKA.figures`` (``repalign.metrics.cka_family``).
The row order reads other families (``repalign.metrics.dimensionality_figures.representation_order``:
RSA, odd-one-out or the R stage's alignment scores, found as the dimensionality family finds
them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import repalign.plotting as plotting
import repalign.style as style
from repalign.families import FamilyFigure, anchor
from repalign.metrics.dimensionality_figures import first_scores, representation_order
from repalign.metrics.rsa_figures import RSA_METRIC


def _same_representation(model: str, layer: str, reference: str) -> bool:
    """Whether a CKA reference (``model/layer@stimuli`` or ``model@stimuli``) names
    the representation (model, layer) itself."""
    name = str(reference).split("@", 1)[0]
    return name == (f"{model}/{layer}" if layer else str(model)) or (not layer and name.startswith(f"{model}/"))


def plot_cka(metrics: pd.DataFrame, order: Sequence[tuple[str, str]] | None = None):
    """CKA heatmap: rows = representations, columns = references (the ``dataset``
    column of ``cka*`` rows), one panel per CKA variant; values printed in cells.
    Scale 0 (unrelated) to 1 (identical up to rotation and scale). None without rows.

    Rows run top to bottom in ``order`` ((model, layer) pairs: the RSA figure's
    order, most aligned first; rows not in it follow by mean CKA); references that
    are representations of the figure come first, in the rows' order, so the
    self-cells lie on a diagonal. A self-cell is drawn as 1 (CKA of a
    representation with itself, by definition; not computed) with a black frame."""
    df = metrics[metrics["metric"].str.startswith("cka")].copy()
    if df.empty:
        return None
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    df["label"] = plotting.labels(df)
    rank = {tuple(map(str, k)): i for i, k in enumerate(order or [])}
    mean = df.groupby("label")["value"].mean()
    rows = df.drop_duplicates("label")[["label", "model", "layer"]]
    refs = list(dict.fromkeys(df["dataset"].astype(str)))
    # a reference that is one of the ranked representations but has no row of its own
    # (it is not measured against itself) gets one: its self-cell completes the diagonal
    have = set(zip(rows["model"].astype(str), rows["layer"].astype(str)))
    extra = [(m, l) for m, l in rank if (m, l) not in have and any(_same_representation(m, l, r) for r in refs)]
    if extra:
        rows = pd.concat(
            [rows, pd.DataFrame({"model": [m for m, _ in extra], "layer": [l for _, l in extra]})], ignore_index=True
        )
        rows["label"] = plotting.labels(rows)
        df["label"] = (
            rows.set_index(["model", "layer"])["label"].reindex(list(zip(df["model"], df["layer"]))).to_numpy()
        )
    rows = rows.assign(
        rank=[rank.get((str(m), str(l)), len(rank)) for m, l in zip(rows["model"], rows["layer"])],
        mean=rows["label"].map(mean),
    )
    rows = rows.sort_values(["rank", "mean"], ascending=[True, False]).reset_index(drop=True)
    row_of = {
        r: next((i for i, x in rows.iterrows() if _same_representation(x["model"], x["layer"], r)), None) for r in refs
    }
    cols = sorted(refs, key=lambda r: (row_of[r] is None, row_of[r] if row_of[r] is not None else 0, r))
    variants = sorted(df["metric"].unique())
    nrow, ncol = len(rows), len(cols)
    long_cols = ncol > 2 or max(len(c) for c in cols) > 24
    fig, axes = plotting.figure(
        len(variants), width_per=max(4.5, 1.4 * ncol + 3.0), height=max(3.0, 0.45 * nrow + 1.6), ncols_max=2
    )
    for ax, v in zip(axes, variants):
        m = df[df["metric"] == v].pivot_table(index="label", columns="dataset", values="value", aggfunc="first")
        m = m.reindex(index=list(rows["label"]), columns=cols)
        selfs = [(i, cols.index(r)) for r, i in row_of.items() if i is not None]
        for i, j in selfs:
            if not np.isfinite(m.iat[i, j]):
                m.iat[i, j] = 1.0
        im = ax.imshow(m.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(
            range(ncol),
            [c.replace("@", "\n@") for c in cols],
            rotation=30 if long_cols else 0,
            ha="right" if long_cols else "center",
        )
        ax.set_yticks(range(nrow), rows["label"])
        ax.grid(False)
        for i in range(nrow):
            for j in range(ncol):
                val = m.iat[i, j]
                if np.isfinite(val):
                    ax.text(
                        j,
                        i,
                        f"{val:.2f}",
                        ha="center",
                        va="center",
                        color="white" if val < 0.6 else "black",
                        fontsize=style.BASE_SIZE - 1,
                    )
        for i, j in selfs:
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor="black",
                    linewidth=1.6,
                    label="self (1 by definition)",
                )
            )
        ax.set_title(v.replace("_", " "))
        ax.set_xlabel("reference")
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="CKA (0–1)")
    fig.tight_layout()
    return fig


def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[FamilyFigure]:
    """``ResultFamily.figures`` of the CKA family: ``cka.png`` (+ PDF) in ``out_dir``;
    ``tables``: the R stage's alignment scores (for the row order without RSA or
    odd-one-out rows)."""
    from matplotlib.patches import Rectangle

    m = plotting.metrics_rows(metrics)
    order = representation_order(m, first_scores(tables)[0])
    with plotting.draw():
        fig = plot_cka(m, order)
        if fig is None:
            return []
        framed = any(isinstance(p, Rectangle) and not p.get_fill() for ax in fig.axes for p in ax.patches)
        png, pdf = plotting.save(fig, out_dir, "cka")
    rows = (
        "in the RSA figure's order (most aligned first)"
        if m["metric"].str.match(RSA_METRIC).any()
        else "from most to least aligned"
        if order
        else "by mean CKA"
    )
    return [
        FamilyFigure(
            "cka",
            "CKA between representations",
            "CKA of each representation with each reference (0 = unrelated, 1 = identical up to rotation and "
            "isotropic scaling); rows "
            + rows
            + ("; black frame: a representation against itself (1 by definition, not computed)" if framed else "")
            + ".",
            png,
            pdf,
            (anchor("metrics", "cka"),),
        )
    ]

"""Drawing helpers shared by every Python figure, in the one style of ``repalign.style``.

A low layer (it imports ``repalign.style`` and ``repalign.store`` only), so each result
family draws its own figures (``ResultFamily.figures``) without importing the pipeline:
CI whiskers, reference lines (chance, zero, noise-ceiling band), the panel grid, the
objective legend, atomic PNG + PDF writing, and ``draw`` (the style's rcParams around a
family's drawing). Every ``plot_*`` function of a family maps tables to a matplotlib
``Figure``; ``save`` writes it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

import repalign.style as style
from repalign.store import temp_name

MARKERS = "osD^vP*Xhp<>"
WIDE_INCHES = 8.0  # figures wider than this span the report's width
METRICS_COLUMNS = ["model", "layer", "dataset", "metric", "value", "ci_low", "ci_high", "n"]


def metrics_rows(metrics: pd.DataFrame | None) -> pd.DataFrame:
    """The run's metrics rows as the figures read them: every column of the ``metrics``
    schema present (an empty table without rows) and ``layer`` a string ("" for none)."""
    m = metrics if metrics is not None and len(metrics) > 0 else pd.DataFrame(columns=METRICS_COLUMNS)
    return m.assign(layer=m["layer"].fillna("").astype(str))


@contextlib.contextmanager
def draw() -> Iterator[None]:
    """matplotlib without a display (Agg) and the style's rcParams, for drawing and saving."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(style.rc_params()):
        yield


def labels(df: pd.DataFrame) -> pd.Series:
    """Representation label: the model, with the layer where a model has several."""
    layers = df.groupby("model")["layer"].nunique()
    multi = set(layers[layers > 1].index)
    return df.apply(
        lambda r: f"{r['model']} / {r['layer']}" if r["model"] in multi and r["layer"] else str(r["model"]), axis=1
    )


def whisker(ax, x, y, lo, hi, colour, horizontal: bool = False, **kw):
    """A CI whisker (no caps) from lo to hi and its point (x, y), in the shared style:
    vertical at x, or horizontal at y."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        draw_line, at = (ax.hlines, y) if horizontal else (ax.vlines, x)
        draw_line(np.asarray(at)[ok], lo[ok], hi[ok], colors=colour, linewidth=style.CI_LINEWIDTH, alpha=0.85)
    ax.plot(x, y, linestyle="none", color=colour, **({"marker": "o", "markersize": style.POINT_SIZE} | kw))


def hwhisker(ax, y, x, lo, hi, colour, **kw):
    """A horizontal CI whisker at y (see ``whisker``)."""
    whisker(ax, x, y, lo, hi, colour, horizontal=True, **kw)


def chance(ax, y, label="chance", horizontal=True):
    """The chance line (dotted grey) at y."""
    c = style.CHANCE
    line = ax.axhline if horizontal else ax.axvline
    line(y, color=c["colour"], linestyle=c["linestyle"], linewidth=c["linewidth"], label=label, zorder=1)


def zero(ax, horizontal=True):
    """The zero line (solid light grey)."""
    z = style.ZERO
    (ax.axhline if horizontal else ax.axvline)(
        0, color=z["colour"], linestyle=z["linestyle"], linewidth=z["linewidth"], zorder=0
    )


def ceiling(ax, low, high, label, horizontal=True):
    """A noise-ceiling (or human) band from low to high with dashed edges."""
    c = style.CEILING
    if horizontal:
        ax.axhspan(low, high, color=c["fill"], alpha=c["alpha"], zorder=0, label=label)
        for v in (low, high):
            ax.axhline(v, color=c["edge"], linestyle=c["linestyle"], linewidth=0.8, zorder=0)
    else:
        ax.axvspan(low, high, color=c["fill"], alpha=c["alpha"], zorder=0, label=label)
        for v in (low, high):
            ax.axvline(v, color=c["edge"], linestyle=c["linestyle"], linewidth=0.8, zorder=0)


def objective_handles(objectives: Iterable[str], label: str = "{}") -> list:
    """Legend handles of the training objectives' colours, one per distinct objective (sorted);
    ``label`` formats each objective's entry."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], marker="o", linestyle="none", color=style.objective_colour(o), label=label.format(o))
        for o in sorted(set(objectives))
    ]


def objective_legend(ax, objectives: Iterable[str], **kw):
    """A legend of the training objectives' colours."""
    return ax.legend(handles=objective_handles(objectives), title="objective", **kw)


def figure(n_panels: int, width_per: float = 4.2, height: float = 3.6, ncols_max: int = 3):
    """A figure of ``n_panels`` panels (at most ``ncols_max`` a row; inches per panel);
    returns (figure, the panels' axes)."""
    import matplotlib.pyplot as plt

    ncols = min(n_panels, ncols_max)
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(width_per * ncols, 5.5), height * nrows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def save(fig, outdir: Path, name: str) -> tuple[Path, Path]:
    """Write ``<outdir>/<name>.png`` and ``.pdf`` atomically; close the figure."""
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    paths = (outdir / f"{name}.png", outdir / f"{name}.pdf")
    try:
        for p in paths:
            tmp = temp_name(p)
            fig.savefig(tmp, format=p.suffix[1:], facecolor="white")
            os.replace(tmp, p)
    finally:
        plt.close(fig)
    return paths


def png_inches(path: Path) -> float:
    """Width of a PNG in inches (its pixel width over its dpi, default ``style.DPI``)."""
    from PIL import Image

    with Image.open(path) as im:
        dpi = im.info.get("dpi", (style.DPI,))[0] or style.DPI
        return im.width / float(dpi)

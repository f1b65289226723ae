"""One visual style for every repalign figure, Python (matplotlib) and R (ggplot2).

The R twin is ``R/theme.R`` (``theme_repalign()``, ``objective_colours()``,
``repalign_style()``): the colours, font sizes and line styles below are the same
numbers there, and ``tests/python/test_report_figures.py`` checks that they agree.

* Colours per training objective (the ``objective`` column of ``data/models.csv``):
  the Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008, "Color Universal
  Design"); humans black, anything unlisted grey.
* Confidence intervals: vertical whiskers without caps, ``CI_LINEWIDTH`` wide.
* Reference lines: chance dotted grey, noise ceiling a light-grey band with a
  dashed edge, zero (no correlation / no gain) solid light grey.
* Fonts: the sans-serif family at ``BASE_SIZE`` pt (DejaVu Sans on Debian, the
  face that fontconfig gives R's ``sans`` there as well).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# objective -> colour (Okabe-Ito); keep in step with R/theme.R
OBJECTIVE_COLOURS: dict[str, str] = {
    "supervised": "#0072B2",
    "self-supervised": "#009E73",
    "image-text contrastive": "#D55E00",
    "captioning": "#CC79A7",
    "text": "#E69F00",
    "human": "#000000",
    "baseline": "#56B4E9",
    "random-init": "#999999",
}
OTHER_COLOUR = "#7F7F7F"  # objectives not listed above (e.g. a representation without metadata)
BASE_SIZE = 10  # pt
FONT_FAMILY = "DejaVu Sans"
CI_LINEWIDTH = 1.2
POINT_SIZE = 6  # matplotlib marker size (pt); R point size 2 is about the same
CHANCE = {"colour": "#555555", "linestyle": ":", "linewidth": 1.0}
CEILING = {"fill": "#D9D9D9", "edge": "#808080", "linestyle": "--", "alpha": 0.8}
ZERO = {"colour": "#BBBBBB", "linestyle": "-", "linewidth": 0.8}
PHASE_COLOURS = {"train": "#0072B2", "test": "#D55E00", "human": "#000000", "learner": "#009E73"}
DPI = 150


def objective_colour(objective: str | None) -> str:
    return OBJECTIVE_COLOURS.get(str(objective), OTHER_COLOUR) if objective else OTHER_COLOUR


def model_objectives(models: Iterable[str], path: Path | None = None) -> dict[str, str]:
    """Objective of each model name from ``data/models.csv``; for names not listed
    there: ``"human"`` for the human rows of metrics tables and for embeddings
    fitted to human judgements (SPoSE, VICE), ``"baseline"`` for the seeded Gaussian
    ``random`` representation, else ``"other"``."""
    if path is None:
        from repalign.models.spec import models_csv  # $REPALIGN_MODELS_CSV or the package's own table

        path = models_csv()
    table = {}
    if path.is_file():
        df = pd.read_csv(path, usecols=["name", "objective"])
        table = dict(zip(df["name"].astype(str), df["objective"].astype(str)))
    out = {}
    for m in models:
        m = str(m)
        if m in table:
            out[m] = table[m]
        elif m in ("human", "humans") or m.lower().startswith(("spose", "vice")):
            out[m] = "human"
        elif m == "random":
            out[m] = "baseline"
        else:
            out[m] = "other"
    return out


def rc_params() -> dict:
    """matplotlib rcParams of the style (use with ``matplotlib.rc_context``)."""
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [FONT_FAMILY, "Arial", "Helvetica"],
        "font.size": BASE_SIZE,
        "axes.titlesize": BASE_SIZE + 1,
        "axes.labelsize": BASE_SIZE,
        "xtick.labelsize": BASE_SIZE - 1,
        "ytick.labelsize": BASE_SIZE - 1,
        "legend.fontsize": BASE_SIZE - 1,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#EBEBEB",
        "grid.linewidth": 0.6,
        "axes.axisbelow": True,
        "figure.dpi": 100,
        "savefig.dpi": DPI,
        "savefig.bbox": "tight",
        "pdf.fonttype": 42,  # TrueType in PDFs: editable text
    }

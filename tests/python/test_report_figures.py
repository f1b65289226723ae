"""The report's figures (repalign.pipeline.figures, each family's repalign.metrics.*_figures)
on synthetic tables with planted values: each reference line, band and CI whisker must sit where the table puts it;
the classification hook must pick up a table of accuracy and κ per agent; the R
theme must carry the same colours as the Python style; findings link each number
to the table it comes from."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon, Rectangle

from repalign import style
from repalign.children import child_env
from repalign.metrics import behaviour_figures, behaviour_tables, cka_figures, dimensionality_figures
from repalign.metrics.odd_one_out_figures import plot_odd_one_out
from repalign.metrics.rsa_figures import plot_rsa
from repalign.metrics.table import metrics_table
from repalign.pipeline import figures as figs
from repalign.pipeline.report import _linked, metric_findings


def _row(model, dataset, metric, value, lo=np.nan, hi=np.nan, n=100, layer=""):
    return {
        "model": model,
        "layer": layer,
        "dataset": dataset,
        "metric": metric,
        "value": value,
        "ci_low": lo,
        "ci_high": hi,
        "n": n,
    }


@pytest.fixture
def triplet_metrics():
    return metrics_table(
        [
            _row("human", "noise_ceiling", "noise_ceiling_majority", 0.672, 0.662, 0.682),
            _row("human", "noise_ceiling", "noise_ceiling_loo", 0.644, 0.630, 0.657),
            _row("efficientnet_lite0", "test_10", "odd_one_out_dot", 0.61, 0.60, 0.62),
            _row("pixels", "test_10", "odd_one_out_dot", 0.41, 0.40, 0.42),
            _row("efficientnet_lite0", "test_10", "probe_zero_shot", 0.60, 0.59, 0.61),
            _row("efficientnet_lite0", "test_10", "probe_identity", 0.63, 0.62, 0.64),
            _row("efficientnet_lite0", "test_10", "odd_one_out_dot_temperature", 3.0),  # not drawn
        ]
    )


def _spans(ax):
    """(y0, y1) of the horizontal bands (axhspan) of an axis, or (x0, x1) of axvspan."""
    out = []
    for p in ax.patches:
        if isinstance(p, (Polygon, Rectangle)):
            xy = np.asarray(p.get_xy() if isinstance(p, Polygon) else p.get_bbox().get_points())
            out.append((tuple(np.round(np.unique(xy[:, 0]), 6)), tuple(np.round(np.unique(xy[:, 1]), 6))))
    return out


def _hlines_at(ax):
    return sorted(
        {
            round(float(ln.get_ydata()[0]), 6)
            for ln in ax.lines
            if len(set(np.atleast_1d(ln.get_ydata()))) == 1 and ln.get_transform() == ax.get_yaxis_transform()
        }
    )


def _whiskers(ax):
    segs = []
    for c in ax.collections:
        if isinstance(c, LineCollection):
            segs += [tuple(np.round(s[:, 1 if np.allclose(s[:, 0], s[0, 0]) else 0], 6)) for s in c.get_segments()]
    return sorted(segs)


def test_odd_one_out_figure_puts_ceiling_chance_and_cis_where_the_table_says(triplet_metrics):
    fig = plot_odd_one_out(triplet_metrics)
    (ax,) = fig.axes[:1]
    spans = _spans(ax)
    # the noise-ceiling band runs from the leave-one-out to the majority estimate
    assert any(ys == (0.644, 0.672) for _, ys in spans), spans
    assert 0.333333 in _hlines_at(ax)  # chance
    assert _whiskers(ax) == sorted([(0.6, 0.62), (0.4, 0.42), (0.59, 0.61), (0.62, 0.64)])
    # three variants of one representation + one of the other: 4 points; the temperature row is not drawn
    points = [ln for ln in ax.lines if ln.get_linestyle() == "None"]
    assert sorted(round(float(p.get_ydata()[0]), 6) for p in points) == [0.41, 0.6, 0.61, 0.63]


def test_rsa_figure_band_is_the_noise_ceiling():
    m = metrics_table(
        [
            _row("efficientnet_lite1", "mur92", "rsa_spearman", 0.251, 0.219, 0.283, layer="penultimate"),
            _row("pixels", "mur92", "rsa_spearman", 0.101, 0.076, 0.127, layer="output"),
            _row("human", "mur92", "rsa_spearman_ceiling_lower", 0.477),
            _row("human", "mur92", "rsa_spearman_ceiling_upper", 0.577),
        ]
    )
    fig = plot_rsa(m)
    ax = fig.axes[0]
    assert any(xs == (0.477, 0.577) for xs, _ in _spans(ax)), _spans(ax)
    assert _whiskers(ax) == [(0.076, 0.127), (0.219, 0.283)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["pixels", "efficientnet_lite1"]  # sorted by value


def test_cka_heatmap_holds_the_table_values():
    m = metrics_table(
        [
            _row("a", "ref@x", "cka_linear", 0.9),
            _row("b", "ref@x", "cka_linear", 0.2),
            _row("a", "px@x", "cka_linear", 0.4),
            _row("b", "px@x", "cka_linear", 0.7),
        ]
    )
    fig = cka_figures.plot_cka(m)
    arr = fig.axes[0].images[0].get_array()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    cols = [t.get_text().replace("\n", "") for t in fig.axes[0].get_xticklabels()]
    got = {(labels[i], cols[j]): float(arr[i, j]) for i in range(2) for j in range(2)}
    assert got == {("a", "ref@x"): 0.9, ("b", "ref@x"): 0.2, ("a", "px@x"): 0.4, ("b", "px@x"): 0.7}


def test_classification_hook_draws_accuracy_and_kappa_with_the_human_band(tmp_path):
    table = pd.DataFrame(
        {
            "set": ["edges"] * 3,
            "agent": ["humans", "alexnet", "efficientnet_lite0"],
            "accuracy": [0.871, 0.5, 0.6],
            "accuracy_ci_low": [0.85, 0.45, 0.55],
            "accuracy_ci_high": [0.89, 0.55, 0.65],
            "kappa_to_humans": [0.30, 0.10, 0.15],
            "kappa_ci_low": [0.25, 0.05, 0.10],
            "kappa_ci_high": [0.35, 0.15, 0.20],
        }
    )
    assert behaviour_tables.classification_columns(table.columns)["kappa"] == "kappa_to_humans"
    got = figs.python_figures(tmp_path, pd.DataFrame(), tables={"error_consistency": {"tab-classification-x": table}})
    (f,) = got
    assert (
        f.family == "error_consistency" and f.png.is_file() and f.pdf.is_file() and f.tables == ["tab-classification-x"]
    )
    fig = behaviour_figures.plot_error_consistency(table)
    ax_acc, ax_k = fig.axes
    assert any(xs == (0.85, 0.89) for xs, _ in _spans(ax_acc))  # humans' accuracy CI shaded
    assert any(xs == (0.25, 0.35) for xs, _ in _spans(ax_k))  # humans' κ CI shaded
    # a long metrics-style table (agent, metric, value, ci) is recognised as well
    long_ = pd.DataFrame(
        {
            "agent": ["humans", "humans", "vgg", "vgg"],
            "metric": ["accuracy", "kappa", "accuracy", "kappa"],
            "value": [0.9, 0.3, 0.5, 0.1],
            "ci_low": [0.88, 0.2, 0.4, 0.0],
            "ci_high": [0.92, 0.4, 0.6, 0.2],
        }
    )
    wide = behaviour_tables.classification_wide(long_)
    assert behaviour_tables.classification_columns(wide.columns) is not None
    assert wide.set_index("agent").loc["vgg", "kappa"] == 0.1
    assert behaviour_tables.classification_columns(["model", "metric", "value"]) is None


def test_python_figures_draws_one_per_family_and_removes_stale_files(tmp_path, triplet_metrics):
    (tmp_path / "old.png").write_bytes(b"x")
    got = figs.python_figures(tmp_path, triplet_metrics)
    assert [f.family for f in got] == ["odd_one_out"]
    # (outside a run, the empty, marked .repalign-tmp folder of the atomic writes stays; a run removes it)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".repalign-tmp") == [
        "odd_one_out.pdf",
        "odd_one_out.png",
    ]
    assert (tmp_path / "odd_one_out.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "odd_one_out.png").read_bytes()[:4] == b"\x89PNG"


def test_findings_link_every_number_to_its_table(triplet_metrics):
    findings = metric_findings(triplet_metrics)
    text, target = findings[0]
    assert target == "tab-metrics-odd_one_out"
    assert "efficientnet_lite0 is best at 0.610 [0.600, 0.620]" in text and "noise ceiling is 0.672" in text
    linked = _linked(text, target)
    numbers = re.findall(r"\d+\.\d+", text)
    assert linked.count(f"<a href='#{target}'>") == len(numbers) >= 6
    assert (
        findings[1][0] == "Linear probing on held-out objects (zero-shot → probed): efficientnet_lite0 0.600 → 0.630."
    )


def test_r_theme_has_the_python_colours():
    """R/theme.R and repalign.style carry the same numbers."""
    from repalign.rlib import rlib_path

    env = child_env({"R_LIBS": str(rlib_path())})
    code = (
        "s <- repalign::repalign_style(); cat(jsonlite::toJSON(list(colours = as.list(s$objective_colours), "
        "other = s$other_colour, base = s$base_size, ci = s$ci_linewidth, chance = s$chance$colour, "
        "ceiling = s$ceiling$fill), auto_unbox = TRUE))"
    )
    res = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["colours"] == style.OBJECTIVE_COLOURS
    assert (r["other"], r["base"], r["ci"], r["chance"], r["ceiling"]) == (
        style.OTHER_COLOUR,
        style.BASE_SIZE,
        style.CI_LINEWIDTH,
        style.CHANCE["colour"],
        style.CEILING["fill"],
    )


def test_dynamics_figures_show_chance_band_and_cis():
    curves = pd.DataFrame(
        {
            "agent": ["human"] * 4,
            "agent_type": ["human"] * 4,
            "epoch": [1, 2, 1, 2],
            "phase": ["train", "train", "test", "test"],
            "mean": [0.4, 0.8, 0.35, 0.7],
            "sd": [0.1] * 4,
            "n_runs": [4] * 4,
            "sem": [0.05, 0.05, 0.02, 0.02],
        }
    )
    fig = figs.plot_dynamics_curves(curves, chance_upper=0.5)
    ax = fig.axes[0]
    assert {0.333333, 0.5} <= set(_hlines_at(ax))
    want = sorted((round(m - 1.96 * s, 6), round(m + 1.96 * s, 6)) for m, s in zip(curves["mean"], curves["sem"]))
    assert _whiskers(ax) == want
    lag = pd.DataFrame({"agent": ["human", "resnet"], "agent_type": ["human", "network"], "lag": [0.003, 0.233]})
    ax = figs.plot_generalisation_lag(lag).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["human (human)", "resnet (network)"]
    assert sorted(round(float(ln.get_xdata()[0]), 6) for ln in ax.lines if ln.get_marker() == "o") == [0.003, 0.233]


# ---- honest figures: order, diagonal, axis names, headline, no colliding labels ----------


def _colliding(fig) -> list[tuple[str, str]]:
    """Pairs of tick labels of one axis whose text overlaps: their boxes overlap and,
    for labels turned by the same angle (parallel lines of text, whose centre is
    their box's centre), their midlines are less than a line height apart."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [(t, t.get_window_extent(r)) for t in ticks if t.get_visible() and t.get_text()]
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    (a, ba), (b, bb) = boxes[i], boxes[j]
                    if not ba.overlaps(bb):
                        continue
                    angle = np.deg2rad(a.get_rotation())
                    if angle and a.get_rotation() == b.get_rotation():
                        d = np.subtract(bb.get_points().mean(0), ba.get_points().mean(0))
                        height = a.get_fontsize() * fig.dpi / 72 * 1.2  # one line, in pixels
                        if abs(-d[0] * np.sin(angle) + d[1] * np.cos(angle)) >= height:
                            continue
                    out.append((a.get_text(), b.get_text()))
    return out


LONG = ["random:efficientnet_lite0", "efficientnet_lite2", "open_clip/ViT-B-32:openai"]


def test_colliding_label_check_sees_a_planted_collision():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xticks([0, 1, 2], LONG)  # horizontal long names 1/3 in apart: they overlap
    assert _colliding(fig)
    ax.set_xticks([0, 1, 2], LONG, rotation=30, ha="right")  # turned, 1 in apart: clear of each other
    assert _colliding(fig) == []
    ax.set_xticks([0, 0.02, 2], LONG, rotation=30, ha="right")  # turned but almost on top of each other
    assert _colliding(fig) == [(LONG[0], LONG[1])]
    plt.close(fig)


def test_cka_rows_follow_the_rsa_figure_with_the_diagonal_drawn():
    # planted RSA order: b > c > a; CKA of every pair, self-cells not computed
    rsa = {"a": 0.10, "b": 0.40, "c": 0.25}
    rows = [_row(m, "mur92", "rsa_spearman", v, v - 0.02, v + 0.02, layer="penultimate") for m, v in rsa.items()]
    cka = {("a", "b"): 0.3, ("a", "c"): 0.5, ("b", "a"): 0.3, ("b", "c"): 0.8, ("c", "a"): 0.5, ("c", "b"): 0.8}
    rows += [_row(m, f"{r}/penultimate@mur92", "cka_linear", v, layer="penultimate") for (m, r), v in cka.items()]
    m = metrics_table(rows)
    rsa_fig = plot_rsa(m)
    rsa_top_down = [t.get_text() for t in rsa_fig.axes[0].get_yticklabels()][::-1]
    assert rsa_top_down == ["b", "c", "a"]
    fig = cka_figures.plot_cka(m, dimensionality_figures.representation_order(m))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == rsa_top_down
    cols = [t.get_text().split("/")[0] for t in ax.get_xticklabels()]
    assert cols == rsa_top_down  # references in the same order: self-cells on the diagonal
    arr = ax.images[0].get_array()
    assert [float(arr[i, i]) for i in range(3)] == [1.0, 1.0, 1.0]
    assert float(arr[0, 1]) == 0.8 and float(arr[2, 0]) == 0.3  # b–c and a–b where the table puts them
    frames = sorted(
        (round(p.get_x() + 0.5), round(p.get_y() + 0.5))
        for p in ax.patches
        if isinstance(p, Rectangle) and not p.get_fill()
    )
    assert frames == [(0, 0), (1, 1), (2, 2)]
    assert _colliding(fig) == []
    # the report's caption says so
    got = figs.python_figures(Path(tempfile.mkdtemp()), m)
    cap = next(f.caption for f in got if f.family == "cka")
    assert "RSA figure's order" in cap and "black frame" in cap
    # one reference that is itself a representation of the study (not measured against itself): it gets
    # its row, in RSA order, and its self-cell; the others keep theirs
    one = metrics_table(
        rows[:3]
        + [_row(x, "a/penultimate@mur92", "cka_linear", v, layer="penultimate") for x, v in (("b", 0.3), ("c", 0.5))]
    )
    ax = cka_figures.plot_cka(one, dimensionality_figures.representation_order(one)).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c", "a"]
    assert [float(v) for v in ax.images[0].get_array()[:, 0]] == [0.3, 0.5, 1.0]
    # no representation among the references: no frame, and the caption does not mention one
    other = metrics_table(
        rows[:3] + [_row(x, "pixels/output@mur92", "cka_linear", 0.2, layer="penultimate") for x in rsa]
    )
    got = figs.python_figures(Path(tempfile.mkdtemp()), other)
    assert "black frame" not in next(f.caption for f in got if f.family == "cka")


def test_id_panels_in_estimator_order_with_the_estimator_named():
    m = metrics_table(
        [
            _row(x, "d", metric, v, layer="l")
            for x in ("a", "b")
            for metric, v in (("dimensionality_pr", 3.0), ("dimensionality_twonn", 9.0))
        ]
        + [
            _row("a", "d", "rsa_spearman", 0.3, 0.2, 0.4, layer="l"),
            _row("b", "d", "rsa_spearman", 0.1, 0.0, 0.2, layer="l"),
        ]
    )
    fig = dimensionality_figures.plot_dimensionality(m)
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == [
        "intrinsic dimensionality (TwoNN)",
        "intrinsic dimensionality (participation ratio)",
    ]
    assert dimensionality_figures.estimator_order(
        ["dimensionality_pr", "dimensionality_zz", "dimensionality_twonn"]
    ) == [
        "dimensionality_twonn",
        "dimensionality_pr",
        "dimensionality_zz",
    ]
    # points only: no line joins representations
    assert all(
        ln.get_linestyle() == "None"
        for ax in fig.axes[:2]
        for ln in ax.lines
        if len(np.atleast_1d(ln.get_xdata())) > 1 and ln.get_transform() == ax.transData
    )


def test_dimensionality_family_draws_against_the_r_scores_it_finds(tmp_path):
    """Without RSA or odd-one-out rows, the dimensionality family finds the R stage's
    alignment_scores.csv (only in <output>/r/<key>/ beside summary.txt), draws each
    representation's pseudo-R² (planted) with its CI against its dimensionality, and cites
    the R table's anchor; the CKA family orders its rows by those scores."""
    from repalign.metrics.cka_family import CKA
    from repalign.metrics.dimensionality_family import DIMENSIONALITY

    scores = pd.DataFrame(
        {
            "model": ["a", "b"],
            "layer": ["l", "l"],
            "task": "t",
            "pseudo_r2": [0.11, 0.37],
            "ci_low": [0.05, 0.3],
            "ci_high": [0.17, 0.44],
        }
    )
    for folder in (tmp_path / "r" / "k1", tmp_path / "elsewhere"):  # the second is no R output folder
        folder.mkdir(parents=True)
        (folder / "summary.txt").write_text("done\n")
        scores.assign(pseudo_r2=scores["pseudo_r2"] if folder.parent.name == "r" else 0.9).to_csv(
            folder / "alignment_scores.csv", index=False
        )
    (found,) = DIMENSIONALITY.tables([tmp_path])
    assert found.anchor == "tab-r-alignment_scores" and found.path.parent == tmp_path / "r" / "k1"
    m = metrics_table(
        [_row(x, "d", "dimensionality_twonn", v, layer="l") for x, v in (("a", 4.0), ("b", 12.0))]
        + [_row(x, f"{r}/l@d", "cka_linear", 0.5, layer="l") for x in ("a", "b") for r in ("a", "b") if x != r]
    )
    (fig,) = DIMENSIONALITY.figures(m, tmp_path / "figures", {found.anchor: found.frame})
    assert fig.tables == ("tab-metrics-dimensionality", "tab-r-alignment_scores") and fig.png.is_file()
    ax = dimensionality_figures.plot_dimensionality(m, found.frame).axes[0]
    points = sorted(
        (float(ln.get_xdata()[0]), float(ln.get_ydata()[0]))
        for ln in ax.lines
        if ln.get_linestyle() == "None" and len(np.atleast_1d(ln.get_xdata())) == 1
    )
    assert points == [(4.0, 0.11), (12.0, 0.37)]
    assert _whiskers(ax) == [(0.05, 0.17), (0.3, 0.44)]
    (cka,) = CKA.figures(m, tmp_path / "figures", {found.anchor: found.frame})
    assert "from most to least aligned" in cka.caption
    assert dimensionality_figures.representation_order(m, found.frame) == [("b", "l"), ("a", "l")]


def test_odd_one_out_long_names_do_not_collide(triplet_metrics):
    rows = [
        _row(name, "test_10", "odd_one_out_dot", 0.5 + 0.01 * i, 0.49, 0.52 + 0.01 * i) for i, name in enumerate(LONG)
    ]
    fig = plot_odd_one_out(metrics_table(rows))
    assert _colliding(fig) == []


def test_headline_figure_comes_first_and_the_header_says_cached():
    from repalign.pipeline.report import headline_first, run_header

    def fig(family, name, tables, source="python"):
        return figs.Figure(family, name, name, "caption", Path(f"/x/{name}.png"), tables=tables, source=source)

    # the ID figure uses the scores too (as its y axis), but is drawn chiefly from the ID table
    fs = [
        fig("dimensionality", "dim", ["tab-metrics-dimensionality", "tab-r-scores"]),
        fig("learning", "r-curves", ["tab-r-cv"], "R"),
        fig("alignment_vs_size", "r-size", ["tab-r-data"], "R"),
        fig("choice_models", "choice", ["tab-r-scores"]),
    ]
    # a model-recovery study: the first finding cites the choice models' scores
    out, head = headline_first(
        fs, [("Task t: the most aligned model is ...", "tab-r-scores"), ("x", None)], figs.figure_groups()
    )
    assert head.name == "choice" and [f.name for f in out] == ["choice", "dim", "r-size", "r-curves"]
    # an RSA study: the RSA figure leads
    fs.append(fig("rsa", "rsa", ["tab-metrics-rsa"]))
    out, head = headline_first(fs, [("RSA ...", "tab-metrics-rsa")], figs.figure_groups())
    assert out[0].name == "rsa"
    # no finding: family order
    out, head = headline_first(fs, [], figs.figure_groups())
    assert head is None and [f.family for f in out][:2] == ["rsa", "dimensionality"]
    assert (
        run_header({f"t{i}": "skipped" for i in range(10)}, 0.04)
        == "10 tasks: all 10 cached (nothing recomputed); 0.0 s"
    )
    assert (
        run_header({"a": "done", "b": "skipped", "c": "failed: boom"}, 3.0)
        == "3 tasks: 1 computed, 1 cached, 1 failed; 3.0 s"
    )

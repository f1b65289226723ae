"""Shape bias on cue-conflict images (repalign.metrics.shape_bias): planted decisions with a
known shape bias are recovered; on the real data, the people's and the raw-data CNNs' values
equal those published by Geirhos et al. (2019); the result-family registry drives the run's
console lines and report section."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repalign.datasets.cue_conflict import cue_of, decisions_table, parse_image_name
from repalign.errors import ValidationError
from repalign.metrics.shape_bias import shape_bias_rows

CATS = ["airplane", "bear", "cat", "dog"]


def _labels(n_per_pair: int = 5) -> pd.DataFrame:
    """Synthetic cue-conflict images: every ordered pair of CATS (12 conflict pairs) plus one
    same-category image per category (not a conflict)."""
    ids, shape, texture = [], [], []
    for s in CATS:
        for t in CATS:
            for k in range(1 if s == t else n_per_pair):
                ids.append(f"cue-conflict/{s}{k + 1}-{t}{k + 1}")
                shape.append(s)
                texture.append(t)
    return pd.DataFrame({"shape": shape, "texture": texture}, index=pd.Index(ids, name="stimulus_id"))


def _plant(labels: pd.DataFrame, agent: str, agent_type: str, p_shape: float, p_texture: float, rng) -> pd.DataFrame:
    """An agent's decisions: on conflict images shape with p_shape, texture with p_texture,
    else a third category; on same-category images always the (shared) category."""
    u = rng.random(len(labels))
    other = [next(c for c in CATS if c not in (s, t)) for s, t in zip(labels["shape"], labels["texture"])]
    resp = np.where(u < p_shape, labels["shape"], np.where(u < p_shape + p_texture, labels["texture"], other))
    resp = np.where(labels["shape"] == labels["texture"], labels["shape"], resp)
    return pd.DataFrame(
        {"agent": agent, "agent_type": agent_type, "subject": agent, "stimulus_id": labels.index, "response": resp}
    )


def test_image_names_give_shape_and_texture():
    assert parse_image_name("stimuli/style-transfer-preprocessed-512/cat/cat3-elephant1.png") == ("cat", "elephant")
    assert parse_image_name("airplane10-airplane1") == ("airplane", "airplane")
    with pytest.raises(ValidationError, match=r"'cat3_elephant1.png'.*<shape><k>-<texture><j>"):
        parse_image_name("cat3_elephant1.png")
    assert list(cue_of(["cat", "dog", "car", "na"], ["cat"] * 4, ["dog"] * 4)) == ["shape", "texture", "other", "other"]


def test_exact_planted_counts_give_the_exact_shape_bias():
    """Counts chosen by hand: 30 shape, 10 texture, 20 other decisions on 60 conflict images
    → shape bias 0.75, cue decided 40/60; same-category trials do not count."""
    labels = _labels(n_per_pair=5)  # 60 conflict + 4 same-category images
    conflict = labels.index[labels["shape"] != labels["texture"]]
    resp = pd.Series(labels["shape"].to_numpy(), index=labels.index)  # same-category: "shape" = "texture"
    tex = labels.loc[conflict, "texture"].to_numpy()
    third = [next(c for c in CATS if c not in (s, t)) for s, t in zip(labels.loc[conflict, "shape"], tex)]
    resp[conflict[30:40]] = tex[30:40]
    resp[conflict[40:]] = third[40:]
    trials = pd.DataFrame(
        {
            "agent": "net",
            "agent_type": "network",
            "subject": "net",
            "stimulus_id": labels.index,
            "response": resp.to_numpy(),
        }
    )
    d = decisions_table(trials, labels)
    assert d["conflict"].sum() == 60 and (~d["conflict"]).sum() == 4
    rows = pd.DataFrame(shape_bias_rows(d, n_boot=200, seed=1)).set_index("metric")
    assert rows.loc["shape_bias", "value"] == pytest.approx(0.75)
    assert rows.loc["shape_bias", "n"] == 40
    assert rows.loc["cue_decided", "value"] == pytest.approx(40 / 60)
    assert rows.loc["shape_bias", "ci_low"] < 0.75 < rows.loc["shape_bias", "ci_high"]
    # per shape category: the planted texture/other decisions fall on the later images
    cat = rows.loc["shape_bias_category"].set_index("other")["value"]
    expect = {}
    for c in CATS:
        idx = [i for i, s in enumerate(labels.loc[conflict, "shape"]) if s == c]
        s_ = sum(1 for i in idx if i < 30)
        t_ = sum(1 for i in idx if 30 <= i < 40)
        expect[c] = s_ / (s_ + t_) if s_ + t_ else np.nan
    for c in CATS:
        assert cat[c] == pytest.approx(expect[c], nan_ok=True)


def test_random_planted_biases_recovered_with_covering_cis():
    rng = np.random.default_rng(0)
    labels = _labels(n_per_pair=60)  # 720 conflict images
    planted = {
        "subject-01": (0.9, 0.05),
        "subject-02": (0.7, 0.2),
        "subject-03": (0.8, 0.1),
        "texture-net": (0.15, 0.55),
        "shape-net": (0.5, 0.1),
    }
    trials = pd.concat(
        [
            _plant(labels, a, "human" if a.startswith("subject") else "network", ps, pt, rng)
            for a, (ps, pt) in planted.items()
        ],
        ignore_index=True,
    )
    t = pd.DataFrame(shape_bias_rows(decisions_table(trials, labels), n_boot=500, seed=2))
    sb = t[t["metric"] == "shape_bias"].set_index("model")
    truth = {a: ps / (ps + pt) for a, (ps, pt) in planted.items()}
    for a, v in truth.items():
        r = sb.loc[a]
        assert r["ci_low"] < v < r["ci_high"], (a, v, r["value"])
        assert abs(r["value"] - v) < 0.05
    people = [truth[a] for a in planted if a.startswith("subject")]
    assert sb.loc["humans", "value"] == pytest.approx(
        np.mean([sb.loc[a, "value"] for a in planted if a.startswith("subject")])
    )
    assert abs(sb.loc["humans", "value"] - np.mean(people)) < 0.03
    rng_rows = t[t["metric"].isin(["shape_bias_min", "shape_bias_max"])].set_index("metric")
    assert rng_rows.loc["shape_bias_min", "other"] == "subject-02"
    assert rng_rows.loc["shape_bias_max", "other"] == "subject-01"
    dec = t[t["metric"] == "cue_decided"].set_index("model")["value"]
    assert abs(dec["texture-net"] - 0.70) < 0.05 and abs(dec["subject-01"] - 0.95) < 0.03


def test_bad_decisions_are_named():
    labels = _labels(2)
    trials = _plant(labels, "a", "network", 0.5, 0.5, np.random.default_rng(0))
    d = decisions_table(trials, labels)
    with pytest.raises(ValidationError, match=r"lack column\(s\) \['cue'\]"):
        shape_bias_rows(d.drop(columns="cue"))
    with pytest.raises(ValidationError, match=r"'cue' has value\(s\) \['colour'\]"):
        shape_bias_rows(d.assign(cue="colour"))
    with pytest.raises(ValidationError, match="no cue-conflict trials"):
        shape_bias_rows(d[~d["conflict"]])
    with pytest.raises(ValidationError, match=r"image\(s\) \['cue-conflict/x1-y1'\] are not cue-conflict stimuli"):
        decisions_table(trials.assign(stimulus_id="cue-conflict/x1-y1"), labels)
    with pytest.raises(ValidationError, match="decided twice"):
        decisions_table(pd.concat([trials, trials.head(1)]), labels)


def test_result_families_are_registered_and_matched():
    import repalign.metrics  # noqa: F401  (registers the families)
    from repalign.families import ResultFamily, families, register
    from repalign.metrics.shape_bias_report import summary_lines

    names = [f.name for f in families()]
    assert "classification" in names and "shape_bias" in names
    task = type("T", (), {"key": "metrics:shape_bias:abc"})()
    assert [f.name for f in families() if f.matches(task)] == ["shape_bias"]
    with pytest.raises(TypeError, match="expected a ResultFamily"):
        register("shape_bias")  # type: ignore[arg-type]
    assert isinstance(families()[0], ResultFamily)
    table = pd.DataFrame(
        {
            "model": ["humans", "subject-01", "net"],
            "metric": "shape_bias",
            "value": [0.9, 0.95, 0.2],
            "ci_low": [0.8, 0.9, 0.1],
            "ci_high": [0.95, 0.99, 0.3],
            "agent_type": ["humans", "human", "network"],
            "dataset": "cue-conflict",
        }
    )
    assert summary_lines(table) == [
        "shape_bias humans 0.900 [0.800, 0.950]",
        "shape_bias subject-01 0.950 [0.900, 0.990]",
        "shape_bias net 0.200 [0.100, 0.300]",
    ]


def test_families_say_nothing_about_other_results(tmp_path):
    """Every registered family answers empty on a run without its rows (e.g. RSA only; the RSA
    family, which owns those rows, aside)."""
    import repalign.metrics  # noqa: F401
    from repalign.families import families

    other = pd.DataFrame(
        {
            "model": ["m"],
            "layer": [""],
            "dataset": ["mur92"],
            "metric": ["rsa_spearman"],
            "value": [0.3],
            "ci_low": [0.2],
            "ci_high": [0.4],
            "n": [92],
        }
    )
    for metrics in (pd.DataFrame(), other, other.assign(agent_type="")):
        for fam in families():
            if fam.metrics is not None and fam.metrics("rsa_spearman"):
                continue
            assert fam.findings(metrics) == [] and fam.report_section(metrics, []) == "", fam.name
            assert fam.figures(metrics, tmp_path / "figures", {}) == [], fam.name


def test_config_errors_name_the_entry(tmp_path):
    from repalign.config import load_config
    from repalign.pipeline.plan import plan_all

    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\nname = "x"\noutput = "out"\n[[metrics]]\nmetric = "shape_bias"\ndataset = "edges"\n')
    with pytest.raises(ValidationError, match=r"\[\[metrics\]\] #1: dataset = 'edges'; valid: cue-conflict"):
        plan_all(load_config(cfg))
    cfg.write_text(
        '[run]\nname = "x"\noutput = "out"\n[[stimuli]]\nname = "d"\nsource = "digits"\nn = 2\n'
        '[[models]]\nname = "efficientnet_lite0"\nlayers = ["output"]\n'
        '[[metrics]]\nmetric = "shape_bias"\nrepresentations = ["efficientnet_lite0/output@d"]\n'
    )
    with pytest.raises(
        ValidationError, match=r"not over a \[\[stimuli\]\] set with source 'texture-shape-cue-conflict'"
    ):
        plan_all(load_config(cfg))


# ---- real data ------------------------------------------------------------------------------
# Geirhos et al. (2019), ICLR, Figure 4 and section 3: shape-based decisions of people 95.9%
# (mean over observers), AlexNet 42.9%, GoogLeNet 31.2%, VGG-16 17.2%, ResNet-50 22.1%; ResNet-50
# trained on Stylized-ImageNet 81.0% (Table 2 / Figure 5).
PUBLISHED = {
    "humans": 0.959,
    "alexnet": 0.429,
    "googlenet": 0.312,
    "vgg": 0.172,
    "pytorch-resnet50": 0.221,
    "pytorch-resnet50-train-60-epochs": 0.810,
}


@pytest.fixture(scope="module")
def real_table(real_data):
    from repalign.datasets import load_cue_conflict

    cc = load_cue_conflict()
    return cc, pd.DataFrame(shape_bias_rows(cc.decisions, n_boot=300, seed=0))


@pytest.mark.data
def test_cue_conflict_data_as_published(real_table):
    cc, _ = real_table
    d = cc.decisions
    assert len(cc.stimuli) == 1280 and int((~cc.stimuli.labels["conflict"]).sum()) == 80
    assert sorted(d.loc[d["agent_type"] == "human", "agent"].unique()) == [f"subject-{i:02d}" for i in range(1, 11)]
    nets = set(d.loc[d["agent_type"] == "network", "agent"])
    assert {"alexnet", "pytorch-alexnet", "googlenet", "vgg"} <= nets and len(nets) == 16
    assert (d.groupby("agent").size() == 1280).all()


@pytest.mark.data
def test_shape_bias_equals_the_published_values(real_table):
    _, t = real_table
    sb = t[t["metric"] == "shape_bias"].set_index("model")
    for agent, v in PUBLISHED.items():
        assert sb.loc[agent, "value"] == pytest.approx(v, abs=0.0051), agent  # published to 0.1 %
    people = sb[sb["agent_type"] == "human"]["value"]
    lo, hi = (t[t["metric"] == m]["value"].iloc[0] for m in ("shape_bias_min", "shape_bias_max"))
    assert (lo, hi) == (people.min(), people.max()) and lo > 0.9  # every person decides mostly by shape
    # the two experiments' AlexNets are different networks
    assert abs(sb.loc["alexnet", "value"] - sb.loc["pytorch-alexnet", "value"]) > 0.1


@pytest.mark.data
def test_nets_only_config_prints_one_line_per_agent(tmp_path):
    from rich.console import Console

    from repalign.pipeline.run import run

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[run]\nname = "sb"\noutput = "out"\n[[metrics]]\nmetric = "shape_bias"\nn_boot = 100\n'
        'networks = ["alexnet", "pytorch-alexnet", "vgg"]\n'
    )
    console = Console(record=True, width=200)
    run(cfg, progress=False, console=console)
    text = console.export_text()
    lines = re.findall(r"^shape_bias (\S+) (\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]$", text, flags=re.M)
    agents = [a for a, *_ in lines]
    assert sorted(agents) == sorted(
        [f"subject-{i:02d}" for i in range(1, 11)] + ["alexnet", "pytorch-alexnet", "vgg", "humans"]
    )
    vals = {a: float(v) for a, v, *_ in lines}
    assert vals["humans"] == pytest.approx(PUBLISHED["humans"], abs=0.0051)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Shape bias (cue-conflict images)" in html and "fig-shape_bias_categories" in html
    assert Path(tmp_path / "out" / "figures" / "shape_bias_summary.pdf").is_file()


@pytest.mark.data
def test_a_model_over_a_subset_of_the_images_end_to_end(tmp_path):
    """EfficientNet-Lite0 on the first 32 cue-conflict images (``limit``): its printed shape
    bias is shape / (shape + texture) of its own decisions in the written decisions table, and
    error consistency uses the images every agent saw."""
    from rich.console import Console

    from repalign.pipeline.run import run
    from repalign.store import read_table

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[run]\nname = "sb"\noutput = "out"\n'
        '[[stimuli]]\nname = "cc"\nsource = "texture-shape-cue-conflict"\nlimit = 32\n'
        '[[models]]\nname = "efficientnet_lite0"\nlayers = ["output"]\n'
        '[[metrics]]\nmetric = "shape_bias"\nn_boot = 50\nnetworks = ["vgg"]\n'
    )
    console = Console(record=True, width=200)
    run(cfg, progress=False, console=console)
    m = re.search(r"^shape_bias efficientnet_lite0 (\S+) \[", console.export_text(), flags=re.M)
    assert m
    (dec_path,) = (tmp_path / "out" / "metrics").glob("cue-decisions-*.parquet")
    d = read_table(dec_path, kind="decisions")
    mine = d[(d["agent"] == "efficientnet_lite0") & d["conflict"]]
    assert len(d[d["agent"] == "efficientnet_lite0"]) == 32
    s, t = (mine["cue"] == "shape").sum(), (mine["cue"] == "texture").sum()
    assert float(m.group(1)) == pytest.approx(s / (s + t), abs=5e-4)
    (tab_path,) = (tmp_path / "out" / "metrics").glob("shape_bias-*.parquet")
    tab = pd.read_parquet(tab_path)
    k = tab[(tab["metric"] == "kappa_to_humans") & (tab["model"] == "efficientnet_lite0")]
    assert len(k) == 1 and k["n"].iloc[0] == 10

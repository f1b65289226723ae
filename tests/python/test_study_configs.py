"""The real-data study configs (analysis/configs/*.toml), end to end.

Each study runs here in a REDUCED form (fewer representations, tasks, images,
bootstrap resamples) written into tmp_path, through the same
``repalign.pipeline.run`` as ``repalign run``; the outputs are checked (schemas,
counts, the THINGS numbers of the papers), and a second run must skip every task.
The full configs must at least load and plan.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from builders import MUR92_METRICS, study_head

from repalign.config import load_config
from repalign.pipeline import plan_all, run
from repalign.pipeline.report import collect_metrics
from repalign.store import read_table, table_info

CONFIGS = Path(__file__).resolve().parents[2] / "analysis" / "configs"
STUDIES = ("things.toml", "mur92.toml", "learning_dynamics.toml", "texture_shape.toml")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The learners' many small batched solves run ~10× faster on one thread than on two
    on this shared 2-core machine (see docs/dynamics.md)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run_twice(tmp_path: Path, text: str) -> tuple[dict[str, str], Path]:
    """Run a config written into tmp_path; run it again and check that nothing is redone."""
    path = tmp_path / "study.toml"
    path.write_text(text)
    status = run(load_config(path), report=True, progress=False)
    assert status and all(s == "done" for s in status.values()), status
    again = run(load_config(path), report=False, progress=False)
    assert again.keys() == status.keys()
    assert all(s == "skipped" for s in again.values()), again  # a re-run does no repeated work
    out = load_config(path).output
    assert (out / "report.html").is_file()
    return status, out


def _tables(out: Path, kind: str, under: str) -> dict[Path, pd.DataFrame]:
    paths = sorted(p for p in (out / under).rglob("*.parquet") if table_info(p)["kind"] == kind)
    return {p: read_table(p, kind=kind) for p in paths}


@pytest.mark.parametrize("name", STUDIES)
def test_full_config_loads_and_plans(name, real_data):
    cfg = load_config(CONFIGS / name)
    tasks = plan_all(cfg)
    stages = {t.stage for t in tasks}
    expected = {
        "things.toml": {"features", "metrics", "learners", "r"},
        "mur92.toml": {"features", "metrics"},
        "learning_dynamics.toml": {"dynamics"},
        "texture_shape.toml": {"features", "metrics", "r"},
    }[name]
    assert expected <= stages, stages
    assert len({t.key for t in tasks}) == len(tasks)


THINGS = """
[run]
name = "things-reduced"
output = "out"
seed = 0

[[representations]]
name = "spose49"
source = "spose49"

[[representations]]
name = "random8"
source = "random"
dims = 8
seed = 1

[[metrics]]
metric = "noise_ceiling"
dataset = "noise_ceiling"
n_boot = 50

[[metrics]]
metric = "odd_one_out"
dataset = "test_10"
similarity = ["dot"]
n_boot = 50

[[metrics]]
metric = "odd_one_out"
dataset = "noise_ceiling"
similarity = ["dot"]
n_boot = 50

[[metrics]]
metric = "probe"
dataset = "test_10"
representations = ["spose49"]
alphas = [0.01]
n_folds = 2
inner_folds = 2
epochs = 2
max_triplets = 4000
n_boot = 20

[[learners]]
task = "things-decisions"
tasks = ["participant_01", "participant_02", "participant_03"]

[[learners]]
task = "demircan-reward"
representations = ["random8"]
tasks = 4

[[learners]]
task = "demircan-category"
representations = ["random8"]
tasks = 3
C = 1.0

[r]
levels = []
by = ["model", "layer", "task_kind"]
k = 3
n_boot = 50
"""


@pytest.mark.data
def test_things_reduced_reproduces_published_numbers(tmp_path):
    status, out = _run_twice(tmp_path, THINGS)
    assert {k.split(":")[0] for k in status} >= {"metrics", "learners", "r"}
    m = collect_metrics(out)
    assert {"model", "layer", "dataset", "metric", "value", "ci_low", "ci_high", "n"} <= set(m.columns)

    def one(model, metric, dataset):
        rows = m[(m.model == model) & (m.metric == metric) & (m.dataset == dataset)]
        assert len(rows) == 1, (model, metric, dataset, m[["model", "metric", "dataset"]])
        return rows.iloc[0]

    nc = one("human", "noise_ceiling_majority", "noise_ceiling")
    assert nc.value == pytest.approx(0.672, abs=0.001) and nc.n == 1000
    assert nc.ci_low < nc.value < nc.ci_high
    assert one("spose49", "odd_one_out_dot", "test_10").value == pytest.approx(0.640, abs=0.002)
    assert one("spose49", "odd_one_out_dot", "noise_ceiling").value == pytest.approx(0.630, abs=0.002)
    rnd = one("random", "odd_one_out_dot", "test_10")
    assert abs(rnd.value - 1 / 3) < 0.01  # the seeded Gaussian baseline sits at chance
    probed = m[(m.model == "spose49") & m.metric.str.startswith("probe")]
    assert len(probed) >= 1 and probed.value.between(0, 1).all()

    # learners: one trials table per (entry, representation), with the configured counts
    trials = _tables(out, "trials", "learners")
    assert len(trials) == 2 + 1 + 1
    by_kind = {}
    for df in trials.values():
        by_kind.setdefault(df.task_kind.iloc[0], []).append(df)
    assert sorted(by_kind) == ["demircan-category", "demircan-reward", "things-decisions"]
    for df in by_kind["things-decisions"]:
        assert df.participant.nunique() == 3 and len(df) == 3 * 150 and df.choice.isin([0, 1]).all()
    for df in by_kind["demircan-reward"]:
        assert df.task.nunique() == 4 and len(df) == 4 * 60 and "choice" not in df  # task structure only
    for df in by_kind["demircan-category"]:
        assert df.task.nunique() == 3 and len(df) == 3 * 120 and df.value.between(0, 1).all()

    # R: choice models per representation and task kind; only THINGSDecisions has human choices
    (rdir,) = [p for p in (out / "r").iterdir() if p.is_dir()]
    scores = pd.read_csv(rdir / "alignment_scores.csv")
    assert len(scores) == 2 and set(scores.task_kind) == {"things-decisions"}
    s = scores.set_index("model").pseudo_r2
    assert s["spose49"] > 0.05 > s["random"]  # SPoSE predicts people's choices, noise does not
    assert not (rdir / "alignment_coefficients.csv").exists()  # levels = []: no hierarchical model


MUR92 = (
    study_head({"source": "mur92"}, ["pixels", {"name": "pixels:8", "alias": "pixels8"}], name="mur92-reduced")
    + MUR92_METRICS
)


@pytest.mark.data
def test_mur92_reduced(tmp_path):
    status, out = _run_twice(tmp_path, MUR92)
    feats = _tables(out, "features", "features")
    assert len(feats) == 2 and all(len(df) == 92 for df in feats.values())
    m = collect_metrics(out)
    rsa = m[m.metric == "rsa_spearman"]
    assert len(rsa) == 2
    assert (rsa.ci_low <= rsa.value).all() and (rsa.value <= rsa.ci_high).all()
    ceil = m[m.metric.str.startswith("rsa_spearman_ceiling")]
    # the Mur92 subjects' ceiling (rsatoolbox-checked): lower 0.477, upper 0.577
    assert sorted(ceil.value.round(3).unique()) == [0.477, 0.577]
    assert (rsa.value < 0.477).all()  # pixels are far below the subjects' agreement
    dims = m[m.metric.str.startswith("dimensionality")]
    assert len(dims) == 2 * 2 and (dims.value > 0).all()
    cka = m[m.metric == "cka_linear"]
    assert len(cka) == 1 and cka.model.iloc[0] == "pixels:8" and cka.dataset.iloc[0] == "pixels/output@mur92"
    assert 0.9 < cka.value.iloc[0] < 1  # 8×8 and 32×32 thumbnails of the same images: similar, not equal


DYNAMICS = """
[run]
name = "dynamics-reduced"
output = "out"
seed = 0

[dynamics]
agents = ["human", "resnet50"]
human_runs = [1, 2, 7, 8, 9, 10, 12]

[[dynamics.simulate]]
name = "pixels-learner"
model = "pixels:8"
sequences = "human"
runs = [1, 2]
pca = 16
threads = 1
"""


@pytest.mark.data
def test_learning_dynamics_reduced(tmp_path):
    status, out = _run_twice(tmp_path, DYNAMICS)
    tables = _tables(out, "dynamics", "dynamics")
    assert sorted(p.name.rsplit("-", 1)[0] for p in tables) == ["trials-observed", "trials-pixels-learner"]
    observed = next(df for p, df in tables.items() if p.name.startswith("trials-observed"))
    assert set(observed.agent) == {"human", "resnet50"}
    sim = next(df for p, df in tables.items() if p.name.startswith("trials-pixels"))
    assert set(sim.agent) == {"pixels-learner"} and sorted(sim.run.unique()) == [1, 2]
    assert len(sim) == 2 * 6 * (36 + 51)  # two replayed human runs × 6 epochs × (train + test)
    (lag_path,) = (out / "dynamics").glob("*/lag.parquet")
    lag = read_table(lag_path)
    assert {p.name for p in lag_path.parent.glob("*.parquet")} == {
        "lag.parquet",
        "curves.parquet",
        "objects.parquet",
        "efficiency.parquet",
    }
    assert set(lag.agent) == {"human", "resnet50", "pixels-learner"}
    human = lag.set_index("agent").loc["human"]
    assert human.lag == pytest.approx(0.003, abs=0.001)  # docs/dynamics.md: humans who learned do not lag
    assert lag.set_index("agent").loc["resnet50"].lag == pytest.approx(0.233, abs=0.001)


TEXTURE_SHAPE = (
    study_head(
        {"name": "edges", "source": "texture-shape-edges"},
        [{"name": "random:efficientnet_lite0", "layers": ["output"]}],
        name="texture-shape-reduced",
    )
    + """
[[metrics]]
metric = "classification"
dataset = "edges"
n_boot = 200
"""
)


@pytest.mark.data
def test_texture_shape_reduced(tmp_path):
    status, out = _run_twice(tmp_path, TEXTURE_SHAPE)
    m = collect_metrics(out)
    assert set(m.dataset) == {"edges"}
    acc = m[m.metric == "accuracy"].set_index("model")
    assert acc.loc["humans", "value"] == pytest.approx(0.871, abs=5e-4)  # Geirhos et al.: 87.1 % on edges
    # a random head gives chance accuracy (1/16) within the CI
    r = acc.loc["random:efficientnet_lite0"]
    assert r.ci_low <= 1 / 16 <= r.ci_high and r.layer == "output"
    k = m[m.metric == "kappa_to_humans"].set_index("model")
    assert k.loc["humans", "n"] == 45 and set(k.agent_type) == {"human", "humans", "network", "model"}
    dec = _tables(out, "decisions", "metrics")
    (d,) = dec.values()
    assert d.groupby("agent").size().eq(160).all() and d.agent.nunique() == 10 + 3 + 1

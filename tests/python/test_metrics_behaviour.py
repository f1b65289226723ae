"""Classification behaviour: the published 16-class mapping and aggregation, planted
error-consistency structure recovered, and the texture-shape raw decisions."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from repalign.errors import ValidationError
from repalign.metrics import error_consistency
from repalign.metrics.behaviour import consistency_rows, decision_matrix, imagenet16_decisions, summary_lines

# Number of ImageNet classes per category in the seed's ``<category>_indices`` lists
# (rgeirhos/texture-vs-shape code/helper/human_categories.py; the copy in
# bethgelab/model-vs-human modelvshuman/helper/human_categories.py is identical).
PUBLISHED_COUNTS = {
    "airplane": 1,
    "bear": 4,
    "bicycle": 2,
    "bird": 49,
    "boat": 5,
    "bottle": 7,
    "car": 3,
    "cat": 6,
    "chair": 4,
    "clock": 3,
    "dog": 109,
    "elephant": 2,
    "keyboard": 2,
    "knife": 1,
    "oven": 1,
    "truck": 8,
}


@pytest.mark.data
def test_imagenet16_mapping_matches_the_published_lists():
    from repalign.datasets import load_imagenet16, load_texture_shape

    m = load_imagenet16()
    assert {c: len(v) for c, v in m.indices.items()} == PUBLISHED_COUNTS
    assert sum(PUBLISHED_COUNTS.values()) == 207
    # the 16 categories are the image categories of the experiments
    assert list(m.categories) == sorted(load_texture_shape().stimuli["edges"].labels["category"].unique())
    # ImageNet facts: class 404 is the airliner, 499 the cleaver, 766 the rotisserie
    assert m.imagenet[404] == ("n02690373", "airliner") and m.indices["airplane"] == (404,)
    assert m.imagenet[499][0] == "n03041632" and m.indices["knife"] == (499,)
    assert m.imagenet[766][1] == "rotisserie" and m.indices["oven"] == (766,)
    # the two halves of the published mapping agree: every index's WNID is in its category's WNID list
    for c in m.categories:
        assert all(m.imagenet[i][0] in m.wnids[c] for i in m.indices[c]), c
    assert m.index_matrix().sum() == 207 and m.index_matrix().sum(axis=0).max() == 1


@pytest.mark.data
def test_decision_is_the_mean_not_the_sum_of_class_probabilities():
    from repalign.datasets import load_imagenet16

    m = load_imagenet16()
    p = np.full(1000, 1e-6)
    p[list(m.indices["dog"])] = 0.005  # 109 dog classes: 0.545 in sum, 0.005 in mean
    p[499] = 0.2  # the one knife class
    p /= p.sum()
    dec, agg = imagenet16_decisions(np.log(p)[None, :], m)
    assert dec[0] == "knife"  # a sum over classes would say "dog"
    assert agg[0, m.categories.index("knife")] == pytest.approx(p[499])
    assert agg[0, m.categories.index("dog")] == pytest.approx(p[list(m.indices["dog"])].mean())
    with pytest.raises(ValidationError, match=r"shape \(n_images, 1000\)"):
        imagenet16_decisions(np.zeros((2, 10)), m)


def test_error_consistency_published_variant():
    ones = np.ones(8, bool)
    assert np.isnan(error_consistency(ones, ones))
    assert error_consistency(ones, ones, variant="published") == 1.0
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1], bool)
    b = np.array([1, 0, 0, 1, 1, 0, 1, 0], bool)
    assert error_consistency(a, b, variant="published") == error_consistency(a, b)


def test_exact_planted_kappa():
    # 1000 images, both agents 70 % correct; 574 both right, 126 + 126 one right, 174 both wrong:
    # c_exp = 0.7² + 0.3² = 0.58, c_obs = 0.748, κ = (0.748 − 0.58) / 0.42 = 0.4
    a = np.r_[np.ones(574), np.ones(126), np.zeros(126), np.zeros(174)].astype(bool)
    b = np.r_[np.ones(574), np.zeros(126), np.ones(126), np.zeros(174)].astype(bool)
    assert error_consistency(a, b) == pytest.approx(0.4)
    d = pd.DataFrame(
        {
            "agent": np.repeat(["p1", "p2", "net"], 1000),
            "agent_type": np.repeat(["human", "human", "network"], 1000),
            "stimulus_id": np.tile([f"i{k:04d}" for k in range(1000)], 3),
            "correct": np.r_[a, b, a],
        }
    )
    t = pd.DataFrame(consistency_rows(d, dataset="planted", n_boot=50))
    k = t[(t.metric == "kappa")].set_index(["model", "other"])["value"]
    assert k[("p1", "p2")] == pytest.approx(0.4) and k[("net", "p1")] == pytest.approx(1.0)
    assert k[("net", "p2")] == pytest.approx(0.4)
    assert t.query("model == 'net' and metric == 'kappa_to_humans'")["value"].item() == pytest.approx(0.7)
    obs = t.query("model == 'p1' and metric == 'observed_consistency'")["value"].item()
    exp = t.query("model == 'p1' and metric == 'expected_consistency'")["value"].item()
    assert (obs, exp) == (pytest.approx(0.748), pytest.approx(0.58))


def _planted_decisions(rho: dict[str, float], types: dict[str, str], n: int, p: float, seed: int) -> pd.DataFrame:
    """Each agent copies a shared per-image outcome Z ~ Bernoulli(p) with probability ρ,
    else draws its own: accuracy p for all, κ(a, b) = ρ_a·ρ_b in the population."""
    rng = np.random.default_rng(seed)
    cats = np.array([f"c{k:02d}" for k in range(16)])
    truth = cats[rng.integers(0, 16, n)]
    z = rng.random(n) < p
    frames = []
    for agent, r in rho.items():
        copy = rng.random(n) < r
        correct = np.where(copy, z, rng.random(n) < p)
        wrong = cats[(np.searchsorted(cats, truth) + rng.integers(1, 16, n)) % 16]  # any other category
        response = np.where(correct, truth, wrong)
        frames.append(
            pd.DataFrame(
                {
                    "agent": agent,
                    "agent_type": types[agent],
                    "stimulus_id": [f"img{i}" for i in range(n)],
                    "category": truth,
                    "response": response,
                    "correct": response == truth,
                }
            )
        )
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def test_planted_agreement_structure_is_recovered():
    people = {f"person-{i}": 0.8 for i in range(8)}
    rho = {**people, "aligned": 0.5, "independent": 0.0}
    types = {**{k: "human" for k in people}, "aligned": "model", "independent": "model"}
    d = _planted_decisions(rho, types, n=4000, p=0.7, seed=1)
    t = pd.DataFrame(consistency_rows(d, dataset="planted", n_boot=300, seed=2))
    k = t[t.metric == "kappa_to_humans"].set_index("model")
    for agent, truth in (("humans", 0.64), ("aligned", 0.4), ("independent", 0.0), ("person-0", 0.64)):
        est, lo, hi = k.loc[agent, ["value", "ci_low", "ci_high"]]
        assert abs(est - truth) < 0.04, agent
        assert lo < est < hi and hi - lo < 0.1, agent
    acc = t[t.metric == "accuracy"].set_index("model")["value"]
    assert np.allclose(acc, 0.7, atol=0.03)
    assert k.loc["humans", "n"] == 28  # 8 people: 28 pairs
    lines = summary_lines(t)
    assert len(lines) == 3 and lines[0].startswith("classification planted aligned accuracy ")


def test_decision_matrix_refuses_incomplete_or_duplicate_decisions():
    d = pd.DataFrame(
        {
            "agent": ["a", "a", "b"],
            "agent_type": ["human"] * 3,
            "stimulus_id": ["x", "y", "x"],
            "correct": [True, False, True],
        }
    )
    with pytest.raises(ValidationError, match="agent 'b' has no decision on image 'y'"):
        decision_matrix(d)
    with pytest.raises(ValidationError, match="decided twice"):
        decision_matrix(pd.concat([d, d.iloc[:1]]))


@pytest.mark.data
def test_texture_shape_human_accuracy_and_pairwise_kappa():
    from sklearn.metrics import cohen_kappa_score

    from repalign.metrics.behaviour import texture_shape_decisions

    # Geirhos et al.: human accuracy 0.871 on edges, 0.753 on filled silhouettes
    for cond, human_acc in (("edges", 0.871), ("filled-silhouettes", 0.753)):
        d = texture_shape_decisions(cond)
        t = pd.DataFrame(consistency_rows(d, dataset=cond, n_boot=100))
        hum = t[t.model == "humans"].set_index("metric")
        assert hum.loc["accuracy", "value"] == pytest.approx(human_acc, abs=5e-4)
        # the people's κ is the mean over the 45 pairs, as scikit-learn's Cohen's κ computes it
        wide = d[d.agent_type == "human"].pivot(index="agent", columns="stimulus_id", values="correct")
        assert len(wide) == 10
        ref = np.mean([cohen_kappa_score(wide.loc[a], wide.loc[b]) for a, b in itertools.combinations(wide.index, 2)])
        assert hum.loc["kappa_to_humans", "value"] == pytest.approx(ref)
        assert hum.loc["kappa_to_humans", "n"] == 45
        assert set(t.loc[t.agent_type == "network", "model"]) == {"alexnet", "googlenet", "vgg"}


@pytest.mark.data
def test_models_without_an_imagenet_head_get_no_decisions(tmp_path):
    from repalign.config import load_config
    from repalign.pipeline.plan import plan_stage

    base = """
[run]
output = "out"
[[stimuli]]
name = "edges"
source = "texture-shape-edges"
[[models]]
name = "pixels"
[[models]]
name = "efficientnet_lite0"
layers = ["output", "penultimate"]
[[metrics]]
metric = "classification"
"""
    path = tmp_path / "c.toml"
    path.write_text(base)
    (task,) = plan_stage(load_config(path), "metrics")
    # by default only the ImageNet head's output decides; pixels and the penultimate layer do not
    assert [(a.name, a.layer) for a in task.kwargs["agents"]] == [("efficientnet_lite0", "output")]
    path.write_text(base + 'representations = ["pixels/output@edges"]\n')
    with pytest.raises(ValidationError, match="'pixels/output@edges' gives no 16-class decisions: model 'pixels'"):
        plan_stage(load_config(path), "metrics")

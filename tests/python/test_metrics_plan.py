"""The [[metrics]] config section: validation, planning, and `repalign metrics` end to end."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from repalign.cli import app
from repalign.config import load_config, parse_section
from repalign.errors import ValidationError
from repalign.metrics import metrics_table
from repalign.metrics.config import metric_model
from repalign.pipeline.plan import plan_stage
from repalign.store import SCHEMAS, read_table, table_info
from repalign.task import run_local

CONFIG = """
[run]
output = "out"
seed = 0

[[stimuli]]
name = "mur92"
source = "mur92"

[[representations]]
name = "spose"
source = "spose49"

[[representations]]
name = "noise"
source = "random"
dims = 16
stimuli = "mur92"
seed = 1

[[metrics]]
metric = "noise_ceiling"
n_boot = 200

[[metrics]]
metric = "odd_one_out"
dataset = "noise_ceiling"
similarity = ["dot", "cosine"]
fit_temperature = true

[[metrics]]
metric = "rsa"
n_boot = 100

[[metrics]]
metric = "dimensionality"
representations = ["spose"]
methods = ["twonn", "pr"]
"""


def plan_stage_metrics(config):
    """The metrics stage alone, planned as ``repalign run`` and ``repalign metrics`` plan it."""
    return plan_stage(config, "metrics")


def metric_entry(data, where):
    """A [[metrics]] entry validated as the config check validates it."""
    return parse_section(metric_model(data, where), data, where)


def _write(tmp_path, text):
    p = tmp_path / "study.toml"
    p.write_text(textwrap.dedent(text))
    return p


def test_metric_specs_are_validated():
    entry = metric_entry({"metric": "probe", "similarity": "cosine"}, "[[metrics]] #1")
    assert entry.similarity == ["cosine"] and entry.n_folds == 3 and entry.penalty == "identity"
    with pytest.raises(
        ValidationError, match=r"\[\[metrics\]\] #2: unknown key\(s\) \['alpha'\]; valid keys: .*alphas"
    ):
        metric_entry({"metric": "probe", "alpha": 1}, "[[metrics]] #2")
    with pytest.raises(ValidationError, match="'metric' must be one of odd_one_out, noise_ceiling, probe"):
        metric_entry({"metric": "accuracy"}, "x")
    with pytest.raises(ValidationError, match="similarity = 'euclidean'; valid: dot, cosine"):
        metric_entry({"metric": "probe", "similarity": "euclidean"}, "x")
    with pytest.raises(ValidationError, match="missing required key.*reference"):
        metric_entry({"metric": "cka"}, "x")
    with pytest.raises(ValidationError, match="dataset = 'train'; valid: noise_ceiling, test_10, train_90"):
        metric_entry({"metric": "odd_one_out", "dataset": "train"}, "x")


def test_metrics_table_schema():
    df = metrics_table([{"model": "m", "dataset": "d", "metric": "x", "value": 0.5}])
    assert list(df.columns) == list(SCHEMAS["metrics"].columns)
    assert df.loc[0, "layer"] == "" and np.isnan(df.loc[0, "ci_low"]) and df.loc[0, "n"] == 0
    with pytest.raises(ValidationError, match=r"metrics row 0: missing \['value'\]"):
        metrics_table([{"model": "m", "dataset": "d", "metric": "x"}])


@pytest.mark.data
def test_plan_and_cli_write_the_metrics_tables(tmp_path, real_data):
    cfg_path = _write(tmp_path, CONFIG)
    cfg = load_config(cfg_path)
    tasks = plan_stage_metrics(cfg)
    labels = sorted(t.label for t in tasks)
    # Defaults pick representations by their stimuli: spose for triplets, noise for mur92.
    assert labels == ["dimensionality spose", "noise ceiling noise_ceiling", "odd_one_out spose", "rsa noise"]
    assert all(t.deps == () for t in tasks)  # SPoSE and random need no extraction task
    assert plan_stage_metrics(cfg)[1].key == tasks[1].key  # deterministic, content-keyed

    result = CliRunner().invoke(
        app, ["metrics", "--config", str(cfg_path), "--quiet", "--out", str(tmp_path / "all.parquet")]
    )
    assert result.exit_code == 0, result.output
    df = read_table(tmp_path / "all.parquet", kind="metrics").set_index(["model", "metric"])
    assert df.loc[("human", "noise_ceiling_majority"), "value"] == pytest.approx(0.672, abs=0.001)
    row = df.loc[("spose49", "odd_one_out_dot")]
    assert row["value"] == pytest.approx(0.630, abs=0.002) and row["n"] == 20000
    assert row["ci_low"] < row["value"] < row["ci_high"] and row["ci_high"] - row["ci_low"] < 0.02
    assert row["dataset"] == "noise_ceiling" and row["layer"] == "embedding"
    assert df.loc[("spose49", "odd_one_out_dot_temperature"), "value"] > 0
    assert df.loc[("spose49", "odd_one_out_dot_loglik"), "value"] > np.log(1 / 3)  # better than chance
    rsa_row = df.loc[("random", "rsa_spearman")]
    lo = df.loc[("human", "rsa_spearman_ceiling_lower"), "value"]
    assert abs(rsa_row["value"]) < 0.1 < lo  # random features: no alignment; subjects: clear ceiling
    assert df.loc[("spose49", "dimensionality_twonn"), "dataset"] == "things"
    for t in tasks:
        assert table_info(t.outputs[0])["kind"] == "metrics"
    # A second run finds every output current and does nothing.
    assert set(run_local(plan_stage_metrics(cfg), progress=False).values()) == {"skipped"}
    # A recomputed table is byte-identical (seeded bootstrap, deterministic provenance).
    target_task = next(t for t in tasks if t.label == "odd_one_out spose")
    target = target_task.outputs[0]
    before = target.read_bytes()
    target.unlink()
    again = run_local(plan_stage_metrics(cfg), progress=False)
    assert again[target_task.key] == "done"  # the deleted table was recomputed ...
    assert sum(v == "done" for v in again.values()) == 1  # ... and nothing else
    assert target.read_bytes() == before


def test_unknown_representation_is_an_error(tmp_path):
    cfg = load_config(
        _write(
            tmp_path,
            """
        representations = [{ name = "spose", source = "spose49" }]
        metrics = [{ metric = "odd_one_out", representations = ["clip"] }]
    """,
        )
    )
    with pytest.raises(ValidationError, match=r"unknown representation\(s\) \['clip'\]; defined: spose"):
        plan_stage_metrics(cfg)


@pytest.mark.data
def test_metrics_tasks_depend_on_the_feature_task_that_makes_their_representation(tmp_path, real_data):
    from repalign.pipeline.plan import resolve_config

    cfg = load_config(
        _write(
            tmp_path,
            """
        representations = [{ name = "words", source = "minilm-things" }]
        metrics = [{ metric = "odd_one_out" }, { metric = "probe", epochs = 2 }]
    """,
        )
    )
    ref = resolve_config(cfg).reps["words"]
    assert ref.task
    tasks = plan_stage_metrics(cfg)
    assert [t.deps for t in tasks] == [(ref.task,), (ref.task,)]
    assert ref.task in {t.key for t in plan_stage(cfg, "features")}
    with_inputs = plan_stage(cfg, "metrics", with_inputs=True)  # what `repalign metrics` runs
    assert ref.task in {t.key for t in with_inputs[: -len(tasks)]} and with_inputs[-len(tasks) :] == tasks
    probe = tasks[1].kwargs["job"].entry
    assert probe.epochs == 2 and probe.alphas == [1e-3, 1e-2, 1e-1, 1.0]


def test_variant_key_fills_the_published_defaults_and_enters_the_content_key(tmp_path):
    entry = metric_entry({"metric": "odd_one_out", "variant": "published"}, "x")
    assert entry.similarity == ["cosine"] and entry.dataset == ["train_90", "test_10"]
    # A key the entry sets itself wins over the published default.
    assert metric_entry({"metric": "odd_one_out", "variant": "published", "similarity": "dot"}, "x").similarity == [
        "dot"
    ]
    probe = metric_entry({"metric": "probe", "variant": "published"}, "x")
    assert probe.penalty == "zero" and probe.epochs == 100 and probe.alphas[0] == 1e-5
    assert metric_entry({"metric": "rsa"}, "x").variant == "default"
    with pytest.raises(ValidationError, match="variant must be 'default' or 'published', got 'paper'"):
        metric_entry({"metric": "rsa", "variant": "paper"}, "x")
    with pytest.raises(ValidationError, match='variant = "published" is the square probe with penalty = "zero"'):
        metric_entry({"metric": "probe", "variant": "published", "penalty": "identity"}, "x")
    with pytest.raises(ValidationError, match='variant = "published" is formula = "naturalcogsci"'):
        metric_entry({"metric": "separation", "variant": "published", "formula": "kornblith"}, "x")
    with pytest.raises(ValidationError, match="dataset = 'train'; valid"):
        metric_entry({"metric": "probe", "dataset": ["test_10", "train"]}, "x")
    cfg = _write(
        tmp_path,
        """
        [run]
        output = "out"
        [[representations]]
        name = "spose"
        source = "spose49"
        [[metrics]]
        metric = "odd_one_out"
        representations = ["spose"]
        [[metrics]]
        metric = "odd_one_out"
        representations = ["spose"]
        variant = "published"
        """,
    )
    a, b = plan_stage_metrics(load_config(cfg))
    assert a.key != b.key and a.outputs[0] != b.outputs[0]


def test_rsa_on_a_set_without_subject_rdms_says_what_it_needs(tmp_path):
    """RSA has human data only for the Mur92 images: on a digits set it says so at
    plan time, by default and with the representation named explicitly."""
    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.pipeline.plan import plan_all

    base = (
        '[run]\noutput = "out"\n[[stimuli]]\nname = "digits"\nsource = "digits"\nn = 3\n'
        '[[representations]]\nname = "noise"\nsource = "random"\ndims = 8\nstimuli = "digits"\n'
        '[[metrics]]\nmetric = "rsa"\n'
    )
    (tmp_path / "a.toml").write_text(base)
    with pytest.raises(
        ValidationError,
        match=r"\[\[metrics\]\] #1 \(rsa\): needs representations of the 92 Mur92 "
        r"images.*source = \"mur92\".*noise \(digits\)",
    ):
        plan_all(load_config(tmp_path / "a.toml"))
    (tmp_path / "b.toml").write_text(base + 'representations = ["noise"]\n')
    with pytest.raises(
        ValidationError,
        match=r"#1 \(rsa\): compares with the 16 subjects' RDMs.*'noise' represents "
        r"'digits'",
    ):
        plan_all(load_config(tmp_path / "b.toml"))


def test_cka_runs_only_on_the_reference_stimulus_set(tmp_path):
    """CKA compares two representations of the same stimuli: without ``representations``
    it is planned on the reference's stimulus set only (two digits sets, the reference on
    the first), and a representation of another set named explicitly is a plan-time error."""
    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.pipeline.plan import plan_all

    base = (
        '[run]\noutput = "out"\n[[stimuli]]\nname = "a"\nsource = "digits"\nn = 3\n'
        '[[stimuli]]\nname = "b"\nsource = "digits"\nn = 4\n[[models]]\nname = "pixels"\n'
        '[[models]]\nname = "random:efficientnet_lite0"\nlayers = ["output"]\n'
        '[[metrics]]\nmetric = "cka"\nreference = "pixels/output@a"\n'
    )
    (tmp_path / "s.toml").write_text(base)
    keys = [t.key for t in plan_all(load_config(tmp_path / "s.toml")) if t.key.startswith("metrics:cka:")]
    assert [k.split(":")[2] for k in keys] == ["random_efficientnet_lite0_output_a"]
    (tmp_path / "s.toml").write_text(base + 'representations = ["pixels/output@b"]\n')
    with pytest.raises(
        ValidationError,
        match=r"\(cka\): reference 'pixels/output@a' represents stimulus set 'a'; "
        r"'pixels/output@b' represents 'b'",
    ):
        plan_all(load_config(tmp_path / "s.toml"))


def test_cka_without_another_representation_of_the_reference_set_says_so(tmp_path):
    """A CKA entry whose reference is the only representation of its stimulus set names
    that set (not the THINGS or Mur92 needs of other metrics)."""
    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.pipeline.plan import plan_all

    (tmp_path / "s.toml").write_text(
        '[run]\noutput = "out"\n[[stimuli]]\nname = "a"\nsource = "digits"\nn = 3\n[[models]]\nname = "pixels"\n'
        '[[metrics]]\nmetric = "cka"\nreference = "pixels/output@a"\n'
    )
    with pytest.raises(ValidationError, match=r"\(cka\): needs another representation of stimulus set 'a'"):
        plan_all(load_config(tmp_path / "s.toml"))


def test_every_metric_kind_is_registered_once():
    """Each metric is one MetricKind: its model's literal is its name, it appears once,
    the [[metrics]] union holds exactly the registered models, and its function takes
    the arguments the planner gives it."""
    import inspect
    import typing

    from repalign.metrics.config import KINDS, METRICS, MetricEntry

    names = [k.name for k in KINDS]
    assert len(names) == len(set(names)) == len(METRICS)
    union = typing.get_args(typing.get_args(MetricEntry)[0])
    assert set(union) == {k.model for k in KINDS}
    for k in KINDS:
        assert (k.rows is None) != (k.entry_task is None), k.name  # one way to compute
        fn = k.function()
        if k.rows:
            kw = {"human": None} if "human" in inspect.signature(fn).parameters else {}
            if k.name == "cka":
                kw["reference"] = None
            inspect.signature(fn).bind(None, None, model="m", layer="l", **kw)
        else:
            inspect.signature(fn).bind(None, {}, None, "x", human=None, stimuli=())


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        ('metric = "probe"\nsimilarity = "euclidean"', "[[metrics]] #1: similarity = 'euclidean'; valid: dot, cosine"),
        (
            'metric = "rsa"\nmethod = "spearmen"',
            "[[metrics]] #1: method = 'spearmen'; valid: spearman, pearson, kendall_tau_a, kendall_tau_b, cosine",
        ),
        (
            'metric = "classification"\ndataset = "stripes"',
            "[[metrics]] #1: dataset = 'stripes'; valid: edges, filled-silhouettes",
        ),
        ('metric = "dimensionality"\nmethods = ["twonn", "pca95"]', "[[metrics]] #1: methods = 'pca95'; valid: twonn"),
        (
            'metric = "separation"\nvariant = "published"\nformula = "kornblith"',
            '[[metrics]] #1: variant = "published" is formula = "naturalcogsci", got \'kornblith\'',
        ),
        ('metric = "rsa"\nrdms = "r.csv"', "[[metrics]] #1 (rsa): rdms = 'r.csv' needs dataset = "),
    ],
)
def test_a_bad_metric_value_is_refused_when_the_config_is_checked(tmp_path, monkeypatch, entry, line):
    """A bad value fails the config check, before any stage plans, with the planner's old one line."""
    import repalign.pipeline.plan as pipeline_plan
    from repalign.pipeline.config import check_study

    def never(*args, **kwargs):
        raise AssertionError("a stage planned a config with a bad metric value")

    monkeypatch.setattr(pipeline_plan, "plan_study", never)
    cfg = load_config(_write(tmp_path, f'[run]\noutput = "out"\n[[metrics]]\n{entry}\n'))
    for check in (check_study, pipeline_plan.plan_all):
        with pytest.raises(ValidationError) as exc:
            check(cfg)
        assert str(exc.value).startswith(line) and "\n" not in str(exc.value)


def test_a_metric_task_receives_its_frozen_entry_by_name(tmp_path):
    """No spec dict, no positional arguments: the task's job holds the validated entry,
    frozen, with the run's seed where the entry sets none."""
    import pydantic

    cfg = load_config(
        _write(
            tmp_path,
            """
        [run]
        output = "out"
        seed = 7
        [[representations]]
        name = "noise"
        source = "random"
        dims = 8
        [[metrics]]
        metric = "dimensionality"
        methods = "pr"
        [[metrics]]
        metric = "dimensionality"
        methods = "pr"
        seed = 3
    """,
        )
    )
    a, b = plan_stage_metrics(cfg)
    assert a.args == () and set(a.kwargs) == {"job", "path", "provenance"}
    entry = a.kwargs["job"].entry
    assert (entry.seed, b.kwargs["job"].entry.seed) == (7, 3)
    assert entry.methods == ["pr"] and entry.dataset == "things"  # a single method as a list; its stimuli
    with pytest.raises(pydantic.ValidationError):
        entry.k = 5

"""A researcher's own human data through the config (repalign.datasets.own,
repalign.metrics.own_human): planted truths recovered by whole offline studies, every
file layout read alike, and each bad file a one-line error before any work.

The studies use scikit-learn's digits (30 images, ids ``digit_XXXX``, label
``category`` = digit) and [[representations]] files holding known features, so no
model runs and no data are downloaded.
"""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repalign.errors import RepalignError

N_PER_DIGIT = 3  # 30 images
HEAD = f"""
[run]
output = "out"

[[stimuli]]
name = "mine"
source = "digits"
n = {N_PER_DIGIT}
"""


def _ids() -> tuple[str, ...]:
    from repalign.features import load_stimulus_set

    return load_stimulus_set({"source": "digits", "n": N_PER_DIGIT}).ids


def _digit_of(ids) -> np.ndarray:
    from repalign.features import load_stimulus_set

    s = load_stimulus_set({"source": "digits", "n": N_PER_DIGIT})
    return s.labels.loc[list(ids), "category"].to_numpy()


def _features(tmp_path: Path, name: str, ids, X: np.ndarray) -> str:
    pd.DataFrame(X, columns=[f"d{j}" for j in range(X.shape[1])]).assign(stimulus_id=list(ids)).to_csv(
        tmp_path / f"{name}.csv", index=False
    )
    return f'\n[[representations]]\nname = "{name}"\nsource = "file"\npath = "{name}.csv"\nstimuli = "mine"\n'


def _long_rdms(path: Path, ids, rdms: np.ndarray) -> None:
    rows = [(f"s{s}", ids[a], ids[b], R[a, b]) for s, R in enumerate(rdms) for a, b in combinations(range(len(ids)), 2)]
    pd.DataFrame(rows, columns=["subject", "stimulus_1", "stimulus_2", "dissimilarity"]).to_csv(path, index=False)


def _metrics(tmp_path: Path, text: str) -> pd.DataFrame:
    from repalign.pipeline import run

    (tmp_path / "c.toml").write_text(HEAD + text)
    status = run(tmp_path / "c.toml", report=False, progress=False)
    assert all(s.startswith("done") for s in status.values()), status
    files = [f for f in (tmp_path / "out" / "metrics").glob("*.parquet") if not f.name.startswith("decisions-")]
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _value(t: pd.DataFrame, model: str, metric: str) -> float:
    return float(t[(t["model"] == model) & (t["metric"] == metric)]["value"].iloc[0])


# ---- planted truths ------------------------------------------------------------------------


def test_rsa_recovers_the_features_the_rdms_were_built_from(tmp_path):
    """Subjects' RDMs = the correlation RDM of known features + noise: RSA of those
    features ≈ the noise ceiling's upper bound and far above a random model (≈ 0)."""
    from repalign.metrics.rsa import rdm

    ids = _ids()
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(len(ids), 12))
    D = rdm(truth, "correlation")
    noise = rng.normal(0, 0.1, size=(5, *D.shape))
    rdms = D + (noise + noise.transpose(0, 2, 1)) / 2
    rdms[:, np.arange(len(ids)), np.arange(len(ids))] = 0
    _long_rdms(tmp_path / "rdms.csv", ids, rdms)
    text = (
        _features(tmp_path, "truth", ids, truth)
        + _features(tmp_path, "other", ids, rng.normal(size=truth.shape))
        + '\n[[metrics]]\nmetric = "rsa"\ndataset = "mine"\nrdms = "rdms.csv"\nn_boot = 200\n'
    )
    t = _metrics(tmp_path, text)
    good, bad = _value(t, "truth", "rsa_spearman"), _value(t, "other", "rsa_spearman")
    upper = _value(t, "human", "rsa_spearman_ceiling_upper")
    assert good > 0.8 and abs(good - upper) < 0.05, (good, upper)
    assert abs(bad) < 0.1, bad
    assert set(t.loc[t["metric"] == "rsa_spearman", "n"]) == {5}


def test_odd_one_out_recovers_the_planted_agreement_rate(tmp_path):
    """Choices made by known embeddings: the embedding's odd one with probability q, else one of
    the other two at random → zero-shot accuracy of that embedding ≈ q; a random one ≈ 1/3."""
    from repalign.metrics.odd_one_out import odd_one_out_choices

    ids = _ids()
    rng = np.random.default_rng(2)
    truth = rng.normal(size=(len(ids), 8))
    t = np.array([rng.choice(len(ids), 3, replace=False) for _ in range(3000)])
    model_odd = odd_one_out_choices(truth, t)  # positions 0–2
    q = 0.7
    agree = rng.random(len(t)) < q
    other = (model_odd + rng.integers(1, 3, len(t))) % 3
    odd = np.where(agree, model_odd, other)
    pd.DataFrame(
        {
            "participant": [f"p{i % 7}" for i in range(len(t))],
            "stimulus_1": [ids[i] for i in t[:, 0]],
            "stimulus_2": [ids[i] for i in t[:, 1]],
            "stimulus_3": [ids[i] for i in t[:, 2]],
            "odd": [ids[t[r, o]] for r, o in enumerate(odd)],
        },
    ).to_csv(tmp_path / "triplets.csv", index=False)
    text = (
        _features(tmp_path, "truth", ids, truth)
        + _features(tmp_path, "other", ids, rng.normal(size=truth.shape))
        + '\n[[metrics]]\nmetric = "odd_one_out"\ndataset = "mine"\ntriplets = "triplets.csv"\nn_boot = 200\n'
    )
    res = _metrics(tmp_path, text)
    got = _value(res, "truth", "odd_one_out_dot")
    assert abs(got - agree.mean()) < 1e-12  # exactly the planted agreements
    assert abs(got - q) < 0.03
    assert abs(_value(res, "other", "odd_one_out_dot") - 1 / 3) < 0.04


def test_noise_ceiling_of_repeated_triplets_recovers_the_planted_consistency(tmp_path):
    """Each of 200 triplets answered by 10 participants, the majority item with probability
    0.8: the leave-one-out ceiling ≈ 0.8 (the chance that another response agrees with the
    majority of the others)."""
    ids = _ids()
    rng = np.random.default_rng(3)
    rows = []
    combos = np.array(list(combinations(range(len(ids)), 3)))
    for t in combos[rng.choice(len(combos), 200, replace=False)]:
        for p in range(10):
            odd = t[0] if rng.random() < 0.8 else t[rng.integers(1, 3)]
            rows.append((f"p{p}", *(ids[i] for i in rng.permutation(t)), ids[odd]))
    pd.DataFrame(rows, columns=["participant", "stimulus_1", "stimulus_2", "stimulus_3", "odd"]).to_csv(
        tmp_path / "triplets.csv", index=False
    )
    res = _metrics(
        tmp_path, '\n[[metrics]]\nmetric = "noise_ceiling"\ndataset = "mine"\ntriplets = "triplets.csv"\nn_boot = 100\n'
    )
    assert abs(_value(res, "human", "noise_ceiling_loo") - 0.8) < 0.04
    assert set(res["n"]) == {200} and set(res["dataset"]) == {"mine"}


def test_separation_takes_the_stimulus_sets_labels(tmp_path):
    """Features = a point per digit (+ small noise) separate the digits (R² near its top, 0.5 for
    the naturalcogsci formula's collapsed classes), features unrelated to the digit do not."""
    ids = _ids()
    rng = np.random.default_rng(4)
    digit = _digit_of(ids)
    centres = rng.normal(size=(10, 16)) * 5
    text = (
        _features(tmp_path, "bydigit", ids, centres[digit] + rng.normal(0, 0.05, (len(ids), 16)))
        + _features(tmp_path, "other", ids, rng.normal(size=(len(ids), 16)))
        + '\n[[metrics]]\nmetric = "separation"\ndataset = "mine"\n'
    )
    res = _metrics(tmp_path, text)
    from repalign.metrics.classification import class_separation

    collapsed = class_separation(centres[digit], digit)  # the value for perfectly collapsed classes
    assert abs(_value(res, "bydigit", "class_separation") - collapsed) < 0.01
    assert _value(res, "other", "class_separation") < collapsed - 0.3


def test_classification_error_consistency_of_a_model_that_errs_like_the_people(tmp_path):
    """People err on a planted set of 6 images (each picks the same wrong digit there); a
    model whose features put exactly those images in the wrong digit's cluster has κ ≈ 1 to
    them; a model with clean clusters has accuracy 1 and κ undefined or low."""
    ids = _ids()
    rng = np.random.default_rng(5)
    digit = _digit_of(ids)
    # one image of each of 6 digits (two moved images of one digit would move its mean too)
    hard = np.array([rng.choice(np.flatnonzero(digit == k)) for k in rng.choice(10, 6, replace=False)])
    wrong = (digit + 1) % 10
    seen = digit.copy()
    seen[hard] = wrong[hard]
    centres = rng.normal(size=(10, 16)) * 5
    rows = [(f"p{p}", ids[i], f"d{seen[i]}", f"d{digit[i]}") for p in range(6) for i in range(len(ids))]
    pd.DataFrame(rows, columns=["participant", "stimulus_id", "response", "category"]).to_csv(
        tmp_path / "decisions.csv", index=False
    )
    text = (
        _features(tmp_path, "likepeople", ids, centres[seen] + rng.normal(0, 0.05, (len(ids), 16)))
        + _features(tmp_path, "clean", ids, centres[digit] + rng.normal(0, 0.05, (len(ids), 16)))
        + '\n[[metrics]]\nmetric = "classification"\ndataset = "mine"\ndecisions = "decisions.csv"\nn_boot = 100\n'
    )
    res = _metrics(tmp_path, text)
    assert abs(_value(res, "likepeople", "accuracy") - 24 / 30) < 1e-9
    assert _value(res, "likepeople", "kappa_to_humans") > 0.99
    assert abs(_value(res, "clean", "accuracy") - 1.0) < 1e-9
    assert abs(_value(res, "humans", "accuracy") - 24 / 30) < 1e-9


def test_nearest_class_mean_leaves_the_stimulus_out():
    """Two tight clusters and one point of class a inside cluster b: left out of its own
    class's mean, it is decided as b (with it in, a's mean would be pulled towards it)."""
    from repalign.metrics.own_classification import nearest_class_mean_loo

    X = np.array([[1, 0.01], [1, -0.01], [1, 0.0], [0.01, 1], [-0.01, 1], [0.0, 1.0]])
    y = np.array(["a", "a", "a", "b", "b", "a"])
    assert nearest_class_mean_loo(X, y).tolist() == ["a", "a", "a", "b", "b", "b"]


# ---- layouts -------------------------------------------------------------------------------


def test_every_rdm_layout_reads_the_same(tmp_path):
    """Square CSV and TSV files (one subject each), .npy + ids (2-D per file, or 3-D), and the
    long table give the same subjects' RDMs; rows follow the first file's order."""
    from repalign.datasets.own import read_rdms

    ids = ["a", "b", "c", "d"]
    rng = np.random.default_rng(6)
    R = rng.random((2, 4, 4))
    R = R + R.transpose(0, 2, 1)
    R[:, range(4), range(4)] = 0
    for s in range(2):
        df = pd.DataFrame(R[s], index=ids, columns=ids)
        df.to_csv(tmp_path / f"s{s}.csv", index_label="stimulus_id")
        df.to_csv(tmp_path / f"s{s}.tsv", sep="\t", index_label="")
        np.save(tmp_path / f"s{s}.npy", R[s])
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    np.save(tmp_path / "both.npy", R)
    _long_rdms(tmp_path / "long.csv", ids, R)
    shuffled = pd.DataFrame(R[1], index=ids, columns=ids).iloc[[2, 0, 3, 1], [2, 0, 3, 1]]
    shuffled.to_csv(tmp_path / "s1_shuffled.csv")
    reads = [
        read_rdms([tmp_path / "s0.csv", tmp_path / "s1.csv"]),
        read_rdms([tmp_path / "s0.tsv", tmp_path / "s1.tsv"]),
        read_rdms([tmp_path / "s0.npy", tmp_path / "s1.npy"], ids_file=tmp_path / "ids.txt"),
        read_rdms(tmp_path / "both.npy", ids_file=tmp_path / "ids.txt"),
        read_rdms(tmp_path / "long.csv"),
        read_rdms([tmp_path / "s0.csv", tmp_path / "s1_shuffled.csv"]),
    ]
    for r in reads:
        assert r.ids == tuple(ids) and r.rdms.shape == (2, 4, 4)
        np.testing.assert_allclose(r.rdms, R, atol=1e-12)
    assert reads[4].subjects == ("s0", "s1") and reads[0].subjects == ("s0", "s1")


def test_triplets_put_the_odd_one_last_and_keep_the_pairs_order(tmp_path):
    from repalign.datasets.own import read_triplets

    pd.DataFrame(
        {
            "participant": ["x", "y"],
            "stimulus_1": ["c", "a"],
            "stimulus_2": ["a", "b"],
            "stimulus_3": ["b", "c"],
            "odd": ["c", "b"],
        }
    ).to_csv(tmp_path / "t.csv", index=False)
    t = read_triplets(tmp_path / "t.csv")
    assert t.ids == ("a", "b", "c")
    assert [[t.ids[i] for i in row] for row in t.triplets] == [["a", "b", "c"], ["a", "c", "b"]]
    assert t.participant.tolist() == [0, 1]


def test_entries_without_own_files_keep_their_task_keys(tmp_path):
    """The new keys are left out of a spec while unset: an RSA entry's spec has exactly the keys it had."""
    from repalign.config import parse_section
    from repalign.metrics.config import RSAMetric

    spec = parse_section(RSAMetric, {"metric": "rsa"}, "x").spec_fields()
    assert set(spec) == {
        "metric",
        "dataset",
        "seed",
        "n_boot",
        "level",
        "name",
        "representations",
        "rdm",
        "method",
        "bootstrap",
        "variant",
    }


# ---- bad files: one line before any work ----------------------------------------------------


def _bad_fixtures(tmp_path: Path) -> None:
    ids = _ids()
    rng = np.random.default_rng(7)
    D = rng.random((len(ids), len(ids)))
    D = D + D.T
    np.fill_diagonal(D, 0)
    _long_rdms(tmp_path / "rdms.csv", ids, D[None])
    pd.DataFrame(D, index=ids, columns=ids).to_csv(tmp_path / "square.csv")
    asym = D.copy()
    asym[0, 1] += 1
    pd.DataFrame(asym, index=ids, columns=ids).to_csv(tmp_path / "asym.csv")
    diag = D.copy()
    diag[2, 2] = 0.5
    pd.DataFrame(diag, index=ids, columns=ids).to_csv(tmp_path / "diag.csv")
    names = list(ids)
    names[3] = "cat_07"
    pd.DataFrame(D, index=names, columns=names).to_csv(tmp_path / "unknown.csv")
    swapped = pd.DataFrame(D, index=ids, columns=ids)
    swapped.columns = [ids[1], ids[0], *ids[2:]]
    swapped.to_csv(tmp_path / "swapped.csv")
    nan = pd.DataFrame(D, index=ids, columns=ids).astype(object)
    nan.iloc[4, 5] = "n/a"
    nan.to_csv(tmp_path / "nan.csv")
    long = pd.read_csv(tmp_path / "rdms.csv")
    long.iloc[:-1].to_csv(tmp_path / "gap.csv", index=False)
    pd.concat([long, long.iloc[:1]]).to_csv(tmp_path / "twice.csv", index=False)
    pd.DataFrame(np.ones((len(ids), len(ids))) - np.eye(len(ids)), index=ids[:30], columns=ids[:30]).iloc[
        :, :29
    ].to_csv(tmp_path / "ragged.csv")
    trip = pd.DataFrame(
        {
            "participant": ["p1", "p2"],
            "stimulus_1": [ids[0], ids[3]],
            "stimulus_2": [ids[1], ids[4]],
            "stimulus_3": [ids[2], ids[5]],
            "odd": [ids[2], ids[5]],
        }
    )
    trip.to_csv(tmp_path / "triplets.csv", index=False)
    trip.drop(columns=["participant"]).to_csv(tmp_path / "noparticipant.csv", index=False)
    trip.assign(odd=[ids[2], ids[9]]).to_csv(tmp_path / "oddout.csv", index=False)
    trip.assign(stimulus_2=[ids[0], ids[4]]).to_csv(tmp_path / "twice_item.csv", index=False)
    trip.assign(stimulus_1=["zebra", ids[3]]).to_csv(tmp_path / "trip_unknown.csv", index=False)
    trip.assign(participant=["p1", ""]).to_csv(tmp_path / "trip_empty.csv", index=False)
    dec = pd.DataFrame(
        [(f"p{p}", i, "x") for p in range(2) for i in ids], columns=["participant", "stimulus_id", "response"]
    )
    dec.to_csv(tmp_path / "decisions.csv", index=False)
    dec.iloc[:-1].to_csv(tmp_path / "dec_gap.csv", index=False)
    pd.concat([dec, dec.iloc[:1]]).to_csv(tmp_path / "dec_twice.csv", index=False)
    dec[dec["participant"] == "p0"].to_csv(tmp_path / "dec_one.csv", index=False)
    dec.rename(columns={"response": "answer"}).to_csv(tmp_path / "dec_col.csv", index=False)
    from PIL import Image

    for rel in ("flat/a/1.png", "flat/a/2.png", "flat/b/3.png", "flat/top.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / rel)
    (tmp_path / "latin1.csv").write_bytes("participant,stimulus_id,response\np1,caf\xe9,x\n".encode("latin-1"))


_RSA = '\n[[metrics]]\nmetric = "rsa"\ndataset = "mine"\nrdms = "{}"\n'
_OOO = '\n[[metrics]]\nmetric = "odd_one_out"\ndataset = "mine"\ntriplets = "{}"\n'
_CLS = '\n[[metrics]]\nmetric = "classification"\ndataset = "mine"\ndecisions = "{}"\n'
_FILE = r".*[/\\]"
BAD = [
    (
        "rsa-no-dataset",
        '\n[[metrics]]\nmetric = "rsa"\nrdms = "rdms.csv"\n',
        r"\[\[metrics\]\] #1 \(rsa\): rdms = 'rdms.csv' needs dataset = .*",
    ),
    (
        "rsa-unknown-set",
        _RSA.format("rdms.csv").replace('"mine"', '"yours"'),
        r"\[\[metrics\]\] #1: dataset = 'yours' is no stimulus set; use one of: mine, things",
    ),
    ("rsa-missing-file", _RSA.format("nope.csv"), r".*\(rsa\): human RDM file not found: " + _FILE + r"nope\.csv"),
    (
        "rsa-asymmetric",
        _RSA.format("asym.csv"),
        r".*human RDM file "
        + _FILE
        + r"asym\.csv: not symmetric: \('digit_0000', '(digit_\d+)'\) = .* but \('\1', 'digit_0000'\) = .*",
    ),
    ("rsa-diagonal", _RSA.format("diag.csv"), r".*diag\.csv: the diagonal must be 0 .*= 0\.5"),
    (
        "rsa-unknown-id",
        _RSA.format("unknown.csv"),
        r".*unknown\.csv: 1 id\(s\) not in stimulus set 'mine': 'cat_07'; its ids are e\.g\. 'digit_0000', .*",
    ),
    (
        "rsa-rows-vs-columns",
        _RSA.format("swapped.csv"),
        r".*swapped\.csv: row 1's id 'digit_0000' differs from column 1's id 'digit_\d+'; .*",
    ),
    (
        "rsa-not-a-number",
        _RSA.format("nan.csv"),
        r".*nan\.csv: 1 cell\(s\) are not finite numbers, first 'n/a' \(row 'digit_\d+', column 'digit_\d+'\)",
    ),
    (
        "rsa-missing-pair",
        _RSA.format("gap.csv"),
        r".*gap\.csv: subject 's0' rates 434 of the 435 pairs of the file's 30 ids; first missing pair .*",
    ),
    (
        "rsa-pair-twice",
        _RSA.format("twice.csv"),
        r".*twice\.csv: subject 's0' rates the pair \('digit_0000', 'digit_\d+'\) more than once",
    ),
    ("rsa-not-square", _RSA.format("ragged.csv"), r".*ragged\.csv: 30 rows but 29 id columns; .*"),
    ("rsa-npy-without-ids", _RSA.format("x.npy"), r".*x\.npy is a \.npy array; name its ids with ids_file .*"),
    (
        "rsa-ids-file-alone",
        '\n[[metrics]]\nmetric = "rsa"\nids_file = "ids.txt"\n',
        r"\[\[metrics\]\] #1: ids_file names the ids of \.npy RDMs; give the RDMs with rdms = .*",
    ),
    (
        "rsa-wrong-suffix",
        _RSA.format("rdms.xlsx"),
        r".*human RDM file " + _FILE + r"rdms\.xlsx: expected a \.csv, \.tsv, \.npy, \.parquet file, got '\.xlsx'",
    ),
    (
        "ooo-missing-column",
        _OOO.format("noparticipant.csv"),
        r".*noparticipant\.csv: missing column\(s\) 'participant'; expected participant, stimulus_1, stimulus_2, "
        r"stimulus_3, odd, got .*",
    ),
    (
        "ooo-odd-not-shown",
        _OOO.format("oddout.csv"),
        r".*oddout\.csv: line 3: odd = 'digit_\d+' is none of the triplet's stimuli .*",
    ),
    ("ooo-item-twice", _OOO.format("twice_item.csv"), r".*twice_item\.csv: line 2 shows a stimulus twice .*"),
    (
        "ooo-unknown-id",
        _OOO.format("trip_unknown.csv"),
        r".*trip_unknown\.csv: 1 id\(s\) not in stimulus set 'mine': 'zebra'.*",
    ),
    (
        "ooo-empty-cell",
        _OOO.format("trip_empty.csv"),
        r".*trip_empty\.csv: column 'participant' is empty on 1 row\(s\), first on line 3",
    ),
    (
        "ooo-no-dataset",
        '\n[[metrics]]\nmetric = "odd_one_out"\ntriplets = "triplets.csv"\n',
        r"\[\[metrics\]\] #1 \(odd_one_out\): triplets = 'triplets.csv' needs dataset = .*",
    ),
    (
        "ceiling-no-repeats",
        '\n[[metrics]]\nmetric = "noise_ceiling"\ndataset = "mine"\ntriplets = "triplets.csv"\n',
        r".*\(noise_ceiling\): human triplet file .*triplets\.csv: no triplet is answered twice .*",
    ),
    (
        "ooo-published",
        _OOO.format("triplets.csv") + 'variant = "published"\n',
        r"\[\[metrics\]\] #1 \(odd_one_out\): variant = \"published\" reproduces a paper's data; .*",
    ),
    (
        "cls-gap",
        _CLS.format("dec_gap.csv"),
        r".*dec_gap\.csv: participant 'p1' has no decision on 1 of the file's 30 stimuli: 'digit_\d+'; .*",
    ),
    (
        "cls-twice",
        _CLS.format("dec_twice.csv"),
        r".*dec_twice\.csv: participant 'p0' decides twice on 'digit_0000' \(line 62\); .*",
    ),
    (
        "cls-one-person",
        _CLS.format("dec_one.csv"),
        r".*dec_one\.csv: 1 participant; error consistency needs at least 2",
    ),
    ("cls-missing-column", _CLS.format("dec_col.csv"), r".*dec_col\.csv: missing column\(s\) 'response'; .*"),
    ("cls-not-utf8", _CLS.format("latin1.csv"), r".*latin1\.csv is not UTF-8 text \(byte \d+: .*\); save it as UTF-8"),
    (
        "cls-decide-alone",
        '\n[[metrics]]\nmetric = "classification"\ndecide = "imagenet16"\n',
        r"\[\[metrics\]\] #1: decide says how models decide on your own decisions file; give the file with decisions "
        r"= .*",
    ),
    (
        "cls-decide-unknown",
        _CLS.format("decisions.csv") + 'decide = "vote"\n',
        r"\[\[metrics\]\] #1 \(classification\): decide = 'vote'; valid: nearest_mean, imagenet16",
    ),
    (
        "sep-no-label",
        '\n[[metrics]]\nmetric = "separation"\ndataset = "mine"\nlabels = "colour"\n',
        r"\[\[metrics\]\] #1 \(separation\): stimulus set 'mine' has no label column 'colour'; its labels: category",
    ),
    (
        "sep-top-level-images",
        '\n[[stimuli]]\nname = "flat"\nsource = "folder"\npath = "flat"\n'
        '\n[[metrics]]\nmetric = "separation"\ndataset = "flat"\n',
        r"\[\[metrics\]\] #1 \(separation\): 1 stimulus id\(s\) of 'flat' have no 'category' \(a folder set: images "
        r"outside any sub-folder\), first \['top'\]; .*",
    ),
    (
        "sep-unknown-set",
        '\n[[metrics]]\nmetric = "separation"\ndataset = "yours"\n',
        r"\[\[metrics\]\] #1: dataset = 'yours' is no stimulus set; use one of: mine, things",
    ),
    (
        "rsa-other-set",
        _RSA.format("rdms.csv")
        + 'representations = ["spose"]\n'
        + '\n[[representations]]\nname = "spose"\nsource = "random"\ndims = 4\n',
        r"\[\[metrics\]\] #1 \(rsa\): its human data are about stimulus set 'mine'; 'spose' represents 'things'; .*",
    ),
    (
        "rsa-no-representation",
        _RSA.format("rdms.csv"),
        r"\[\[metrics\]\] #1 \(rsa\): needs representations of stimulus set 'mine' .*",
    ),
]


@pytest.mark.parametrize("text,pattern", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_own_data_is_one_line_before_any_work(tmp_path, text, pattern):
    from repalign.pipeline import run

    _bad_fixtures(tmp_path)
    (tmp_path / "x.npy").write_bytes(b"")
    cfg = tmp_path / "c.toml"
    cfg.write_text(HEAD + text)
    with pytest.raises(RepalignError) as info:
        run(cfg, report=False, progress=False)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert re.fullmatch(pattern, msg), msg
    assert not (tmp_path / "out").exists()


def test_the_shipped_example_files_are_what_make_py_writes(tmp_path):
    """examples/own-human/*.csv are the seeded output of examples/own-human/make.py (they cannot go stale)."""
    import runpy

    root = Path(__file__).resolve().parents[2] / "examples" / "own-human"
    runpy.run_path(str(root / "make.py"))["make"](tmp_path)
    for name in ("rdms.csv", "triplets.csv", "decisions.csv"):
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name
    assert len(list((tmp_path / "images").rglob("*.png"))) == 30


# ---- real data: an own 16-way decisions file is the built-in texture-shape analysis ----------


@pytest.mark.data
def test_own_16_way_decisions_file_reproduces_the_texture_shape_analysis(tmp_path, real_data):
    """The people's edge-image trials of Geirhos et al. written as an own decisions file
    (decide = "imagenet16") give the accuracies and κ of the built-in classification metric,
    for the people and for EfficientNet-Lite0's 16-class decisions."""
    from repalign.datasets import load_texture_shape
    from repalign.pipeline import run

    ts = load_texture_shape()
    tr = ts.trials[(ts.trials["experiment"] == "edges") & (ts.trials["observer_type"] == "human")]
    pd.DataFrame(
        {
            "participant": tr["subj"].astype(str),
            "stimulus_id": tr["stimulus_id"].astype(str),
            "response": tr["object_response"].astype(str),
            "category": tr["category"].astype(str),
        }
    ).to_csv(tmp_path / "decisions.csv", index=False)
    (tmp_path / "c.toml").write_text("""
[run]
output = "out"

[[stimuli]]
name = "edges"
source = "texture-shape-edges"

[[models]]
name = "efficientnet_lite0"
layers = ["output"]

[[metrics]]
metric = "classification"
dataset = "edges"
networks = ["alexnet"]
n_boot = 50
name = "builtin"

[[metrics]]
metric = "classification"
dataset = "edges"
decisions = "decisions.csv"
decide = "imagenet16"
n_boot = 50
name = "own"
""")
    run(tmp_path / "c.toml", report=False, progress=False)
    t = pd.concat([pd.read_parquet(f) for f in (tmp_path / "out" / "metrics").glob("classification-*.parquet")])
    own, builtin = t[t["entry"] == "own"], t[t["entry"] == "builtin"]
    model = "efficientnet_lite0"

    def v(tab, agent, metric):
        return float(tab[(tab["model"] == agent) & (tab["metric"] == metric)]["value"].iloc[0])

    for metric in ("accuracy", "kappa_to_humans"):
        assert v(own, model, metric) == pytest.approx(v(builtin, "efficientnet_lite0", metric), abs=1e-12)
        assert v(own, "humans", metric) == pytest.approx(v(builtin, "humans", metric), abs=1e-12)
    assert len(own[own["agent_type"] == "human"]["model"].unique()) == tr["subj"].nunique()


@pytest.mark.data
def test_own_triplets_file_of_things_ids_reproduces_the_builtin_source(tmp_path, real_data):
    """THINGS' repeated triplets (source noise_ceiling) written as an own file with THINGS ids
    (dataset = "things") give the built-in source's zero-shot accuracy of SPoSE and its noise
    ceiling, to the last digit."""
    from repalign.datasets import load_triplets
    from repalign.pipeline import run

    trip = load_triplets("noise_ceiling")
    ids = np.asarray(trip.ids)
    t = trip.triplets
    rng = np.random.default_rng(8)
    shown = np.array([rng.permutation(row) for row in t])  # the order on screen does not matter
    pd.DataFrame(
        {
            "participant": trip.participant,
            "stimulus_1": ids[shown[:, 0]],
            "stimulus_2": ids[shown[:, 1]],
            "stimulus_3": ids[shown[:, 2]],
            "odd": ids[t[:, 2]],
        }
    ).to_csv(tmp_path / "mine.csv", index=False)
    (tmp_path / "c.toml").write_text("""
[run]
output = "out"

[[representations]]
name = "spose"
source = "spose49"

[[metrics]]
metric = "odd_one_out"
dataset = "noise_ceiling"
similarity = ["dot"]
n_boot = 50
name = "builtin"

[[metrics]]
metric = "odd_one_out"
dataset = "things"
triplets = "mine.csv"
similarity = ["dot"]
n_boot = 50
name = "own"

[[metrics]]
metric = "noise_ceiling"
n_boot = 50
name = "builtin"

[[metrics]]
metric = "noise_ceiling"
dataset = "things"
triplets = "mine.csv"
n_boot = 50
name = "own"
""")
    run(tmp_path / "c.toml", report=False, progress=False)
    res = pd.concat([pd.read_parquet(f) for f in (tmp_path / "out" / "metrics").glob("*.parquet")])
    for metric in ("odd_one_out_dot", "noise_ceiling_majority", "noise_ceiling_loo"):
        v = res[res["metric"] == metric].set_index("entry")["value"]
        assert v["own"] == pytest.approx(v["builtin"], abs=1e-12), metric


def test_cli_names_the_bad_file_in_one_line(tmp_path, monkeypatch, capsys):
    """``repalign run`` with a bad own file: one line on stderr, exit 1, no traceback, nothing written."""
    import sys

    import repalign.cli as cli

    _bad_fixtures(tmp_path)
    (tmp_path / "c.toml").write_text(HEAD + _OOO.format("oddout.csv"))
    monkeypatch.setattr(sys, "argv", ["repalign", "run", str(tmp_path / "c.toml")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: [[metrics]] #1 (odd_one_out): human triplet file "), err
    assert "oddout.csv: line 3: odd = " in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()

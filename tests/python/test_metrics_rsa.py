"""RSA against rsatoolbox on the Mur et al. (2013) 92-image behavioural RDMs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from repalign.datasets import load_mur92
from repalign.errors import ValidationError
from repalign.metrics import compare_rdms, rdm, rsa, rsa_noise_ceiling, rsa_scores
from repalign.metrics.rsa import upper

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.rdm import RDMs, calc_rdm, compare  # noqa: E402

# repalign name -> rsatoolbox name
METHODS = {
    "spearman": "spearman",
    "pearson": "corr",
    "kendall_tau_a": "tau-a",
    "kendall_tau_b": "tau-b",
    "cosine": "cosine",
}


@pytest.fixture(scope="module")
def mur(real_data):
    return load_mur92()


@pytest.mark.data
@pytest.mark.parametrize("method", list(METHODS))
def test_comparisons_and_noise_ceiling_match_rsatoolbox(mur, method):
    R = mur.rdms
    assert R.shape == (16, 92, 92)
    vecs = RDMs(np.stack([upper(r) for r in R]))
    ours = np.array([[compare_rdms(R[i], R[j], method) for j in range(16)] for i in range(4)])
    ref = compare(RDMs(vecs.get_vectors()[:4]), vecs, METHODS[method])
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rsatoolbox warns that tau ceilings use averaged ranks
        ref_lo, ref_hi = rsatoolbox.inference.boot_noise_ceiling(vecs, method=METHODS[method])
    lo, hi = rsa_noise_ceiling(R, method)
    assert lo == pytest.approx(ref_lo, abs=1e-6) and hi == pytest.approx(ref_hi, abs=1e-6)
    assert lo < hi


@pytest.mark.data
def test_model_rdms_match_rsatoolbox_and_scores_are_per_subject(mur):
    # A model representation: the images' mean colour and a coarse 6×6 grey thumbnail.
    imgs = mur.stimuli.arrays.astype(np.float64)
    thumb = imgs.mean(axis=3)[:, ::29, ::29][:, :6, :6].reshape(92, -1)
    X = np.hstack([imgs.mean(axis=(1, 2)), thumb])
    ds = rsatoolbox.data.Dataset(X)
    np.testing.assert_allclose(
        upper(rdm(X, "correlation")), calc_rdm(ds, method="correlation").get_vectors()[0], atol=1e-6
    )
    # rsatoolbox's "euclidean" RDM is the squared distance per feature.
    np.testing.assert_allclose(
        upper(rdm(X, "sqeuclidean")) / X.shape[1], calc_rdm(ds, method="euclidean").get_vectors()[0], atol=1e-6
    )
    M = rdm(X, "correlation")
    scores = rsa_scores(M, mur.rdms, "spearman")
    ref = compare(RDMs(upper(M)[None]), RDMs(np.stack([upper(r) for r in mur.rdms])), "spearman")[0]
    np.testing.assert_allclose(scores, ref, atol=1e-6)
    lo_c, hi_c = rsa_noise_ceiling(mur.rdms)
    res = rsa(M, mur.rdms, "spearman", bootstrap="subjects", n_boot=500, seed=1)
    assert res.value == pytest.approx(scores.mean())
    assert res.ci_low < res.value < res.ci_high
    # A pixel model is far below what one subject's RDM predicts of the others.
    assert res.value < lo_c
    res_s = rsa(M, mur.rdms, "spearman", bootstrap="stimuli", n_boot=40, seed=1)
    assert res_s.ci_low < res.value < res_s.ci_high
    assert (res_s.ci_high - res_s.ci_low) > (res.ci_high - res.ci_low)  # stimulus sampling is the larger noise here


@pytest.mark.data
def test_subject_rdm_scores_itself_perfectly(mur):
    assert compare_rdms(mur.rdms[3], mur.rdms[3], "kendall_tau_a") == pytest.approx(1.0)
    assert rsa_scores(mur.rdms[0], mur.rdms[:2], "pearson")[0] == pytest.approx(1.0)


def test_bad_rdms_are_rejected():
    good = rdm(np.random.default_rng(0).normal(size=(5, 3)), "euclidean")
    with pytest.raises(ValidationError, match="square"):
        compare_rdms(good[:, :4], good)
    asym = good.copy()
    asym[0, 1] += 1
    with pytest.raises(ValidationError, match=r"not symmetric \(entry \[0,1\]"):
        compare_rdms(asym, good)
    diag = good + np.eye(5)
    with pytest.raises(ValidationError, match="diagonal"):
        compare_rdms(diag, good)
    with pytest.raises(ValidationError, match="differ in size"):
        compare_rdms(good, good[:4, :4])
    with pytest.raises(ValidationError, match="unknown RDM comparison 'r2'"):
        compare_rdms(good, good, "r2")
    with pytest.raises(ValidationError, match="unknown RDM metric"):
        rdm(np.ones((5, 2)), "manhattan")
    with pytest.raises(ValidationError, match=r"constant feature row\(s\) \[0, 1, 2, 3, 4\]"):
        rdm(np.ones((5, 2)), "correlation")
    with pytest.raises(ValidationError, match="shape \\(n_subjects, n, n\\)"):
        rsa_scores(good, good)


def _thingsvision_rdm(X, method):
    """compute_rdm of thingsvision.core.rsa (used by LukasMut/human_alignment), written out:
    1 − the clipped correlation / cosine similarity matrix."""
    if method == "correlation":
        X = X - X.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(X, axis=1)
    return 1 - np.clip((X @ X.T) / np.outer(norms, norms), -1, 1)


@pytest.mark.data
@pytest.mark.parametrize("kernel", ["correlation", "cosine"])
@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_published_rsa_correlates_with_the_group_average_rdm(mur, kernel, method):
    from scipy import stats

    X = mur.stimuli.arrays.reshape(92, -1).astype(np.float64) / 255
    # The seed: participants' RDMs averaged (data/multi_arrangement.py), then scipy's
    # spearmanr / pearsonr over the upper triangle (thingsvision correlate_rdms).
    iu = np.triu_indices(92, k=1)
    group = mur.rdms.mean(axis=0)
    want = getattr(stats, f"{method}r")(_thingsvision_rdm(X, kernel)[iu], group[iu])[0]
    res = rsa(rdm(X, kernel), mur.rdms, method, bootstrap="subjects", n_boot=200, variant="published")
    assert res.value == pytest.approx(want, abs=1e-9)
    assert res.ci_low <= res.value <= res.ci_high
    default = rsa(rdm(X, kernel), mur.rdms, method, bootstrap="none")
    assert default.value == pytest.approx(res.scores.mean(), abs=1e-12)  # the default: mean of per-subject scores
    with pytest.raises(ValidationError, match="RSA: variant must be"):
        rsa(rdm(X, kernel), mur.rdms, method, variant="paper")

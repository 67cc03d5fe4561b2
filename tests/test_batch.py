import numpy as np
import pytest

from metakit import rma, rma_batch
from metakit.engine import heterogeneity

METHODS = ["EE", "DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS"]


def _simulate(m=200, k=12, seed=1):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.5, size=(m, k))
    tau2 = rng.choice([0.0, 0.05, 0.3], size=(m, 1))
    yi = rng.normal(0.2, np.sqrt(vi + tau2))
    sizes = rng.integers(2, k + 1, size=m)
    for row, size in enumerate(sizes):
        yi[row, size:] = np.nan
        vi[row, size:] = np.nan
    return yi, vi


def _assert_equal_to_single_fits(res, yi, vi, method, test):
    for row in range(len(yi)):
        keep = ~np.isnan(yi[row])
        single = rma(yi[row, keep], vi[row, keep], method=method, test=test)
        assert res.k[row] == single.k
        np.testing.assert_allclose(res.tau2[row], single.tau2, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.tau2_se[row], single.tau2_se, rtol=1e-6)
        np.testing.assert_allclose(res.estimate[row], single.estimate, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.se[row], single.se, rtol=1e-6)
        np.testing.assert_allclose([res.ci_low[row], res.ci_high[row]],
                                   [single.ci_low, single.ci_high], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose([res.pi_low[row], res.pi_high[row]],
                                   [single.pi_low, single.pi_high], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.i2[row], single.i2, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(res.q[row], single.q, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
def test_batch_equals_single_fits(method, test):
    yi, vi = _simulate(m=60)
    if test == "knha":  # every row needs two studies
        yi[:, :2] = np.where(np.isnan(yi[:, :2]), 0.1, yi[:, :2])
        vi[:, :2] = np.where(np.isnan(vi[:, :2]), 0.05, vi[:, :2])
    res = rma_batch(yi, vi, method=method, test=test)
    assert res.converged.all()
    _assert_equal_to_single_fits(res, yi, vi, method, test)


@pytest.mark.parametrize("method", ["REML", "ML", "PM", "EB"])
def test_rows_left_to_the_bracketing_search_equal_single_fits(monkeypatch, method):
    """With one Newton step allowed, most rows are solved by the vectorised bracketing."""
    yi, vi = _simulate(m=40, seed=3)
    monkeypatch.setattr(heterogeneity, "MAXITER", 1)
    res = rma_batch(yi, vi, method=method)
    monkeypatch.undo()
    assert res.converged.all()
    _assert_equal_to_single_fits(res, yi, vi, method, "z")


def test_rows_in_several_blocks_and_a_row_without_an_interior_maximum(monkeypatch):
    monkeypatch.setattr(heterogeneity, "_BLOCK", 60)  # five rows a block
    rng = np.random.default_rng(2024)
    vi = rng.uniform(0.01, 0.5, size=(2000, 12))
    yi = rng.normal(0.2, np.sqrt(vi + rng.choice([0.0, 0.05, 0.3], size=(2000, 1))))
    rows = [1020, 1021, 1022, 1023, 1024, 1025, 7, 8]  # 1023: REML score < 0 everywhere
    res = rma_batch(yi[rows], vi[rows])
    assert res.converged.all() and res.tau2[3] == 0.0
    _assert_equal_to_single_fits(res, yi[rows], vi[rows], "REML", "z")


def test_ten_thousand_reml_fits_all_converge():
    yi, vi = _simulate(m=10_000, seed=7)
    res = rma_batch(yi, vi, method="REML")
    assert res.converged.all()
    assert np.all(res.tau2 >= 0)


@pytest.mark.parametrize("yi, vi, message", [
    ([[0.1, np.nan]], [[0.1, 0.1]], "missing values do not line up in row 0"),
    ([[0.1, 0.2]], [[0.1, -0.1]], r"vi: must be > 0 \(row 0\)"),
    ([[0.1, 0.2]], [[0.1, 0.1, 0.1]], "shapes differ"),
    ([0.1, 0.2], [0.1, 0.1], "expected a 2-D array"),
    ([[0.1, np.inf]], [[0.1, 0.1]], r"infinite value in row 0"),
    ([[0.1, 0.2], [0.3, 0.2]], [[0.1, 0.1], [0.1, np.inf]], r"infinite value in row 1"),
    ([[0.1, np.nan], [0.3, 0.2]], [[0.1, np.nan], [0.1, 0.1]], r"row 0 has 1\)"),
])
def test_bad_input(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        rma_batch(yi, vi, test="knha")


def test_prediction_interval_is_nan_for_equal_effects_only():
    yi, vi = _simulate(m=5)
    fixed, random = rma_batch(yi, vi, method="EE"), rma_batch(yi, vi, method="DL")
    assert np.isnan(fixed.pi_low).all() and np.isnan(fixed.tau2_se).all()
    assert (random.pi_low <= random.ci_low).all() and (random.pi_high >= random.ci_high).all()

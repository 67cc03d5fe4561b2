import numpy as np
import pytest

from metakit import rma, rma_batch

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


@pytest.mark.parametrize("method", METHODS)
def test_batch_equals_single_fits(method):
    yi, vi = _simulate(m=60)
    res = rma_batch(yi, vi, method=method)
    assert res.converged.all()
    for row in range(len(yi)):
        keep = ~np.isnan(yi[row])
        single = rma(yi[row, keep], vi[row, keep], method=method)
        assert res.k[row] == single.k
        np.testing.assert_allclose(res.tau2[row], single.tau2, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.estimate[row], single.estimate, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.se[row], single.se, rtol=1e-6)
        np.testing.assert_allclose([res.ci_low[row], res.ci_high[row]],
                                   [single.ci_low, single.ci_high], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.i2[row], single.i2, rtol=1e-6, atol=1e-7)


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
])
def test_bad_input(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        rma_batch(yi, vi)

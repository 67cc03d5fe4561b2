"""τ² estimators: metafor's values and standard errors, the stop rule, the solvers, bad inputs."""

import json
import signal
from pathlib import Path

import numpy as np
import pytest

from metakit import rma
from metakit.engine import heterogeneity
from metakit.engine.heterogeneity import estimate_tau2, qprofile_ci

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "metafor_tau2.json").read_text())
RANDOM = ["DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML"]


def _data(name):
    data = FIXTURE["inputs"][name]
    mods = data.get("ablat")
    return np.array(data["yi"], dtype=float), np.array(data["vi"], dtype=float), mods


def _design(name, k):
    mods = FIXTURE["inputs"][name].get("ablat")
    return np.ones((k, 1)) if mods is None else np.column_stack([np.ones(k), mods])


@pytest.mark.parametrize("key", sorted(FIXTURE["fits"]))
def test_tau2_and_its_se_match_tightly_converged_metafor(key):
    name, method = key.split("|")
    expected = FIXTURE["fits"][key]
    y, v, mods = _data(name)
    res = rma(y, v, method=method, mods=mods)
    assert res.converged
    np.testing.assert_allclose(res.tau2, expected["tau2"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.tau2_se, expected["se_tau2"], rtol=1e-8)
    np.testing.assert_allclose(res.beta, expected["beta"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(res.vb)), expected["se"], rtol=1e-8)
    np.testing.assert_allclose(res.q, expected["QE"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.tau2_ci, expected["tau2_ci"], rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("method", ["REML", "ML", "PM", "EB"])
def test_small_tau2_is_accurate_to_1e_10_relative(method):
    y, v, _ = _data("small_tau2")
    expected = FIXTURE["fits"][f"small_tau2|{method}"]["tau2"]
    assert 1e-4 < expected < 1e-3
    fit = estimate_tau2(method, y, v, np.ones((len(y), 1)))
    assert fit.solver == "newton" and fit.iterations < 15
    assert fit.tau2 == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("method", RANDOM)
def test_summary_shows_a_standard_error_for_tau2(method):
    y, v, _ = _data("bcg_RR")
    text = str(rma(y, v, method=method))
    assert "SE = nan" not in text
    assert f"(SE = {FIXTURE['fits'][f'bcg_RR|{method}']['se_tau2']:.4f};" in text


@pytest.mark.parametrize("method", RANDOM)
@pytest.mark.parametrize("name", ["bcg_RR", "normand_SMD", "pritz_PFT", "k2", "identical",
                                  "homogeneous", "small_tau2"])
def test_design_path_equals_intercept_path(name, method):
    """The QR path for meta-regression, given an intercept-only design, agrees with the k-vector
    algebra of the intercept model (two independent computations of every quantity)."""
    y, v, _ = _data(name)
    X = np.ones((len(y), 1))
    one = heterogeneity._estimate(method, heterogeneity._Intercept.one(y, v))
    design = heterogeneity._Design(y, v, X)
    two = heterogeneity._estimate(method, design)
    np.testing.assert_allclose(two.tau2, one.tau2, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(two.se, one.se, rtol=1e-9)
    q_one, q_two = heterogeneity._cochran(heterogeneity._Intercept.one(y, v)), \
        heterogeneity._cochran(design)
    np.testing.assert_allclose(q_two, q_one, rtol=1e-10)


@pytest.mark.parametrize("method", ["REML", "ML", "PM", "EB"])
@pytest.mark.parametrize("name", ["bcg_RR", "normand_SMD", "small_tau2", "bcg_ablat"])
def test_bracketing_finds_the_same_root(monkeypatch, name, method):
    y, v, _ = _data(name)
    X = _design(name, len(y))
    newton = estimate_tau2(method, y, v, X)
    monkeypatch.setattr(heterogeneity, "MAXITER", 1)
    bracketed = estimate_tau2(method, y, v, X)
    assert newton.solver == "newton"
    assert bracketed.converged
    if bracketed.solver == "bracketing":  # rows already at τ² = 0 after one step stay there
        assert bracketed.iterations == 1
    assert bracketed.tau2 == pytest.approx(newton.tau2, rel=1e-9, abs=1e-14)
    assert bracketed.se == pytest.approx(newton.se, rel=1e-8)


def test_likelihood_without_an_interior_maximum_gives_zero():
    """A REML score that approaches 0 but stays negative (no root) is left to the bracketing
    search, which puts τ² on the boundary, as the likelihood is highest there."""
    rng = np.random.default_rng(2024)
    vi = rng.uniform(0.01, 0.5, size=(2000, 12))
    yi = rng.normal(0.2, np.sqrt(vi + rng.choice([0.0, 0.05, 0.3], size=(2000, 1))))
    y, v = yi[1023], vi[1023]
    fit = estimate_tau2("REML", y, v, np.ones((12, 1)))
    assert (fit.tau2, fit.converged, fit.solver) == (0.0, True, "bracketing")
    grid = np.linspace(0, 1, 201)
    model = heterogeneity._Intercept.one(y, v)
    assert max(heterogeneity._score_step("REML", model, t / model.scale)[0] for t in grid) < 0


def test_qprofile_at_large_k_matches_metafor():
    y, v, _ = _data("k200")
    ci = qprofile_ci(y, v, np.ones((len(y), 1)))
    np.testing.assert_allclose(ci, FIXTURE["fits"]["k200|REML"]["tau2_ci"], rtol=1e-7, atol=1e-10)


@pytest.fixture
def deadline():
    """Fail (instead of hanging) when a call takes more than 10 s."""
    def expire(*_):
        raise TimeoutError("took more than 10 s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("method", RANDOM)
def test_huge_sampling_variances_give_tau2_zero(deadline, method):
    """Issue 16: ``rma(yi, [1e300] * 3)`` spun forever halving an infinite step."""
    fit = estimate_tau2(method, np.array([0.1, 0.5, -0.2]), np.full(3, 1e300), np.ones((3, 1)))
    assert (fit.tau2, fit.converged) == (0.0, True)
    assert np.isfinite(fit.se)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow the message reports
@pytest.mark.parametrize("method", RANDOM)
def test_effects_too_far_apart_raise_a_clear_error(deadline, method):
    with pytest.raises(ValueError, match=rf"yi, vi: τ² cannot be estimated by {method}: the "
                                         "effect sizes are too far apart"):
        estimate_tau2(method, np.array([1e200, -1e200, 0.0]), np.ones(3), np.ones((3, 1)))


def test_a_step_far_below_zero_is_halved_a_bounded_number_of_times(deadline):
    y, v, _ = _data("bcg_RR")
    model = heterogeneity._Intercept.one(y, v)
    current, step = np.array([1e-300]), np.array([-1e300])
    new, shortened, boundary = heterogeneity._shorten("REML", model, current, step, step < 0)
    assert not boundary[0] and 0 <= new[0] <= 1e-300 and shortened[0] < 0

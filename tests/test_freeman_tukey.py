"""Freeman-Tukey checks of printed metaprop pools (metakit.audit.freeman_tukey): both ways on
hand-made and seed cases, and no false alarm on rounded metaprop fits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metakit import audit, metaprop
from metakit.audit.freeman_tukey import ft_ci, ft_subgroup_difference


def printed(fit, digits: int = 1) -> tuple[str, str, str]:
    """A metaprop fit as a paper prints it, in percent."""
    back = fit.fit.back_transform()
    return tuple(f"{100 * back[k]:.{digits}f}" for k in ("estimate", "ci_low", "ci_high"))


@pytest.mark.parametrize("seed", range(12))
def test_a_rounded_metaprop_pool_is_never_called_inconsistent(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    n = rng.integers(4, 80, size=k)
    x = rng.binomial(n, rng.uniform(0.3, 0.8))
    fit = metaprop(x, n, measure="PFT", method="DL")
    estimate, low, high = printed(fit)
    if float(low) <= 0 or float(high) >= 100:
        pytest.skip("a bound at the edge is not checkable")
    check = ft_ci(estimate, low, high, list(n), percent=True)
    assert check.verdict == "consistent", check.explanation


def test_the_wrong_studies_or_no_studies_at_all_fit():
    # Fig. 2C MSC/scaffolds of the non-union review: 87% (70-96%) with Wang (2019), n = 30,
    # and Wittig (2016), n = 3 ... read as whole percent, with the two listed sizes 5 and 6
    check = ft_ci("87.0", "70.0", "96.0", [5, 6], percent=True, decimals=0)
    assert check.verdict == "inconsistent"
    assert "nor for any harmonic mean from 2 to 1000" in check.explanation
    # a pool of 18/20 and 9/10 held against two studies of 3: only other sizes fit
    fit = metaprop(np.array([18, 9]), np.array([20, 10]), measure="PFT", method="DL")
    estimate, low, high = printed(fit)
    assert ft_ci(estimate, low, high, [20, 10], percent=True).verdict == "consistent"
    listed = ft_ci(estimate, low, high, [3, 3], percent=True)
    inferred = ft_ci(estimate, low, high, [3, 3], percent=True, listed=False)
    assert listed.verdict == "inconsistent" and "not for the studies listed" in listed.explanation
    assert inferred.verdict == "consistent" and "does not list" in inferred.explanation


def test_one_study_shows_its_wilson_interval():
    # Toosi (2023), 4 of 5: Wilson 37.6% to 96.4%
    assert ft_ci("80.0", "38.0", "96.0", [5], percent=True, decimals=0).verdict == "consistent"
    assert ft_ci("80.0", "38.0", "99.0", [5], percent=True, decimals=0).verdict == "inconsistent"
    assert ft_ci("81.0", "38.0", "96.0", [5], percent=True).verdict == "inconsistent"
    # Fig. 5 Bhattacharjee (2019): 0.03 (0.01, 0.15) of 35 is 1/35
    check = ft_ci("0.03", "0.01", "0.15", ["35"])
    assert check.verdict == "consistent" and "1/35" in check.explanation
    assert check.recomputed == pytest.approx((1 / 35, 1 / 35))


def test_a_bound_at_the_edge_is_not_checkable():
    check = ft_ci("100", "84.0", "100.0", [3, 5, 8], percent=True)
    assert check.verdict == "not_checkable"
    assert ft_ci("0.0", "0.0", "5.0", [3, 5], percent=True).verdict == "not_checkable"


def test_extra_zero_decimals_are_read_coarser_and_others_are_kept():
    # Fig. 2B of the non-union review, 73.0% (68.0-78.0%) from ten studies, is symmetric on the
    # FT scale only at whole-percent precision (Stata's 0.73 (0.68, 0.78))
    sizes = [86, 50, 5, 7, 3, 5, 6, 28, 5, 231]
    assert ft_ci("73.0", "68.0", "78.0", sizes, percent=True).verdict == "inconsistent"
    assert ft_ci("73.0", "68.0", "78.0", sizes, percent=True, decimals=0).verdict == "consistent"
    kept = ft_ci("73.4", "68.0", "78.0", sizes, percent=True, decimals=0)
    assert "73.4%" in kept.explanation and "68%" in kept.explanation


def subgroups(seed: int):
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(2):
        k = int(rng.integers(2, 6))
        n = rng.integers(5, 60, size=k)
        groups.append((rng.binomial(n, rng.uniform(0.3, 0.8)), n))
    return groups


@pytest.mark.parametrize("seed", range(8))
def test_the_subgroup_difference_of_rounded_pools_is_never_called_inconsistent(seed):
    fits = [metaprop(x, n, measure="PFT", method="DL") for x, n in subgroups(seed)]
    rows = [printed(f) for f in fits]
    if any(float(r[1]) <= 0 or float(r[2]) >= 100 for r in rows):
        pytest.skip("a bound at the edge is not checkable")
    ys = np.array([f.fit.estimate for f in fits])
    vs = np.array([f.fit.se ** 2 for f in fits])
    q = float(np.sum((ys - np.average(ys, weights=1 / vs)) ** 2 / vs))
    from scipy import stats

    p = f"{stats.chi2.sf(q, 1):.2f}"
    sizes = [list(n) for _, n in subgroups(seed)]
    check = ft_subgroup_difference(*zip(*rows), sizes, p, percent=True)
    assert check.verdict != "inconsistent", check.explanation
    wrong = "0.001" if float(p) > 0.05 else "0.99"
    assert ft_subgroup_difference(*zip(*rows), sizes, wrong, percent=True).verdict \
        == "inconsistent"


def test_a_single_study_subgroup_enters_with_its_own_standard_error():
    # Fig. 2A: MSC/scaffolds is Toosi (2023) alone, 80% (38-96%), n = 5
    n_msc = [50, 6, 28, 307]
    args = (["80.0", "44.0"], ["38.0", "38.0"], ["96.0", "49.0"], [[5], n_msc], "0.12")
    check = ft_subgroup_difference(*args, percent=True, decimals=0)
    assert check.verdict == "consistent" and "one study (SE from n = 5)" in check.explanation
    harmonic = len(n_msc) / sum(1 / n for n in n_msc)
    same = audit.subgroup_difference(["80%", "44%"], ["38%", "38%"], ["96%", "49%"], "0.12",
                                     scale=[audit.FreemanTukey(5.0),
                                            audit.FreemanTukey(harmonic)],
                                     ses=[math.sqrt(1 / 22), None])
    assert check.recomputed == pytest.approx(same.recomputed)
    # read from the Wilson interval as if it were a Wald one, the test is another
    wald = audit.subgroup_difference(["80%", "44%"], ["38%", "38%"], ["96%", "49%"], "0.12",
                                     scale=[audit.FreemanTukey(5.0),
                                            audit.FreemanTukey(harmonic)])
    assert wald.recomputed != pytest.approx(same.recomputed)


def test_a_subgroup_printed_at_100_percent_is_not_checkable():
    check = ft_subgroup_difference(["100", "90.0"], ["84.0", "84.0"], ["100.0", "94.0"],
                                   [[3, 5], [18, 54, 6]], "0.25", percent=True)
    assert check.verdict == "not_checkable"


@pytest.mark.parametrize("call, message", [
    (lambda: ft_ci("50", "40", "60", []), "sizes: expected a list"),
    (lambda: ft_ci("50", "40", "60", [10, "x"]), "sizes: every study size must be a number"),
    (lambda: ft_ci("50", "40", "60", [10, 2.5]), "sizes: study sizes must be whole numbers"),
    (lambda: ft_ci("abc", "40", "60", [10, 20]), "estimate"),
    (lambda: ft_subgroup_difference(["50", "60"], ["40", "50"], ["60", "70"], [[10]], "0.5"),
     "sizes: expected one list of study sizes per subgroup"),
    (lambda: audit.subgroup_difference(["1", "2"], ["0", "1"], ["2", "3"], "0.5", ses=[0.1]),
     "ses: expected 2 standard errors"),
    (lambda: audit.subgroup_difference(["1", "2"], ["0", "1"], ["2", "3"], "0.5",
                                       ses=[-1.0, None]), "ses[0]"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call()

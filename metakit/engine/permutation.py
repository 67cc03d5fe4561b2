"""Permutation tests for the coefficients of a fitted model (metafor's ``permutest``).

References
----------
Follmann, D. A., & Proschan, M. A. (1999). Valid inference in random effects meta-analysis.
Biometrics, 55(3), 732-737. doi:10.1111/j.0006-341X.1999.00732.x
Higgins, J. P. T., & Thompson, S. G. (2004). Controlling the risk of spurious findings from
meta-regression. Statistics in Medicine, 23(11), 1663-1682. doi:10.1002/sim.1752
Viechtbauer, W., López-López, J. A., Sánchez-Meca, J., & Marín-Martínez, F. (2015). A
comparison of procedures to test for moderators in mixed-effects meta-regression models.
Psychological Methods, 20(3), 360-374. doi:10.1037/met0000023
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from math import factorial, prod
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from metakit.engine.models import RMAResult

__all__ = ["PermutestResult", "permutest"]

_COMPTOL = float(np.sqrt(np.finfo(float).eps))
"""Slack when comparing permuted with observed statistics (metafor's ``comptol``)."""
MAX_EXACT = 1_000_000
"""Most permutations metakit enumerates for an exact test."""


@dataclass(frozen=True)
class PermutestResult:
    """Permutation p-values of a model's coefficients (metafor's ``permutest.rma.uni``).

    Attributes
    ----------
    pval : float or ndarray
        Two-sided permutation p-value of each coefficient (a float without moderators):
        the share of permutations whose |z| (|t| for Hartung-Knapp) is at least the observed.
    qm_pval : float
        Permutation p-value of the omnibus test of the moderators (QM); without moderators,
        that of the intercept.
    exact : bool
        Whether every distinct permutation was used (else ``iter`` random ones).
    iter : int
        Number of permutations the p-values rest on.
    zval_perm, beta_perm : pandas.DataFrame
        The permutation distribution, one row per permutation, one column per coefficient.
    qm_perm : ndarray
        QM of each permutation.
    """

    pval: Any
    qm_pval: float
    exact: bool
    iter: int
    zval_perm: pd.DataFrame
    beta_perm: pd.DataFrame
    qm_perm: NDArray[np.float64]

    def __str__(self) -> str:
        kind = "Exact" if self.exact else "Approximate"
        pvals = ", ".join(f"{name} p = {p:.4f}" for name, p in
                          zip(self.zval_perm.columns, np.atleast_1d(self.pval)))
        return f"{kind} permutation test ({self.iter} permutations): {pvals}; QM p = " \
               f"{self.qm_pval:.4f}"


def permutest(result: RMAResult, iter: int = 1000, *, exact: bool = False,
              seed: int | None = None) -> PermutestResult:
    """Permutation test of the coefficients of a fitted model (metafor's ``permutest``).

    Without moderators the signs of the effect sizes are flipped (``2^k`` permutations); with
    moderators the rows of the design matrix are permuted against the effect sizes (``k!``
    divided by the factorials of repeated rows). Each permutation is refitted with the model's
    τ² estimator, test, weights and level; the p-value of a coefficient is the share of
    permutations whose |z| (|t| with Hartung-Knapp) is at least the observed one (less
    ``sqrt(eps)``), and that of QM the share with a QM at least as large.

    Parameters
    ----------
    result : RMAResult
        A fitted model from :func:`metakit.rma`.
    iter : int
        Number of random permutations (at least 2). When the number of distinct permutations
        is at most ``iter``, the exact test is done instead, as metafor does.
    exact : bool
        Enumerate every distinct permutation whatever ``iter`` is (refused beyond
        :data:`MAX_EXACT`).
    seed : int, optional
        Seed of the random permutations (numpy's generator; R's draws differ, so only exact
        tests agree with metafor digit for digit).

    Returns
    -------
    PermutestResult

    Raises
    ------
    ValueError
        If ``result`` is not a fitted model, ``iter`` is not an integer >= 2, or an exact test
        would need more than :data:`MAX_EXACT` permutations.

    Notes
    -----
    In the random version the observed data count as the first permutation, as in metafor.
    Permutations whose model cannot be fitted are left out of the p-values.

    References
    ----------
    Follmann & Proschan (1999); Higgins & Thompson (2004); Viechtbauer et al. (2015).
    """
    if not isinstance(result, RMAResult):
        raise ValueError(f"permutest: result must be a fitted model from metakit.rma "  # noqa: TRY004
                         f"(RMAResult), got {type(result).__name__}")
    if isinstance(iter, (bool, np.bool_)) or not isinstance(iter, (int, np.integer)) \
            or iter < 2:
        raise ValueError(f"iter: must be an integer >= 2, got {iter!r}")
    if not isinstance(exact, (bool, np.bool_)):
        raise ValueError(f"exact: must be True or False, got {exact!r}")
    k = result.k
    if result.is_regression:
        groups = _row_groups(result.X)
        n_exact = factorial(k) // prod(factorial(n) for n in np.bincount(groups))
    else:
        n_exact = 2**k
    use_exact = exact or n_exact <= iter
    if use_exact and n_exact > MAX_EXACT:
        raise ValueError(f"exact: {n_exact} permutations are too many for an exact test "
                         f"(at most {MAX_EXACT}); give iter for a random one")
    if use_exact:
        draws: Iterator[NDArray[np.float64] | NDArray[np.intp]] = (
            _distinct_orders(groups) if result.is_regression
            else (np.array(signs) for signs in product((1.0, -1.0), repeat=k)))
        count = n_exact
    else:
        rng = np.random.default_rng(seed)
        draws = (rng.permutation(k) if result.is_regression
                 else rng.choice((-1.0, 1.0), size=k) for _ in range(iter - 1))
        count = iter

    keep = np.ones(k, dtype=bool)
    zval = np.full((count, result.p), np.nan)
    beta = np.full((count, result.p), np.nan)
    qm = np.full(count, np.nan)
    start = 0
    if not use_exact:  # the observed data are the first permutation
        zval[0], beta[0], qm[0] = np.atleast_1d(result.zval), result.beta, _qm(result)
        start = 1
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, draw in enumerate(draws, start):
            try:
                fit = (result.refit(keep, X=result.X[draw]) if result.is_regression
                       else result.refit(keep, yi=draw * result.yi))
            except (ValueError, np.linalg.LinAlgError):
                continue
            zval[i], beta[i], qm[i] = np.atleast_1d(fit.zval), fit.beta, _qm(fit)

    fitted = ~np.isnan(qm)
    observed = np.abs(np.atleast_1d(result.zval))
    pval = np.mean(np.abs(zval[fitted]) >= observed - _COMPTOL, axis=0)
    qm_pval = float(np.mean(qm[fitted] >= _qm(result) - _COMPTOL))
    names = list(result.mod_names)
    return PermutestResult(
        pval=pval if result.is_regression else float(pval[0]), qm_pval=qm_pval,
        exact=use_exact, iter=count, zval_perm=pd.DataFrame(zval, columns=names),
        beta_perm=pd.DataFrame(beta, columns=names), qm_perm=qm)


def _qm(fit: RMAResult) -> float:
    """QM of a fit; without moderators the squared z (or t) of the intercept, as metafor."""
    return float(fit.qm) if fit.is_regression else float(fit.zval) ** 2


def _row_groups(X: NDArray[np.float64]) -> NDArray[np.intp]:
    """A label per row of ``X``, equal for identical rows (their order does not matter)."""
    _, labels = np.unique(X, axis=0, return_inverse=True)
    return labels.ravel()


def _distinct_orders(groups: NDArray[np.intp]) -> Iterator[NDArray[np.intp]]:
    """Row orders giving each distinct arrangement of the rows of ``X`` once.

    The arrangements are the distinct permutations of the multiset ``groups``, walked in
    lexicographic order (Knuth, TAOCP 4A, algorithm L); each is turned into an order of the
    original rows that puts a row of the right group in every place.
    """
    members = [list(np.flatnonzero(groups == g)) for g in range(groups.max() + 1)]
    current = np.sort(groups)
    while True:
        taken = [0] * len(members)
        order = np.empty(len(current), dtype=np.intp)
        for place, g in enumerate(current):
            order[place] = members[g][taken[g]]
            taken[g] += 1
        yield order
        j = len(current) - 2
        while j >= 0 and current[j] >= current[j + 1]:
            j -= 1
        if j < 0:
            return
        m = len(current) - 1
        while current[m] <= current[j]:
            m -= 1
        current[j], current[m] = current[m], current[j]
        current[j + 1:] = current[j + 1:][::-1].copy()

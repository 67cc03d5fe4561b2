"""Fixed- and random-effects meta-analysis and meta-regression (metafor's ``rma``).

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Hartung, J., & Knapp, G. (2001). A refined method for the meta-analysis of controlled clinical
trials with binary outcome. Statistics in Medicine, 20(24), 3875-3889.
Riley, R. D., Higgins, J. P. T., & Deeks, J. J. (2011). Interpretation of random effects
meta-analyses. BMJ, 342, d549.
Raudenbush, S. W. (2009). Analyzing effect sizes: Random-effects models. In The Handbook of
Research Synthesis and Meta-Analysis (2nd ed., pp. 295-315).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from metakit.engine import _validation as v
from metakit.engine.heterogeneity import (FIXED_METHODS, METHODS, Tau2Fit, cochran_q,
                                          estimate_tau2, qprofile_ci)
from metakit.engine.transforms import back_transform


@dataclass(frozen=True)
class RMAResult:
    """A fitted meta-analysis or meta-regression (metafor's ``rma.uni`` object).

    Estimates are on the model scale (log for ratio measures). Intercept-only models expose
    scalars (``estimate``, ``se``, ``pval``, ``ci_low``, ``ci_high``); with moderators ``beta``,
    ``se``, ``pval``, ``ci_low`` and ``ci_high`` are arrays and ``qm``, ``qm_pval``, ``r2`` are set.
    """

    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    X: NDArray[np.float64]
    method: str
    test: str
    level: float
    measure: str | None
    slab: list[str]
    beta: NDArray[np.float64]
    vb: NDArray[np.float64]
    tau2: float
    tau2_se: float
    q: float
    q_df: int
    q_pval: float
    i2: float
    h2: float
    qm: float
    qm_pval: float
    converged: bool
    solver: str
    ni: NDArray[np.float64] | None = None
    mod_names: tuple[str, ...] = ("intrcpt",)
    weights: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    custom_weights: NDArray[np.float64] | None = None
    weighted: bool = True
    tau2_fixed: bool = False

    # ----------------------------------------------------------------- shape of the model
    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.yi)

    @property
    def p(self) -> int:
        """Number of model coefficients."""
        return self.X.shape[1]

    @property
    def is_regression(self) -> bool:
        return self.p > 1

    @property
    def is_fixed(self) -> bool:
        return self.method in FIXED_METHODS

    @property
    def standard_weights(self) -> bool:
        """Inverse-variance weights (no ``weights=`` given and ``weighted=True``)."""
        return self.weighted and self.custom_weights is None

    def model_weights(self, tau2: float | None = None) -> NDArray[np.float64]:
        """The weights of the fit, unnormalised: ``1/(vi + τ²)`` (at ``tau2`` if given), the
        user's ``weights``, or ones for an unweighted model (metafor's ``weights(res)``)."""
        if not self.weighted:
            return np.ones(self.k)
        if self.custom_weights is not None:
            return self.custom_weights
        return 1.0 / (self.vi + (self.tau2 if tau2 is None else tau2))

    @property
    def dfs(self) -> int | None:
        """Degrees of freedom of the t-distribution (``knha``), else ``None``."""
        return self.k - self.p if self.test == "knha" else None

    # ------------------------------------------------------- heterogeneity intervals (lazy)
    @cached_property
    def tau2_ci(self) -> tuple[float, float]:
        """Q-profile confidence interval for τ² (NaN for equal-effects models)."""
        if self.is_fixed:
            return (np.nan, np.nan)
        return qprofile_ci(self.yi, self.vi, self.X, self.level)

    @cached_property
    def _typical_variance(self) -> float:
        return cochran_q(self.yi, self.vi, self.X)[1]

    @property
    def i2_ci(self) -> tuple[float, float]:
        """I² (percent) at the bounds of :attr:`tau2_ci`."""
        s2 = self._typical_variance
        return tuple(100 * t / (s2 + t) for t in self.tau2_ci)

    @property
    def h2_ci(self) -> tuple[float, float]:
        """H² at the bounds of :attr:`tau2_ci`."""
        s2 = self._typical_variance
        return tuple(t / s2 + 1 for t in self.tau2_ci)

    @cached_property
    def r2(self) -> float:
        """Pseudo-R² in percent (meta-regression; NaN otherwise), computed when first asked:
        the share of the intercept-only model's τ² (same method) that the moderators account
        for (Raudenbush, 2009), or for equal-effects models the adjusted R² of the weighted
        regression, as metafor."""
        if not self.is_regression:
            return np.nan
        if self.is_fixed:
            return _weighted_adjusted_r2(self.yi, self.X, self.beta, self.model_weights())
        tau2_re = estimate_tau2(self.method, self.yi, self.vi, np.ones((self.k, 1))).tau2
        if tau2_re <= np.finfo(float).eps:
            return 0.0
        return max(0.0, 100 * (tau2_re - self.tau2) / tau2_re)

    # ------------------------------------------------------------------- coefficients
    def _crit(self) -> float:
        alpha = 1 - self.level / 100
        if self.test == "knha":
            return float(stats.t.isf(alpha / 2, self.k - self.p)) if self.k > self.p else np.nan
        return float(stats.norm.isf(alpha / 2))

    def _unwrap(self, values: NDArray[np.float64]) -> Any:
        return values if self.is_regression else float(values[0])

    @property
    def estimate(self) -> Any:
        """Pooled estimate (intercept-only) or coefficient array (meta-regression)."""
        return self._unwrap(self.beta)

    @property
    def se(self) -> Any:
        return self._unwrap(np.sqrt(np.diag(self.vb)))

    @property
    def zval(self) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._unwrap(self.beta / np.sqrt(np.diag(self.vb)))

    @property
    def pval(self) -> Any:
        z = np.abs(np.atleast_1d(self.zval))
        if self.test == "knha":
            p = 2 * stats.t.sf(z, self.k - self.p) if self.k > self.p else np.full_like(z, np.nan)
        else:
            p = 2 * stats.norm.sf(z)
        return self._unwrap(p)

    @property
    def ci_low(self) -> Any:
        return self._unwrap(self.beta - self._crit() * np.sqrt(np.diag(self.vb)))

    @property
    def ci_high(self) -> Any:
        return self._unwrap(self.beta + self._crit() * np.sqrt(np.diag(self.vb)))

    # ----------------------------------------------------------------- prediction interval
    @property
    def pi_low(self) -> float:
        """Lower bound of the prediction interval (random-effects models without moderators)."""
        return self._prediction_interval()[0]

    @property
    def pi_high(self) -> float:
        return self._prediction_interval()[1]

    def _prediction_interval(self) -> tuple[float, float]:
        if self.is_regression or self.is_fixed:
            return (np.nan, np.nan)
        se = float(np.sqrt(self.vb[0, 0] + self.tau2))
        crit = self._crit()
        return (float(self.beta[0]) - crit * se, float(self.beta[0]) + crit * se)

    # --------------------------------------------------------------------- presentation
    def back_transform(self) -> dict[str, float]:
        """Summary on the natural scale: exp for ratios, inverse transforms for proportions."""
        if self.is_regression:
            raise ValueError("back_transform: only for models without moderators")
        values = {"estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high,
                  "pi_low": self.pi_low, "pi_high": self.pi_high}
        return {name: back_transform(self.measure, value, self.ni)
                for name, value in values.items()}

    def to_record(self) -> dict[str, Any]:
        """One row for a results table (model scale, plus back-transformed values)."""
        record: dict[str, Any] = {
            "measure": self.measure, "model": self.model_label, "k": self.k,
            "tau2": self.tau2, "i2": self.i2, "h2": self.h2, "q": self.q, "q_df": self.q_df,
            "q_pval": self.q_pval,
        }
        if self.is_regression:
            for name, b, se, p in zip(self.mod_names, self.beta, self.se, self.pval):
                record.update({f"beta_{name}": b, f"se_{name}": se, f"pval_{name}": p})
            record.update({"qm": self.qm, "qm_pval": self.qm_pval, "r2": self.r2})
        else:
            record.update({"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
                           "ci_high": self.ci_high, "p_value": self.pval,
                           "pi_low": self.pi_low, "pi_high": self.pi_high})
            if self.measure is not None:
                record.update({f"{k}_bt": val for k, val in self.back_transform().items()})
        return record

    def to_frame(self) -> pd.DataFrame:
        """:meth:`to_record` as a one-row DataFrame."""
        return pd.DataFrame([self.to_record()])

    def summary_frame(self) -> pd.DataFrame:
        """Coefficient table: estimate, se, zval/tval, pval, ci_low, ci_high."""
        return pd.DataFrame({
            "estimate": np.atleast_1d(self.estimate), "se": np.atleast_1d(self.se),
            "tval" if self.test == "knha" else "zval": np.atleast_1d(self.zval),
            "pval": np.atleast_1d(self.pval), "ci_low": np.atleast_1d(self.ci_low),
            "ci_high": np.atleast_1d(self.ci_high)}, index=list(self.mod_names))

    @property
    def model_label(self) -> str:
        """Short description, e.g. ``"RE (REML), Hartung-Knapp"`` (plus ``τ² fixed``,
        ``user weights`` or ``unweighted`` where they apply)."""
        label = "EE" if self.is_fixed else f"RE ({self.method}{', τ² fixed' * self.tau2_fixed})"
        if self.custom_weights is not None:
            label += ", user weights"
        elif not self.weighted:
            label += ", unweighted"
        return label + (", Hartung-Knapp" if self.test == "knha" else "")

    def __str__(self) -> str:
        kind = "Equal-Effects Model" if self.is_fixed else "Random-Effects Model"
        lines = [f"{kind} (k = {self.k}; method: {self.method}; test: {self.test})", ""]
        if not self.is_fixed:
            lo, hi = self.tau2_ci
            se = ("fixed; " if self.tau2_fixed else
                  f"SE = {self.tau2_se:.4f}; " if np.isfinite(self.tau2_se) else "")
            lines.append(f"tau^2 = {self.tau2:.4f} ({se}{self.level:g}% CI {lo:.4f} to {hi:.4f})")
        lines.append(f"I^2 = {self.i2:.2f}%   H^2 = {self.h2:.2f}")
        lines.append(f"Q(df = {self.q_df}) = {self.q:.4f}, p = {self.q_pval:.4g}")
        if self.is_regression:
            lines.append(f"QM = {self.qm:.4f}, p = {self.qm_pval:.4g}; R^2 = {self.r2:.2f}%")
        lines += ["", self.summary_frame().round(4).to_string()]
        if not self.is_regression and self.measure is not None:
            bt = self.back_transform()
            lines.append(f"\nBack-transformed ({self.measure}): {bt['estimate']:.4f} "
                         f"[{bt['ci_low']:.4f}, {bt['ci_high']:.4f}]")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"

    def refit(self, keep: NDArray[np.bool_], *, yi: NDArray[np.float64] | None = None,
              X: NDArray[np.float64] | None = None) -> "RMAResult":
        """The same model (estimator, test, level, weights, fixed τ²) fitted to the studies where
        ``keep`` is true; ``yi`` or ``X`` replace the data (as permutation tests need)."""
        y = self.yi if yi is None else yi
        design = self.X if X is None else X
        return rma(y[keep], self.vi[keep], method=self.method, test=self.test,
                   mods=design[keep][:, 1:] if self.is_regression else None, level=self.level,
                   measure=self.measure, slab=[s for s, k in zip(self.slab, keep) if k],
                   ni=None if self.ni is None else self.ni[keep],
                   mod_names=self.mod_names[1:] if self.is_regression else None,
                   weights=None if self.custom_weights is None else self.custom_weights[keep],
                   weighted=self.weighted, tau2=self.tau2 if self.tau2_fixed else None)


def _design(mods: ArrayLike | pd.DataFrame | None, k: int,
            mod_names: Sequence[str] | None) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    """Intercept plus moderator columns; text or categorical columns become dummy variables."""
    if mods is None:
        return np.ones((k, 1)), ("intrcpt",)
    if isinstance(mods, pd.Series):
        mods = mods.to_frame(name=mods.name if mods.name is not None else "mod1")
    if isinstance(mods, pd.DataFrame):
        frame = mods.reset_index(drop=True)
    else:
        numeric = isinstance(mods, np.ndarray) and mods.dtype.kind in "biuf"
        array = np.asarray(mods, dtype=float if numeric or not _has_text(mods) else object)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            raise ValueError(f"mods: expected one column per moderator, got shape {array.shape}")
        names = list(mod_names) if mod_names is not None else [
            f"mod{j + 1}" for j in range(array.shape[1])]
        if len(names) != array.shape[1]:
            raise ValueError(f"mod_names: {len(names)} names for {array.shape[1]} moderators")
        frame = array if array.dtype == float else pd.DataFrame(array, columns=names)
    if frame.shape[0] != k:
        raise ValueError(f"mods: {frame.shape[0]} rows for {k} studies")
    if isinstance(frame, np.ndarray):
        matrix = v.as_float_array("mods", frame, ndim=2)
    else:
        columns, names = [], []
        for j, name in enumerate(frame.columns):
            for suffix, column in _expand(str(name), frame.iloc[:, j]):
                columns.append(column)
                names.append(str(name) + suffix)
        matrix = v.as_float_array("mods", np.column_stack(columns), ndim=2)
    X = np.column_stack([np.ones(k), matrix])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError("mods: the moderators are collinear (or constant) in these studies")
    if X.shape[1] >= k:
        raise ValueError(f"mods: {X.shape[1]} coefficients need more than {k} studies")
    return X, ("intrcpt",) + tuple(names)


def _has_text(values: Any) -> bool:
    array = np.asarray(values, dtype=object)
    return any(isinstance(x, str) for x in array.ravel())


def _expand(name: str, column: pd.Series) -> list[tuple[str, Any]]:
    """A numeric column as it is; a text or categorical one as dummies for every level but the
    first (R's treatment contrasts: levels sorted, or a Categorical's own order), named
    ``name + level`` as R's ``model.matrix``."""
    categorical = isinstance(column.dtype, pd.CategoricalDtype)
    if not categorical and not any(isinstance(x, str) for x in column):
        return [("", column.to_numpy())]
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise ValueError(f"mods: missing value in moderator {name!r} at study index "
                         f"{int(missing[0])}")
    if categorical:
        levels = [lvl for lvl in column.cat.categories if (column == lvl).any()]
    else:
        numbers = [x for x in column if not isinstance(x, str)]
        if numbers:
            raise ValueError(f"mods: moderator {name!r} mixes text and numbers "
                             f"(e.g. {v.quote(numbers[0])})")
        levels = sorted(set(column))
    if len(levels) < 2:
        raise ValueError(f"mods: moderator {name!r} has one level ({v.quote(levels[0])}) in "
                         "these studies; it needs at least two")
    return [(str(level), (column == level).to_numpy(dtype=float)) for level in levels[1:]]


def rma(yi: ArrayLike, vi: ArrayLike, method: str = "REML", test: str = "z",
        mods: ArrayLike | pd.DataFrame | None = None, level: float = 95, *,
        measure: str | None = None, slab: Sequence[Any] | None = None,
        ni: ArrayLike | None = None, mod_names: Sequence[str] | None = None,
        weights: ArrayLike | None = None, weighted: bool = True,
        tau2: float | None = None) -> RMAResult:
    """Fit an equal- or random-effects model, or a meta-regression (metafor's ``rma``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes (model scale) and their sampling variances (> 0).
    method : {"REML", "EE", "FE", "DL", "ML", "PM", "HE", "SJ", "EB", "HS"}
        τ² estimator; ``EE`` (alias ``FE``) is the equal-effects (fixed-effect) model.
    test : {"z", "knha"}
        ``knha``: Hartung-Knapp-Sidik-Jonkman adjustment with a t-distribution on ``k - p`` df.
    mods : array_like or DataFrame, optional
        Moderators (one column each; an intercept is added). A column of text (or a pandas
        Categorical) is a factor: it becomes one dummy variable per level but the first, the
        reference (levels sorted as R's ``factor``, or in the Categorical's order), named
        column name plus level as in R (``"allocrandom"``).
    level : float
        Confidence level in percent for CIs and the prediction interval (a value below 1 is
        read as a proportion, as metafor: ``0.95`` is 95%).
    measure : str, optional
        The effect measure (from :func:`metakit.escalc`), for back-transformation.
    slab : sequence, optional
        Study labels.
    ni : array_like, optional
        Study sizes, needed to back-transform ``PFT`` (harmonic mean, Miller 1978).
    mod_names : sequence of str, optional
        Names of the moderator columns when ``mods`` is an array.
    weights : array_like, optional
        User weights (>= 0) in place of the inverse-variance weights for the model
        coefficients: ``β = (X'AX)⁻¹X'Ay`` with ``Var β = (X'AX)⁻¹X'AMAX(X'AX)⁻¹``,
        ``M = diag(vi + τ²)`` (metafor's ``weights``). τ² is estimated as without them.
    weighted : bool
        ``False`` fits the coefficients by unweighted least squares (``A = I`` above), as
        metafor's ``weighted=FALSE``; τ², Q and I² are unchanged.
    tau2 : float, optional
        Fix τ² at this value (>= 0) instead of estimating it (metafor's ``tau2=``); not with
        an equal-effects ``method``.

    Returns
    -------
    RMAResult
        With ``estimate, se, ci_low, ci_high, pval, tau2, i2, h2, q, q_pval, k``,
        ``pi_low, pi_high``, ``tau2_ci, i2_ci`` (Q-profile) and, for meta-regression,
        ``beta, qm, qm_pval, r2``.

    Notes
    -----
    I² and H² follow metafor: from Q for the equal-effects model, and from τ² and the typical
    within-study variance ``(k - p) / tr(P)`` for random-effects models. The pseudo-R² compares
    τ² with that of the intercept-only model fitted by the same method (Raudenbush, 2009); for
    equal-effects meta-regression it is the adjusted R² of the weighted regression, as in metafor.
    With ``test="knha"`` and user or no weights, the Hartung-Knapp factor comes from the
    inverse-variance fit, as in metafor.

    References
    ----------
    Viechtbauer (2010), doi:10.18637/jss.v036.i03; Higgins & Thompson (2002); Hartung & Knapp
    (2001); Riley et al. (2011).
    """
    method = v.check_choice("method", method, METHODS)
    test = v.check_choice("test", test, ("z", "knha"))
    level = v.check_level(level)
    y, var, labels = v.effects_and_variances(yi, vi, slab)
    k = len(y)
    sizes = None
    if ni is not None:
        sizes = v.as_float_array("ni", ni, labels=labels)
        v.same_length(yi=y, ni=sizes)
    X, names = _design(mods, k, mod_names)
    p = X.shape[1]
    if test == "knha" and k <= p:
        raise ValueError(f"test: 'knha' needs more studies than coefficients (k = {k})")
    user_weights = _check_weights(weights, weighted, X, labels)
    fixed_tau2 = tau2 is not None
    if fixed_tau2:
        if method in FIXED_METHODS:
            raise ValueError(f"tau2: a fixed τ² has no place in an equal-effects model "
                             f"(method {method!r})")
        tau2 = v.check_number("tau2", tau2, minimum=0)
        fit = Tau2Fit(tau2, np.nan, True, "fixed", 0)
    else:
        fit = estimate_tau2(method, y, var, X)
    tau2 = fit.tau2
    w = 1.0 / (var + tau2)
    vb = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = vb @ (X.T @ (w * y))
    rss_knha = float(np.sum(w * (y - X @ beta) ** 2))
    a = w
    if user_weights is not None or not weighted:
        a = user_weights if user_weights is not None else np.ones(k)
        beta = np.linalg.solve(X.T @ (X * a[:, None]), X.T @ (a * y))
        vb = sandwich(X, a, var + tau2)
    if test == "knha":
        vb = vb * (rss_knha / (k - p) if rss_knha > np.finfo(float).eps else 0.0)

    q_df = k - p
    q, typical = cochran_q(y, var, X)
    q_pval = float(special.chdtrc(q_df, q)) if q_df > 0 else 1.0
    if method in FIXED_METHODS:
        i2 = max(0.0, 100 * (q - q_df) / q) if q > 0 else 0.0
        h2 = q / q_df if q_df > 0 else 1.0
    else:
        i2 = 100 * tau2 / (typical + tau2) if q_df > 0 else 0.0
        h2 = tau2 / typical + 1 if q_df > 0 else 1.0

    qm = qm_pval = np.nan
    if p > 1:
        b = beta[1:]
        qm = float(b @ np.linalg.solve(vb[1:, 1:], b))
        if test == "knha":
            qm /= p - 1
            qm_pval = float(stats.f.sf(qm, p - 1, k - p))
        else:
            qm_pval = float(stats.chi2.sf(qm, p - 1))

    return RMAResult(
        yi=y, vi=var, X=X, method=method, test=test, level=level, measure=measure,
        slab=labels or [str(i + 1) for i in range(k)], beta=beta, vb=vb, tau2=tau2,
        tau2_se=fit.se, q=q, q_df=q_df, q_pval=q_pval, i2=i2, h2=h2, qm=qm, qm_pval=qm_pval,
        converged=fit.converged, solver=fit.solver, ni=sizes, mod_names=names,
        weights=100 * a / a.sum(), custom_weights=user_weights, weighted=bool(weighted),
        tau2_fixed=fixed_tau2)


def sandwich(X: NDArray[np.float64], a: NDArray[np.float64],
             m: NDArray[np.float64]) -> NDArray[np.float64]:
    """``Var β = (X'AX)⁻¹ X'AMAX (X'AX)⁻¹`` for weights ``a`` and variances ``m`` (diagonal);
    with ``a = 1/m`` it is the inverse-variance ``(X'MX)⁻¹``."""
    AX = X * a[:, None]
    bread = np.linalg.inv(X.T @ AX)
    return bread @ (AX.T @ (AX * m[:, None])) @ bread


def _check_weights(weights: ArrayLike | None, weighted: Any, X: NDArray[np.float64],
                   labels: Sequence[str] | None) -> NDArray[np.float64] | None:
    """User weights: finite, >= 0, one per study, enough of them positive to fit ``X``."""
    if not isinstance(weighted, (bool, np.bool_)):
        raise ValueError(f"weighted: must be True or False, got {v.quote(weighted)}")
    if weights is None:
        return None
    if not weighted:
        raise ValueError("weights: user weights are not used with weighted=False; give one")
    a = v.as_float_array("weights", weights, labels=labels)
    v.same_length(yi=X[:, 0], weights=a)
    v.check_positive("weights", a, labels=labels, strict=False)
    v.check_magnitude("weights", a, labels=labels)
    if np.linalg.matrix_rank(X[a > 0]) < X.shape[1]:
        raise ValueError("weights: too few studies with a positive weight to fit the model")
    return a


def _weighted_adjusted_r2(y: NDArray, X: NDArray, beta: NDArray, w: NDArray) -> float:
    """Adjusted R² (percent, floored at 0) of the weighted regression, as metafor for EE models."""
    fitted = X @ beta
    centre = np.sum(w * fitted) / w.sum()
    explained = np.sum(w * (fitted - centre) ** 2)
    residual = np.sum(w * (y - fitted) ** 2)
    k, p = X.shape
    r2 = explained / (explained + residual)
    return max(0.0, 100 * (1 - (1 - r2) * (k - 1) / (k - p)))


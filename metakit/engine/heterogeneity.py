"""Estimators of the between-study variance τ², their standard errors, and the Q-profile CI.

The estimators follow the equations of R's ``metafor::rma.uni`` so that results agree with it.
Each is written once, against two models of the data that share one interface:
:class:`_Intercept` (intercept-only models: one meta-analysis, or one a row of a batch, in sums
over the studies) and :class:`_Design` (one meta-regression, through a thin QR decomposition).
Every quantity an estimator reads (weighted residuals, ``tr P``, ``tr PP``, ``y'PPy``) costs
O(k) for the intercept model and O(k p²) with moderators; no k × k matrix is formed. A single
:func:`metakit.rma` fit without moderators and thousands of fits in :func:`metakit.rma_batch`
run the same code.

Inside, variances are divided by their mean and effects by its square root, so the estimators
work on numbers near 1 whatever the units (τ² is equivariant under that change; it is scaled
back on the way out).

References
----------
DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical
Trials, 7(3), 177-188.
Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors. Journal of Research
of the National Bureau of Standards, 87(5), 377-385.
Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
Sidik, K., & Jonkman, J. N. (2005). Simple heterogeneity variance estimation for meta-analysis.
JRSS C, 54(2), 367-384.
Morris, C. N. (1983). Parametric empirical Bayes inference. JASA, 78(381), 47-55.
Hunter, J. E., & Schmidt, F. L. (2004). Methods of Meta-Analysis. Sage.
Biggerstaff, B. J., & Tweedie, R. L. (1997). Incorporating variability in estimates of
heterogeneity in the random effects model in meta-analysis. Statistics in Medicine, 16(7),
753-768.
Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261-293.
Viechtbauer, W. (2007). Confidence intervals for the amount of heterogeneity in
meta-analysis. Statistics in Medicine, 26(1), 37-52.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

FIXED_METHODS = ("EE", "FE")
RANDOM_METHODS = ("DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS")
METHODS = FIXED_METHODS + RANDOM_METHODS
RTOL = 1e-10  # the iterations stop when a step changes τ² by less than this fraction of it
MAXITER = 50  # Newton steps before the bracketing root finder takes over (regular rows take <30)
_WIDENINGS = 60  # tenfold widenings of a bracket (upper end up to 1e61 mean variances)
_HALVINGS = 2200  # halvings of a step to keep τ² >= 0 (enough to underflow any finite step)
_LL_TOL = 1e-6  # ML/REML: τ² = 0 is taken when its log-likelihood is higher by more than this
_BLOCK = 1 << 15  # values in a block of batch rows: temporaries stay small enough to be reused

Array = NDArray[np.float64]


class Tau2Fit(NamedTuple):
    """τ² of one model, its standard error, and how it was found.

    ``solver`` is ``"closed-form"``, ``"newton"`` (the iterative estimators) or ``"bracketing"``
    (the root finder that takes over when the iterations do not converge).
    """

    tau2: float
    se: float
    converged: bool
    solver: str
    iterations: int


class RowsFit(NamedTuple):
    """The intercept-only model fitted to every row of a batch."""

    tau2: Array
    tau2_se: Array  # NaN for equal-effects methods and rows with one study
    converged: NDArray[np.bool_]
    estimate: Array
    variance: Array  # of the estimate: 1 / Σw
    rss: Array  # Σ w (y - estimate)² at τ² (for Hartung-Knapp)
    q: Array  # Cochran's Q (at τ² = 0)
    typical: Array  # (k - 1) / tr P at τ² = 0 (NaN for rows with one study)


# ------------------------------------------------------------------------ the data models
class _Model:
    """What every estimator reads: scaled effects ``y`` and variances ``v``.

    A model holds one meta-analysis (``single``: 1-D arrays, per-model sums are scalars) or one
    per row (2-D arrays, sums are arrays with one entry a row). ``unit`` is 1 for the studies
    present, ``v0`` the variances with 0 for absent studies (whose ``v`` is inf: weight 0).
    """

    single: bool
    y: Array
    v: Array
    v0: Array
    unit: Array
    k: Any
    p: int
    scale: Any
    m: int
    _fixed_fit: Any = None

    def dot(self, a: Array, b: Array) -> Any:
        """Inner products of the studies' values (one a row; einsum needs no temporary array
        and no BLAS threads)."""
        return a @ b if self.single else np.einsum("ij,ij->i", a, b)

    def total(self, a: Array) -> Any:
        return np.add.reduce(a) if self.single else np.einsum("ij->i", a)

    def col(self, x: Any) -> Any:
        """A per-model value broadcast against the studies."""
        return x if self.single else x[:, None]

    def zeros(self) -> Array:
        return np.zeros(self.m)

    def weights(self, tau2: Any) -> Array:
        return 1.0 / (self.v + self.col(tau2))

    def fixed_fit(self) -> _InterceptFit | _DesignFit:
        """The fit at τ² = 0 (kept: Q, DL, HS and the ML/REML boundary check all read it)."""
        if self._fixed_fit is None:
            self._fixed_fit = self.fit(1.0 / self.v)
        return self._fixed_fit

    def log_weights(self, w: Array) -> Any:
        """``Σ log w`` over the studies present."""
        if self.single:
            return np.add.reduce(np.log(w))
        return self.total(np.log(w, out=np.zeros_like(w), where=self.unit > 0))

    def take(self, idx: NDArray[np.intp]) -> _Model:
        return self  # one meta-analysis: the only row is the one asked for

    def where(self, position: int) -> str:
        return ""


class _Intercept(_Model):
    """Intercept-only models: one meta-analysis, or one a row of a padded 2-D batch."""

    p = 1

    def __init__(self, y: Array, v: Array, unit: Array, v0: Array, k: Any, scale: Any,
                 rows: NDArray[np.intp] | None) -> None:
        self.y, self.v, self.unit, self.v0, self.k, self.scale = y, v, unit, v0, k, scale
        self.single = y.ndim == 1
        self.m = 1 if self.single else len(y)
        self.rows = rows  # indices into the caller's rows (2-D)

    @classmethod
    def one(cls, y: Array, v: Array) -> _Intercept:
        k = np.float64(len(y))
        scale = np.add.reduce(v) / k
        vs = v / scale
        return cls(y / np.sqrt(scale), vs, np.ones(len(y)), vs, k, scale, None)

    @classmethod
    def padded(cls, y0: Array, v0: Array, present: NDArray[np.bool_] | None, k: Array,
               rows: NDArray[np.intp]) -> _Intercept:
        """Rows of a 2-D batch: the ``k`` studies ``present`` (None: all) and absent ones, whose
        ``y0`` and ``v0`` are 0; ``rows`` numbers the rows in the batch."""
        inv_scale = k / np.einsum("ij->i", v0)
        vs = v0 * inv_scale[:, None]
        ys = y0 * np.sqrt(inv_scale)[:, None]
        if present is None:
            return cls(ys, vs, np.ones_like(vs), vs, k, 1 / inv_scale, rows)
        return cls(ys, np.where(present, vs, np.inf), present.astype(float), vs, k,
                   1 / inv_scale, rows)

    def take(self, idx: NDArray[np.intp]) -> _Model:
        if self.single:
            return self
        return _Intercept(self.y[idx], self.v[idx], self.unit[idx], self.v0[idx], self.k[idx],
                          self.scale[idx], self.rows[idx])

    def fit(self, w: Array) -> _InterceptFit:
        return _InterceptFit(self, w)

    def where(self, position: int) -> str:
        return "" if self.single else f" (row {int(self.rows[position])})"


class _Design(_Model):
    """One meta-regression with design ``X`` (first column the intercept)."""

    single = True
    m = 1

    def __init__(self, y: Array, v: Array, X: Array) -> None:
        self.k, self.p = np.float64(X.shape[0]), X.shape[1]
        self.scale = np.add.reduce(v) / self.k
        self.y = (y - np.add.reduce(y) / self.k) / np.sqrt(self.scale)
        self.v = self.v0 = v / self.scale
        self.unit = np.ones(X.shape[0])
        self.X = X

    def fit(self, w: Array) -> _DesignFit:
        return _DesignFit(self, w)


class _InterceptFit:
    """Weighted least-squares fit of the intercept (leverages ``h = w / Σw``, computed when
    first read, as are the residuals)."""

    __slots__ = ("model", "w", "sw", "mu", "_h", "_resid", "_rss", "_traces")

    def __init__(self, model: _Model, w: Array) -> None:
        self.model, self.w = model, w
        self.sw = model.total(w)
        self.mu = model.dot(w, model.y) / self.sw
        self._h = self._resid = self._rss = self._traces = None

    @property
    def h(self) -> Array:
        if self._h is None:
            self._h = self.w * self.model.col(1 / self.sw)
        return self._h

    @property
    def resid(self) -> Array:
        if self._resid is None:
            self._resid = self.model.y - self.model.col(self.mu)
        return self._resid

    def rss(self) -> Any:
        """``Σ w (y - ŷ)² = y'Py``, the generalised Q."""
        if self._rss is None:
            self._rss = self.model.dot(self.w * self.resid, self.resid)
        return self._rss

    def trace(self, a: Array, b: Array) -> Any:
        """``tr(M A M B)`` for diagonal A, B and ``M = I - H`` (H the hat matrix of ``W½X``)."""
        dot = self.model.dot
        return dot(a * b, 1 - 2 * self.h) + dot(a, self.h) * dot(b, self.h)

    def traces(self) -> tuple[Any, Any]:
        """``tr P`` and ``tr PP`` (``P = W½ M W½``) from ``Σw``, ``Σw²`` and ``Σw³``."""
        if self._traces is None:
            dot = self.model.dot
            sw2 = dot(self.w, self.w)
            mean_w = sw2 / self.sw
            self._traces = (self.sw - mean_w,
                            sw2 - 2 * dot(self.w * self.w, self.w) / self.sw + mean_w**2)
        return self._traces

    def quad(self, u: Array) -> Any:
        """``u' P u`` with ``P = W - W X (X'WX)⁻¹ X'W``."""
        dot = self.model.dot
        return dot(self.w * u, u) - dot(self.w, u) ** 2 / self.sw

    def logdet(self) -> Any:
        """``log det(X'WX)``."""
        return np.log(self.sw)


class _DesignFit:
    """Weighted least-squares fit of a meta-regression through a thin QR of ``W½X``."""

    __slots__ = ("w", "sw", "h", "resid", "_basis", "_sqrt_w", "_r")

    def __init__(self, model: _Design, w: Array) -> None:
        self.w, self.sw = w, np.add.reduce(w)
        self._sqrt_w = np.sqrt(w)
        self._basis, self._r = np.linalg.qr(model.X * self._sqrt_w[:, None])
        self.h = np.einsum("ij,ij->i", self._basis, self._basis)
        beta = np.linalg.solve(self._r, self._basis.T @ (self._sqrt_w * model.y))
        self.resid = model.y - model.X @ beta

    def rss(self) -> float:
        return (self.w * self.resid) @ self.resid

    def trace(self, a: Array, b: Array) -> float:
        U = self._basis
        ua, ub = U.T @ (U * a[:, None]), U.T @ (U * b[:, None])
        return (a * b) @ (1 - 2 * self.h) + np.sum(ua * ub)

    def traces(self) -> tuple[float, float]:
        return self.w @ (1 - self.h), self.trace(self.w, self.w)

    def quad(self, u: Array) -> float:
        z = self._sqrt_w * u
        zu = self._basis.T @ z
        return z @ z - zu @ zu

    def logdet(self) -> float:
        return 2 * np.sum(np.log(np.abs(np.diag(self._r))))


# ------------------------------------------------------------------------- the estimators
def _any(mask: Any) -> bool:
    """``mask.any()``, without numpy's reduction machinery for a single model's scalar."""
    return bool(mask) if mask.ndim == 0 else bool(mask.any())


def _all(mask: Any) -> bool:
    return bool(mask) if mask.ndim == 0 else bool(mask.all())


def _checked(values: Any, model: _Model, method: str) -> Any:
    """``values`` if all finite; otherwise a ValueError naming the row (never a NaN or a hang)."""
    finite = np.isfinite(values)
    if not _all(finite):
        bad = np.flatnonzero(~finite)
        what = ("the Q-profile interval for τ² cannot be computed" if method == "Q-profile"
                else f"τ² cannot be estimated by {method}")
        raise ValueError(
            f"yi, vi: {what}{model.where(int(bad[0]))}: the effect sizes are too far apart, "
            "relative to their sampling variances, to compute with")
    return values


def _hedges(model: _Model) -> tuple[Any, Any, _InterceptFit | _DesignFit]:
    """Hedges' estimate (not truncated), ``tr(MV)`` and the ordinary least-squares fit."""
    fit = model.fit(model.unit)
    trace_mv = model.dot(model.v0, 1 - fit.h)
    return (fit.rss() - trace_mv) / (model.k - model.p), trace_mv, fit


def _closed_form(method: str, model: _Model) -> tuple[Any, Any]:
    """DL, HS, HE and SJ: τ² (truncated at 0) and metafor's ``se.tau2`` (scaled units).

    Each estimator is a quadratic form ``y'Ay`` in the effects, so its variance under the
    random-effects model is ``2 tr(AΣAΣ)`` with ``Σ = V + τ²I`` (Biggerstaff & Tweedie, 1997),
    evaluated at the estimate as metafor does.
    """
    kp = model.k - model.p
    if method == "HE":
        tau2, trace_mv, fit = _hedges(model)
        tau2 = np.maximum(0.0, tau2)
        var = 2 * fit.trace(model.v0, model.v0) + 4 * tau2 * trace_mv + 2 * tau2**2 * kp
        return tau2, np.sqrt(var) / kp
    if method == "SJ":
        tau0 = _InterceptFit(model, model.unit).rss() / model.k  # Σ (y - ȳ)² / k, as metafor
        w = model.weights(tau0)
        fit = model.fit(w)
        tau2 = np.maximum(0.0, tau0 * fit.rss() / kp)
        wv = w * model.v0
        var = (2 * fit.trace(wv, wv) + 4 * tau2 * fit.trace(w, wv)
               + 2 * tau2**2 * fit.trace(w, w))
        return tau2, tau0 / kp * np.sqrt(var)
    fit = model.fixed_fit()
    trace_p, trace_pp = fit.traces()
    denominator = trace_p if method == "DL" else fit.sw
    tau2 = np.maximum(0.0, (fit.rss() - (kp if method == "DL" else model.k)) / denominator)
    var = 2 * kp + 4 * tau2 * trace_p + 2 * tau2**2 * trace_pp
    return tau2, np.sqrt(var) / denominator


def _score_step(method: str, model: _Model, tau2: Array) -> tuple[Any, Any]:
    """Estimating equation at ``tau2`` (positive below the root) and the Newton step to it.

    REML and ML: the score ``y'PPy - tr P`` (ML: ``- Σw``) divided by the observed information
    where that is positive, else by the expected (Fisher scoring, as metafor). EB and PM share
    the equation ``Q(τ²) = k - p`` (Viechtbauer, 2005), whose slope is ``-y'PPy``; where that
    is 0 (all residuals 0) metafor's EB scoring step, with ``Σw``, is taken.
    """
    dot = model.dot
    w = model.weights(tau2)
    fit = model.fit(w)
    u = w * fit.resid  # P y
    yppy = dot(u, u)
    if method in ("EB", "PM"):
        score = dot(u, fit.resid) - (model.k - model.p)  # Q(τ²) - (k - p)
        return score, score / np.where(yppy > 0, yppy, fit.sw)
    if method == "ML":
        score, fisher = yppy - fit.sw, dot(w, w)
    else:
        trace_p, fisher = fit.traces()
        score = yppy - trace_p
    observed = 2 * fit.quad(u) - fisher
    return score, score / (fisher + (observed - fisher) * (observed > 0))


def _shorten(method: str, model: _Model, current: Array, step: Any,
             negative: NDArray[np.bool_]) -> tuple[Array, Any, NDArray[np.bool_]]:
    """Steps that would make τ² negative: to the boundary τ² = 0 where the estimating equation is
    not positive there (the maximum is on it), else halved until τ² stays >= 0 (as metafor)."""
    boundary = negative & (current == 0)
    check = np.flatnonzero(negative & ~boundary)
    if check.size:
        sub = model.take(check)
        flat = _checked(_score_step(method, sub, np.zeros(check.size))[0], sub, method) <= 0
        if model.single:
            boundary = boundary | flat
        else:
            boundary[check] = flat
    halve = negative & ~boundary
    new = current + step
    for _ in range(_HALVINGS):
        if not halve.any():
            break
        step = np.where(halve, step / 2, step)
        new = current + step
        halve &= new < 0
    return np.where(boundary, 0.0, new), step, boundary


def _iterate(method: str, model: _Model,
             start: Array) -> tuple[Array, NDArray[np.bool_], NDArray[np.intp]]:
    """Newton iterations from ``start`` for every row at once.

    They stop when a step changes τ² by less than :data:`RTOL` of it, or at τ² = 0 when the
    maximum is on the boundary (see :func:`_shorten`). Finished rows are dropped from the
    arrays once they are half of them; for a single model the state is scalar.
    """
    m = model.m
    tau2 = np.zeros(m)
    converged = np.zeros(m, dtype=bool)
    iterations = np.full(m, MAXITER, dtype=np.intp)
    active, sub, current = np.arange(m), model, np.maximum(start, 0.0)
    live: Any = True if model.single else np.ones(m, dtype=bool)  # rows of sub still iterating
    for iteration in range(1, MAXITER + 1):
        step = _checked(_score_step(method, sub, current)[1], sub, method)
        if not model.single:
            step = np.where(live, step, 0.0)  # finished rows stay where they are
        new = current + step
        negative = new < 0
        if _any(negative):
            new, step, boundary = _shorten(method, sub, current, step, negative)
            done = (boundary | (np.abs(step) <= RTOL * new)) & live
        else:
            done = (np.abs(step) <= RTOL * new) & live
        if _any(done):
            tau2[active] = np.where(done, new, tau2[active])
            iterations[active] = np.where(done, iteration, iterations[active])
            converged[active] |= done
            live = live & ~done
            if not _any(live):
                return tau2, converged, iterations
            if np.count_nonzero(live) <= len(active) // 2:
                keep = np.flatnonzero(live)
                active, sub, new, live = active[keep], sub.take(keep), new[keep], live[keep]
        current = new
    tau2[active] = np.where(live, current, tau2[active])
    return tau2, converged, iterations


def _bracketing(method: str, model: _Model) -> tuple[Array, NDArray[np.bool_]]:
    """Root of the estimating equation on ``[0, upper]`` for every row at once (0 if none).

    The upper end is widened tenfold until the equation is negative there; the root is then
    found by Chandrupatla's bracketing method (:func:`scipy.optimize.elementwise.find_root`).
    """
    from scipy.optimize import elementwise

    m = model.m
    tau2, converged = np.zeros(m), np.ones(m, dtype=bool)
    score0 = _checked(_score_step(method, model, np.zeros(m))[0], model, method)
    inside = np.flatnonzero(np.zeros(m) + score0 > 0)
    if not inside.size:
        return tau2, converged
    sub = model.take(inside)
    upper = np.full(inside.size, 10.0)
    for _ in range(_WIDENINGS):
        above = np.broadcast_to(_checked(_score_step(method, sub, upper)[0], sub, method) >= 0,
                                upper.shape)
        if not np.any(above):
            break
        upper = np.where(above, upper * 10, upper)
    else:
        converged[inside[above]] = False

    def score(x: Array, rows: NDArray[np.intp]) -> Array:
        return np.broadcast_to(_score_step(method, sub.take(rows), x)[0], x.shape)

    found = elementwise.find_root(score, (np.zeros(inside.size), upper),
                                  args=(np.arange(inside.size),),
                                  tolerances={"xrtol": RTOL / 100})
    tau2[inside] = found.x
    converged[inside] &= found.success
    return tau2, converged


def _log_likelihood(method: str, model: _Model, fit: _InterceptFit | _DesignFit) -> Any:
    """ML or REML log-likelihood of the (scaled) model at a fit's τ², up to a constant."""
    ll = 0.5 * model.log_weights(fit.w) - 0.5 * fit.rss()
    return ll - 0.5 * fit.logdet() if method == "REML" else ll


def _iterative_se(method: str, model: _Model, fit: _InterceptFit | _DesignFit) -> Any:
    """metafor's ``se.tau2`` at a fit's τ²: inverse Fisher information (ML, REML); for EB and
    PM ``sqrt(2 k² / (k - p)) / Σw`` (Morris, 1983)."""
    if method == "ML":
        return np.sqrt(2 / model.dot(fit.w, fit.w))
    if method == "REML":
        return np.sqrt(2 / fit.traces()[1])
    return np.sqrt(2 * model.k**2 / (model.k - model.p)) / fit.sw


class _Estimates(NamedTuple):
    tau2: Array
    se: Array
    converged: NDArray[np.bool_]
    bracketed: NDArray[np.bool_]
    iterations: NDArray[np.intp]


def _finish(method: str, model: _Model, tau2: Array,
            converged: NDArray[np.bool_]) -> tuple[Array, Any]:
    """The iterative estimators' last checks: τ² = 0 for ML and REML where the likelihood is
    higher there (as metafor), and the standard error at the final τ² (scaled units)."""
    fit = model.fit(model.weights(tau2))
    if method in ("ML", "REML"):
        at_zero = _log_likelihood(method, model, model.fixed_fit())
        flat = converged & (tau2 > 0) & (at_zero - _log_likelihood(method, model, fit) > _LL_TOL)
        if _any(flat):
            tau2 = np.where(flat, 0.0, tau2)
            fit = model.fit(model.weights(tau2))
    return tau2, _iterative_se(method, model, fit)


def _estimate(method: str, model: _Model, bracket: bool = True) -> _Estimates:
    """τ², its standard error and convergence for every row of ``model`` (each with k > p).

    With ``bracket=False`` the rows the iterations leave unconverged are left so (the caller
    brackets them, all together).
    """
    m = model.m
    bracketed = np.zeros(m, dtype=bool)
    if method in ("DL", "HS", "HE", "SJ"):
        tau2, se = _closed_form(method, model)
        _checked(tau2, model, method)
        return _Estimates(np.zeros(m) + tau2 * model.scale, np.zeros(m) + se * model.scale,
                          np.ones(m, dtype=bool), bracketed, np.zeros(m, dtype=np.intp))
    start = _checked(_hedges(model)[0], model, method)  # metafor's starting value
    tau2, converged, iterations = _iterate(method, model, start)
    if bracket and not converged.all():
        bracketed = ~converged
        rows = np.flatnonzero(bracketed)
        tau2[rows], converged[rows] = _bracketing(method, model.take(rows))
    tau2, se = _finish(method, model, tau2, converged)
    return _Estimates(tau2 * model.scale, np.zeros(m) + se * model.scale, converged, bracketed,
                      iterations)


def _model(y: Array, v: Array, X: Array) -> _Model:
    return _Intercept.one(y, v) if X.shape[1] == 1 else _Design(y, v, X)


def estimate_tau2(method: str, y: Array, v: Array, X: Array) -> Tau2Fit:
    """Estimate τ² and its standard error with ``method``; 0 (SE NaN) for fixed-effect methods.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    y, v : ndarray, shape (k,)
        Effect sizes and sampling variances.
    X : ndarray, shape (k, p)
        Design matrix, first column the intercept (``p < k``).

    Returns
    -------
    Tau2Fit
        The iterative estimators (REML, ML, EB, PM) start at the Hedges estimate, as metafor,
        and take Newton steps (Fisher scoring where the observed information is not positive)
        until a step changes τ² by less than 1e-10 of it; if that fails within 100 steps, the
        root of the estimating equation is bracketed instead and ``solver`` says so. For ML and
        REML, τ² = 0 is taken when the likelihood is higher there. The standard error is
        metafor's ``se.tau2`` for every method.

    References
    ----------
    Viechtbauer (2005); Biggerstaff & Tweedie (1997); metafor's ``rma.uni``.
    """
    k, p = X.shape
    if method in FIXED_METHODS or k <= p:
        return Tau2Fit(0.0, np.nan, True, "closed-form", 0)
    fit = _estimate(method, _model(y, v, X))
    solver = ("closed-form" if method in ("DL", "HS", "HE", "SJ")
              else "bracketing" if fit.bracketed[0] else "newton")
    return Tau2Fit(float(fit.tau2[0]), float(fit.se[0]), bool(fit.converged[0]), solver,
                   int(fit.iterations[0]))


def _cochran(model: _Model) -> tuple[Any, Any]:
    """Q at τ² = 0 and the typical within-study variance ``(k - p) / tr P`` (scaled units)."""
    fit = model.fixed_fit()
    return fit.rss(), (model.k - model.p) / fit.traces()[0]


def cochran_q(y: Array, v: Array, X: Array) -> tuple[float, float]:
    """Cochran's Q (of the residuals, with moderators) and the typical within-study variance.

    The typical variance is ``(k - p) / tr P`` at τ² = 0 (Higgins & Thompson, 2002, as
    generalised in metafor), from which I² and H² are computed; NaN when ``k <= p``.
    """
    k, p = X.shape
    if k <= p:
        return 0.0, np.nan
    model = _model(y, v, X)
    q, typical = _cochran(model)
    return max(0.0, float(q)), float(typical * model.scale)


def _pool(model: _Intercept, tau2: Array, out: dict[str, Array]) -> None:
    """The pooled estimate, its variance and (if ``out`` has room for it) the weighted residual
    sum of squares at ``tau2`` (original units) for the rows of ``model``."""
    fit = model.fit(model.weights(tau2 / model.scale)) if tau2.any() else model.fixed_fit()
    rows = model.rows
    out["estimate"][rows] = np.sqrt(model.scale) * fit.mu
    out["variance"][rows] = model.scale / fit.sw
    if "rss" in out:
        out["rss"][rows] = fit.rss()


def fit_rows(method: str, y0: Array, v0: Array, present: NDArray[np.bool_] | None,
             k: NDArray[np.int64], rss: bool = False) -> RowsFit:
    """The intercept-only model with τ² by ``method`` fitted to every row of ``y0``, ``v0``.

    ``present`` marks the ``k`` studies of each row (None: all of them); absent ones have
    ``y0 = v0 = 0``. Rows with one study get τ² = 0. The estimators are those of
    :func:`estimate_tau2`, run on blocks of rows at once; the rows the iterations leave
    unconverged are bracketed together. ``rss`` (for Hartung-Knapp) is computed only when asked
    for (else NaN).
    """
    m, width = y0.shape
    k = k.astype(float)
    out = {"tau2": np.zeros(m), "tau2_se": np.full(m, np.nan), "estimate": np.empty(m),
           "variance": np.empty(m), "q": np.zeros(m), "typical": np.full(m, np.nan)}
    if rss:
        out["rss"] = np.empty(m)
    converged = np.ones(m, dtype=bool)
    pending = []
    size = max(1, _BLOCK // width)
    for first in range(0, m, size):
        part = slice(first, first + size)
        block = _Intercept.padded(y0[part], v0[part], None if present is None else present[part],
                                  k[part], np.arange(m)[part])
        multi = np.flatnonzero(block.k > 1)
        if multi.size:
            sub = block if multi.size == block.m else block.take(multi)
            q, typical = _cochran(sub)
            out["q"][sub.rows], out["typical"][sub.rows] = np.maximum(0.0, q), typical * sub.scale
            if method not in FIXED_METHODS:
                fit = _estimate(method, sub, bracket=False)
                out["tau2"][sub.rows], out["tau2_se"][sub.rows] = fit.tau2, fit.se
                converged[sub.rows] = fit.converged
                pending.append(sub.rows[~fit.converged])
        _pool(block, out["tau2"][part], out)
    rows = np.concatenate(pending) if pending else np.empty(0, dtype=np.intp)
    if rows.size:
        sub = _Intercept.padded(y0[rows], v0[rows], None if present is None else present[rows],
                                k[rows], rows)
        tau2, converged[rows] = _bracketing(method, sub)
        tau2, se = _finish(method, sub, tau2, converged[rows])
        out["tau2"][rows], out["tau2_se"][rows] = tau2 * sub.scale, se * sub.scale
        _pool(sub, out["tau2"][rows], out)
    return RowsFit(converged=converged, rss=out.pop("rss", np.full(m, np.nan)), **out)


def qprofile_ci(y: Array, v: Array, X: Array, level: float = 95) -> tuple[float, float]:
    """Q-profile confidence interval for τ² (Viechtbauer, 2007).

    The bounds solve ``Q(τ²) = χ²`` quantiles with ``k - p`` degrees of freedom by Brent's
    method; each evaluation of Q costs O(k) (O(k p²) with moderators), with no k × k matrix. A
    bound whose equation has no non-negative root is 0 (the interval may be ``(0, 0)``).
    """
    from scipy import optimize, stats

    k, p = X.shape
    if k - p < 1:
        return (np.nan, np.nan)
    model = _model(y, v, X)

    def q(tau2: float) -> float:
        return float(_checked(model.fit(model.weights(tau2)).rss(), model, "Q-profile"))

    q0 = q(0.0)

    def bound(crit: float) -> float:
        if q0 <= crit:
            return 0.0
        upper = 10.0
        for _ in range(_WIDENINGS):
            if q(upper) <= crit:
                break
            upper *= 10
        else:
            raise ValueError("yi, vi: the Q-profile bound for τ² is beyond 1e61 times the mean "
                             "sampling variance")
        root = optimize.brentq(lambda t: q(t) - crit, 0.0, upper, xtol=1e-300, rtol=1e-12)
        return float(root * model.scale)

    alpha = 1 - level / 100
    return (bound(stats.chi2.isf(alpha / 2, k - p)), bound(stats.chi2.ppf(alpha / 2, k - p)))

"""Checks that printed rows (studies or subgroups) agree with the printed pooled results.

Each row's estimate and CI give, on the model scale, an interval for its effect ``y_i`` and,
from the CI width, an interval for its standard error ``s_i``, so its inverse-variance weight
``w_i = 1 / s_i²`` lies in ``[1 / s_hi², 1 / s_lo²]``. The pooled quantities are then bounded by
monotonicity arguments given in each function; where an exact range would need a hard
optimisation the bound is widened, never narrowed, so a contradiction is declared only when no
true values inside the rounding intervals reproduce the printed summary.

References
----------
Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009). Introduction to
Meta-Analysis, chapters 11, 12 and 19. Wiley.
DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical
Trials, 7(3), 177-188.
Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2022). Analysing data and undertaking
meta-analyses. Cochrane Handbook for Systematic Reviews of Interventions, chapter 10.
Altman, D. G., & Bland, J. M. (2003). Interaction revisited: the difference between two
estimates. BMJ, 326, 219.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from metakit.audit._core import (
    Impossible,
    Scale,
    impossible_is_inconsistent,
    Check,
    Printed,
    check_level,
    check_scale,
    critical_value,
    fmt_range,
    from_model,
    interval_check,
    make_check,
    overlaps,
    parse_optional,
    parse_sequence,
    se_interval,
    to_model,
    weighted_mean_range,
)

MODELS = ("fixed", "random-DL")
# Up to this many rows the maximum of Q is found exactly over all corners of the box.
_MAX_EXACT_ROWS = 16


@dataclass(frozen=True)
class _Rows:
    """Model-scale boxes of the rows' effects and standard errors."""

    y_low: NDArray[np.float64]
    y_high: NDArray[np.float64]
    se_low: NDArray[np.float64]
    se_high: NDArray[np.float64]
    percent: bool

    @property
    def w_low(self) -> NDArray[np.float64]:
        return 1 / self.se_high**2

    @property
    def w_high(self) -> NDArray[np.float64]:
        return 1 / self.se_low**2


def _per_row(scale: Scale | Sequence[Scale], k: int) -> list[Scale]:
    """One validated scale per row."""
    if isinstance(scale, (list, tuple)):
        if len(scale) != k:
            raise ValueError(f"scale: {len(scale)} scales for {k} rows")
        return [check_scale(s) for s in scale]
    return [check_scale(scale)] * k


def _read_rows(estimates: Sequence[str], ci_lows: Sequence[str], ci_highs: Sequence[str],
               scale: Scale | Sequence[Scale], crit: float, what: str,
               ses: Sequence[float | None] | None = None) -> _Rows | str:
    """Parse the rows; return the reason as a string when they cannot be checked.

    ``scale`` is one scale for all rows or one per row (Freeman-Tukey subgroups each have their
    own harmonic mean size). ``ses`` gives a known model-scale standard error for some rows
    (``None`` for the others); such a row's CI is not read.
    """
    columns = {"estimates": parse_sequence("estimates", estimates),
               "ci_lows": parse_sequence("ci_lows", ci_lows),
               "ci_highs": parse_sequence("ci_highs", ci_highs)}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"estimates: arguments differ in length: {detail}")
    if lengths["estimates"] == 0:
        raise ValueError("estimates: no rows given")
    scales = _per_row(scale, lengths["estimates"])
    known = _known_ses(ses, lengths["estimates"])
    boxes: list[tuple[tuple[float, float], tuple[float, float]]] = []
    percent = False
    for i, (est, low, high) in enumerate(zip(*columns.values())):
        if est is None or (known[i] is None and (low is None or high is None)):
            return f"{what} {i + 1} has no estimate or CI"
        e = to_model(f"estimates[{i}]", est, scales[i])
        if known[i] is None:
            se = se_interval(to_model(f"ci_lows[{i}]", low, scales[i]),
                             to_model(f"ci_highs[{i}]", high, scales[i]), crit)
        else:
            se = (known[i], known[i])
        if not all(math.isfinite(x) for x in (*e, *se)) or se[0] <= 0:
            shown = f"{est.text}, {low.text} to {high.text}" if low and high else est.text
            return f"{what} {i + 1} ({shown}) is printed too coarsely to give it a weight"
        boxes.append((e, se))
        percent = percent or est.percent
    array = np.array(boxes)
    return _Rows(array[:, 0, 0], array[:, 0, 1], array[:, 1, 0], array[:, 1, 1], percent)


def _known_ses(ses: Sequence[float | None] | None, k: int) -> list[float | None]:
    """One known standard error (or ``None``) per row, validated."""
    if ses is None:
        return [None] * k
    if isinstance(ses, (str, bytes)) or len(ses) != k:
        raise ValueError(f"ses: expected {k} standard errors (or None), got {ses!r}"[:120])
    for i, se in enumerate(ses):
        if se is not None and (isinstance(se, bool) or not isinstance(se, (int, float))
                               or not math.isfinite(se) or se <= 0):
            raise ValueError(f"ses[{i}]: a standard error must be a number > 0, got {se!r}")
    return [None if se is None else float(se) for se in ses]


def _q_min(y_low: NDArray[np.float64], y_high: NDArray[np.float64],
           w: NDArray[np.float64]) -> float:
    """Exact minimum over the y box of ``Q = sum w (y - weighted mean)²`` for fixed ``w``.

    ``Q = min_m sum w_i (y_i - m)²``, so its minimum over the box is
    ``min_m sum w_i d_i(m)²`` with ``d_i(m)`` the distance from ``m`` to row i's interval: a
    convex piecewise quadratic in ``m`` whose pieces end at the interval ends. On each piece the
    minimiser has a closed form; the smallest value over all pieces is the exact minimum.
    """

    def total(m: float) -> float:
        d = np.maximum(y_low - m, 0) + np.maximum(m - y_high, 0)
        return float(np.sum(w * d**2))

    knots = np.unique(np.concatenate([y_low, y_high]))
    best = min(total(float(m)) for m in knots)
    for a, b in zip(knots[:-1], knots[1:]):
        mid = (a + b) / 2
        below, above = y_low > mid, y_high < mid
        weight = np.sum(w[below]) + np.sum(w[above])
        if weight > 0:
            m = (np.sum(w[below] * y_low[below]) + np.sum(w[above] * y_high[above])) / weight
            best = min(best, total(float(np.clip(m, a, b))))
    return best


def _q_max(y_low: NDArray[np.float64], y_high: NDArray[np.float64],
           w: NDArray[np.float64]) -> float:
    """Maximum over the y box of Q for fixed ``w``: exact up to 16 rows, an upper bound beyond.

    Q is a convex quadratic in ``y``, so its maximum over a box is at a corner; up to
    ``2**16`` corners are enumerated. For more rows,
    ``Q(y) <= sum w_i max(|y_low_i - m|, |y_high_i - m|)²`` for every ``m`` (Q is the minimum
    over ``m``), which bounds the maximum from above (a conservative widening).
    """
    k = len(w)
    if k <= _MAX_EXACT_ROWS:
        corners = (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1
        y = np.where(corners.astype(bool), y_high[None, :], y_low[None, :])
        mean = (y @ w) / np.sum(w)
        return float(np.max(((y - mean[:, None]) ** 2) @ w))
    centre = (y_low + y_high) / 2
    m = float(np.sum(w * centre) / np.sum(w))
    far = np.maximum(np.abs(y_low - m), np.abs(y_high - m))
    return float(np.sum(w * far**2))


def _q_range(rows: _Rows) -> tuple[float, float]:
    """Range of Cochran's Q over the rows' boxes.

    ``Q = min_m sum w_i (y_i - m)²`` is a minimum of functions increasing in every ``w_i``, so
    Q is non-decreasing in each weight: its minimum takes the smallest weights and its maximum
    the largest, leaving an optimisation over ``y`` only (:func:`_q_min`, :func:`_q_max`).
    """
    return (_q_min(rows.y_low, rows.y_high, rows.w_low),
            _q_max(rows.y_low, rows.y_high, rows.w_high))


def _dl_weights(rows: _Rows) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                      tuple[float, float]]:
    """Boxes of the DerSimonian-Laird random-effects weights ``1 / (s_i² + τ²)``, and of τ².

    ``τ² = max(0, (Q - df) / C)`` with ``C = sum w - sum w² / sum w``, which increases in every
    ``w_i``; with Q in its range (:func:`_q_range`) and C between its values at the smallest and
    largest weights, ``τ²`` lies in ``[max(0, (Q_min - df) / C_max), max(0, (Q_max - df) /
    C_min)]``. Each weight is then bounded by its values at the ends of its variance and of
    ``τ²``. Treating the weights as independent ignores that they share ``τ²``: a widening.
    """
    df = len(rows.y_low) - 1

    def c_of(w: NDArray[np.float64]) -> float:
        return float(np.sum(w) - np.sum(w**2) / np.sum(w))

    q_low, q_high = _q_range(rows)
    c_low, c_high = c_of(rows.w_low), c_of(rows.w_high)
    tau2_low = max(0.0, (q_low - df) / c_high) if c_high > 0 else 0.0
    tau2_high = max(0.0, (q_high - df) / c_low) if c_low > 0 else 0.0
    w_low = 1 / (rows.se_high**2 + tau2_high)
    w_high = 1 / (rows.se_low**2 + tau2_low)
    return w_low, w_high, (tau2_low, tau2_high)


def _model_weights(rows: _Rows, model: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if model == "fixed":
        return rows.w_low, rows.w_high
    w_low, w_high, _ = _dl_weights(rows)
    return w_low, w_high


def _z_critical(scale: Scale, level: float, model: str | None = None) -> float:
    """The normal critical value of a pooling check's rows, after validating its arguments."""
    check_scale(scale)
    if model is not None:
        _check_model(model)
    return critical_value(check_level(level), "z", None)


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"model: unknown value {model!r}; choose one of {', '.join(MODELS)}")
    return model


def _read_summary(summary: Sequence[str], scale: Scale) -> tuple[list[Printed], list[
        tuple[float, float]]] | None:
    if isinstance(summary, str) or not isinstance(summary, Sequence) or len(summary) != 3:
        raise ValueError(f"summary: expected (estimate, ci_low, ci_high) as printed, got "
                         f"{summary!r}")
    names = ("summary estimate", "summary ci_low", "summary ci_high")
    printed = [parse_optional(name, value) for name, value in zip(names, summary)]
    if any(p is None for p in printed):
        return None
    kept = [p for p in printed if p is not None]
    boxes = [to_model(name, p, scale) for name, p in zip(names, kept)]
    if not all(math.isfinite(x) for box in boxes for x in box):
        return None
    return kept, boxes


def _pool_check(name: str, rows: _Rows | str, summary: Sequence[str],
                w_low: NDArray[np.float64] | None, w_high: NDArray[np.float64] | None,
                weights: Sequence[str] | None, scale: Scale, crit: float, how: str,
                inputs: Mapping[str, object], label: str) -> Check:
    """Compare the pooled range of the rows with a printed summary (estimate, CI).

    Necessary conditions, each checked exactly over its box: the printed estimate and the centre
    of the printed CI lie in the range of the weighted mean (:func:`weighted_mean_range`); the SE
    implied by the printed CI lies in ``[1 / sqrt(sum w_high), 1 / sqrt(sum w_low)]``; and, with
    printed weights, the estimate lies in the range of the mean weighted by them.
    """
    if isinstance(rows, str):
        return make_check(name, inputs, None, "not_checkable", f"Not checkable: {rows}.", label)
    read = _read_summary(summary, scale)
    if read is None:
        return make_check(name, inputs, None, "not_checkable",
                          "Not checkable: the summary estimate or CI is missing or printed too "
                          "coarsely to place on the model scale.", label)
    assert w_low is not None and w_high is not None
    (est, low, high), (e, lo, hi) = read
    mean = weighted_mean_range(rows.y_low, rows.y_high, w_low, w_high)
    shown = (from_model(mean[0], scale, rows.percent), from_model(mean[1], scale, rows.percent))
    se = (1 / math.sqrt(np.sum(w_high)), 1 / math.sqrt(np.sum(w_low)))
    printed_se = se_interval(lo, hi, crit)
    centre = ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2)
    printed = f"{est.text} ({low.text} to {high.text})"
    lead = f"Pooling the {len(rows.y_low)} {how} gives {fmt_range(shown, 4)} given rounding"
    failure = None
    if not overlaps(mean, e):
        failure = f"{lead}, not the printed estimate {est.text}"
    elif not overlaps(mean, centre):
        failure = f"{lead}, but the printed CI {low.text} to {high.text} is not centred there"
    elif not overlaps(se, printed_se):
        failure = (f"{lead} with a standard error of {fmt_range(se)}, but the printed CI "
                   f"{low.text} to {high.text} implies {fmt_range(printed_se)}")
    elif weights is not None:
        failure = _weights_mean_failure(rows, weights, e, est)
    if failure is not None:
        return make_check(name, inputs, shown, "inconsistent", failure + ".", label)
    return make_check(name, inputs, shown, "consistent",
                      f"{lead}, which matches the printed {printed}.", label)


def _weights_mean_failure(rows: _Rows, weights: Sequence[str], e: tuple[float, float],
                          est: Printed) -> str | None:
    """Whether the printed weights, used as pooling weights, reproduce the summary estimate."""
    printed = parse_sequence("weights", weights)
    if len(printed) != len(rows.y_low):
        raise ValueError(f"weights: {len(printed)} weights for {len(rows.y_low)} rows")
    if any(w is None for w in printed):
        return None
    low = np.array([max(w.low, 0.0) for w in printed if w is not None])
    high = np.array([w.high for w in printed if w is not None])
    if np.any(high <= 0):
        return None
    mean = weighted_mean_range(rows.y_low, rows.y_high, np.maximum(low, 1e-300), high)
    if overlaps(mean, e):
        return None
    return (f"The rows averaged with their printed weights give "
            f"{fmt_range((mean[0], mean[1]), 4)} on the model scale, not the printed estimate "
            f"{est.text}")


@impossible_is_inconsistent
def rows_pool_to_summary(estimates: Sequence[str], ci_lows: Sequence[str],
                         ci_highs: Sequence[str], summary: Sequence[str], *,
                         weights: Sequence[str] | None = None, model: str = "fixed",
                         scale: Scale = "linear", level: float = 95, label: str = "") -> Check:
    """Check that per-study rows (estimate and CI) pool to the printed summary.

    The summary is the inverse-variance weighted mean ``sum w y / sum w`` with ``w = 1 / s²``
    (``model="fixed"``) or ``w = 1 / (s² + τ²)`` with DerSimonian-Laird's ``τ²`` computed from
    the same rows (``model="random-DL"``), and its CI is ``mean ± c / sqrt(sum w)``. The
    weighted mean is increasing in every ``y`` and linear-fractional in the weights, so its range
    over the boxes is exact (the heaviest weights on the smallest values for the minimum, see
    :func:`metakit.audit._core.weighted_mean_range`); ``sum w`` is monotone in every weight. For
    DerSimonian-Laird, ``τ²`` is bounded through the range of Q and the weights are bounded
    independently, a widening (see :func:`_dl_weights`). The check requires the printed
    estimate and the centre of the printed CI to lie in the range of the pooled mean and the SE
    implied by the printed CI to lie in the range of ``1 / sqrt(sum w)``. With ``weights``
    (percent, as printed), the printed estimate must also be reachable as the mean of the rows
    weighted by them, whatever the model.

    Parameters
    ----------
    estimates, ci_lows, ci_highs : sequence of str
        The rows as printed, on the display scale.
    summary : (str, str, str)
        The printed summary estimate, lower and upper CI limit.
    weights : sequence of str, optional
        The rows' printed weights in percent.
    model : {"fixed", "random-DL"}
        Inverse-variance fixed effect, or DerSimonian-Laird random effects with a z-based CI.
    scale : {"linear", "log", "logit", "arcsine"}
        The model scale.
    level : float
        Confidence level of every CI, in percent.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of the pooled estimate on the display scale.

    Notes
    -----
    Mantel-Haenszel and Peto pooling, and other τ² estimators, are not covered; for them only
    the weights-based condition holds, and only approximately.

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical
    Trials, 7(3), 177-188.
    Borenstein, M., et al. (2009). Introduction to Meta-Analysis, chapters 11 and 12. Wiley.
    """
    crit = _z_critical(scale, level, model)
    inputs = {"estimates": estimates, "ci_lows": ci_lows, "ci_highs": ci_highs,
              "summary": summary, "weights": weights, "model": model, "scale": scale}
    if weights is None:
        del inputs["weights"]
    rows = _read_rows(estimates, ci_lows, ci_highs, scale, crit, "row")
    w_low, w_high = (None, None) if isinstance(rows, str) else _model_weights(rows, model)
    how = ("rows by inverse-variance fixed effect" if model == "fixed"
           else "rows by DerSimonian-Laird random effects")
    return _pool_check("rows_pool_to_summary", rows, summary, w_low, w_high, weights, scale,
                       crit, how, inputs, label)


@impossible_is_inconsistent
def subgroups_pool_to_overall(estimates: Sequence[str], ci_lows: Sequence[str],
                              ci_highs: Sequence[str], overall_est: str, overall_lo: str,
                              overall_hi: str, *, scale: Scale = "linear", level: float = 95,
                              label: str = "") -> Check:
    """Check that subgroup summaries pool, by fixed-effect inverse variance, to the overall result.

    This holds when the paper's overall result is the fixed-effect pool of the studies and the
    subgroups are fixed-effect pools too (the overall fixed-effect estimate equals the
    fixed-effect pool of the subgroup estimates); for a random-effects overall result it does
    not hold, and the explanation states the assumption. The interval reasoning is that of
    :func:`rows_pool_to_summary` with ``model="fixed"``, the subgroups playing the rows.

    Parameters
    ----------
    estimates, ci_lows, ci_highs : sequence of str
        The subgroup summaries as printed.
    overall_est, overall_lo, overall_hi : str
        The printed overall estimate and CI.
    scale, level, label
        As in :func:`rows_pool_to_summary`.

    Returns
    -------
    Check
        ``recomputed`` is the range of the pooled estimate on the display scale.

    References
    ----------
    Borenstein, M., et al. (2009). Introduction to Meta-Analysis, chapter 19. Wiley.
    """
    crit = _z_critical(scale, level)
    inputs = {"estimates": estimates, "ci_lows": ci_lows, "ci_highs": ci_highs,
              "overall_est": overall_est, "overall_lo": overall_lo, "overall_hi": overall_hi,
              "scale": scale}
    rows = _read_rows(estimates, ci_lows, ci_highs, scale, crit, "subgroup")
    w_low, w_high = (None, None) if isinstance(rows, str) else (rows.w_low, rows.w_high)
    how = ("subgroup summaries by fixed-effect inverse variance (assuming the paper pooled "
           "them that way)")
    return _pool_check("subgroups_pool_to_overall", rows, (overall_est, overall_lo, overall_hi),
                       w_low, w_high, None, scale, crit, how, inputs, label)


@impossible_is_inconsistent
def subgroup_difference(estimates: Sequence[str], ci_lows: Sequence[str],
                        ci_highs: Sequence[str], p: str, *,
                        scale: Scale | Sequence[Scale] = "linear", level: float = 95,
                        ses: Sequence[float | None] | None = None, label: str = "") -> Check:
    """Check the printed test of subgroup differences against the subgroup summaries.

    The test (as RevMan and R's meta report it) is Cochran's Q between subgroups,
    ``Q_b = sum w_g (y_g - ybar)²`` with ``w_g = 1 / s_g²`` from each subgroup's estimate and
    CI, referred to chi-square with ``G - 1`` degrees of freedom. Q_b is non-decreasing in every
    weight (it is the minimum over ``m`` of ``sum w_g (y_g - m)²``), so its minimum takes the
    smallest weights and its maximum the largest. Over the estimates, the minimum is found
    exactly by minimising the convex piecewise quadratic ``sum w_g d_g(m)²`` (distance from m to
    each estimate's interval) piece by piece, and the maximum, Q_b being convex in the
    estimates, by enumerating the corners of the box (up to 16 subgroups; beyond, a
    conservative upper bound). The p-value decreases in Q_b, so its range is
    ``[sf(Q_max), sf(Q_min)]``; the check is ``consistent`` if and only if it meets the printed
    p's interval. This is exact, so no numerical optimiser can miss the extremes.

    Parameters
    ----------
    estimates, ci_lows, ci_highs : sequence of str
        The subgroup summaries as printed (two or more).
    p : str
        The printed p-value of the test for subgroup differences.
    scale : str, FreemanTukey or sequence of them
        The model scale, or one per subgroup: pooled proportions on the Freeman-Tukey scale
        need each subgroup's harmonic mean size, e.g. ``[FreemanTukey(12.4), FreemanTukey(5)]``.
    ses : sequence of float or None, optional
        A known model-scale standard error per subgroup (``None`` where the CI gives it). A
        subgroup of one study whose printed CI is not a Wald interval (Stata's ``metaprop``
        shows a single study's Wilson interval) enters with its own SE, e.g. the
        Freeman-Tukey ``sqrt(1 / (4 n + 2))``
        (:func:`metakit.audit.freeman_tukey.ft_subgroup_difference`).
    level, label
        As in :func:`rows_pool_to_summary`.

    Returns
    -------
    Check
        ``recomputed`` is the range of the p-value.

    References
    ----------
    Borenstein, M., et al. (2009). Introduction to Meta-Analysis, chapter 19. Wiley.
    Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2022). Cochrane Handbook, section 10.11.3.
    Altman, D. G., & Bland, J. M. (2003). Interaction revisited: the difference between two
    estimates. BMJ, 326, 219.

    Examples
    --------
    >>> subgroup_difference(["6.36", "5.85"], ["6.20", "5.39"], ["6.51", "6.31"],
    ...                     "0.041").verdict
    'consistent'
    """
    level = check_level(level)
    crit = critical_value(level, "z", None)
    inputs = {"estimates": estimates, "ci_lows": ci_lows, "ci_highs": ci_highs, "p": p,
              "scale": scale}
    if not isinstance(estimates, str) and isinstance(estimates, Sequence) and len(estimates) < 2:
        raise ValueError(f"estimates: at least two subgroups are needed, got {len(estimates)}")
    rows = _read_rows(estimates, ci_lows, ci_highs, scale, crit, "subgroup", ses)
    printed_p = parse_optional("p", p)
    if isinstance(rows, str) or printed_p is None:
        reason = rows if isinstance(rows, str) else "no p-value printed"
        return make_check("subgroup_difference", inputs, None, "not_checkable",
                          f"Not checkable: {reason}.", label)
    p_box = (max(printed_p.low, 0.0), min(printed_p.high, 1.0))
    if p_box[0] > p_box[1]:
        raise Impossible(f"p {printed_p.text} is not a probability between 0 and 1")
    df = len(rows.y_low) - 1
    q = _q_range(rows)
    p_range = (float(special.chdtrc(df, q[1])), float(special.chdtrc(df, q[0])))
    lead = (f"From the {df + 1} subgroup estimates and CIs, the test of subgroup differences "
            f"gives Q = {fmt_range(q)} on {df} degree{'s' if df > 1 else ''} of freedom, p = "
            f"{fmt_range(p_range, 2)} given rounding")
    return interval_check("subgroup_difference", inputs, p_range, p_box, lead,
                          f"p = {printed_p.text}", label,
                          domain=(0.0, 1.0))


@impossible_is_inconsistent
def row_weights(estimates: Sequence[str], ci_lows: Sequence[str], ci_highs: Sequence[str],
                weights: Sequence[str], *, total: str = "100", model: str = "fixed",
                scale: Scale = "linear", level: float = 95, label: str = "") -> Check:
    """Check each printed weight against the inverse-variance weight implied by its row.

    Row i's weight is ``total × w_i / sum_j w_j``, increasing in ``w_i`` and decreasing in the
    other weights, so over the weight boxes it ranges exactly over
    ``[total × lo_i / (lo_i + sum_{j≠i} hi_j), total × hi_i / (hi_i + sum_{j≠i} lo_j)]``, with
    ``total`` itself a printed interval. ``total`` is 100 for a plain forest plot, or the
    subgroup's printed share when the weights of a subgroup's rows are percentages of the whole
    plot under a fixed-effect model. Rows without a printed weight are skipped. For
    DerSimonian-Laird weights the bounds of :func:`_dl_weights` are used (a widening).

    Parameters
    ----------
    estimates, ci_lows, ci_highs : sequence of str
        The rows as printed.
    weights : sequence of str
        The printed weights in percent.
    total : str
        The printed percentage these rows share (default ``"100"``, taken as exact).
    model, scale, level, label
        As in :func:`rows_pool_to_summary`.

    Returns
    -------
    Check
        ``recomputed`` is ``None``; the explanation names the rows that disagree.

    References
    ----------
    Borenstein, M., et al. (2009). Introduction to Meta-Analysis, chapters 11 and 12. Wiley.
    """
    crit = _z_critical(scale, level, model)
    inputs = {"estimates": estimates, "ci_lows": ci_lows, "ci_highs": ci_highs,
              "weights": weights, "total": total, "model": model, "scale": scale}
    total_box = _total_box(total)
    rows = _read_rows(estimates, ci_lows, ci_highs, scale, crit, "row")
    printed = parse_sequence("weights", weights)
    if isinstance(rows, str):
        return make_check("row_weights", inputs, None, "not_checkable",
                          f"Not checkable: {rows}.", label)
    if len(printed) != len(rows.y_low):
        raise ValueError(f"weights: {len(printed)} weights for {len(rows.y_low)} rows")
    w_low, w_high = _model_weights(rows, model)
    disagree: list[str] = []
    checked = 0
    for i, weight in enumerate(printed):
        if weight is None:
            continue
        checked += 1
        low = total_box[0] * w_low[i] / (w_low[i] + np.sum(w_high) - w_high[i])
        high = total_box[1] * w_high[i] / (w_high[i] + np.sum(w_low) - w_low[i])
        if not overlaps((low, high), weight.interval):
            disagree.append(f"row {i + 1} printed {weight.text}% but its CI implies "
                            f"{fmt_range((low, high))}%")
    if checked == 0:
        return make_check("row_weights", inputs, None, "not_checkable",
                          "Not checkable: no weights printed.", label)
    if disagree:
        return make_check("row_weights", inputs, None, "inconsistent",
                          f"{len(disagree)} of {checked} printed weights cannot come from "
                          f"their rows' CIs: {'; '.join(disagree[:3])}"
                          f"{'; ...' if len(disagree) > 3 else ''}.", label)
    return make_check("row_weights", inputs, None, "consistent",
                      f"All {checked} printed weights agree, within rounding, with the "
                      f"inverse-variance weights implied by their rows' CIs.", label)


def _total_box(total: str) -> tuple[float, float]:
    printed = Printed.parse(total, name="total")
    if printed.value <= 0 or printed.value > 100:
        raise ValueError(f"total: {printed.text!r} must be a percentage in (0, 100]")
    if printed.value == 100:
        return (100.0, 100.0)
    return (printed.low, printed.high)


def weights_sum(weights: Sequence[str], *, total: str = "100", label: str = "") -> Check:
    """Check that printed weights sum to their total (100%) within rounding.

    Each weight stands for an interval of half a unit in its last digit either way; their sum
    lies in ``[sum of lower ends, sum of upper ends]`` (exact for a sum), and the check is
    ``consistent`` if and only if that interval meets the total's (100 is exact; a subgroup
    share such as ``"89.62"`` is a printed interval). Rows without a printed weight are skipped.

    Parameters
    ----------
    weights : sequence of str
        The printed weights in percent.
    total : str
        The total they should reach (default ``"100"``).
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of the sum.

    References
    ----------
    Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test: a simple technique detects
    numerous anomalies in the reporting of results in psychology. Social Psychological and
    Personality Science, 8(4), 363-369.
    """
    inputs = {"weights": weights, "total": total}
    total_box = _total_box(total)
    printed = [w for w in parse_sequence("weights", weights) if w is not None]
    if not printed:
        return make_check("weights_sum", inputs, None, "not_checkable",
                          "Not checkable: no weights printed.", label)
    interval = (math.fsum(w.low for w in printed), math.fsum(w.high for w in printed))
    decimals = max(0, *(w.decimals or 0 for w in printed))
    value = math.fsum(w.value for w in printed)
    lead = (f"The {len(printed)} printed weights sum to {value:.{decimals}f} "
            f"({interval[0]:.{decimals + 1}f} to {interval[1]:.{decimals + 1}f} given rounding)")
    if overlaps(interval, total_box):
        return make_check("weights_sum", inputs, interval, "consistent",
                          f"{lead}, which matches the total of {total}%.", label)
    return make_check("weights_sum", inputs, interval, "inconsistent",
                      f"{lead}, which cannot reach {total}%.", label)

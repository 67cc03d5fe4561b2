"""Checks of one printed estimate with its confidence interval: symmetry, p-value and z.

A Wald-type confidence interval is ``estimate ± c × SE`` on the model scale (log for ratios), so
the printed estimate, CI and p-value (or z) are tied together: the CI is symmetric about the
estimate, its width gives the standard error, and ``estimate / SE`` gives the test statistic.
Each check propagates the rounding interval of every printed number (see :class:`Printed`).

References
----------
Altman, D. G., & Bland, J. M. (2011). How to obtain the P value from a confidence interval. BMJ,
343, d2304.
Altman, D. G., & Bland, J. M. (2011). How to obtain the confidence interval from a P value. BMJ,
343, d2090.
Nuijten, M. B., Hartgerink, C. H. J., van Assen, M. A. L. M., Epskamp, S., & Wicherts, J. M.
(2016). The prevalence of statistical reporting errors in psychology (1985-2013). Behavior
Research Methods, 48(4), 1205-1226.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from scipy import special

from metakit.audit._core import (
    FreemanTukey,
    Impossible,
    impossible_is_inconsistent,
    Scale,
    Check,
    Printed,
    check_dist,
    check_level,
    check_scale,
    contains,
    critical_value,
    fmt,
    fmt_range,
    from_model,
    interval_check,
    make_check,
    overlaps,
    parse_optional,
    se_interval,
    to_model,
)

_SCALE_WORDS = {"linear": "", "log": "On the log scale, ", "logit": "On the logit scale, ",
                "arcsine": "On the arcsine scale, "}
_NULL = {"linear": "0", "log": "1"}


def _no_null_on(scale: Scale) -> None:
    """p and z test a null effect, which a pooled proportion on the Freeman-Tukey scale lacks."""
    if isinstance(scale, FreemanTukey):
        raise ValueError("scale: a p-value or z of a pooled proportion tests no null effect; "
                         "use ci_symmetry or the subgroup checks on the Freeman-Tukey scale")


@dataclass(frozen=True)
class _CI:
    """Printed estimate and CI, and their intervals on the model scale."""

    estimate: Printed
    low: Printed
    high: Printed
    e: tuple[float, float]
    lo: tuple[float, float]
    hi: tuple[float, float]


def _read_ci(name: str, estimate: object, ci_low: object, ci_high: object, scale: Scale,
             inputs: Mapping[str, object], label: str) -> _CI | Check:
    """Parse an estimate and CI, or return the check's early verdict.

    Early verdicts: ``not_checkable`` when a value is missing or a bound is too coarse to place
    on the model scale (an odds ratio printed ``0.00``); ``inconsistent`` when the CI bounds are
    reversed or the CI cannot contain its estimate for any true values.
    """
    check_scale(scale)
    printed = {"estimate": parse_optional("estimate", estimate),
               "ci_low": parse_optional("ci_low", ci_low),
               "ci_high": parse_optional("ci_high", ci_high)}
    missing = [key for key, value in printed.items() if value is None]
    if missing:
        return make_check(name, inputs, None, "not_checkable",
                          f"Not checkable: {' and '.join(missing)} not printed.", label)
    est, low, high = printed["estimate"], printed["ci_low"], printed["ci_high"]
    assert est is not None and low is not None and high is not None
    e, lo, hi = (to_model(key, p, scale) for key, p in (("estimate", est), ("ci_low", low),
                                                          ("ci_high", high)))
    ci_text = f"{low.text} to {high.text}"
    if lo[0] > hi[1] and not contains(hi, lo[0]):
        return make_check(name, inputs, None, "inconsistent",
                          f"The lower CI limit {low.text} is above the upper limit {high.text}.",
                          label)
    if (e[1] < lo[0] and not contains(lo, e[1])) or (e[0] > hi[1] and not contains(hi, e[0])):
        return make_check(name, inputs, None, "inconsistent",
                          f"The estimate {est.text} lies outside its own confidence interval "
                          f"{ci_text}, which no rounding can explain.", label)
    if not all(math.isfinite(x) for x in (*e, *lo, *hi)):
        return make_check(name, inputs, None, "not_checkable",
                          f"Not checkable: the estimate {est.text} or CI {ci_text} is printed "
                          f"too coarsely to place on the {scale} scale.", label)
    return _CI(est, low, high, e, lo, hi)


@impossible_is_inconsistent
def ci_symmetry(estimate: str, ci_low: str, ci_high: str, *, scale: Scale = "linear",
                label: str = "") -> Check:
    """Check that a confidence interval is symmetric about its estimate on the model scale.

    A Wald interval is ``estimate ± c × SE`` on the model scale (``log`` for RR, OR and HR,
    ``linear`` for MD and SMD, ``logit`` or ``arcsine`` for proportions), so the true values
    satisfy ``2 × estimate = lower + upper`` there. The transforms are increasing, so each
    printed rounding interval maps to an interval on the model scale, and the centre
    ``(lower + upper) / 2`` ranges over ``[(l1 + h1) / 2, (l2 + h2) / 2]``; it is a sum of
    independent terms, so this range is exact. The check is ``consistent`` if and only if that
    range meets the estimate's interval, i.e. some true values inside the rounding intervals form
    a symmetric CI. A CI that cannot contain its estimate is ``inconsistent`` with its own
    explanation.

    Parameters
    ----------
    estimate, ci_low, ci_high : str
        The numbers as printed, on the display scale (ratios as ratios, proportions as fractions
        or with ``%``).
    scale : {"linear", "log", "logit", "arcsine"}
        The model scale on which the interval was computed.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of the CI centre, back-transformed to the display scale.

    Notes
    -----
    Intervals that are not Wald-type (exact or Wilson intervals for proportions, profile
    likelihood, Freeman-Tukey back-transformations) are legitimately asymmetric; do not apply
    this check to them.

    References
    ----------
    Altman, D. G., & Bland, J. M. (2011). How to obtain the P value from a confidence interval.
    BMJ, 343, d2304.

    Examples
    --------
    >>> ci_symmetry("0.41", "0.22", "0.78", scale="log").verdict
    'consistent'
    """
    inputs = {"estimate": estimate, "ci_low": ci_low, "ci_high": ci_high, "scale": scale}
    ci = _read_ci("ci_symmetry", estimate, ci_low, ci_high, scale, inputs, label)
    if isinstance(ci, Check):
        return ci
    centre = ((ci.lo[0] + ci.hi[0]) / 2, (ci.lo[1] + ci.hi[1]) / 2)
    shown = (from_model(centre[0], scale, ci.estimate.percent),
             from_model(centre[1], scale, ci.estimate.percent))
    where = (f"On the {scale} scale, " if isinstance(scale, FreemanTukey)
             else _SCALE_WORDS[scale])
    ci_text = f"{ci.low.text} to {ci.high.text}"
    opening = f"{where}the centre" if where else "The centre"
    if overlaps(centre, ci.e):
        return make_check("ci_symmetry", inputs, shown, "consistent",
                          f"{opening} of the CI {ci_text} is {fmt_range(shown)} given rounding, "
                          f"which matches the printed estimate {ci.estimate.text}.", label)
    return make_check("ci_symmetry", inputs, shown, "inconsistent",
                      f"{opening} of the CI {ci_text} must lie between {fmt(shown[0])} and "
                      f"{fmt(shown[1])} given rounding, so the CI is not symmetric about the "
                      f"printed estimate {ci.estimate.text}.", label)


def _statistic_range(ci: _CI, crit: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Ranges of the SE (from the CI width) and of ``|estimate| / SE`` over the boxes.

    ``|e| / SE`` increases in ``|e|`` and decreases in ``SE``, and the SE range
    ``[(h1 - l2), (h2 - l1)] / (2c)`` is exact, so the extremes are at the box corners.
    """
    se = se_interval(ci.lo, ci.hi, crit)
    e_min = 0.0 if ci.e[0] <= 0 <= ci.e[1] else min(abs(ci.e[0]), abs(ci.e[1]))
    e_max = max(abs(ci.e[0]), abs(ci.e[1]))
    stat_low = e_min / se[1]
    stat_high = e_max / se[0] if se[0] > 0 else math.inf
    return se, (stat_low, stat_high)


def _two_sided_p(stat: float, dist: str, df: int | None) -> float:
    if dist == "z":
        return float(2 * special.ndtr(-stat))
    return float(2 * special.stdtr(df, -stat))


def _read_test(name: str, key: str, printed: str, estimate: str, ci_low: str, ci_high: str, *,
               scale: Scale, level: float, dist: str, df: int | None, absent: str, label: str
               ) -> tuple[float, int | None, dict[str, object], _CI, Printed] | Check:
    """The opening of a check of a printed test statistic against a CI: the validated level and
    df, the inputs as recorded, the CI and the printed statistic read; or the early
    ``not_checkable`` check (``absent`` says why when the statistic is not printed)."""
    _no_null_on(scale)
    level = check_level(level)
    df = check_dist(dist, df)
    inputs = {"estimate": estimate, "ci_low": ci_low, "ci_high": ci_high, key: printed,
              "scale": scale, "level": level, "dist": dist if df is None else f"t({df})"}
    ci = _read_ci(name, estimate, ci_low, ci_high, scale, inputs, label)
    if isinstance(ci, Check):
        return ci
    statistic = parse_optional(key, printed)
    if statistic is None:
        return make_check(name, inputs, None, "not_checkable", f"Not checkable: {absent}.", label)
    return level, df, inputs, ci, statistic


@impossible_is_inconsistent
def p_from_ci(estimate: str, ci_low: str, ci_high: str, p: str, *, scale: Scale = "linear",
              level: float = 95, dist: str = "z", df: int | None = None,
              label: str = "") -> Check:
    """Check that a printed p-value agrees with the estimate and its confidence interval.

    Following Altman & Bland (2011), the standard error is the CI width on the model scale over
    ``2 c`` (``c = 1.959964`` for a 95% normal interval, the t quantile with ``df`` degrees of
    freedom when ``dist="t"``), the statistic is ``estimate / SE`` and the two-sided p-value is
    ``2 P(Z > |statistic|)``. ``|estimate| / SE`` is increasing in ``|estimate|`` and decreasing
    in the width, and p is decreasing in ``|statistic|``, so evaluating at the corners of the
    rounding box gives the exact range of p. The check is ``consistent`` if and only if that
    range meets the printed p's interval (``"0.10"`` is [0.095, 0.105], ``"<0.001"`` is
    [0, 0.001], ``"0.000"`` is [0, 0.0005]). The estimate is used as printed; whether it is the
    centre of the CI is :func:`ci_symmetry`'s question.

    Parameters
    ----------
    estimate, ci_low, ci_high : str
        The numbers as printed, on the display scale.
    p : str
        The printed two-sided p-value.
    scale : {"linear", "log", "logit", "arcsine"}
        The model scale.
    level : float
        Confidence level of the CI, in percent.
    dist : {"z", "t"}
        Reference distribution of the test and the CI.
    df : int, optional
        Degrees of freedom, required for ``dist="t"``.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of p.

    References
    ----------
    Altman, D. G., & Bland, J. M. (2011). How to obtain the P value from a confidence interval.
    BMJ, 343, d2304.
    Nuijten, M. B., et al. (2016). The prevalence of statistical reporting errors in psychology
    (1985-2013). Behavior Research Methods, 48(4), 1205-1226.

    Examples
    --------
    >>> p_from_ci("-0.27", "-0.59", "-0.05", "0.10").verdict
    'inconsistent'
    """
    read = _read_test("p_from_ci", "p", p, estimate, ci_low, ci_high, scale=scale, level=level,
                      dist=dist, df=df, absent="no p-value printed", label=label)
    if isinstance(read, Check):
        return read
    level, df, inputs, ci, printed_p = read
    p_box = (max(printed_p.low, 0.0), min(printed_p.high, 1.0))
    if p_box[0] > p_box[1]:
        raise Impossible(f"p {printed_p.text} is not a probability between 0 and 1")
    se, stat = _statistic_range(ci, critical_value(level, dist, df))
    p_range = (_two_sided_p(stat[1], dist, df), _two_sided_p(stat[0], dist, df))
    ci_text = f"{ci.low.text} to {ci.high.text}"
    lead = (f"The {level:g}% CI {ci_text} implies a standard error of {fmt_range(se)}"
            f"{' on the ' + scale + ' scale' if scale != 'linear' else ''}, so the estimate "
            f"{ci.estimate.text} gives a two-sided p of {fmt_range(p_range, 2)}")
    if overlaps(p_range, p_box):
        return make_check("p_from_ci", inputs, p_range, "consistent",
                          f"{lead}, which matches the printed p = {printed_p.text}.", label,
                          domain=(0.0, 1.0))
    alpha = 1 - level / 100
    excludes_null = ci.lo[0] > 0 or ci.hi[1] < 0
    reason = ""
    if scale in _NULL and excludes_null and p_box[0] > alpha:
        reason = (f" (a {level:g}% CI that excludes {_NULL[scale]} means p < {alpha:g})")
    return make_check("p_from_ci", inputs, p_range, "inconsistent",
                      f"{lead}, not the printed p = {printed_p.text}{reason}.", label)


@impossible_is_inconsistent
def z_from_ci(estimate: str, ci_low: str, ci_high: str, z: str, *, scale: Scale = "linear",
              level: float = 95, dist: str = "z", df: int | None = None,
              label: str = "") -> Check:
    """Check that a printed test statistic (Z, or t) agrees with the estimate and its CI.

    The statistic is ``estimate / SE`` with ``SE`` the CI width on the model scale over ``2 c``,
    as in :func:`p_from_ci`; its absolute value is monotone in ``|estimate|`` and in the width,
    so the corners of the rounding box give its exact range. Forest-plot software often prints
    ``Z`` without its sign, so absolute values are compared.

    Parameters
    ----------
    estimate, ci_low, ci_high : str
        The numbers as printed, on the display scale.
    z : str
        The printed statistic.
    scale, level, dist, df, label
        As in :func:`p_from_ci`.

    Returns
    -------
    Check
        ``recomputed`` is the range of ``|statistic|``.

    References
    ----------
    Altman, D. G., & Bland, J. M. (2011). How to obtain the P value from a confidence interval.
    BMJ, 343, d2304.
    """
    read = _read_test("z_from_ci", "z", z, estimate, ci_low, ci_high, scale=scale, level=level,
                      dist=dist, df=df, absent="no test statistic printed", label=label)
    if isinstance(read, Check):
        return read
    level, df, inputs, ci, printed_z = read
    low, high = printed_z.low, printed_z.high
    if low >= 0:
        z_abs = (low, high)
    elif high <= 0:
        z_abs = (-high, -low)
    else:
        z_abs = (0.0, max(-low, high))
    se, stat = _statistic_range(ci, critical_value(level, dist, df))
    symbol = "Z" if dist == "z" else "t"
    lead = (f"The {level:g}% CI {ci.low.text} to {ci.high.text} implies a standard error of "
            f"{fmt_range(se)}, so the estimate {ci.estimate.text} gives |{symbol}| = "
            f"{fmt_range(stat)}")
    return interval_check("z_from_ci", inputs, stat, z_abs, lead,
                          f"{symbol} = {printed_z.text}", label,
                          domain=(0.0, math.inf))

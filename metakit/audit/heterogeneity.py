"""Checks of printed heterogeneity statistics: I² against Q (or Q's p-value), and Q's p-value.

``I² = max(0, (Q - df) / Q) × 100`` is increasing in ``Q`` and Q's p-value is the chi-square upper
tail, decreasing in ``Q``; both are evaluated at the ends of the rounding intervals.

References
----------
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Cochran, W. G. (1954). The combination of estimates from different experiments. Biometrics,
10(1), 101-129.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from scipy import special

from metakit.audit._core import (
    Check,
    Impossible,
    impossible_is_inconsistent,
    Printed,
    check_df,
    fmt_range,
    interval_check,
    make_check,
    parse_optional,
)


def _i2(q: float, df: int) -> float:
    """Higgins & Thompson's I² in percent (0 when ``Q <= df``)."""
    if math.isinf(q):
        return 100.0
    return 0.0 if q <= df else 100.0 * (q - df) / q


def _i2_box(name: str, i2: object) -> tuple[Printed, tuple[float, float]] | None:
    printed = parse_optional(name, i2)
    if printed is None:
        return None
    box = (max(printed.low, 0.0), min(printed.high, 100.0))
    if box[0] > box[1] or printed.value > 100:
        raise Impossible(f"I² {printed.text} is not a percentage between 0 and 100")
    return printed, box


def _p_box(name: str, p: object) -> tuple[Printed, tuple[float, float]] | None:
    printed = parse_optional(name, p)
    if printed is None:
        return None
    box = (max(printed.low, 0.0), min(printed.high, 1.0))
    if box[0] > box[1] or printed.value > 1:
        raise Impossible(f"{name} {printed.text} is not a probability between 0 and 1")
    return printed, box


def _q_box(q: object) -> tuple[Printed, tuple[float, float]] | None:
    printed = parse_optional("q", q)
    if printed is None:
        return None
    if printed.value < 0:
        raise Impossible(f"Q {printed.text} is negative, as a sum of squares cannot be")
    return printed, (max(printed.low, 0.0), printed.high)


def _not_checkable(name: str, inputs: Mapping[str, object], missing: list[str],
                   label: str) -> Check:
    return make_check(name, inputs, None, "not_checkable",
                      f"Not checkable: {' and '.join(missing)} not printed.", label)


@impossible_is_inconsistent
def i2_from_q(q: str, df: int, i2: str, *, label: str = "") -> Check:
    """Check that a printed I² agrees with the printed Q and its degrees of freedom.

    ``I² = max(0, (Q - df) / Q) × 100`` (Higgins & Thompson 2002) is continuous and
    non-decreasing in ``Q``, so the I² of the printed Q's rounding interval ``[q1, q2]`` is
    exactly ``[I²(q1), I²(q2)]``; the check is ``consistent`` if and only if it meets the
    printed I²'s interval. ``df`` is ``k - 1`` (a count, taken as exact).

    Parameters
    ----------
    q : str
        Cochran's Q as printed.
    df : int
        Its degrees of freedom.
    i2 : str
        I² as printed, in percent (``"44%"`` or ``"44"``).
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of I² in percent.

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    Statistics in Medicine, 21(11), 1539-1558.

    Examples
    --------
    >>> i2_from_q("12.00", 4, "67%").verdict
    'consistent'
    """
    df = check_df("df", df)
    inputs = {"q": q, "df": df, "i2": i2}
    q_read, i2_read = _q_box(q), _i2_box("i2", i2)
    missing = [n for n, v in (("Q", q_read), ("I²", i2_read)) if v is None]
    if q_read is None or i2_read is None:
        return _not_checkable("i2_from_q", inputs, missing, label)
    (q_printed, q_box), (i2_printed, i2_box) = q_read, i2_read
    recomputed = (_i2(q_box[0], df), _i2(q_box[1], df))
    lead = (f"With Q = {q_printed.text} on {df} degrees of freedom, I² = (Q − df)/Q is "
            f"{fmt_range(recomputed)}% given rounding")
    return interval_check("i2_from_q", inputs, recomputed, i2_box, lead,
                          f"{i2_printed.text}", label,
                          domain=(0.0, 100.0))


@impossible_is_inconsistent
def i2_from_pval(q_pval: str, df: int, i2: str, *, label: str = "") -> Check:
    """Check that a printed I² agrees with the p-value of the heterogeneity test.

    Forest plots often print I² and Q's p-value but not Q. Q is recovered as the chi-square
    upper quantile of the p-value with ``df`` degrees of freedom, a decreasing function, so the
    p's rounding interval ``[p1, p2]`` gives ``Q`` in ``[Q(p2), Q(p1)]`` (``Q(0)`` is infinite)
    and, I² being non-decreasing in Q, ``I²`` in ``[I²(Q(p2)), I²(Q(p1))]``. The check is
    ``consistent`` if and only if this range meets the printed I²'s interval.

    Parameters
    ----------
    q_pval : str
        The heterogeneity p-value as printed.
    df : int
        Degrees of freedom of Q (``k - 1``).
    i2 : str
        I² as printed, in percent.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of I² in percent.

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    Statistics in Medicine, 21(11), 1539-1558.
    """
    df = check_df("df", df)
    inputs = {"q_pval": q_pval, "df": df, "i2": i2}
    p_read, i2_read = _p_box("q_pval", q_pval), _i2_box("i2", i2)
    missing = [n for n, v in (("Q's p-value", p_read), ("I²", i2_read)) if v is None]
    if p_read is None or i2_read is None:
        return _not_checkable("i2_from_pval", inputs, missing, label)
    (p_printed, p_box), (i2_printed, i2_box) = p_read, i2_read
    q_range = (float(special.chdtri(df, p_box[1])), float(special.chdtri(df, p_box[0])))
    recomputed = (_i2(q_range[0], df), _i2(q_range[1], df))
    lead = (f"A heterogeneity p = {p_printed.text} on {df} degrees of freedom means Q = "
            f"{fmt_range(q_range)}, so I² = {fmt_range(recomputed)}% given rounding")
    return interval_check("i2_from_pval", inputs, recomputed, i2_box, lead,
                          f"{i2_printed.text}", label,
                          domain=(0.0, 100.0))


@impossible_is_inconsistent
def q_pval(q: str, df: int, p: str, *, label: str = "") -> Check:
    """Check that the printed p-value of Cochran's Q agrees with Q and its degrees of freedom.

    The p-value is the chi-square upper tail ``P(χ²_df > Q)``, decreasing in ``Q``, so the
    printed Q's rounding interval ``[q1, q2]`` gives p in ``[sf(q2), sf(q1)]`` exactly; the
    check is ``consistent`` if and only if this meets the printed p's interval.

    Parameters
    ----------
    q : str
        Cochran's Q as printed.
    df : int
        Its degrees of freedom (``k - 1``).
    p : str
        The printed p-value.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of the p-value.

    References
    ----------
    Cochran, W. G. (1954). The combination of estimates from different experiments.
    Biometrics, 10(1), 101-129.
    """
    df = check_df("df", df)
    inputs = {"q": q, "df": df, "p": p}
    q_read, p_read = _q_box(q), _p_box("p", p)
    missing = [n for n, v in (("Q", q_read), ("its p-value", p_read)) if v is None]
    if q_read is None or p_read is None:
        return _not_checkable("q_pval", inputs, missing, label)
    (q_printed, q_box), (p_printed, p_box) = q_read, p_read
    recomputed = (float(special.chdtrc(df, q_box[1])), float(special.chdtrc(df, q_box[0])))
    lead = (f"Q = {q_printed.text} on {df} degrees of freedom gives p = "
            f"{fmt_range(recomputed, 2)} given rounding")
    return interval_check("q_pval", inputs, recomputed, p_box, lead,
                          f"p = {p_printed.text}", label,
                          domain=(0.0, 1.0))


def df_range(i2: str, q_pval: str, *, max_df: int = 200) -> tuple[int, int] | None:
    """Degrees of freedom of Q that agree with a printed I² and heterogeneity p-value.

    For each ``df`` from 1 to ``max_df``, :func:`i2_from_pval` decides whether the printed pair
    is possible; the smallest and largest such ``df`` are returned (the set is an interval in
    practice, as I² at fixed p rises with df), or ``None`` when none fits. When a paper prints
    the number of studies k but not df, this says how many rows the analysis must have had
    (``df + 1``): more than k means a study entered more than once.

    Parameters
    ----------
    i2, q_pval : str
        I² (percent) and the heterogeneity p-value as printed.
    max_df : int
        Largest df tried.

    Returns
    -------
    tuple of int or None
        ``(lowest, highest)`` fitting df.

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    Statistics in Medicine, 21(11), 1539-1558.

    Examples
    --------
    >>> df_range("45%", "0.09")
    (6, 6)
    """
    max_df = check_df("max_df", max_df)
    p_read, i2_read = _p_box("q_pval", q_pval), _i2_box("i2", i2)
    if p_read is None or i2_read is None:
        return None
    (_, p_box), (_, i2_box) = p_read, i2_read
    df = np.arange(1, max_df + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = _i2_array(special.chdtri(df, p_box[1]), df)
        high = _i2_array(special.chdtri(df, p_box[0]), df)
    tol = 1e-9 * 100
    vacuous = (low <= tol) & (high >= 100 - tol)
    fits = (low <= i2_box[1] + tol) & (i2_box[0] <= high + tol) & ~vacuous
    fitting = [int(d) for d in df[fits]]

    def scalar(d: int) -> bool:
        return 1 <= d <= max_df and i2_from_pval(q_pval, d, i2).verdict == "consistent"

    # the vectorised test agrees with i2_from_pval up to its slack: confirm the edges with it
    if fitting and scalar(fitting[0]) and scalar(fitting[-1]) \
            and not scalar(fitting[0] - 1) and not scalar(fitting[-1] + 1):
        return fitting[0], fitting[-1]
    exact = [d for d in range(1, max_df + 1) if scalar(d)]
    return (exact[0], exact[-1]) if exact else None


def _i2_array(q: np.ndarray, df: np.ndarray) -> np.ndarray:
    """:func:`_i2` for arrays (an infinite Q gives 100)."""
    return np.where(np.isinf(q), 100.0, np.where(q <= df, 0.0, 100.0 * (q - df) / q))

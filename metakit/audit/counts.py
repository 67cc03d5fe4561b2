"""Checks of counts and percentages: GRIM-style reachability, and parts summing to totals.

References
----------
Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test: a simple technique detects numerous
anomalies in the reporting of results in psychology. Social Psychological and Personality
Science, 8(4), 363-369.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from metakit.audit._core import (
    Check,
    Impossible,
    impossible_is_inconsistent,
    Printed,
    fmt,
    fmt_range,
    interval_check,
    make_check,
    overlaps,
    parse_optional,
    parse_sequence,
)


def _count(name: str, n: object) -> int:
    if isinstance(n, bool):
        raise ValueError(f"{name}: must be a whole number, got {n!r}")
    try:
        value = float(str(n).strip())
    except ValueError:
        raise ValueError(f"{name}: {n!r} is not a number") from None
    if not value.is_integer() or value < 1:
        raise ValueError(f"{name}: must be a whole number >= 1, got {n!r}")
    return int(value)


@impossible_is_inconsistent
def percent_of_n(percent: str, n: int, *, label: str = "") -> Check:
    """Check that a printed percentage of ``n`` is reachable by a whole count (GRIM).

    A percentage of ``n`` people is ``100 k / n`` for a whole ``k`` in ``0..n``. The printed
    percentage stands for its rounding interval ``[a, b]``, so it is reachable if and only if
    some whole ``k`` lies in ``[a n / 100, b n / 100]``; the check tries the two candidates
    ``ceil(a n / 100)`` and ``floor(b n / 100)`` around the interval. ``n`` is a count, taken
    as exact.

    Parameters
    ----------
    percent : str
        The printed percentage (``"44.0%"`` or ``"44.0"``).
    n : int
        The denominator.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of percentages reachable inside the printed interval, or
        the two nearest reachable percentages when none is.

    References
    ----------
    Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test. Social Psychological and
    Personality Science, 8(4), 363-369.

    Examples
    --------
    >>> percent_of_n("44.0%", 25).verdict
    'consistent'
    >>> percent_of_n("44.1%", 25).verdict
    'inconsistent'
    """
    total = _count("n", n)
    inputs = {"percent": percent, "n": total}
    printed = parse_optional("percent", percent)
    if printed is None:
        return make_check("percent_of_n", inputs, None, "not_checkable",
                          "Not checkable: no percentage printed.", label)
    if not 0 <= printed.value <= 100:
        raise Impossible(f"percentage {printed.text} is not between 0 and 100")
    low, high = max(printed.low, 0.0), min(printed.high, 100.0)
    first = max(0, math.ceil(low * total / 100 - 1e-9))
    last = min(total, math.floor(high * total / 100 + 1e-9))
    shown = printed.text if printed.percent else f"{printed.text}%"
    if first <= last:
        reached = (100 * first / total, 100 * last / total)
        count = f"{first}/{total}" if first == last else f"{first} to {last} of {total}"
        return make_check("percent_of_n", inputs, reached, "consistent",
                          f"{shown} of {total} is reachable: {count} is "
                          f"{fmt_range(reached, 4)}%.", label)
    below, above = max(0, first - 1), min(total, last + 1)
    nearest = (100 * below / total, 100 * above / total)
    return make_check("percent_of_n", inputs, nearest, "inconsistent",
                      f"No whole count out of {total} gives {shown}: {below}/{total} is "
                      f"{fmt(nearest[0], 4)}% and {above}/{total} is {fmt(nearest[1], 4)}%.",
                      label)


def parts_sum(parts: Sequence[str], total: str, *, exact: bool | None = None,
              label: str = "") -> Check:
    """Check that printed parts add up to their printed total.

    Counts (whole numbers without a decimal point or ``%``) are exact, and must add up exactly.
    Otherwise every number stands for its rounding interval, the sum of the parts lies in
    ``[sum of lower ends, sum of upper ends]`` (exact for a sum), and the check is
    ``consistent`` if and only if that meets the total's interval (percentages of subgroups
    that sum to 100% within rounding pass).

    Parameters
    ----------
    parts : sequence of str
        The printed parts.
    total : str
        The printed total.
    exact : bool, optional
        Treat the numbers as exact counts. By default, they are exact when every one of them is
        printed as a whole number without ``%``.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the range of the sum of the parts.

    References
    ----------
    Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test. Social Psychological and
    Personality Science, 8(4), 363-369.
    """
    inputs = {"parts": parts, "total": total}
    printed = parse_sequence("parts", parts)
    printed_total = parse_optional("total", total)
    if printed_total is None or not printed or any(p is None for p in printed):
        return make_check("parts_sum", inputs, None, "not_checkable",
                          "Not checkable: a part or the total is not printed.", label)
    values: list[Printed] = [p for p in printed if p is not None]
    if exact is None:
        exact = all(_is_count(p) for p in [*values, printed_total])
    elif not isinstance(exact, bool):
        raise ValueError(f"exact: must be True, False or None, got {exact!r}")
    if exact:
        for name, p in [*((f"parts[{i}]", p) for i, p in enumerate(values)),
                        ("total", printed_total)]:
            if not float(p.value).is_integer():
                raise ValueError(f"{name}: {p.text!r} is not a whole count")
        value = sum(int(p.value) for p in values)
        interval = (float(value), float(value))
        total_box = (printed_total.value, printed_total.value)
        lead = f"The {len(values)} counts add up to {value}"
    else:
        interval = (math.fsum(p.low for p in values), math.fsum(p.high for p in values))
        total_box = printed_total.interval
        decimals = max(0, *(p.decimals or 0 for p in values)) + 1
        lead = (f"The {len(values)} parts add up to {interval[0]:.{decimals}f} to "
                f"{interval[1]:.{decimals}f} given rounding")
    return interval_check("parts_sum", inputs, interval, total_box, lead,
                          f"total {printed_total.text}", label)


def _is_count(p: Printed) -> bool:
    text = p.text.strip()
    return not p.percent and text.lstrip("+-").isdigit()


def agree(values: Sequence[str], *, exact: bool | None = None, label: str = "") -> Check:
    """Check that the same quantity, printed more than once, has one value.

    Counts (whole numbers without a decimal point or ``%``) are exact and must be equal ("10"
    and "9" studies disagree). Otherwise each printed value stands for its rounding interval and
    the printings agree if and only if all intervals share a point ("3.7" and "3.72" agree;
    "3.14" and "3.72" do not).

    Parameters
    ----------
    values : sequence of str
        The printed values of one quantity (e.g. from a table and from the text).
    exact : bool, optional
        Treat the values as exact counts. By default, they are exact when every one of them is
        printed as a whole number without ``%`` (as in :func:`parts_sum`).
    label : str
        Optional label for the report: what the quantity is and where each value is printed.

    Returns
    -------
    Check
        ``recomputed`` is the common interval, or ``None`` when there is none.

    Examples
    --------
    >>> agree(["3.14", "3.72"]).verdict
    'inconsistent'
    >>> agree(["10", "9"]).verdict
    'inconsistent'
    """
    inputs = {"values": values}
    printed = parse_sequence("values", values)
    known = [p for p in printed if p is not None]
    if len(known) < 2:
        return make_check("agree", inputs, None, "not_checkable",
                          "Not checkable: fewer than two printed values.", label)
    if exact is None:
        exact = all(_is_count(p) for p in known)
    elif not isinstance(exact, bool):
        raise ValueError(f"exact: must be True, False or None, got {exact!r}")
    boxes = [(p.value, p.value) if exact else p.interval for p in known]
    low = max(b[0] for b in boxes)
    high = min(b[1] for b in boxes)
    shown = ", ".join(p.text for p in known)
    if low <= high or overlaps((low, low), (high, high)):
        return make_check("agree", inputs, (min(low, high), max(low, high)), "consistent",
                          f"The printed values {shown} agree within rounding.", label)
    kind = "count" if exact else "quantity"
    return make_check("agree", inputs, None, "inconsistent",
                      f"The same {kind} is printed as {shown}: no single value "
                      f"{'equals' if exact else 'rounds to'} all of them.", label)

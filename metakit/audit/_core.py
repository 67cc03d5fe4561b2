"""Printed numbers as rounding intervals, the check record, model scales and shared helpers.

Every check in :mod:`metakit.audit` reasons about the *set* of true values that a printed number
could stand for. ``2.28`` stands for any value in the closed interval [2.275, 2.285]: half-up and
half-even rounding both map every value of that interval (and no value outside it) to ``2.28``, and
closing the interval at both ends keeps the check conservative. A check declares a contradiction
only when no choice of true values inside all the intervals reproduces the printed numbers.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Union

import numpy as np
from numpy.typing import NDArray
from scipy import special

from metakit.engine._validation import check_level  # noqa: F401  (the checks share it)
from metakit.engine.transforms import ipft, pft

Verdict = Literal["consistent", "inconsistent", "not_checkable"]
CheckKind = Literal["arithmetic", "rule"]
VERDICTS: tuple[Verdict, ...] = ("inconsistent", "not_checkable", "consistent")
SCALES = ("linear", "log", "logit", "arcsine")


@dataclass(frozen=True)
class FreemanTukey:
    """The Freeman-Tukey double-arcsine scale of pooled proportions (``scale=`` of any check).

    Proportions pooled on this scale (metafor ``measure="PFT"``, Stata's ``metaprop``) are
    back-transformed with Miller's inverse at the harmonic mean ``n`` of the study sizes, so a
    printed proportion ``p`` sits at ``pft(p, n)`` on the model scale. A value printed at 0% or
    100% may come from anywhere beyond the edge (the back-transform clips there), so it maps to
    an infinite end and the checks call it not checkable rather than guess.

    References
    ----------
    Miller, J. J. (1978). The inverse of the Freeman-Tukey double arcsine transformation. The
    American Statistician, 32(4), 138.
    """

    n: float

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, (int, float)) \
                or not math.isfinite(self.n) or self.n <= 0:
            raise ValueError(f"n: the harmonic mean study size must be > 0, got {self.n!r}")

    def __str__(self) -> str:
        return f"Freeman-Tukey (harmonic mean n = {self.n:g})"


Scale = Union[str, FreemanTukey]


class Impossible(ValueError):
    """A printed number outside the range its quantity can take (a p above 1, an I² above 100%,
    a negative ratio). The public checks turn it into an ``inconsistent`` check
    (:func:`impossible_is_inconsistent`): no true value can be printed so."""


def impossible_is_inconsistent(check: Callable[..., Check]) -> Callable[..., Check]:
    """Let a check return ``inconsistent`` where a printed input is :class:`Impossible`."""
    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> Check:
        try:
            return check(*args, **kwargs)
        except Impossible as exc:
            bound = inspect.signature(check).bind(*args, **kwargs)
            label = bound.arguments.pop("label", "")
            return make_check(check.__name__, bound.arguments, None, "inconsistent",
                              f"The printed {exc}: no true value can be printed so.", label)
    return wrapper
MISSING = frozenset({"", ".", "na", "n/a", "nan", "nr", "-", "—", "–"})

# Relative slack on interval comparisons: covers floating-point error in the recomputation,
# never the rounding of printed numbers (that is carried by the intervals themselves).
_SLACK = 1e-9

_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-", "\u2010": "-"})
_BOUND = re.compile(r"^(<=|>=|<|>|≤|≥)\s*(.*)$")
_TIMES_TEN = re.compile(r"^([-+]?[\d.]+)\s*[x×·*]\s*10\s*\^?\s*([-+]?\d+)$")
_PREFIX = re.compile(r"^(?:p|z|t|q|i2|i²)\s*(?==|<|>|≤|≥)", re.IGNORECASE)


@dataclass(frozen=True)
class Printed:
    """A number as a paper printed it, with the interval of true values it can stand for.

    Attributes
    ----------
    text : str
        The text as printed (kept for the report).
    value : float
        The printed value (for a bound such as ``<0.001``, the bound).
    low, high : float
        Closed interval of true values that print as ``text``. A printed bound is one-sided
        (``<0.001`` is ``(-inf, 0.001]``); checks of p-values intersect it with [0, 1].
    percent : bool
        Whether the text carried a ``%`` sign (the value is then in percent).
    decimals : int or None
        Number of printed decimals (negative for ``1.2e3``-style tens), ``None`` for a bound.
    """

    text: str
    value: float
    low: float
    high: float
    percent: bool = False
    decimals: int | None = None

    @classmethod
    def parse(cls, text: str | float | int | Printed, *, name: str = "value") -> Printed:
        """Read a printed number and the interval of true values behind it.

        Accepts plain decimals (``"2.28"``, ``"-0.27"`` with an ASCII, unicode or dash minus,
        ``".041"``), percentages (``"44.0%"``), scientific notation (``"1.2e-5"``,
        ``"1.2 × 10^-5"``), one-sided bounds (``"<0.001"``, ``"≥ 0.05"``) and a leading
        ``p =``/``z =`` label. The half-width of the interval is half a unit in the last printed
        digit; a bound gives a one-sided interval. Numbers (int or float) are read through
        ``str``, so ``2.3`` is taken to have one decimal.

        Raises
        ------
        ValueError
            If ``text`` is missing or not a number; the message names ``name``.
        """
        if isinstance(text, Printed):
            return text
        if text is None or (isinstance(text, float) and math.isnan(text)):
            raise ValueError(f"{name}: a printed value is required")
        if isinstance(text, (bool, np.bool_)) or not isinstance(text, (str, int, float,
                                                                          np.number)):
            raise ValueError(f"{name}: {text!r} is not a number")
        raw = str(text)
        body = raw.strip().translate(_MINUS).replace(" ", "")
        body = _PREFIX.sub("", body)
        body = body.lstrip("=")
        percent = body.endswith("%")
        body = body.rstrip("%")
        bound = _BOUND.match(body)
        if bound:
            op, body = bound.groups()
        number = _decimal(body, raw, name)
        value = float(number)
        if bound:
            if op in ("<", "<=", "≤"):
                return cls(raw, value, -math.inf, _widen(value, +1), percent)
            return cls(raw, value, _widen(value, -1), math.inf, percent)
        exponent = int(number.as_tuple().exponent)
        half = Decimal(5).scaleb(exponent - 1)
        low = _widen(float(number - half), -1)
        high = _widen(float(number + half), +1)
        return cls(raw, value, low, high, percent, -exponent)

    @property
    def interval(self) -> tuple[float, float]:
        """The closed interval ``(low, high)``."""
        return (self.low, self.high)


def _decimal(body: str, raw: str, name: str) -> Decimal:
    tens = _TIMES_TEN.match(body)
    if tens:
        body = f"{tens.group(1)}e{tens.group(2)}"
    try:
        number = Decimal(body)
    except InvalidOperation:
        raise ValueError(f"{name}: {raw!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{name}: {raw!r} is not a finite number")
    return number


def _widen(x: float, direction: int) -> float:
    """Move ``x`` two ulps outward so the float interval contains the exact decimal one."""
    target = math.inf if direction > 0 else -math.inf
    return math.nextafter(math.nextafter(x, target), target)


def is_missing(text: object) -> bool:
    """Whether a printed cell is empty (``None``, ``""``, ``"."``, ``"NA"``, NaN...)."""
    if text is None:
        return True
    if isinstance(text, float) and math.isnan(text):
        return True
    return isinstance(text, str) and text.strip().lower() in MISSING


def parse_optional(name: str, text: object) -> Printed | None:
    """``Printed.parse`` that returns ``None`` for a missing cell."""
    if is_missing(text):
        return None
    return Printed.parse(text, name=name)  # type: ignore[arg-type]


def parse_sequence(name: str, values: Sequence[object]) -> list[Printed | None]:
    """Parse a sequence of printed numbers; errors name ``name[i]``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{name}: expected a sequence of printed numbers, got {values!r}")
    return [parse_optional(f"{name}[{i}]", v) for i, v in enumerate(values)]


def text_of(value: object) -> str:
    """The printed text of an input, for the ``inputs`` record."""
    if isinstance(value, Printed):
        return value.text
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(text_of(v) for v in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Check:
    """The outcome of one audit check.

    Attributes
    ----------
    name : str
        The check (the public function's name).
    inputs : dict of str to str
        The inputs as printed.
    recomputed : tuple of float or None
        The interval of values the check recomputed from the inputs (units given in the
        explanation), or ``None`` when nothing was recomputed.
    verdict : {"consistent", "inconsistent", "not_checkable"}
        ``inconsistent`` only when no true values inside the rounding intervals reproduce the
        printed numbers.
    explanation : str
        One plain sentence with the numbers.
    label : str
        Optional caller label (e.g. the analysis or figure), shown in :func:`audit_table`.
    assumption : str
        What the check assumes that the paper does not state (e.g. "df = k − 1 with k = 6 as
        printed"), empty when it rests on printed numbers alone. A failed check with an
        assumption is a conditional contradiction.
    kind : {"arithmetic", "rule"}
        ``arithmetic`` checks test whether printed numbers can all be true; ``rule`` checks test
        an analysis against the paper's own stated method (:func:`model_rule`), so their failure
        is a deviation, not a contradiction.
    """

    name: str
    inputs: dict[str, str]
    recomputed: tuple[float, float] | None
    verdict: Verdict
    explanation: str
    label: str = field(default="")
    assumption: str = field(default="")
    kind: CheckKind = field(default="arithmetic")


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two closed intervals share a point, up to floating-point slack."""
    scale = max(1.0, *(abs(x) for x in (*a, *b) if math.isfinite(x)))
    tol = _SLACK * scale
    return a[0] <= b[1] + tol and b[0] <= a[1] + tol


def contains(interval: tuple[float, float], x: float) -> bool:
    """Whether ``x`` lies in the closed interval, up to floating-point slack."""
    return overlaps(interval, (x, x))


def check_scale(scale: Scale) -> Scale:
    """Validate the model scale (a name in :data:`SCALES` or a :class:`FreemanTukey`)."""
    if isinstance(scale, FreemanTukey):
        return scale
    if scale not in SCALES:
        raise ValueError(f"scale: unknown value {scale!r}; choose one of {', '.join(SCALES)}")
    return scale


def check_df(name: str, df: object) -> int:
    """Degrees of freedom: a positive whole number."""
    if isinstance(df, bool) or not isinstance(df, (int, np.integer, float)) or df != df:
        raise ValueError(f"{name}: must be a positive whole number, got {df!r}")
    if df <= 0 or float(df) != int(df):
        raise ValueError(f"{name}: must be a positive whole number, got {df!r}")
    return int(df)


def critical_value(level: float, dist: str, df: int | None) -> float:
    """Two-sided critical value of the normal or t distribution at ``level`` percent."""
    upper = 1 - (1 - level / 100) / 2
    if dist == "z":
        return float(special.ndtri(upper))
    return float(special.stdtrit(df, upper))


def check_dist(dist: str, df: object) -> int | None:
    """Validate ``dist`` ("z" or "t") and, for t, its degrees of freedom."""
    if dist not in ("z", "t"):
        raise ValueError(f"dist: unknown value {dist!r}; choose one of z, t")
    if dist == "t":
        if df is None:
            raise ValueError("df: required when dist='t'")
        return check_df("df", df)
    return None


def to_model(name: str, printed: Printed, scale: Scale) -> tuple[float, float]:
    """Map a printed display-scale interval to the model scale (an increasing transform).

    ``log`` for ratios; ``logit`` and ``arcsine`` (``asin(sqrt(p))``) for proportions, read as
    fractions unless printed with ``%``. A bound at the edge of the domain (an odds ratio printed
    ``0.00``) maps to an infinite end.

    Raises
    ------
    Impossible
        If the printed value lies outside the scale's domain.
    """
    low, high = printed.low, printed.high
    if scale == "linear":
        return (low, high)
    if scale == "log":
        if printed.value < 0 or high <= 0:
            raise Impossible(f"{name} {printed.text} is not above 0, as a ratio must be")
        return (math.log(low) if low > 0 else -math.inf, math.log(high))
    factor = 100.0 if printed.percent else 1.0
    value, low, high = printed.value / factor, low / factor, high / factor
    if not 0 <= value <= 1:
        raise Impossible(f"{name} {printed.text} is not a proportion between 0 and 1 (or a "
                         f"percentage)")
    if isinstance(scale, FreemanTukey):
        return (-math.inf if low <= 0 else float(pft(low, scale.n)),
                math.inf if high >= 1 else float(pft(high, scale.n)))
    low, high = max(low, 0.0), min(high, 1.0)
    if scale == "logit":
        return (_logit(low), _logit(high))
    return (math.asin(math.sqrt(low)), math.asin(math.sqrt(high)))


def _logit(p: float) -> float:
    if p <= 0:
        return -math.inf
    if p >= 1:
        return math.inf
    return math.log(p / (1 - p))


def from_model(x: float, scale: Scale, percent: bool = False) -> float:
    """Inverse of :func:`to_model` for one value (for explanations and ``recomputed``)."""
    if scale == "linear":
        return x
    if scale == "log":
        return math.exp(x) if x < 700 else math.inf
    factor = 100.0 if percent else 1.0
    if isinstance(scale, FreemanTukey):
        return factor * float(ipft(x, scale.n))
    if scale == "logit":
        return factor / (1 + math.exp(-x)) if x > -700 else 0.0
    return factor * math.sin(min(max(x, 0.0), math.pi / 2)) ** 2


def se_interval(low: tuple[float, float], high: tuple[float, float],
                crit: float) -> tuple[float, float]:
    """Range of ``(upper - lower) / (2 crit)`` over the boxes of the two CI bounds."""
    return ((high[0] - low[1]) / (2 * crit), (high[1] - low[0]) / (2 * crit))


def weighted_mean_range(y_low: NDArray[np.float64], y_high: NDArray[np.float64],
                        w_low: NDArray[np.float64],
                        w_high: NDArray[np.float64]) -> tuple[float, float]:
    """Exact range of ``sum(w y) / sum(w)`` over boxes of ``y`` and of positive ``w``.

    The mean is increasing in every ``y``, so its minimum takes ``y`` at the lower ends. For
    fixed ``y`` it is a linear-fractional function of ``w``: at the minimum ``m`` every weight of
    a value below ``m`` is at its upper end and every other weight at its lower end, so the
    heaviest weights go to a prefix of the values sorted ascending. Trying the ``k + 1``
    prefixes finds the exact minimum; the maximum is symmetric.
    """

    def lowest(y: NDArray[np.float64], lo: NDArray[np.float64],
               hi: NDArray[np.float64]) -> float:
        order = np.argsort(y, kind="stable")
        y, lo, hi = y[order], lo[order], hi[order]
        k = len(y)
        heavy = np.arange(k)[None, :] < np.arange(k + 1)[:, None]
        w = np.where(heavy, hi[None, :], lo[None, :])
        return float(np.min((w @ y) / w.sum(axis=1)))

    return lowest(y_low, w_low, w_high), -lowest(-y_high, w_low, w_high)


def fmt(x: float, digits: int = 3) -> str:
    """A number for an explanation: ``digits`` significant digits, unicode minus."""
    if math.isinf(x):
        return "infinity" if x > 0 else "minus infinity"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}" if abs(x) < 1e-4 or abs(x) >= 1e6 else _fixed(x, digits)
    return text.replace("-", "\u2212")


def _fixed(x: float, digits: int) -> str:
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def fmt_range(interval: tuple[float, float], digits: int = 3) -> str:
    """``"a to b"``, or one number when both ends print the same."""
    a, b = fmt(interval[0], digits), fmt(interval[1], digits)
    return a if a == b else f"{a} to {b}"


def make_check(name: str, inputs: Mapping[str, object], recomputed: tuple[float, float] | None,
               verdict: Verdict, explanation: str, label: str, *,
               domain: tuple[float, float] | None = None, kind: CheckKind = "arithmetic") -> Check:
    """Build a :class:`Check`, recording inputs as printed text.

    ``domain`` is the range the recomputed quantity can take at all (``(0, 1)`` for a p-value,
    ``(0, 100)`` for I²). A check that passes only because its recomputed range covers the whole
    domain could not have failed: it is returned as ``not_checkable``, so that it never counts
    towards a ``consistent`` verdict.
    """
    if not isinstance(label, str):
        raise ValueError(f"label: must be a string, got {label!r}")
    record = {key: text_of(value) for key, value in inputs.items()}
    interval = None if recomputed is None else (float(recomputed[0]), float(recomputed[1]))
    if verdict == "consistent" and _covers(interval, domain):
        assert domain is not None and interval is not None
        verdict = "not_checkable"
        explanation = (f"Not checkable: given rounding, the recomputed value can lie anywhere "
                       f"from {fmt(domain[0])} to {fmt(domain[1])} ({fmt_range(interval)}), so "
                       f"no printed value could fail. {explanation}")
    return Check(name, record, interval, verdict, explanation, label, kind=kind)


def interval_check(name: str, inputs: Mapping[str, object], recomputed: tuple[float, float],
                   printed: tuple[float, float], lead: str, shown: str, label: str, *,
                   domain: tuple[float, float] | None = None) -> Check:
    """The check of a recomputed range against a printed value's rounding interval:
    ``consistent`` if and only if they meet (``"{lead}, which matches the printed {shown}."``),
    else ``inconsistent`` (``"{lead}, not the printed {shown}."``); ``domain`` as in
    :func:`make_check`."""
    if overlaps(recomputed, printed):
        return make_check(name, inputs, recomputed, "consistent",
                          f"{lead}, which matches the printed {shown}.", label, domain=domain)
    return make_check(name, inputs, recomputed, "inconsistent",
                      f"{lead}, not the printed {shown}.", label)


def _covers(interval: tuple[float, float] | None, domain: tuple[float, float] | None) -> bool:
    """Whether ``interval`` spans all of ``domain`` (up to 1e-9 of its width)."""
    if interval is None or domain is None:
        return False
    width = domain[1] - domain[0]
    tol = 1e-9 * (width if math.isfinite(width) else 1.0)
    return interval[0] <= domain[0] + tol and interval[1] >= domain[1] - tol

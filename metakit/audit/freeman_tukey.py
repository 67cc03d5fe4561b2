"""Checks of pooled proportions printed as Stata's ``metaprop`` prints them (Freeman-Tukey).

``metaprop`` (and metafor with ``measure="PFT"``) pools proportions on the Freeman-Tukey double
arcsine scale, where the pooled CI is a Wald interval ``t ± c SE``, and back-transforms estimate
and bounds with Miller's inverse at the harmonic mean ``n`` of the studies' sizes. A pool of one
study is shown with that study's own (Wilson) interval instead. Given the studies of a printed
pool, one rule therefore decides whether a printed proportion and its CI can be such a pool:

- **one study** of size ``n``: some count ``x`` of ``0..n`` prints as the estimate, and its
  Wilson interval as the CI;
- **several studies**: the CI is symmetric about the estimate on the Freeman-Tukey scale at the
  studies' harmonic mean size (:func:`metakit.audit.ci_symmetry` with
  :class:`~metakit.audit.FreemanTukey`). When it is not, harmonic means from 2 to 1000 are
  searched: if none fits, the interval is no ``metaprop`` pool at all; if some do and the paper
  lists the pool's studies, it is not this pool (``inconsistent``); if the membership was only
  inferred, it may be a pool of other studies (``consistent``, naming the sizes that fit);
- a bound printed at 0% or 100% may come from anywhere beyond the edge (the back-transform
  clips there), so such a CI is ``not_checkable``.

The test of subgroup differences (:func:`ft_subgroup_difference`) is
:func:`metakit.audit.subgroup_difference` on the Freeman-Tukey scale of each subgroup's harmonic
mean, a single-study subgroup entering with its own standard error ``sqrt(1 / (4 n + 2))``
(metafor's PFT variance) rather than its Wilson interval.

Papers often print ``metaprop``'s two-decimal fractions as percentages with an extra decimal
("44.0%" for 0.44): ``decimals=0`` reads such values at whole-percent precision (a widening,
never a narrowing: a value with a non-zero extra digit keeps its printed precision).

References
----------
Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the square
root. Annals of Mathematical Statistics, 21(4), 607-611.
Miller, J. J. (1978). The inverse of the Freeman-Tukey double arcsine transformation. The
American Statistician, 32(4), 138.
Nyaga, V. N., Arbyn, M., & Aerts, M. (2014). Metaprop: a Stata command to perform
meta-analysis of binomial data. Archives of Public Health, 72, 39.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
Journal of the American Statistical Association, 22(158), 209-212.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from metakit.audit._core import (
    Check,
    FreemanTukey,
    Printed,
    check_level,
    fmt,
    make_check,
    overlaps,
)
from metakit.audit.estimates import ci_symmetry
from metakit.audit.pooling import subgroup_difference

SEARCH = (2.0, 1000.0, 400)
"""Harmonic mean sizes searched (from, to, log-spaced points) when a CI fits no listed pool."""


def ft_ci(estimate: str, ci_low: str, ci_high: str, sizes: Sequence[object], *,
          listed: bool = True, percent: bool = False, decimals: int | None = None,
          level: float = 95, label: str = "") -> Check:
    """Check a printed pooled proportion and its CI as a ``metaprop`` pool of ``sizes``.

    Parameters
    ----------
    estimate, ci_low, ci_high : str
        As printed (fractions, or percentages with ``percent=True`` or a ``%`` sign).
    sizes : sequence of int or str
        The sizes of the studies in the pool (one size: a single study).
    listed : bool, default True
        Whether the paper lists the pool's studies (``False``: the membership was inferred, so
        a CI that fits another harmonic mean is ``consistent``).
    percent : bool, default False
        Read the printed values as percentages.
    decimals : int, optional
        Read values whose extra decimals are zero at this precision (see the module docstring).
    level : float, default 95
    label : str

    Returns
    -------
    Check
        ``recomputed``: the CI centre on the display scale (several studies) or the
        proportions ``x / n`` that print as the estimate (one study).

    Examples
    --------
    >>> ft_ci("80.0", "38.0", "96.0", [5], percent=True, decimals=0).verdict
    'consistent'
    """
    level = check_level(level)
    n = _sizes(sizes)
    est, low, high = (_read(name, text, percent, decimals) for name, text in
                      (("estimate", estimate), ("ci_low", ci_low), ("ci_high", ci_high)))
    inputs = {"estimate": estimate, "ci_low": ci_low, "ci_high": ci_high,
              "sizes": ", ".join(f"{x:g}" for x in n)}
    if len(n) == 1:
        return _single_study(est, low, high, int(n[0]), level, inputs, label)
    full = 100.0 if est.percent else 1.0
    if low.value <= 0 or high.value >= full:
        edge = low.text if low.value <= 0 else high.text
        return make_check("ft_ci", inputs, None, "not_checkable",
                          f"Not checkable: a CI bound printed at {edge} may be truncated there "
                          f"by the back-transform.", label)
    harmonic = float(len(n) / np.sum(1 / n))
    check = ci_symmetry(est.text, low.text, high.text, scale=FreemanTukey(harmonic), label=label)
    lead = f"{len(n)} studies, harmonic mean n = {fmt(harmonic)}: {check.explanation.rstrip('.')}"
    if check.verdict != "inconsistent":
        return dataclasses.replace(check, name="ft_ci", inputs=inputs, explanation=lead + ".")
    fits = [m for m in np.geomspace(*SEARCH[:2], SEARCH[2])
            if ci_symmetry(est.text, low.text, high.text, scale=FreemanTukey(float(m))).verdict
            != "inconsistent"]
    if not fits:
        verdict, text = "inconsistent", (f"; nor for any harmonic mean from {SEARCH[0]:g} to "
                                         f"{SEARCH[1]:g}, so it is no metaprop pooled interval")
    elif listed:
        verdict, text = "inconsistent", (f"; it would be for harmonic means {fits[0]:.0f} to "
                                         f"{fits[-1]:.0f}, not for the studies listed")
    else:
        verdict, text = "consistent", (f"; it is for harmonic means {fits[0]:.0f} to "
                                       f"{fits[-1]:.0f}, and the paper does not list the pool's "
                                       f"studies")
    return dataclasses.replace(check, name="ft_ci", inputs=inputs, verdict=verdict,
                               explanation=lead + text + ".")


def ft_subgroup_difference(estimates: Sequence[str], ci_lows: Sequence[str],
                           ci_highs: Sequence[str], sizes: Sequence[Sequence[object]], p: str, *,
                           percent: bool = False, decimals: int | None = None,
                           level: float = 95, label: str = "") -> Check:
    """The printed test of subgroup differences of ``metaprop`` subgroup pools.

    :func:`metakit.audit.subgroup_difference` on each subgroup's Freeman-Tukey scale (harmonic
    mean of its ``sizes``); a subgroup of one study of size ``n`` enters with the standard error
    ``sqrt(1 / (4 n + 2))``, since its printed CI is its Wilson interval. A subgroup with a
    value printed at 0% or 100% makes the test ``not_checkable``.

    Parameters
    ----------
    estimates, ci_lows, ci_highs : sequence of str
        The subgroup pools as printed.
    sizes : sequence of sequences
        The study sizes of each subgroup.
    p : str
        The printed p-value of the test.
    percent, decimals, level, label
        As in :func:`ft_ci`.

    Returns
    -------
    Check
        That of :func:`~metakit.audit.subgroup_difference` (the p-value's range), named
        ``ft_subgroup_difference``, its explanation naming the single-study subgroups.

    References
    ----------
    Nyaga, Arbyn & Aerts (2014), Arch Public Health 72:39 (metaprop's subgroup test);
    Borenstein et al. (2009), Introduction to Meta-Analysis, chapter 19.
    """
    if isinstance(sizes, (str, bytes)) or len(sizes) != len(estimates):
        raise ValueError(f"sizes: expected one list of study sizes per subgroup "
                         f"({len(estimates)}), got {sizes!r}"[:120])
    groups = [_sizes(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
    scales = [FreemanTukey(float(len(g) / np.sum(1 / g))) for g in groups]
    ses = [math.sqrt(1 / (4 * g[0] + 2)) if len(g) == 1 else None for g in groups]
    texts = [[_read(f"{name}[{i}]", t, percent, decimals).text for i, t in enumerate(column)]
             for name, column in (("estimates", estimates), ("ci_lows", ci_lows),
                                  ("ci_highs", ci_highs))]
    check = subgroup_difference(*texts, p, scale=scales, ses=ses, level=level, label=label)
    single = [f"subgroup {i + 1} is one study (SE from n = {g[0]:g})"
              for i, g in enumerate(groups) if len(g) == 1]
    explanation = check.explanation + (f" ({'; '.join(single)})" if single else "")
    return dataclasses.replace(check, name="ft_subgroup_difference", explanation=explanation,
                               inputs={**check.inputs, "sizes": str(sizes)[:80]})


def _single_study(est: Printed, low: Printed, high: Printed, n: int, level: float,
                  inputs: dict[str, str], label: str) -> Check:
    """One study: a count whose proportion prints as the estimate and whose Wilson interval
    prints as the CI."""
    from metakit.engine.cohort import proportion

    full = 100.0 if est.percent else 1.0
    counts = [x for x in range(n + 1) if est.low <= full * x / n <= est.high]
    for x in counts:
        wilson = proportion(x, n, "wilson", level)
        if overlaps((low.low, low.high), (full * wilson.low,) * 2) \
                and overlaps((high.low, high.high), (full * wilson.high,) * 2):
            return make_check("ft_ci", inputs, (x / n * full,) * 2, "consistent",
                              f"One study (n = {n}): {x}/{n} has the Wilson CI "
                              f"{fmt(full * wilson.low)} to {fmt(full * wilson.high)}, "
                              f"which prints as {low.text} to {high.text}.", label)
    shown = (full * counts[0] / n, full * counts[-1] / n) if counts else None
    reason = (f"no count of {n} prints as {est.text}" if not counts else
              f"no count of {n} that prints as {est.text} has a Wilson CI printing as "
              f"{low.text} to {high.text}")
    return make_check("ft_ci", inputs, shown, "inconsistent", f"One study (n = {n}): {reason}.",
                      label)


def _sizes(values: Sequence[object], name: str = "sizes") -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) \
            or len(values) == 0:
        raise ValueError(f"{name}: expected a list of study sizes, got {values!r}"[:120])
    try:
        sizes = np.array([float(v) for v in values])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: every study size must be a number, got {values!r}"[:120]) \
            from None
    if not np.all(np.isfinite(sizes)) or np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
        raise ValueError(f"{name}: study sizes must be whole numbers >= 1, got {values!r}"[:120])
    return sizes


def _read(name: str, text: object, percent: bool, decimals: int | None) -> Printed:
    """A printed value, as a percentage when ``percent``, at ``decimals`` when its extra digits
    are zero."""
    printed = Printed.parse(text, name=name)  # type: ignore[arg-type]
    body = printed.text.strip().rstrip("%")
    if decimals is not None and printed.decimals is not None and printed.decimals > decimals:
        number = Decimal(body)
        coarse = number.quantize(Decimal(1).scaleb(-decimals))
        if coarse == number:
            body = str(coarse)
    sign = "%" if percent or printed.percent else ""
    return Printed.parse(body + sign, name=name)

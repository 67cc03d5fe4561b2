"""The automatic audit battery: every check that one printed result's own numbers allow.

A pooled result printed as, say, "RR 0.72 (95% CI 0.58 to 0.89), p = 0.002; I² = 45%, p = 0.09,
6 studies" ties its numbers together in several ways at once. :func:`battery` derives every check
those printed numbers allow, so that no printed number has to be typed into code:

- the CI is symmetric about the estimate on the measure's model scale (:func:`ci_symmetry`);
- p or z agrees with the estimate and the CI (:func:`p_from_ci`, :func:`z_from_ci`);
- I² agrees with Q or with Q's p-value, and Q's p-value with Q (:func:`i2_from_q`,
  :func:`i2_from_pval`, :func:`q_pval`), on the printed degrees of freedom or, when only the
  number of studies k is printed, on ``k - 1``: that premise is recorded as the check's
  :attr:`~metakit.audit.Check.assumption` (a study entered twice adds a row), so a failure is a
  conditional contradiction;
- the paper's stated model-choice rule against the model the analysis used
  (:func:`model_rule`, a ``rule`` check: its failure is a deviation, not a contradiction).

References
----------
Altman, D. G., & Bland, J. M. (2011). How to obtain the P value from a confidence interval. BMJ,
343, d2304.
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Nuijten, M. B., & Polanin, J. R. (2020). "statcheck": Automatically detect statistical
reporting inconsistencies to increase reproducibility of meta-analyses. Research Synthesis
Methods, 11(5), 574-579.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from metakit.audit._core import Check, Scale, check_level, is_missing, parse_optional
from metakit.audit.estimates import ci_symmetry, p_from_ci, z_from_ci
from metakit.audit.heterogeneity import df_range, i2_from_pval, i2_from_q, q_pval
from metakit.audit.rules import model_rule
from metakit.engine.measures import LOG_MEASURES

_DIFFERENCES = frozenset({"MD", "WMD", "SMD", "RD", "MEAN", "GEN", "ROM_LINEAR"})
_PROPORTIONS = frozenset({"PR", "PFT", "PLO", "PAS", "PROPORTION", "RATE"})
_PERCENT_WORDS = ("pct", "%", "percent")

I2_FROM_Q = ("I² = (Q − df)/Q, as RevMan, Stata and R's meta compute it (metafor's I² from τ² "
             "differs under REML)")
"""The premise of every I² check, for a paper whose software is not known."""

ROW_KEYS = ("measure", "estimate", "ci_low", "ci_high", "p_value", "z", "i2", "q", "q_df",
            "q_pval", "tau2", "k", "model", "ci_level")
"""The columns of a published row that the battery reads (others are ignored)."""


def measure_scale(measure: object) -> Scale | None:
    """The model scale on which a printed measure's CI is computed, or ``None``.

    Ratio measures (those :mod:`metakit.engine.effect_sizes` pools on the log scale: RR, OR,
    HR ...) are ``"log"``; differences and single-arm means are ``"linear"``. Proportions have no
    scale of their own (it depends on the transform the paper used) and other labels (counts,
    test statistics) are not pooled estimates: both give ``None``. A label's first word is read
    case-insensitively, so ``"proportion_pct"`` and ``"mean_months"`` are understood.
    """
    if is_missing(measure):
        return None
    key = str(measure).strip().upper().replace(" ", "_").split("_")[0].split("(")[0]
    if key in LOG_MEASURES:
        return "log"
    if key in _DIFFERENCES:
        return "linear"
    return None


def is_proportion(measure: object) -> bool:
    """Whether a printed measure label names a proportion (or percentage, or rate)."""
    if is_missing(measure):
        return False
    key = str(measure).strip().upper().replace(" ", "_").split("_")[0].split("(")[0]
    return key in _PROPORTIONS


def _text(row: Mapping[str, object], key: str) -> str | None:
    value = row.get(key)
    return None if is_missing(value) else str(value).strip()


def _percent(text: str | None, measure: object) -> str | None:
    """A proportion printed in percent without its sign gets one, so it is read as percent."""
    if text is None or text.endswith("%"):
        return text
    words = str(measure).lower()
    return text + "%" if any(w in words for w in _PERCENT_WORDS) else text


def _degrees_of_freedom(row: Mapping[str, object], label: str) -> tuple[int, str] | None:
    """Printed df (no assumption), else ``k - 1`` with the premise named, else ``None``."""
    printed = _text(row, "q_df")
    if printed is not None:
        return int(float(printed)), ""
    k = _text(row, "k")
    if k is None:
        return None
    studies = parse_optional(f"{label}: k", k)
    if studies is None or studies.decimals not in (0, None) or studies.value < 2:
        return None
    return assumed_df(int(studies.value))


def assumed_df(k: int) -> tuple[int, str]:
    """``k - 1`` degrees of freedom for ``k`` printed studies, and that premise in words.

    A paper that prints the number of studies but not the df of Q leaves open whether a study
    entered the analysis more than once (two arms against one control, several time points), so
    a check on ``k - 1`` df rests on an assumption the paper does not state.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k: must be a whole number of studies >= 2, got {k!r}")
    return k - 1, (f"df = k − 1 = {k - 1}, with k = {k} as printed (the paper prints no df; a "
                   f"study entered more than once would add rows)")


def battery(row: Mapping[str, object], *, rule: str | None = None, level: float = 95,
            scale: Scale | None = None, scale_assumption: str = "", i2_assumption: str = "",
            label: str | None = None) -> list[Check]:
    """Every audit check that the printed numbers of one result allow.

    Parameters
    ----------
    row : mapping
        One published result, column -> printed text, with the columns of :data:`ROW_KEYS`
        where printed (``published.csv`` of a dossier, or a row ``metakit scan`` extracted).
        Missing or empty cells are simply not checked.
    rule : str, optional
        The paper's stated model-choice rule (e.g. ``"random if I2 > 50%"``), checked against
        the row's ``model``; without it no rule check is made.
    level : float
        Confidence level in percent, used when the row has no ``ci_level``.
    scale : str or FreemanTukey, optional
        The model scale of the estimate, when the measure alone does not fix it (pooled
        proportions: ``"logit"``, ``"arcsine"`` or ``FreemanTukey(n)``). Without it the
        measure's own scale (:func:`measure_scale`) is used, and a proportion gets no estimate
        checks.
    scale_assumption : str
        What choosing ``scale`` assumes that the paper does not state (e.g. "the Freeman-Tukey
        transform of Stata's metaprop; the paper names none"); recorded on the estimate checks.
    i2_assumption : str
        What the I² checks assume about how I² was computed, when the paper's software does not
        settle it (:data:`I2_FROM_Q` for a paper of unknown software); recorded on them.
    label : str, optional
        Label of the checks (default: the row's ``analysis_id``).

    Returns
    -------
    list of Check
        In the order: estimate checks, heterogeneity checks, rule check. A row with nothing to
        check gives an empty list.

    Examples
    --------
    >>> row = {"measure": "RR", "estimate": "34.54", "ci_low": "15.07", "ci_high": "79.18",
    ...        "i2": "0", "q_pval": "1.00", "k": "11"}
    >>> [c.verdict for c in battery(row)]
    ['consistent', 'not_checkable']
    """
    if not isinstance(row, Mapping):
        raise ValueError(f"row: expected a mapping of column to printed text, got "
                         f"{type(row).__name__}")
    name = label if label is not None else str(row.get("analysis_id") or "")
    measure = row.get("measure")
    printed_level = _text(row, "ci_level")
    level = check_level(float(printed_level.rstrip("%")) if printed_level else level)
    checks: list[Check] = []

    model_scale = scale if scale is not None else measure_scale(measure)
    est, lo, hi = (_text(row, key) for key in ("estimate", "ci_low", "ci_high"))
    if is_proportion(measure):
        est, lo, hi = (_percent(t, measure) for t in (est, lo, hi))
    if model_scale is not None and est is not None and lo is not None and hi is not None:
        estimate_checks = [ci_symmetry(est, lo, hi, scale=model_scale, label=name)]
        if not is_proportion(measure):
            p, z = _text(row, "p_value"), _text(row, "z")
            if p is not None:
                estimate_checks.append(p_from_ci(est, lo, hi, p, scale=model_scale, level=level,
                                                 label=name))
            if z is not None:
                estimate_checks.append(z_from_ci(est, lo, hi, z, scale=model_scale, level=level,
                                                 label=name))
        checks += [dataclasses.replace(c, assumption=scale_assumption) for c in estimate_checks]

    i2, q, q_p = _text(row, "i2"), _text(row, "q"), _text(row, "q_pval")
    df = _degrees_of_freedom(row, name)
    if df is not None and df[0] >= 1:
        dof, premise = df
        on_i2 = "; ".join(p for p in (premise, i2_assumption) if p)
        if q is not None and i2 is not None:
            checks.append(dataclasses.replace(i2_from_q(q, dof, i2, label=name),
                                              assumption=on_i2))
        if q_p is not None and i2 is not None:
            check = _with_fitting_df(i2_from_pval(q_p, dof, i2, label=name), q_p, i2, premise)
            checks.append(dataclasses.replace(check, assumption=on_i2))
        if q is not None and q_p is not None:
            checks.append(dataclasses.replace(q_pval(q, dof, q_p, label=name),
                                              assumption=premise))

    if rule is not None and (i2 is not None or q_p is not None):
        checks.append(model_rule(i2, q_p, _text(row, "model"), rule, label=name))
    return checks


def _with_fitting_df(check: Check, q_p: str, i2: str, premise: str) -> Check:
    """Name the degrees of freedom that would fit, when an assumed df fails."""
    if check.verdict != "inconsistent" or not premise:
        return check
    fitting = df_range(i2, q_p)
    if fitting is None:
        return check
    lo, hi = fitting
    fits = (f"df {lo} ({lo + 1} rows)" if lo == hi
            else f"df {lo} to {hi} ({lo + 1} to {hi + 1} rows)")
    return dataclasses.replace(check, explanation=f"{check.explanation} The printed I² and p fit "
                                                  f"{fits}.")

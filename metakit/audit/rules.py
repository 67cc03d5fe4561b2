"""Check that a stated model-choice rule agrees with the model a figure used.

Many reviews state a rule such as "a random-effects model was used when I² > 50%" and then show
each forest plot under one model. The rule's conditions are evaluated on the rounding intervals
of the printed I² and p-value with three-valued logic: a condition is true when it holds for
every true value in the interval, false when it holds for none, and undecided otherwise.

References
----------
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2022). Analysing data and undertaking
meta-analyses. Cochrane Handbook for Systematic Reviews of Interventions, section 10.10.
"""

from __future__ import annotations

import re

from metakit.audit._core import Check, make_check, parse_optional

_FIXED = frozenset({"fixed", "fixed-effect", "fixed-effects", "fixed effect", "fixed effects",
                    "fe", "ee", "common", "common-effect", "common effect", "iv", "mh",
                    "peto"})
_RANDOM = frozenset({"random", "random-effects", "random-effect", "random effects",
                     "random effect", "re", "dl", "reml", "pm", "hksj", "knha"})
_WORDS = {"fixed": "fixed-effect", "random": "random-effects"}
_RULE = re.compile(r"^(random|fixed|common)(?:[- ]effects?)?(?: model)?\s+(?:if|when)\s+(.+)$")
_CONDITION = re.compile(r"^(i2|p)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)$")


def _normal_model(model_used: str) -> str:
    """``fixed`` or ``random`` from a model's name; a remark in brackets is ignored
    (``"fixed (IV)"``, ``"random (text)"``)."""
    if not isinstance(model_used, str):
        raise ValueError(f"model_used: expected 'fixed' or 'random', got {model_used!r}")
    key = model_used.split("(")[0].strip().lower()
    if key in _FIXED:
        return "fixed"
    if key in _RANDOM:
        return "random"
    raise ValueError(f"model_used: unknown model {model_used!r}; use 'fixed' or 'random'")


def _parse_rule(rule: str) -> tuple[str, str, list[tuple[str, str, float]]]:
    """Return (model when true, connective, conditions) for a rule such as
    ``"random if I2 > 50% and p < 0.10"``."""
    if not isinstance(rule, str):
        raise ValueError(f"rule: expected a string such as 'random if I2 > 50%', got {rule!r}")
    text = (rule.strip().lower().replace("i²", "i2").replace("i^2", "i2").replace("%", "")
            .replace("≥", ">=").replace("≤", "<=").replace("p-value", "p"))
    match = _RULE.match(text)
    if not match:
        raise ValueError(f"rule: cannot read {rule!r}; write e.g. 'random if I2 > 50%' or "
                         f"'random if I2 > 50% and p < 0.10'")
    when, body = match.groups()
    parts = re.split(r"\s+(and|or)\s+", body)
    connectives = set(parts[1::2])
    if len(connectives) > 1:
        raise ValueError(f"rule: {rule!r} mixes 'and' and 'or'; state one of them")
    conditions = []
    for part in parts[0::2]:
        condition = _CONDITION.match(part.strip())
        if not condition:
            raise ValueError(f"rule: cannot read the condition {part.strip()!r} in {rule!r}")
        name, op, threshold = condition.groups()
        conditions.append((name, op, float(threshold)))
    model = "fixed" if when in ("fixed", "common") else "random"
    return model, connectives.pop() if connectives else "and", conditions


def _truth(op: str, threshold: float, low: float, high: float) -> bool | None:
    """Three-valued truth of ``x op threshold`` for every x in the closed ``[low, high]``."""
    if op == ">":
        return True if low > threshold else False if high <= threshold else None
    if op == ">=":
        return True if low >= threshold else False if high < threshold else None
    if op == "<":
        return True if high < threshold else False if low >= threshold else None
    return True if high <= threshold else False if low > threshold else None


def model_rule(i2: str | None, q_pval: str | None, model_used: str | None, rule: str, *,
               label: str = "") -> Check:
    """Check that a stated model-choice rule agrees with the model a figure used.

    Each condition of ``rule`` is evaluated on the rounding interval of the printed number
    (``"50%"`` is [49.5, 50.5]): true when it holds for every value in the interval, false when
    it holds for none, undecided otherwise; conditions combine with Kleene's three-valued
    ``and``/``or``. The check is ``inconsistent`` only when the rule surely picks the other
    model, ``consistent`` when it surely picks the model used, and ``not_checkable`` when a
    missing number or rounding leaves it undecided (it could not have failed) or when the paper
    names no model for the analysis. It is a ``rule`` check (:attr:`Check.kind`): its failure
    means the analysis deviates from the paper's own method, not that a number is wrong.

    Parameters
    ----------
    i2 : str or None
        I² as printed, in percent.
    q_pval : str or None
        The heterogeneity p-value as printed.
    model_used : str or None
        The model the figure used: ``"fixed"`` (also ``"common"``, ``"FE"``, ``"IV"``, ``"MH"``)
        or ``"random"`` (also ``"RE"``, ``"DL"``, ``"REML"``); a remark in brackets is ignored.
        ``None`` or empty when the paper names no model for the analysis.
    rule : str
        The stated rule, e.g. ``"random if I2 > 50%"``, ``"random if I2 > 50% and p < 0.10"``,
        ``"random if p < 0.05"``, ``"fixed if I2 <= 50%"``; conditions on ``I2`` and ``p``
        joined by ``and`` or ``or``.
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is ``None``.

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    Statistics in Medicine, 21(11), 1539-1558.

    Examples
    --------
    >>> model_rule("65%", "0.01", "fixed", "random if I2 > 50%").verdict
    'inconsistent'
    """
    when, connective, conditions = _parse_rule(rule)
    inputs = {"i2": i2, "q_pval": q_pval, "model_used": model_used, "rule": rule}
    if model_used is None or (isinstance(model_used, str) and not model_used.strip()):
        return make_check("model_rule", inputs, None, "not_checkable",
                          f"Not checkable: the paper names no model for this analysis, so the "
                          f"rule '{rule}' cannot be held against one.", label, kind="rule")
    used = _normal_model(model_used)
    printed = {"i2": parse_optional("i2", i2), "p": parse_optional("q_pval", q_pval)}
    truths: list[bool | None] = []
    missing = False
    for name, op, threshold in conditions:
        value = printed[name]
        if value is None:
            missing = True
            truths.append(None)
        else:
            truths.append(_truth(op, threshold, value.low, value.high))
    if connective == "and":
        result = False if False in truths else None if None in truths else True
    else:
        result = True if True in truths else None if None in truths else False
    other = "fixed" if when == "random" else "random"
    shown = ", ".join(f"{symbol} = {value.text}" for symbol, value in
                      (("I²", printed["i2"]), ("p", printed["p"])) if value is not None
                      ) or "neither I² nor p printed"
    if result is None and missing:
        return make_check("model_rule", inputs, None, "not_checkable",
                          f"Not checkable: the rule '{rule}' needs a number that is not printed "
                          f"({shown}).", label, kind="rule")
    if result is None:
        return make_check("model_rule", inputs, None, "not_checkable",
                          f"Not checkable: with {shown}, rounding leaves the rule '{rule}' "
                          f"undecided, so the {_WORDS[used]} model used cannot break it.", label,
                          kind="rule")
    predicted = when if result else other
    if predicted == used:
        return make_check("model_rule", inputs, None, "consistent",
                          f"With {shown}, the rule '{rule}' picks the {_WORDS[predicted]} model, "
                          f"which is the model used.", label, kind="rule")
    return make_check("model_rule", inputs, None, "inconsistent",
                      f"With {shown}, the rule '{rule}' picks the {_WORDS[predicted]} model, but "
                      f"the {_WORDS[used]} model was used.", label, kind="rule")


def rule_choice(rule: str, *, i2: float, q_pval: float) -> str:
    """The model a stated rule picks for exactly known I² (percent) and heterogeneity p.

    This is the authors' own model choice applied to a re-derived fit (e.g. "fixed-effect if
    I² ≤ 50%, random-effects otherwise"), so a re-derivation uses the model the paper's rule
    would have used; :func:`model_rule` is its counterpart for printed, rounded numbers.

    Parameters
    ----------
    rule : str
        The rule, in :func:`model_rule` syntax.
    i2 : float
        I² in percent.
    q_pval : float
        p-value of Cochran's Q.

    Returns
    -------
    {"fixed", "random"}

    References
    ----------
    Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2022). Analysing data and undertaking
    meta-analyses. Cochrane Handbook for Systematic Reviews of Interventions, section 10.10.

    Examples
    --------
    >>> rule_choice("random if I2 > 50%", i2=94.0, q_pval=1e-9)
    'random'
    """
    when, connective, conditions = _parse_rule(rule)
    values = {"i2": float(i2), "p": float(q_pval)}
    truths = [bool(_truth(op, threshold, values[name], values[name]))
              for name, op, threshold in conditions]
    holds = all(truths) if connective == "and" else any(truths)
    other = "fixed" if when == "random" else "random"
    return when if holds else other

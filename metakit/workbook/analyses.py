"""The kinds of analysis a dossier can ask for, each turning one ``analyses.yaml`` entry into fits
and results-table rows.

A kind is a function ``(context, analysis) -> Fitted`` registered with :func:`kind`; the runner
(:mod:`metakit.workbook.runner`) looks it up by ``analysis.kind``. The core kinds:

- ``pool``: a meta-analysis of data rows (effect sizes from printed CIs, 2×2 counts, means and
  SDs, paired means, events of n, or printed summaries), with the authors' model (an ``rma``
  method, ``MH``, or ``rule``: the paper's stated rule picks fixed or random from the fit),
  subgroups, moderators (a meta-regression), small-study tests, and the published rows it
  answers (overall, per subgroup, test of subgroup differences);
- ``count``: a count of data rows (or a sum of a column) against a printed count.

Kinds that serve one family of papers live in their own modules and register themselves the same
way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metakit import audit
from metakit.engine.effect_sizes import escalc
from metakit.engine.measures import PROPORTION
from metakit.engine.mh import rma_mh
from metakit.engine.models import rma
from metakit.engine.proportions import metaprop
from metakit.engine.subgroups import subgroup
from metakit.workbook.dossier import Analysis, DossierError
from metakit.workbook.results import fit_summary, join_notes, rounds_to

if TYPE_CHECKING:
    from metakit.workbook.runner import Context

NEW_ROWS = ("overall", "groups")
"""The rows a new pooled analysis can give (its ``options.rows``)."""
_ARGUMENTS = {
    "ci": ("estimate", "ci_low", "ci_high"),
    "counts": ("ai", "bi", "ci", "di", "n1i", "n2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "proportions": ("xi", "ni"),
    "published": ("estimate", "ci_low", "ci_high"),
}


@dataclass
class Fitted:
    """What one analysis produced: its data rows, effect sizes, fits and results rows.

    Attributes
    ----------
    analysis : Analysis
        The dossier entry.
    rows : DataFrame
        The data rows it used, in order.
    fit : object
        The overall fit (``RMAResult``, ``MetapropResult`` or ``PooledTablesResult``).
    groups : SubgroupResult or None
        The subgroup fits, when the analysis has ``subgroups``.
    results : list of dict
        Results-table rows (published rows answered, or the analysis's own ``new`` row).
    table : DataFrame or None
        A table the kind shows besides the results rows (e.g. a sweep over an assumption).
    figure : callable or None
        Draws the kind's own figure, when it has one.
    checks : dict of str to list of Check
        Audit checks the kind ran on the printed numbers of its results rows (by row id, e.g.
        whether a printed percentage is reachable from its printed denominator); the review
        shows them with the row's section and in the audit.
    """

    analysis: Analysis
    rows: pd.DataFrame
    fit: Any = None
    groups: Any = None
    results: list[dict[str, Any]] = field(default_factory=list)
    table: pd.DataFrame | None = None
    figure: Callable[[], Any] | None = None
    checks: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def null(self) -> float | None:
        """The no-effect value on the model scale (``None`` for single-arm means and
        proportions, which test no contrast)."""
        effect = self.analysis.effect
        if effect is None or "null" in self.analysis.options:
            return self.analysis.options.get("null")
        if effect.measure in PROPORTION or effect.measure == "GEN":
            return None
        return 0.0


Kind = Callable[["Context", Analysis], Fitted]
KINDS: dict[str, Kind] = {}


def kind(name: str) -> Callable[[Kind], Kind]:
    """Register a function as the analysis kind ``name``."""
    def register(function: Kind) -> Kind:
        KINDS[name] = function
        return function
    return register


def _numbers(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    if column not in frame.columns:
        raise DossierError(f"{where}: no column {column!r}")
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DossierError(f"{where}: column {column!r} has no number in its row {row + 1} "
                           f"({frame[column].iloc[row]!r})")
    return values.to_numpy(float)


def effect_columns(context: Context, analysis: Analysis) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The analysis's data rows and the escalc arguments they give (columns as float arrays)."""
    effect = analysis.effect
    where = context.where(analysis)
    if effect is None or analysis.data is None:
        raise DossierError(f"{where}: a pooled analysis needs 'data' and 'effect'")
    rows = context.dossier.select(analysis.data, analysis.where, analysis.exclude, analysis.join)
    if rows.empty:
        raise DossierError(f"{where}: no row of {analysis.data}.csv matches {analysis.where}")
    arguments = {}
    names = list(_ARGUMENTS[effect.source]) + [a for a in effect.columns
                                               if a not in _ARGUMENTS[effect.source]]
    for argument in names:
        column = effect.columns.get(argument, argument)
        if column in rows.columns:
            arguments[argument] = _numbers(rows, column, where)
    return rows, arguments


def study_labels(context: Context, analysis: Analysis, rows: pd.DataFrame) -> list[str]:
    """The study labels of an analysis's rows (its ``label`` column)."""
    if analysis.label not in rows.columns:
        raise DossierError(f"{context.where(analysis)}: no label column {analysis.label!r}")
    return rows[analysis.label].astype(str).tolist()


def fit_analysis(context: Context, analysis: Analysis, *, method: str | None = None,
                 test: str | None = None, rows: pd.DataFrame | None = None) -> Fitted:
    """Fit a pooled analysis (optionally with another method or test, or on other rows)."""
    spec, effect = analysis.model, analysis.effect
    assert effect is not None
    selected, arguments = effect_columns(context, analysis)
    if rows is not None:
        keep = selected.index.isin(rows.index)
        selected = selected[keep]
        arguments = {k: v[keep] for k, v in arguments.items()}
    labels = study_labels(context, analysis, selected)
    level = context.level
    method = method or spec.method
    test = test or spec.test
    groups = selected[analysis.subgroups].astype(str).tolist() if analysis.subgroups else None
    if method == "MH":
        options = {k: v for k, v in (("add", effect.add), ("drop00", effect.drop00))
                   if v is not None}
        fit = rma_mh(measure=effect.measure, level=level, slab=labels, **options,
                     **arguments)
        return Fitted(analysis, selected, fit)
    if effect.source == "proportions":
        xi, ni = arguments["xi"], arguments["ni"]
        method = _rule_pick(context, method, spec.random, lambda m: metaprop(
            xi, ni, measure=effect.measure, method=m, test=test, level=level, slab=labels))
        fit = metaprop(xi, ni, measure=effect.measure, method=method, test=test, level=level,
                       slab=labels)
        sub = None
        if groups is not None:
            es = escalc(effect.measure, xi=xi, ni=ni)
            sub = subgroup(es["yi"], es["vi"], groups, method=method, test=test, level=level,
                           measure=effect.measure, ni=ni, slab=labels)
        return Fitted(analysis, selected, fit, sub)
    options = {k: v for k, v in (("add", effect.add), ("to", effect.to),
                                 ("drop00", effect.drop00)) if v is not None}
    es = escalc(effect.measure, **arguments, **options, **_level(effect.source, level))
    if effect.paired:
        es["vi"] = _paired_variance(context, analysis, arguments)
    method = _rule_pick(context, method, spec.random,
                        lambda m: rma(es["yi"], es["vi"], method=m, level=level))
    fit = rma(es["yi"], es["vi"], method=method, test=test, level=level, measure=effect.measure,
              slab=labels, mods=_moderators(context, analysis, selected))
    sub = None
    if groups is not None:
        sub = subgroup(es["yi"], es["vi"], groups, method=method, test=test, level=level,
                       measure=effect.measure, slab=labels)
    return Fitted(analysis, selected, fit, sub)


def _paired_variance(context: Context, analysis: Analysis,
                     arguments: Mapping[str, np.ndarray]) -> np.ndarray:
    """Sampling variance of a mean change from before and after means of the same ``n``
    patients, ``(sd1² + sd2² − 2 r sd1 sd2) / n``, with the within-patient correlation ``r`` of
    ``options.assumed_correlation`` (metafor's measure ``"MC"``).

    References
    ----------
    Morris, S. B., & DeShon, R. P. (2002). Combining effect size estimates in meta-analysis with
    repeated measures and independent-groups designs. Psychological Methods, 7(1), 105-125.
    """
    where = context.where(analysis)
    r = context.dossier.meta.options.assumed_correlation
    if r is None:
        raise DossierError(f"{where}: effect.paired needs options.assumed_correlation "
                           f"(review.yaml, or the notebook's options)")
    n1, n2 = arguments.get("n1i"), arguments.get("n2i")
    if analysis.effect is None or analysis.effect.source != "means" or n1 is None \
            or n2 is None or not np.array_equal(n1, n2):
        raise DossierError(f"{where}: effect.paired needs means of the same patients "
                           f"(source: means, n1i equal to n2i)")
    sd1, sd2 = arguments["sd1i"], arguments["sd2i"]
    return (sd1 ** 2 + sd2 ** 2 - 2 * r * sd1 * sd2) / n1


def _moderators(context: Context, analysis: Analysis, rows: pd.DataFrame) -> pd.DataFrame | None:
    """The moderator columns of a meta-regression (``None`` without moderators)."""
    if not analysis.moderators:
        return None
    where = context.where(analysis)
    columns = {}
    for moderator in analysis.moderators:
        values = _numbers(rows, moderator.column, where)
        if moderator.transform != "none" and (values <= 0).any():
            raise DossierError(f"{where}: moderator {moderator.column!r} must be positive for "
                               f"its {moderator.transform} transform")
        log = {"log": np.log, "log10": np.log10}.get(moderator.transform)
        columns[moderator.name] = log(values) if log else values
    return pd.DataFrame(columns)


def _level(source: str, level: float) -> dict[str, float]:
    """Effect sizes from printed CIs need the CIs' level."""
    return {"level": level} if source in ("ci", "published") else {}


def _rule_pick(context: Context, method: str, random: str, fit: Callable[[str], Any]) -> str:
    """``rule``: the paper's stated rule picks, from the fixed-effect fit's I² and p, fixed
    effect or the analysis's random-effects method ``random`` (``model.random``)."""
    if method != "rule":
        return method
    rule = context.dossier.meta.model_rule
    if rule is None:
        raise DossierError(f"{context.name}: model 'rule' needs a stated model rule in "
                           f"review.yaml (rules.model)")
    probe = fit("EE")
    chosen = audit.rule_choice(rule, i2=probe.i2, q_pval=probe.q_pval)
    return "EE" if chosen == "fixed" else random


def _heterogeneity_note(fit: Any, row: Mapping[str, Any]) -> str:
    """Re-derived I² and heterogeneity p beside the printed ones (information, not verdict)."""
    parts = []
    for column, value, name in (("i2", getattr(fit, "i2", math.nan), "I²"),
                                ("q_pval", getattr(fit, "q_pval", math.nan),
                                 "heterogeneity p")):
        printed = row.get(column)
        if isinstance(printed, str) and printed.strip() and np.isfinite(value):
            shown = f"{value:.2f}%" if column == "i2" else f"{value:.4f}"
            agrees = "" if rounds_to(value, printed) else " (differs)"
            parts.append(f"{name} {shown} vs printed {printed}{agrees}")
    return "; ".join(parts)


def model_of(fit: Any) -> Any:
    """The model-scale fit: the one inside a metaprop result, else ``fit`` itself."""
    return getattr(fit, "fit", fit)


def answer_rows(context: Context, fitted: Fitted) -> None:
    """Results rows of every published row the analysis answers."""
    analysis = fitted.analysis
    for answer in analysis.answers:
        targets = [(pid, fitted.fit) for pid in answer.overall]
        for level_name, pids in answer.groups.items():
            have = list(fitted.groups.groups) if fitted.groups is not None else []
            if level_name not in have:
                raise DossierError(f"{context.where(analysis)}: no subgroup "
                                   f"{level_name!r} (have {', '.join(have) or 'none'})")
            targets += [(pid, fitted.groups.groups[level_name]) for pid in pids]
        for pid, fit in targets:
            row = context.published_row(pid)
            values = fit_summary(model_of(fit), scale=answer.scale)
            note = join_notes((_heterogeneity_note(fit, row), analysis.remarks.get(pid, "")))
            fitted.results.append(context.results.compare_row(
                row, analysis=analysis.title, note=note, checks=context.rule_checks(pid),
                **values))
        for pid in answer.between:
            if fitted.groups is None:
                raise DossierError(f"{context.where(analysis)}: answers a test "
                                   f"of subgroup differences ({pid}) but has no subgroups")
            sub = fitted.groups
            fitted.results.append(context.results.compare_p_row(
                context.published_row(pid), sub.q_between_pval,
                analysis=f"{analysis.title}: Q between subgroup summaries",
                note=analysis.remarks.get(pid, ""), q=sub.q_between, q_df=sub.q_between_df,
                q_pval=sub.q_between_pval))
    if fitted.groups is not None and not any(a.between for a in analysis.answers):
        fitted.results.append(between_row(context, fitted))


def between_row(context: Context, fitted: Fitted, *, suffix: str = "_between",
                note: str = "the paper prints no test of this difference") -> dict[str, Any]:
    """The ``new`` row of a test of subgroup differences that the paper did not print."""
    sub, analysis = fitted.groups, fitted.analysis
    return context.results.row(
        analysis_id=analysis.id + suffix, outcome=analysis.title, measure="p_between",
        subgroup=" vs ".join(sub.groups), analysis=f"{analysis.title}: Q between subgroup "
                                                   f"summaries", verdict="new",
        p_value=sub.q_between_pval, q=sub.q_between, q_df=sub.q_between_df,
        q_pval=sub.q_between_pval, note=note)


def new_row(context: Context, fitted: Fitted, fit: Any, *, suffix: str = "",
            subgroup_name: str = "", note: str = "", scale: float = 1.0,
            title: str | None = None) -> dict[str, Any]:
    """The results row of an analysis the paper did not report (``title`` says how it was
    fitted, when that differs from the analysis's own title)."""
    analysis = fitted.analysis
    measure = analysis.effect.measure if analysis.effect else None
    if measure in PROPORTION:
        measure = "proportion (%)" if scale == 100 else "proportion"
    return context.results.row(
        analysis_id=analysis.id + suffix, outcome=analysis.options.get("outcome", analysis.title),
        measure=measure, subgroup=subgroup_name, analysis=title or analysis.title,
        verdict="new", note=note, **fit_summary(model_of(fit), scale=scale))


@kind("pool")
def pool(context: Context, analysis: Analysis) -> Fitted:
    """A meta-analysis of data rows (see the module docstring).

    A new analysis (one that answers no published row) gives the row ``<id>`` and, with
    subgroups, ``<id>_<subgroup>``; with moderators, one row per coefficient (``<id>``, or
    ``<id>_<moderator>`` when there are several) and a bubble plot as its figure; with
    ``bias: true``, ``<id>_egger`` and ``<id>_trimfill``. Option ``rows``: which of a new
    analysis's rows to give, of ``overall`` and ``groups`` (the subgroups); default both. Leave
    out ``overall`` when the subgroups share patients (time points of the same studies), or
    both when only the small-study tests are wanted.
    """
    where = context.where(analysis)
    if analysis.moderators and (analysis.answers or analysis.subgroups or analysis.robustness
                                or analysis.bias):
        raise DossierError(f"{where}: a meta-regression (moderators) has no answers, subgroups, "
                           f"robustness or bias rows here")
    shown = analysis.options.get("rows", ["overall", "groups"])
    if not isinstance(shown, list) or set(shown) - set(NEW_ROWS):
        raise DossierError(f"{where}: options.rows must list some of {', '.join(NEW_ROWS)}, got "
                           f"{shown!r}")
    fitted = fit_analysis(context, analysis)
    if analysis.answers:
        answer_rows(context, fitted)
    elif analysis.moderators:
        fitted.results += _regression_rows(context, fitted)
    else:
        scale = 100.0 if _is_share(analysis) and context.dossier.meta.options.percent else 1.0
        if "overall" in shown:
            fitted.results.append(new_row(context, fitted, fitted.fit,
                                          note=_new_note(context, analysis), scale=scale))
        if fitted.groups is not None and "groups" in shown:
            for level_name, fit in fitted.groups.groups.items():
                fitted.results.append(new_row(context, fitted, fit, suffix=f"_{slug(level_name)}",
                                              subgroup_name=level_name, scale=scale))
            fitted.results.append(between_row(context, fitted))
    return fitted


def _new_note(context: Context, analysis: Analysis) -> str:
    """The note of a new analysis's overall row, with the correlation a paired one assumes."""
    if analysis.effect is None or not analysis.effect.paired:
        return analysis.note
    assumed = (f"paired variance with an assumed within-patient correlation r = "
               f"{context.dossier.meta.options.assumed_correlation:g} (an assumption)")
    return join_notes((analysis.note, assumed))


def _regression_rows(context: Context, fitted: Fitted) -> list[dict[str, Any]]:
    """One row per moderator coefficient of a meta-regression (model scale); its bubble plot
    becomes the analysis's figure."""
    from metakit.engine.effect_sizes import LOG_MEASURES

    analysis, fit = fitted.analysis, fitted.fit
    measure = analysis.effect.measure if analysis.effect else ""
    names = list(fit.mod_names[1:])
    r2 = f"R² = {fit.r2:.0f}%" if np.isfinite(fit.r2) else ""
    rows = []
    for i, name in enumerate(names, start=1):
        rows.append(context.results.row(
            analysis_id=analysis.id + ("" if len(names) == 1 else f"_{slug(name)}"),
            outcome=analysis.options.get("outcome", analysis.title),
            measure=f"{'log ' * (measure in LOG_MEASURES)}{measure} per {name}",
            analysis=analysis.title, model=fit.model_label, k=fit.k,
            estimate=float(fit.beta[i]), ci_low=float(fit.ci_low[i]),
            ci_high=float(fit.ci_high[i]), p_value=float(fit.pval[i]), tau2=fit.tau2,
            i2=fit.i2, q=fit.q, q_df=fit.q_df, q_pval=fit.q_pval, verdict="new",
            note=join_notes((r2, analysis.note))))

    def figure() -> Any:
        from metakit.plots import bubble

        shown = analysis.figure   # its xlabel names the effect axis, the bubble plot's y
        return bubble(fit, labels=True, xlabel=names[0],
                      title=shown.title if shown and shown.title else analysis.title,
                      ylabel=shown.xlabel if shown else None)

    fitted.figure = figure
    return rows


def _is_share(analysis: Analysis) -> bool:
    return analysis.effect is not None and analysis.effect.measure in PROPORTION


def slug(text: str) -> str:
    """A label as an id fragment (``"MSC/scaffolds"`` -> ``msc_scaffolds``, ``">= 40"`` ->
    ``ge_40``)."""
    for sign, word in ((">=", " ge "), ("<=", " le "), ("≥", " ge "), ("≤", " le "),
                       (">", " gt "), ("<", " lt "), ("+", " plus ")):
        text = text.replace(sign, word)
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


@kind("count")
def count(context: Context, analysis: Analysis) -> Fitted:
    """Rows of a data table that match ``where`` (or the sum of ``options.sum``), against each
    printed count the analysis answers."""
    if analysis.data is None:
        raise DossierError(f"{context.where(analysis)}: 'count' needs 'data'")
    rows = context.dossier.select(analysis.data, analysis.where, analysis.exclude)
    column = analysis.options.get("sum")
    value = float(_numbers(rows, column, analysis.id).sum()) if column else float(len(rows))
    fitted = Fitted(analysis, rows)
    for pid in (i for answer in analysis.answers for i in answer.overall):
        fitted.results.append(context.results.compare_row(
            context.published_row(pid), analysis=analysis.title, estimate=value,
            k=len(rows), note=analysis.remarks.get(pid, "")))
    return fitted


"""Robustness re-runs of a review's analyses under modern defaults.

Every analysis of ``analyses.yaml`` flagged ``robustness: true`` is refitted with REML (or the
dossier's ``options.robust_method``) and the Hartung-Knapp-Sidik-Jonkman adjustment, with a
prediction interval, overall and per subgroup, and its overall fit is re-run leaving out each
study in turn under both models. A row is flagged where statistical significance against the null
(OR 1, difference 0; single-arm means and proportions test no contrast) changes from the authors'
model: those rows carry :data:`metakit.workbook.summary.FLIP_MARKER` in their note, which the
findings summary reads.

References
----------
IntHout, J., Ioannidis, J. P. A., & Borm, G. F. (2014). The Hartung-Knapp-Sidik-Jonkman method
for random effects meta-analysis is straightforward and considerably outperforms the standard
DerSimonian-Laird method. BMC Medical Research Methodology, 14, 25.
Riley, R. D., Higgins, J. P. T., & Deeks, J. J. (2011). Interpretation of random effects
meta-analyses. BMJ, 342, d549.
Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for meta-analysis.
Research Synthesis Methods, 1(2), 112-125.
Stijnen, T., Hamza, T. H., & Özdemir, P. (2010). Random effects meta-analysis of event outcome
in the framework of the generalized linear mixed model. Statistics in Medicine, 29, 3046-3067.
Schwarzer, G., Chemaitelly, H., Abu-Raddad, L. J., & Rücker, G. (2019). Seriously misleading
results using inverse of Freeman-Tukey double arcsine transformation in meta-analysis of single
proportions. Research Synthesis Methods, 10(3), 476-483.
Konstantopoulos, S. (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods, 2(1), 61-76.
Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis detected by
a simple, graphical test. BMJ, 315, 629-634.
Sterne, J. A. C., et al. (2011). Recommendations for examining and interpreting funnel plot
asymmetry in meta-analyses of randomised controlled trials. BMJ, 343, d4002.

Two more re-runs where they fit the data: pooled proportions are refitted as a random-intercept
logistic model (GLMM, :func:`metakit.rma_glmm`), which needs no transform and no continuity
correction (Stijnen, Hamza & Özdemir 2010; Schwarzer et al. 2019), and an analysis whose rows
repeat a study (``cluster`` in ``analyses.yaml``: time points or arms of one study) is refitted
as a three-level model (:func:`metakit.rma_mv`), in place of treating each row as an independent
study (Konstantopoulos 2011).

Analyses flagged ``bias: true`` also get Egger's regression test (:func:`bias_rows`), where they
have at least the paper's stated minimum of studies (``rules.bias_min_k`` in ``review.yaml``) or,
when it states none, the three a regression needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metakit.engine.bias import regtest, trimfill
from metakit.engine.measures import PROPORTION
from metakit.engine.transforms import back_transform
from metakit.engine.sensitivity import leave1out
from metakit.workbook.analyses import (
    model_of,
    Fitted,
    between_row,
    fit_analysis,
    new_row,
    slug,
)
from metakit.workbook.results import fit_summary, join_notes
from metakit.workbook.summary import FLIP_MARKER

if TYPE_CHECKING:
    from metakit.workbook.runner import Context

BIAS_COLUMNS = ("analysis_id", "k", "t", "df", "p", "note")
COLUMNS = ("analysis_id", "group", "model", "k", "authors", "re-run", "prediction interval",
           "tau2", "significant (authors)", "significant (re-run)", "conclusion changes")


def trims_and_fills(analysis: Any) -> bool:
    """Whether an analysis gets trim-and-fill: flagged ``bias``, and not of proportions (whose
    funnel has no null to be asymmetric about)."""
    return bool(analysis.bias) and analysis.effect.measure not in PROPORTION


def significant(fit: Any, null: float | None) -> bool | None:
    """Whether the CI (model scale) excludes ``null``; ``None`` when there is no null."""
    if null is None:
        return None
    model = model_of(fit)
    return not (model.ci_low <= null <= model.ci_high)


def _interval(values: dict[str, Any]) -> str:
    return f"{values['estimate']:.2f} ({values['ci_low']:.2f} to {values['ci_high']:.2f})"


def _prediction(fit: Any, scale: float) -> tuple[float, float]:
    model = model_of(fit)
    if model.measure:
        back = model.back_transform()
        return scale * back["pi_low"], scale * back["pi_high"]
    return scale * model.pi_low, scale * model.pi_high


def _pairs(authors: Fitted, robust: Fitted) -> list[tuple[str, Any, Any]]:
    pairs = [("overall", authors.fit, robust.fit)]
    if authors.groups is not None and robust.groups is not None:
        pairs += [(name, fit, robust.groups.groups[name])
                  for name, fit in authors.groups.groups.items() if name in robust.groups.groups]
    return pairs


def _loo_flips(fit: Any, null: float | None) -> tuple[pd.DataFrame, list[str]]:
    loo = leave1out(model_of(fit))
    if null is None:
        return loo, []
    whole = significant(fit, null)
    flips = [str(study) for study, row in loo.iterrows()
             if (not (row["ci_low"] <= null <= row["ci_high"])) != whole]
    return loo, flips


def robustness_rows(context: Context, fitted: dict[str, Fitted]
                    ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The robustness table and its ``new`` results rows, for every flagged analysis."""
    options = context.dossier.meta.options
    table, rows = [], []
    for authors in fitted.values():
        analysis = authors.analysis
        if not analysis.robustness or authors.fit is None:
            continue
        robust = fit_analysis(context, analysis, method=options.robust_method, test="knha")
        scale = 100.0 if analysis.effect.measure in PROPORTION and options.percent else 1.0
        for name, fit_a, fit_r in _pairs(authors, robust):
            suffix = "_robust" + ("" if name == "overall" else "_" + slug(name))
            record, row = _rerun(context, authors, name, fit_a, fit_r, suffix, scale)
            table.append(record)
            rows.append(row)
        if robust.groups is not None:
            label = model_of(robust.fit).model_label
            rows.append(between_row(context, robust, suffix="_robust_between",
                                    note=f"subgroup summaries of {label}"))
        rows += _loo_rows(context, authors, robust, authors.null, scale)
        for extra in (_glmm_reruns(context, authors, scale), _three_level(context, authors)):
            for record, row in extra:
                table.append(record)
                rows.append(row)
    return pd.DataFrame(table, columns=list(COLUMNS)), rows


def _rerun(context: Context, authors: Fitted, name: str, fit_a: Any, fit_r: Any, suffix: str,
           scale: float, note: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """One re-run beside the authors' fit: its robustness-table record and results row."""
    model = model_of(fit_r)
    a, r = fit_summary(model_of(fit_a), scale=scale), fit_summary(model, scale=scale)
    null = authors.null
    sig_a, sig_r = significant(fit_a, null), significant(fit_r, null)
    changes = None if null is None else sig_a != sig_r
    low, high = _prediction(fit_r, scale)
    label = model.model_label
    record = dict(zip(COLUMNS, (authors.analysis.id, name, label, model.k, _interval(a),
                                _interval(r), f"{low:.2f} to {high:.2f}", model.tau2, sig_a,
                                sig_r, changes)))
    note = "; ".join(p for p in (note, f"prediction interval {low:.2f} to {high:.2f}",
                                 f"{FLIP_MARKER} from the authors' model" if changes else "")
                     if p)
    row = new_row(context, authors, fit_r, suffix=suffix, subgroup_name="" if name == "overall"
                  else name, note=note, scale=scale,
                  title=f"{authors.analysis.title}: re-run with {label}")
    return record, row


def _glmm_reruns(context: Context, authors: Fitted, scale: float
                 ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pooled proportions refitted as a GLMM (logit link, ML), overall and per subgroup."""
    from metakit.engine.glmm import rma_glmm
    from metakit.workbook.analyses import effect_columns

    analysis = authors.analysis
    if analysis.effect is None or analysis.effect.source != "proportions":
        return []
    rows, arguments = effect_columns(context, analysis)
    groups = rows[analysis.subgroups].astype(str).to_numpy() if analysis.subgroups else None
    pairs = [("overall", authors.fit, np.full(len(rows), True))]
    if authors.groups is not None and groups is not None:
        pairs += [(name, fit, groups == name) for name, fit in authors.groups.groups.items()]
    out = []
    for name, fit_a, keep in pairs:
        suffix = "_glmm" + ("" if name == "overall" else "_" + slug(name))
        try:
            fit_r = rma_glmm(arguments["xi"][keep], arguments["ni"][keep], level=context.level,
                             slab=rows.loc[keep, analysis.label].astype(str).tolist())
        except ValueError as error:
            out.append(_not_estimable(context, authors, name, "GLMM (ML)", suffix, error))
            continue
        out.append(_rerun(context, authors, name, fit_a, fit_r, suffix, scale))
    return out


def _three_level(context: Context, authors: Fitted
                 ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """An analysis whose rows repeat a study, refitted with a level for study (``cluster``)."""
    from metakit.engine.multilevel import rma_mv

    analysis = authors.analysis
    model = model_of(authors.fit)
    if analysis.cluster is None or not hasattr(model, "yi"):
        return []
    study = authors.rows[analysis.cluster].astype(str).tolist()
    try:
        fit_r = rma_mv(model.yi, model.vi, study=study, method="REML", level=context.level,
                       measure=model.measure, slab=model.slab)
    except ValueError as error:
        return [_not_estimable(context, authors, "overall", "3-level RE (REML)", "_three_level",
                               error)]
    between, within = fit_r.sigma2
    note = (f"{fit_r.k} rows in {fit_r.n_studies} studies; σ² between studies {between:.4g}, "
            f"within studies {within:.4g}; the authors' model treats the rows as independent")
    return [_rerun(context, authors, "overall", authors.fit, fit_r, "_three_level", 1.0, note)]


def _not_estimable(context: Context, authors: Fitted, name: str, label: str, suffix: str,
                   error: Exception) -> tuple[dict[str, Any], dict[str, Any]]:
    record = dict(zip(COLUMNS, (authors.analysis.id, name, label, None, None, None, None, None,
                                None, None, None)))
    row = context.results.row(
        analysis_id=authors.analysis.id + suffix, outcome=authors.analysis.title,
        subgroup="" if name == "overall" else name,
        analysis=f"{authors.analysis.title}: re-run with {label}", verdict="new",
        note=f"not estimable: {str(error)[:160]}")
    return record, row


def bias_rows(context: Context, fitted: dict[str, Fitted]
              ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Egger's test (and, except for proportions, trim-and-fill) of every analysis flagged
    ``bias``: a table and its ``new`` results rows.

    The test runs from three studies; below ten it has very little power, and below the
    paper's own minimum (``rules.bias_min_k``) the note says the paper would not have run it.

    References
    ----------
    Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
    detected by a simple, graphical test. BMJ, 315, 629-634.
    Duval, S., & Tweedie, R. (2000). Trim and fill: a simple funnel-plot-based method of testing
    and adjusting for publication bias in meta-analysis. Biometrics, 56(2), 455-463.
    """
    rule = context.dossier.meta.rules.get("bias_min_k")
    table, rows = [], []
    for analysis_id, authors in fitted.items():
        if not authors.analysis.bias or authors.fit is None:
            continue
        model = model_of(authors.fit)
        if model.k < 3:
            table.append(dict(zip(BIAS_COLUMNS, (analysis_id, model.k, None, None, None,
                                                 f"not run: k = {model.k}, fewer than 3"))))
            continue
        proportion = authors.analysis.effect.measure in PROPORTION
        test = regtest(model)
        note = "; ".join(part for part in (
            f"k = {model.k}, below the paper's own minimum of {rule.value} for a bias test"
            if rule is not None and model.k < int(rule.value) else "",
            "k < 10: very low power" if model.k < 10 else "",
            "on the transformed proportions: Egger's test is not designed for proportions"
            if proportion else "") if part)
        table.append(dict(zip(BIAS_COLUMNS, (analysis_id, model.k, test.stat, test.df,
                                             test.pval, note))))
        outcome = authors.analysis.options.get("outcome", authors.analysis.title)
        rows.append(context.results.row(
            analysis_id=f"{analysis_id}_egger", outcome=outcome, measure="egger",
            analysis="Egger's regression test (weighted, predictor SE; t statistic)", k=model.k,
            estimate=test.stat, p_value=test.pval, verdict="new",
            note=join_notes((f"t = {test.stat:.2f} on {test.df} df", note))))
        if trims_and_fills(authors.analysis):
            filled = trimfill(model)
            rows.append(context.results.row(
                analysis_id=f"{analysis_id}_trimfill", outcome=outcome,
                measure=authors.analysis.effect.measure,
                analysis=f"{authors.analysis.title}: trim-and-fill (L0)", verdict="new",
                note=f"{filled.k0} {'study' if filled.k0 == 1 else 'studies'} filled on the "
                     f"{filled.side}", **fit_summary(filled.result)))
    return pd.DataFrame(table, columns=list(BIAS_COLUMNS)), rows


def _loo_rows(context: Context, authors: Fitted, robust: Fitted,
              null: float | None, scale: float = 1.0) -> list[dict[str, Any]]:
    """Leave-one-out of the overall fit under the authors' and the robust model."""
    rows = []
    for label, fitted in (("authors", authors), ("robust", robust)):
        model = model_of(fitted.fit)
        if model.k < 3:
            continue
        loo, flips = _loo_flips(fitted.fit, null)
        estimates = scale * np.array([back_transform(model.measure, value, model.ni)
                                      for value in loo["estimate"]])
        note = (f"estimates range {estimates.min():.2f} to {estimates.max():.2f}; "
                + (f"{FLIP_MARKER} without: {', '.join(flips)}" if flips
                   else "significance never changes" if null is not None
                   else "no null to test against"))
        row = context.results.row(
            analysis_id=f"{authors.analysis.id}_loo_{label}", outcome=authors.analysis.title,
            analysis=f"leave-one-out, {'authors model' if label == 'authors' else 'robust model'}"
                     f" ({model.model_label})", k=model.k, verdict="new", note=note)
        rows.append(row)
    return rows

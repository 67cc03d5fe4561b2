"""Kinds for single cohorts that print counts, percentages and 2×2 tests instead of pooled effects.

Each kind reads data rows with ``events`` and ``n`` columns (:mod:`metakit.engine.cohort` does
the statistics):

- ``share``: every selected row is a proportion ``events / n`` with a Wilson and an exact
  (Clopper-Pearson) interval, a ``new`` row each (``<id>_<label>``), a table and a figure. It
  answers printed percentages: ``answers.groups`` maps a row's ``label`` to the published rows
  printing its percentage (``overall`` when one row is selected; ``scale: 100`` for percent). A
  printed percentage is ``reproduced`` when ``scale * events / n`` rounds to it. The
  denominator is the data row's: where the dossier corrects a printed denominator (a data row
  whose ``n`` differs from the published row's, with its ``source`` and ``derivation``), the note
  says so. Whether the printed percentage can be reached from the *printed* denominator at all
  is checked as well (:func:`metakit.audit.percent_of_n`).
- ``chi2``: the rows of each ``subgroups`` value (or all selected rows) are the two groups of a
  2×2 table, in file order: Pearson's χ² with Yates' continuity correction (as R's
  ``chisq.test``), Fisher's exact test, the odds ratio with Woolf's interval and the risk
  difference with Newcombe's. It answers printed tests (``answers.groups``: subgroups value ->
  published rows, whose ``estimate`` is the printed χ² and ``p_value`` its p): ``reproduced`` when
  both round to the printed values; the printed χ² and p are also checked against each other
  (:func:`metakit.audit.q_pval`, on 1 df). Its ``new`` row per pair (``<id>_<value>``) holds the
  odds ratio, its interval and Fisher's p.
- ``versus_cited``: a cohort proportion (``options.cohort``: a data table, with
  ``options.cohort_where``) against rates cited from other studies (the selected rows, with
  ``pct`` and, where printed, ``n``). With a cited denominator: the difference in percentage
  points with Newcombe's interval and Fisher's exact p, once for each whole count nearest
  ``pct × n`` that prints as ``pct`` (``<id>_<label>_<count>``); without one: the exact binomial
  test against the cited rate taken as known, which ignores its uncertainty (``<id>_<label>``).
- ``composition``: a stacked bar of the ``events`` of the selected rows (the parts of one
  total, in the order ``where`` lists their labels), ``options.unit`` naming what is counted.

References
----------
Yates, F. (1934). Contingency tables involving small numbers and the χ² test. Supplement to the
Journal of the Royal Statistical Society, 1(2), 217-235.
Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
comparison of eleven methods. Statistics in Medicine, 17(8), 873-890.
Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test. Social Psychological and
Personality Science, 8(4), 363-369.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from metakit import audit
from metakit.audit import Printed
from metakit.engine import cohort
from metakit.workbook.analyses import Fitted, _numbers, kind, slug, study_labels
from metakit.workbook.dossier import Analysis, DossierError
from metakit.workbook.results import join_notes, rounds_to

if TYPE_CHECKING:
    from metakit.workbook.runner import Context


def _counted(context: Context, analysis: Analysis, table: str | None = None,
             where: dict[str, Any] | None = None) -> pd.DataFrame:
    """Selected rows with whole ``events`` and ``n`` (as ints), in file order."""
    name = table or analysis.data
    if name is None:
        raise DossierError(f"{context.where(analysis)}: kind {analysis.kind!r} needs 'data'")
    selector = analysis.where if table is None else where
    rows = context.dossier.select(name, selector, analysis.exclude if table is None else None)
    if rows.empty:
        raise DossierError(f"{context.where(analysis)}: no row of {name}.csv matches "
                           f"{selector}")
    rows = rows.copy()
    for column in ("events", "n"):
        rows[column] = _numbers(rows, column, f"{context.where(analysis)} ({name}.csv)")
        rows[column] = rows[column].astype(int)
    return rows


def _answered(context: Context, analysis: Analysis, keys: list[str]
              ) -> list[tuple[str, str, float]]:
    """``(key, published id, scale)`` for every published row the analysis answers."""
    targets = []
    for answer in analysis.answers:
        if answer.between:
            raise DossierError(f"{context.where(analysis)}: kind {analysis.kind!r} answers "
                               f"no test of subgroup differences ('between')")
        if answer.overall and len(keys) != 1:
            raise DossierError(f"{context.where(analysis)}: 'overall' needs exactly one "
                               f"row or pair; map rows to published ids under 'groups'")
        targets += [(keys[0], pid, answer.scale) for pid in answer.overall]
        for key, pids in answer.groups.items():
            if key not in keys:
                raise DossierError(f"{context.where(analysis)}: answers {key!r}, which is "
                                   f"none of {', '.join(keys)}")
            targets += [(key, pid, answer.scale) for pid in pids]
    return targets


def truncated(value: float, printed: str) -> bool:
    """True when ``printed`` is ``value`` cut (not rounded) to the printed decimals."""
    shown = Printed.parse(str(printed), name="printed value")
    step = 10.0 ** -(shown.decimals or 0)
    cut = math.floor(abs(value) / step + 1e-9) * step
    return not rounds_to(value, printed) and math.isclose(cut, abs(shown.value), abs_tol=step / 10)


def _mismatch(what: str, value: float, printed: str, digits: int = 2, unit: str = "") -> str:
    note = f"{what} = {value:.{digits}f}{unit}, printed {printed}{unit}"
    return note + (" (cut, not rounded)" if truncated(value, printed) else "")


def _shown(text: str) -> str:
    return text.replace("_", " ")


@kind("share")
def share(context: Context, analysis: Analysis) -> Fitted:
    """Proportions of data rows against printed percentages (see the module docstring)."""
    rows = _counted(context, analysis)
    labels = study_labels(context, analysis, rows)
    if len(set(labels)) != len(labels):
        raise DossierError(f"{context.where(analysis)}: label column {analysis.label!r} "
                           f"repeats a value among the selected rows")
    groups = (rows[analysis.subgroups].astype(str).tolist() if analysis.subgroups
              else [""] * len(rows))
    by_label = dict(zip(labels, rows.to_dict("records")))
    fitted = Fitted(analysis, rows)
    for label, pid, scale in _answered(context, analysis, labels):
        fitted.results.append(_share_row(context, analysis, pid, by_label[label], scale,
                                         fitted.checks))
    options = context.dossier.meta.options
    percent = 100.0 if options.percent else 1.0
    table = []
    for label, group, (events, n) in zip(labels, groups, zip(rows["events"], rows["n"])):
        wilson = cohort.proportion(events, n, method="wilson", level=context.level)
        exact = cohort.proportion(events, n, method="exact", level=context.level)
        table.append({"group": _shown(group), "label": _shown(label), "events": events, "n": n,
                      "rate": percent * wilson.estimate, "wilson_low": percent * wilson.low,
                      "wilson_high": percent * wilson.high, "exact_low": percent * exact.low,
                      "exact_high": percent * exact.high})
        fitted.results.append(context.results.row(
            analysis_id=f"{analysis.id}_{slug(label)}",
            outcome=analysis.options.get("outcome", analysis.title),
            measure="pct" if options.percent else "proportion",
            subgroup=f"{_shown(group)}: {_shown(label)}" if group else _shown(label),
            analysis=f"{events}/{n} with Wilson {context.level:g}% CI", k=1,
            estimate=table[-1]["rate"], ci_low=table[-1]["wilson_low"],
            ci_high=table[-1]["wilson_high"], verdict="new",
            note=f"exact (Clopper-Pearson) CI {table[-1]['exact_low']:.1f} to "
                 f"{table[-1]['exact_high']:.1f}"))
    fitted.table = pd.DataFrame(table).drop(columns=[] if analysis.subgroups else ["group"])
    fitted.figure = lambda: _rates_figure(context, analysis, fitted.table)
    return fitted


def _share_row(context: Context, analysis: Analysis, pid: str, data: dict[str, Any],
               scale: float, checks: dict[str, list[Any]]) -> dict[str, Any]:
    """One printed percentage against ``scale * events / n`` of its data row."""
    row = context.published_row(pid)
    events, n = data["events"], data["n"]
    value = scale * events / n
    unit = "%" if scale == 100 else ""
    printed_n = row.get("n")
    found = []
    if printed_n is not None and scale == 100:
        found = [audit.percent_of_n(row["estimate"], int(printed_n),
                                    label=f"{pid}: {row['estimate']}% of the printed n")]
        checks[pid] = found
    corrected = ""
    if printed_n is not None and int(printed_n) != n:
        corrected = (f"the paper divides by {printed_n}; the data give n = {n} ("
                     + join_notes((data.get("source"), data.get("derivation"))) + ")")
    mismatch = "" if rounds_to(value, row["estimate"]) else _mismatch(
        f"{events}/{n}", value, row["estimate"], unit=unit)
    return context.results.compare_row(
        row, analysis=f"{events}/{n}" + (" × 100" if unit else ""), k=1, estimate=value,
        checks=found,
        note=join_notes((corrected, mismatch, analysis.remarks.get(pid), row.get("note"))))


def _rates_figure(context: Context, analysis: Analysis, table: pd.DataFrame) -> Any:
    from metakit.plots.cohort import rates

    percent = context.dossier.meta.options.percent
    scale = 100.0 if percent else 1.0
    figure = analysis.figure
    return rates(table["label"].tolist(), table["events"].tolist(), table["n"].tolist(),
                 (table["wilson_low"] / scale).tolist(), (table["wilson_high"] / scale).tolist(),
                 groups=table["group"].tolist() if "group" in table else None,
                 level=context.level, percent=percent,
                 title=figure.title if figure and figure.title else analysis.title,
                 xlabel=figure.xlabel if figure else None)


@kind("chi2")
def chi2(context: Context, analysis: Analysis) -> Fitted:
    """2×2 comparisons of pairs of data rows against printed tests (see the module docstring)."""
    rows = _counted(context, analysis)
    keys = (rows[analysis.subgroups].astype(str) if analysis.subgroups
            else pd.Series([analysis.id] * len(rows), index=rows.index))
    pairs = {key: rows[keys == key] for key in dict.fromkeys(keys)}
    for key, pair in pairs.items():
        if len(pair) != 2:
            raise DossierError(f"{context.where(analysis)}: {key!r} has {len(pair)} rows; "
                               f"a 2×2 table needs two")
    fitted = Fitted(analysis, rows)
    tests = {key: _two_by_two(context, analysis, pair) for key, pair in pairs.items()}
    for key, pid, _ in _answered(context, analysis, list(pairs)):
        fitted.results.append(_test_row(context, analysis, pid, tests[key]["chi2"],
                                        fitted.checks))
    for key, test in tests.items():
        suffix = f"_{slug(key)}" if analysis.subgroups else ""
        odds, diff = test["odds"], test["diff"]
        fitted.results.append(context.results.row(
            analysis_id=analysis.id + suffix, outcome=analysis.options.get("outcome",
                                                                           analysis.title),
            measure="OR", subgroup=test["comparison"], model="2×2 table", k=1,
            analysis=f"odds ratio (Woolf {context.level:g}% CI); Fisher's exact p",
            estimate=odds.estimate, ci_low=odds.low, ci_high=odds.high,
            p_value=test["fisher"].pvalue, verdict="new",
            note=f"Yates χ² = {test['chi2'].statistic:.3f}, p = {test['chi2'].pvalue:.4f}; "
                 f"risk difference {100 * diff.estimate:.1f} points (Newcombe "
                 f"{100 * diff.low:.1f} to {100 * diff.high:.1f})"))
    fitted.table = pd.DataFrame([{
        "comparison": t["comparison"], "group 1": t["group 1"], "group 2": t["group 2"],
        "OR": t["odds"].estimate, "OR low": t["odds"].low, "OR high": t["odds"].high,
        "RD (points)": 100 * t["diff"].estimate, "RD low": 100 * t["diff"].low,
        "RD high": 100 * t["diff"].high, "χ² (Yates)": t["chi2"].statistic,
        "p (χ²)": t["chi2"].pvalue, "p (Fisher)": t["fisher"].pvalue} for t in tests.values()])
    return fitted


def _two_by_two(context: Context, analysis: Analysis, pair: pd.DataFrame) -> dict[str, Any]:
    (e1, e2), (n1, n2) = pair["events"].tolist(), pair["n"].tolist()
    names = [_shown(x) for x in study_labels(context, analysis, pair)]
    return {"comparison": f"{names[0]} vs {names[1]}", "group 1": f"{names[0]}: {e1}/{n1}",
            "group 2": f"{names[1]}: {e2}/{n2}", "chi2": cohort.chi2(e1, n1, e2, n2),
            "fisher": cohort.fisher(e1, n1, e2, n2),
            "odds": cohort.odds_ratio(e1, n1, e2, n2, level=context.level),
            "diff": cohort.risk_difference(e1, n1, e2, n2, level=context.level)}


def _test_row(context: Context, analysis: Analysis, pid: str, test: cohort.TestResult,
              checks: dict[str, list[Any]]) -> dict[str, Any]:
    """A printed χ² (``estimate``) and its p (``p_value``) against the re-derived test."""
    row = context.published_row(pid)
    printed_p = row.get("p_value")
    found = []
    if printed_p is not None:
        found = [audit.q_pval(row["estimate"], 1, printed_p,
                              label=f"{pid}: printed χ² {row['estimate']} against its p")]
        checks[pid] = found
    p_ok = printed_p is None or rounds_to(test.pvalue, printed_p)
    statistic = "" if rounds_to(test.statistic, row["estimate"]) else \
        f"χ² = {test.statistic:.4g}, printed {row['estimate']}"
    notes = join_notes((statistic,
                        "" if p_ok else _mismatch("p", test.pvalue, printed_p, digits=4),
                        analysis.remarks.get(pid), row.get("note")))
    result = context.results.compare_row(
        row, analysis="Pearson χ², Yates' continuity correction, df = 1", model="2×2 table",
        k=1, estimate=test.statistic, p_value=test.pvalue, checks=found, note=notes)
    return result if p_ok else {**result, "verdict": "discrepant"}


@kind("versus_cited")
def versus_cited(context: Context, analysis: Analysis) -> Fitted:
    """A cohort proportion against cited rates (see the module docstring)."""
    table_name = analysis.options.get("cohort")
    if not table_name:
        raise DossierError(f"{context.where(analysis)}: options.cohort must name the data "
                           f"table of the cohort's proportion")
    mine = _counted(context, analysis, table_name, analysis.options.get("cohort_where"))
    if len(mine) != 1:
        raise DossierError(f"{context.where(analysis)}: options.cohort_where selects "
                           f"{len(mine)} rows of {table_name}.csv; it must select one")
    events, n = int(mine["events"].iloc[0]), int(mine["n"].iloc[0])
    cited = context.dossier.select(analysis.data or "", analysis.where, analysis.exclude)
    fitted = Fitted(analysis, cited)
    for record in cited.to_dict("records"):
        fitted.results += _cited_rows(context, analysis, record, events, n)
    fitted.table = pd.DataFrame([{
        "comparison": r["subgroup"], "test": r["analysis"], "difference (points)": r["estimate"],
        "low": r["ci_low"], "high": r["ci_high"], "p": r["p_value"], "note": r["note"]}
        for r in fitted.results])
    return fitted


def _cited_rows(context: Context, analysis: Analysis, cited: dict[str, Any], events: int,
                n: int) -> list[dict[str, Any]]:
    printed = f"{float(cited['pct']):g}"
    rate = float(cited["pct"]) / 100
    label = str(cited[analysis.label])
    base = {"outcome": analysis.options.get("outcome", analysis.title), "measure": "RD",
            "k": 1, "verdict": "new"}
    if pd.isna(cited.get("n")):
        test = cohort.binomial_vs_rate(events, n, rate)
        wilson = cohort.proportion(events, n, level=context.level)
        return [context.results.row(
            **base, analysis_id=f"{analysis.id}_{slug(label)}",
            subgroup=f"{events}/{n} vs {label} ({printed}%, no denominator printed)",
            analysis="exact binomial test against the cited rate taken as known",
            estimate=100 * (wilson.estimate - rate), ci_low=100 * (wilson.low - rate),
            ci_high=100 * (wilson.high - rate), p_value=test.pvalue,
            note="the cited rate's own uncertainty is ignored, so the p-value is too small; "
                 f"interval: Wilson {context.level:g}% CI of the cohort minus the cited rate")]
    total = int(cited["n"])
    counts = [c for c in sorted({math.floor(rate * total), math.ceil(rate * total)})
              if rounds_to(100 * c / total, printed)]
    rows = []
    for count in counts:
        diff = cohort.risk_difference(events, n, count, total, level=context.level)
        rows.append(context.results.row(
            **base, analysis_id=f"{analysis.id}_{slug(label)}_{count}",
            subgroup=f"{events}/{n} vs {label} ({count}/{total})",
            analysis=f"difference of proportions (Newcombe {context.level:g}% CI); "
                     f"Fisher's exact p", estimate=100 * diff.estimate,
            ci_low=100 * diff.low, ci_high=100 * diff.high,
            p_value=cohort.fisher(events, n, count, total).pvalue,
            note=f"cited count {count}/{total}: a whole count nearest {printed}% × {total} "
                 f"= {rate * total:.1f} that prints as {printed}%"))
    return rows


@kind("composition")
def composition(context: Context, analysis: Analysis) -> Fitted:
    """The parts of one total as a stacked bar (see the module docstring)."""
    if analysis.data is None:
        raise DossierError(f"{context.where(analysis)}: kind 'composition' needs 'data'")
    rows = context.dossier.select(analysis.data, analysis.where, analysis.exclude)
    listed = analysis.where.get(analysis.label)
    if isinstance(listed, list):    # the parts in the order ``where`` lists them
        order = {str(v): i for i, v in enumerate(listed)}
        rows = rows.iloc[rows[analysis.label].astype(str).map(order).argsort(kind="stable")]
    counts = _numbers(rows, "events", context.where(analysis)).astype(int).tolist()
    labels = [_shown(x) for x in study_labels(context, analysis, rows)]

    def figure() -> Any:
        from metakit.plots.cohort import composition as bar

        title = analysis.figure.title if analysis.figure and analysis.figure.title \
            else analysis.title
        return bar(labels, counts, title=title, unit=analysis.options.get("unit", ""))

    return Fitted(analysis, rows, figure=figure)

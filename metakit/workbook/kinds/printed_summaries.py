"""Kinds for papers whose study-level data are lost but whose subgroup summaries are printed.

Each kind reads printed rows (``data``, by default ``published``, with ``where``/``exclude``);
``subgroups`` names the column that puts the rows into sets (e.g. ``subgroup_set``: every row
of one subgroup analysis carries the set's name; sets come in the order ``where`` lists them),
and ``label`` the row labels.

- ``subgroup_differences``: per set, the test of subgroup differences the paper did not print,
  Cochran's Q between the printed subgroup summaries (each SE from its printed CI), and for two
  subgroups their difference with its CI (Altman & Bland 2003). One ``new`` row per set, id
  ``<set>_difference``; ``remarks`` keyed by that id add to its note. Rows left out by
  ``exclude`` are named in the note.
- ``summaries_forest``: the printed subgroup summaries as a forest plot, each set closed by the
  printed total named in ``options.totals`` (set -> published id); rows whose own printed
  numbers fail an audit check are marked. Nothing is re-pooled; no results row.
- ``double_counting``: how many rows each set's printed pooled total must have pooled, from its
  printed I² and heterogeneity p (:func:`metakit.audit.df_range`: rows = df + 1), against the
  number of studies of the outcome (``options.sets``: set -> ``{total, studies}``, the published
  rows of the total and of the analysis that prints k). More rows than studies means the
  total counts patients more than once; the table shows the CI of each total widened as if every
  study's rows were perfectly correlated (half-width x sqrt(rows / studies)), the far end of the
  correction. No results row.
- ``patient_totals``: which studies of the ``data`` table can produce the patient totals printed
  for each published row (``options.rows``: published id -> a 0/1 column of the studies Table 1
  lists with that outcome; ``options.arms``: the count columns, the same in ``published.csv``
  and the data; ``options.alternatives``: a table of other ways a study may enter, one row per
  way, column ``arm`` describing it), by exhaustive search (:mod:`metakit.audit.subsets`). No
  results row: enrolled and analysed numbers may differ, which papers rarely say.
- ``significance_claims``: which printed results each place of the paper calls significant
  (``options.claims``: a table of ``place, analysis_id``, one row per claim) against the printed
  p at the stated alpha (``rules.alpha`` in ``review.yaml``). No results row.

References
----------
Altman, D. G., & Bland, J. M. (2003). Interaction revisited: the difference between two
estimates. BMJ, 326, 219.
Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2022). Cochrane Handbook, section 10.11.3.1
(tests for subgroup differences).
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Senn, S. (2009). Overstating the evidence: double counting in meta-analysis and related
problems. BMC Medical Research Methodology, 9, 10.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metakit import audit
from metakit.audit import Printed
from metakit.audit.subsets import matching_subsets
from metakit.engine.effect_sizes import escalc
from metakit.engine.measures import LOG_MEASURES
from metakit.engine.subgroups import q_between
from metakit.workbook.analyses import Fitted, effect_columns, kind
from metakit.workbook.dossier import Analysis, DossierError

if TYPE_CHECKING:
    from metakit.workbook.runner import Context


def _option(context: Context, analysis: Analysis, name: str) -> Any:
    if name not in analysis.options:
        raise DossierError(f"{context.where(analysis)}: needs options.{name}")
    return analysis.options[name]


def _printed_row(context: Context, analysis: Analysis, pid: str,
                 columns: tuple[str, ...]) -> dict[str, Any]:
    """A published row that must print ``columns``; the error names the row and the column."""
    row = context.published_row(pid)
    for column in columns:
        if row.get(column) is None:
            raise DossierError(f"{context.where(analysis)}: published row {pid!r} prints no "
                               f"{column!r}")
    return row


def _rows(context: Context, analysis: Analysis, *, exclude: bool = True) -> pd.DataFrame:
    """The printed rows the analysis reads, with a set column (``subgroups``)."""
    rows = context.dossier.select(analysis.data or "published", analysis.where,
                                  analysis.exclude if exclude else None)
    if analysis.subgroups is None or analysis.subgroups not in rows.columns:
        raise DossierError(f"{context.where(analysis)}: needs 'subgroups', the column naming "
                           f"each row's set")
    if rows.empty:
        raise DossierError(f"{context.where(analysis)}: no row matches {analysis.where}")
    return rows


def _in_order(rows: pd.DataFrame, analysis: Analysis) -> list[tuple[str, pd.DataFrame]]:
    """The sets in the order ``where`` lists them (else in order of first appearance)."""
    sets = dict(list(rows.groupby(analysis.subgroups, sort=False)))
    named = analysis.where.get(analysis.subgroups)
    order = [str(n) for n in named] if isinstance(named, list) else list(sets)
    return [(name, sets[name]) for name in order if name in sets]


@kind("subgroup_differences")
def subgroup_differences(context: Context, analysis: Analysis) -> Fitted:
    """Tests of subgroup differences from printed summaries (see the module docstring)."""
    from scipy import stats

    if analysis.effect is None or analysis.effect.source != "published":
        raise DossierError(f"{context.where(analysis)}: needs effect.source 'published'")
    rows, arguments = effect_columns(context, analysis)
    es = escalc(analysis.effect.measure, **arguments, level=context.level)
    ratio = analysis.effect.measure in LOG_MEASURES
    crit = float(stats.norm.isf((1 - context.level / 100) / 2))
    every = _rows(context, analysis, exclude=False)
    results, table = [], []
    for name, members in _in_order(rows, analysis):
        at = rows.index.get_indexer(members.index)
        yi, se = es["yi"].to_numpy()[at], np.sqrt(es["vi"].to_numpy()[at])
        if len(at) < 2:
            raise DossierError(f"{context.where(analysis)}: set {name!r} has one row; a test "
                               f"of subgroup differences needs two")
        labels = members[analysis.label].astype(str).tolist()
        q, df, p = q_between(yi, se)
        values: dict[str, Any] = {"k": len(at), "q": q, "q_df": df, "q_pval": p, "p_value": p}
        notes = []
        if len(at) == 2:
            d, half = yi[0] - yi[1], crit * math.hypot(*se)
            values.update(zip(("estimate", "ci_low", "ci_high"),
                              np.exp([d, d - half, d + half]) if ratio else (d, d - half,
                                                                             d + half)))
            notes.append(f"{'ratio' if ratio else 'difference'} {labels[0]} "
                         f"{'over' if ratio else 'minus'} {labels[1]}")
        left = every.index.difference(rows.index)
        left = every.loc[left][every.loc[left, analysis.subgroups] == name]
        if len(left):
            notes.append("left out: " + ", ".join(left["analysis_id"].astype(str)))
        rid = f"{name}_difference"
        notes.append(analysis.remarks.get(rid, ""))
        outcome = members["outcome"].iloc[0] if "outcome" in members else analysis.title
        results.append(context.results.row(
            analysis_id=rid, outcome=outcome, measure=analysis.effect.measure,
            subgroup=" vs ".join(labels), model="Q between printed subgroup summaries",
            analysis=analysis.title, verdict="new", note="; ".join(n for n in notes if n),
            **values))
        table.append({"set": name, "subgroups": " vs ".join(labels), "Q": q, "df": df, "p": p,
                      "difference": values.get("estimate"), "ci_low": values.get("ci_low"),
                      "ci_high": values.get("ci_high")})
    return Fitted(analysis, rows, results=results, table=pd.DataFrame(table).set_index("set"))


def _printed(row: dict[str, Any]) -> str:
    """``estimate [ci_low, ci_high]`` as printed, with the p-value where printed."""
    text = f"{row['estimate']} [{row['ci_low']}, {row['ci_high']}]"
    return text + (f", p {row['p_value']}" if row.get("p_value") else "")


def _block(rows: pd.DataFrame, analysis: Analysis, name: str) -> str:
    """A set's heading: its outcome and name (``MELD (meld_time)``)."""
    outcomes = rows.loc[rows[analysis.subgroups] == name, "outcome"] if "outcome" in rows \
        else pd.Series(dtype=str)
    return f"{outcomes.iloc[0]} ({name})" if len(outcomes) else str(name)


@kind("summaries_forest")
def summaries_forest(context: Context, analysis: Analysis) -> Fitted:
    """A forest plot of printed summaries (see the module docstring)."""
    rows = _rows(context, analysis)
    totals = {}
    for name, pid in _option(context, analysis, "totals").items():
        total = _printed_row(context, analysis, pid, ("estimate", "ci_low", "ci_high"))
        het = ", ".join(text for text, c in ((f"I² {total.get('i2')}%", "i2"),
                                             (f"heterogeneity p {total.get('q_pval')}", "q_pval"))
                        if total.get(c))
        totals[_block(rows, analysis, name)] = {
            "label": f"Total as printed ({pid})", "text": f"Printed: {het}" if het else "",
            **{c: total[c] for c in ("estimate", "ci_low", "ci_high")}}
    shown = rows.assign(**{c: pd.to_numeric(rows[c]) for c in ("estimate", "ci_low", "ci_high")})
    shown[analysis.subgroups] = [_block(rows, analysis, name) for name in rows[analysis.subgroups]]
    shown["p"] = rows["p_value"].fillna("") if "p_value" in rows else ""
    shown["own checks"] = [
        "fail" if any(c.verdict == "inconsistent" and c.kind != "rule"
                      for c in context.battery(pid)) else "pass"
        for pid in rows["analysis_id"]]
    figure = analysis.figure
    favours = (figure.favours if figure and figure.favours
               else context.dossier.meta.options.favours)

    def draw() -> Any:
        from metakit.plots.summaries import summaries_forest as plot

        return plot(shown, group=analysis.subgroups, label=analysis.label, totals=totals,
                    columns=["p", "own checks"], measure=analysis.options.get("measure"),
                    level=context.level, favours=favours, title=figure.title if figure and
                    figure.title else analysis.title, xlabel=figure.xlabel if figure else None,
                    null=analysis.options.get("null", 0.0))

    return Fitted(analysis, rows, figure=draw)


def _df_text(fitting: tuple[int, int] | None, max_df: int) -> str:
    if fitting is None:
        return f"no df up to {max_df} fits"
    low, high = fitting
    return f"df {low}" if low == high else (f"df >= {low}" if high == max_df
                                            else f"df {low}-{high}")


@kind("double_counting")
def double_counting(context: Context, analysis: Analysis) -> Fitted:
    """Rows behind printed pooled totals against the studies (see the module docstring)."""
    rows = _rows(context, analysis)
    max_df = int(analysis.options.get("max_df", 200))
    table = []
    for name, spec in _option(context, analysis, "sets").items():
        if not isinstance(spec, dict) or not {"total", "studies"} <= set(spec):
            raise DossierError(f"{context.where(analysis)}: options.sets.{name} needs 'total' "
                               f"and 'studies' (published ids)")
        total = _printed_row(context, analysis, spec["total"],
                             ("estimate", "ci_low", "ci_high", "i2", "q_pval"))
        studies = _printed_row(context, analysis, spec["studies"], ("k",))
        fitting = audit.df_range(total["i2"], total["q_pval"], max_df=max_df)
        k = int(studies["k"])
        needed = fitting[0] + 1 if fitting else None
        est, lo, hi = (float(total[c]) for c in ("estimate", "ci_low", "ci_high"))
        half = (hi - lo) / 2 * math.sqrt(needed / k) if needed else math.nan
        table.append({
            "set": name, "total (as printed)": _printed(total),
            "I², heterogeneity p": f"{total['i2']}%, {total['q_pval']}",
            "subgroups": int((rows[analysis.subgroups] == name).sum()),
            "df compatible": _df_text(fitting, max_df), "rows at least": needed,
            "studies (k printed)": k, "k from": spec["studies"],
            "rows per study at least": round(needed / k, 1) if needed else None,
            "CI if fully correlated": f"[{est - half:.2f}, {est + half:.2f}]"})
    return Fitted(analysis, rows, table=pd.DataFrame(table).set_index("set"))


def _alternatives(context: Context, analysis: Analysis,
                  arms: list[str]) -> tuple[dict[str, list[tuple[int, ...]]], dict[str, list[str]]]:
    """Each study's ways of entering (its own arm sizes unless the alternatives table has it)."""
    studies = context.dossier.select(analysis.data, analysis.where, analysis.exclude)
    ways = {s: [tuple(int(r[a]) for a in arms)] for s, r in
            zip(studies[analysis.label].astype(str), studies.to_dict("records"))}
    names: dict[str, list[str]] = {}
    table = analysis.options.get("alternatives")
    if table:
        others = context.dossier.table(table)
        for study, group in others.groupby(others[analysis.label].astype(str), sort=False):
            ways[study] = [tuple(int(r[a]) for a in arms) for r in group.to_dict("records")]
            names[study] = group["arm"].astype(str).tolist()
    return ways, names


@kind("patient_totals")
def patient_totals(context: Context, analysis: Analysis) -> Fitted:
    """Subsets of studies that produce printed patient totals (see the module docstring)."""
    if analysis.data is None:
        raise DossierError(f"{context.where(analysis)}: needs 'data' (the study table)")
    arms = list(_option(context, analysis, "arms"))
    ways, names = _alternatives(context, analysis, arms)
    studies = context.dossier.select(analysis.data, analysis.where, analysis.exclude)
    table = []
    for pid, flag in _option(context, analysis, "rows").items():
        row = _printed_row(context, analysis, pid, (*arms, "k"))
        if flag not in studies.columns:
            raise DossierError(f"{context.where(analysis)}: {analysis.data}.csv has no column "
                               f"{flag!r} (options.rows)")
        listed = studies[pd.to_numeric(studies[flag]) == 1]
        matches = matching_subsets(ways, [int(row[a]) for a in arms])
        shown = "; ".join(", ".join(m.studies) + "".join(
            f" ({s}: {names[s][i]})" for s, i in zip(m.studies, m.alternatives) if s in names)
            for m in matches)
        table.append({
            "analysis": pid, "printed k": row.get("k"),
            "printed " + "/".join(arms): "/".join(str(row[a]) for a in arms),
            "Table 1 lists": f"{len(listed)}: " + ", ".join(listed[analysis.label].astype(str)),
            "their " + "/".join(arms): "/".join(str(int(listed[a].sum())) for a in arms),
            "matching subsets (any size)": shown or "none",
            "matching subsets of k studies": sum(len(m.studies) == int(row["k"])
                                                 for m in matches)})
    return Fitted(analysis, studies, table=pd.DataFrame(table).set_index("analysis"))


@kind("significance_claims")
def significance_claims(context: Context, analysis: Analysis) -> Fitted:
    """What the text calls significant against the printed p (see the module docstring)."""
    rule = context.dossier.meta.rules.get("alpha")
    if rule is None:
        raise DossierError(f"{context.where(analysis)}: needs rules.alpha in review.yaml")
    alpha = float(rule.value)
    rows = context.dossier.select(analysis.data or "published", analysis.where,
                                  analysis.exclude)
    claims = context.dossier.table(_option(context, analysis, "claims"))
    said = claims.groupby("place", sort=False)["analysis_id"].agg(set)
    frame = pd.DataFrame(index=rows[analysis.label].astype(str).tolist())
    frame["printed"] = [_printed(r) for r in rows.to_dict("records")]
    verdicts = []
    for p in rows["p_value"]:
        interval = Printed.parse(str(p))
        verdicts.append("yes" if interval.high < alpha else "no" if interval.low >= alpha
                        else "undecided")
    frame[f"printed p < {alpha:g}"] = verdicts
    for place, ids in said.items():
        frame[f"{place} says significant"] = ["yes" if i in ids else "no"
                                             for i in rows["analysis_id"]]
    return Fitted(analysis, rows, table=frame)

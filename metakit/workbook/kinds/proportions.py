"""Pooled proportions whose study counts are only partly known, and the Freeman-Tukey checks.

- ``partial_pool``: a paper printed pooled proportions (e.g. healing rates per time point and
  subgroup) from studies whose counts it does not show; some counts were found elsewhere (the
  primary studies' abstracts). The analysis's ``data`` rows are the *members* of each printed
  pool (which studies it had, with ``join`` for their attributes), ``options.counts`` the table
  of counts; each pool is re-run on the members that have counts, as the paper's software would
  (``metaprop``: Freeman-Tukey with the analysis's model; one study shows its Wilson interval).
  A pool answers a published row only where the dossier says so (``answers``: the members with
  counts are all of the pool); every other pool is a ``new`` row naming how many of its members
  it covers.
- Forensic checks for ``checks.yaml``: ``ft_ci`` and ``ft_subgroup_difference``
  (:mod:`metakit.audit.freeman_tukey`).

Options of ``partial_pool``: ``counts`` (table), ``counts_where`` (selector on it), ``match``
(columns shared by members and counts; default ``[study]``), ``by`` (a members column: one set of
pools per value, e.g. the time point; answered groups are then named ``"<value>: <group>"``),
``overall`` (default true: a pool of all members besides the ``subgroups`` pools). The effect's
``columns`` name the counts' ``xi`` and ``ni`` columns.

References
----------
Nyaga, V. N., Arbyn, M., & Aerts, M. (2014). Metaprop: a Stata command to perform meta-analysis
of binomial data. Archives of Public Health, 72, 39.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from metakit.audit import freeman_tukey
from metakit.engine.cohort import proportion
from metakit.engine.proportions import metaprop
from metakit.workbook.analyses import Fitted, kind, slug
from metakit.workbook.crosschecks import check
from metakit.workbook.dossier import Analysis, DossierError
from metakit.workbook.results import fit_summary

if TYPE_CHECKING:
    from metakit.workbook.runner import Context

check("ft_ci")(freeman_tukey.ft_ci)
check("ft_subgroup_difference")(freeman_tukey.ft_subgroup_difference)


def _members_with_counts(context: Context, analysis: Analysis) -> tuple[pd.DataFrame,
                                                                           pd.DataFrame]:
    where = context.where(analysis)
    options, effect = analysis.options, analysis.effect
    if analysis.data is None or "counts" not in options or effect is None:
        raise DossierError(f"{where}: partial_pool needs 'data' (the members), 'effect' and "
                           f"options.counts")
    members = context.dossier.select(analysis.data, analysis.where, analysis.exclude,
                                     analysis.join)
    counts = context.dossier.select(options["counts"], options.get("counts_where"))
    match = list(options.get("match", ["study"]))
    xi, ni = (effect.columns.get(a, a) for a in ("xi", "ni"))
    for column in (*match, xi, ni):
        if column not in counts.columns:
            raise DossierError(f"{where}: {options['counts']}.csv has no column {column!r}")
    counts = counts[counts[xi].notna() & counts[ni].notna()]
    keys = members[match].astype(str)
    have = counts.assign(**{c: counts[c].astype(str) for c in match})
    merged = keys.reset_index().merge(have[[*match, xi, ni]], on=match).set_index("index")
    counted = members.drop(columns=[c for c in (xi, ni) if c in members.columns])
    return members, counted.join(merged[[xi, ni]]).dropna(subset=[xi, ni])


def _pools(analysis: Analysis, members: pd.DataFrame) -> list[tuple[str, pd.Index]]:
    """(label, member index) of every pool: per ``by`` value, overall and per subgroup."""
    by = analysis.options.get("by")
    parts = [("", members)] if by is None else [
        (f"{value}: ", members[members[by].astype(str) == value])
        for value in dict.fromkeys(members[by].astype(str))]
    pools = []
    for prefix, part in parts:
        if analysis.options.get("overall", True):
            pools.append((prefix + "overall", part.index))
        if analysis.subgroups:
            for level in dict.fromkeys(part[analysis.subgroups].dropna().astype(str)):
                pools.append((prefix + level, part.index[
                    part[analysis.subgroups].astype(str) == level]))
    return pools


def _pooled(context: Context, analysis: Analysis, rows: pd.DataFrame,
            scale: float) -> dict[str, Any]:
    """``metaprop`` of the rows, or one study's proportion with its Wilson interval."""
    effect = analysis.effect
    assert effect is not None
    x, n = (rows[effect.columns.get(a, a)].astype(float) for a in ("xi", "ni"))
    if len(rows) == 1:
        single = proportion(int(x.iloc[0]), int(n.iloc[0]), "wilson", context.level)
        return {"model": "single study, Wilson CI", "k": 1, "estimate": scale * single.estimate,
                "ci_low": scale * single.low, "ci_high": scale * single.high}
    fit = metaprop(x.to_numpy(), n.to_numpy(), measure=effect.measure,
                   method=analysis.model.method, level=context.level,
                   slab=rows[analysis.label].astype(str).tolist())
    return fit_summary(fit.fit, scale=scale)


@kind("partial_pool")
def partial_pool(context: Context, analysis: Analysis) -> Fitted:
    """Pools of the members that have counts (see the module docstring)."""
    members, have = _members_with_counts(context, analysis)
    answered = {label: (pid, answer.scale) for answer in analysis.answers
                for label, pids in answer.groups.items() for pid in pids}
    answered.update({"overall": (pid, a.scale) for a in analysis.answers for pid in a.overall})
    fitted, coverage = Fitted(analysis, have), []
    columns = analysis.effect.columns if analysis.effect else {}
    default_scale = 100.0 if context.dossier.meta.options.percent else 1.0
    for label, index in _pools(analysis, members):
        rows = have.loc[have.index.intersection(index)]
        listed = ", ".join(f"{s} {x:g}/{n:g}" for s, x, n in zip(
            rows[analysis.label], *(rows[columns.get(a, a)] for a in ("xi", "ni"))))
        coverage.append({"pool": label, "studies in the pool": len(index),
                         "with counts": len(rows), "counts": listed})
        if label in answered:
            pid, scale = answered.pop(label)
            note = f"{len(rows)} of {len(index)} studies with counts ({listed})"
            remark = analysis.remarks.get(pid, "")
            fitted.results.append(context.results.compare_row(
                context.published_row(pid), analysis=analysis.title,
                note="; ".join(p for p in (note, remark) if p),
                **_pooled(context, analysis, rows, scale)))
        elif len(rows):
            fitted.results.append(context.results.row(
                analysis_id=f"{analysis.id}_{slug(label)}", outcome=analysis.title,
                measure=analysis.effect.measure, subgroup=f"{label} (partial)",
                analysis=analysis.title, verdict="new",
                note=f"partial: {len(rows)} of {len(index)} studies ({listed})",
                **_pooled(context, analysis, rows, default_scale)))
    if answered:
        raise DossierError(f"{context.where(analysis)}: answers a pool "
                           f"{next(iter(answered))!r} that it does not have")
    fitted.table = pd.DataFrame(coverage)
    return fitted

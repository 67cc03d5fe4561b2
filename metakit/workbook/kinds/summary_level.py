"""Kinds for papers that print only pooled summaries: what a printed I² implies.

- ``implied_pi``: from one published row (ratio estimate, CI, I², k), the between-study variance
  and prediction interval implied for assumed typical within-study variances
  (:func:`metakit.engine.summary_level.implied_heterogeneity`), at three reference values: equal
  studies read self-consistently, s² = (1 − I²) k SE²; equal studies read as fixed effect,
  s² = k SE²; and the floor that the largest study size allows (``per_patient_variance / n``).
  Its results row holds the prediction interval of the first reading in ``ci_low``/``ci_high``.
- ``narrowest_ci``: the narrowest CI around the printed estimate that the listed studies could
  give under DerSimonian-Laird with the printed I², each at its largest information
  (:func:`metakit.engine.summary_level.narrowest_pooled_se`).

Options (``analyses.yaml``): ``row`` (the published row), ``size`` (column of study sizes),
``per_patient_variance`` (default 4: a log hazard ratio of a 1:1 comparison has variance at least
4 / events), and for ``implied_pi`` the sweep ``s2_min``, ``s2_max``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metakit.audit import Printed
from metakit.engine.summary_level import (
    implied_heterogeneity,
    narrowest_pooled_se,
    s2_for_excluding_null,
)
from metakit.workbook.analyses import Fitted, kind
from metakit.workbook.dossier import Analysis, DossierError

if TYPE_CHECKING:
    from metakit.workbook.runner import Context


def _printed(context: Context, analysis: Analysis) -> dict[str, Any]:
    """The published row the analysis starts from, on the log scale."""
    pid = analysis.options.get("row")
    if not pid:
        raise DossierError(f"{context.where(analysis)}: options.row must name "
                           f"the published row")
    row = context.published_row(pid)
    try:
        estimate, low, high = (float(row[c]) for c in ("estimate", "ci_low", "ci_high"))
        i2, k = float(row["i2"]), int(row["k"])
    except (TypeError, ValueError):
        raise DossierError(f"{context.where(analysis)}: {pid} needs a printed "
                           f"estimate, CI, I² and k") from None
    from scipy import stats

    crit = float(stats.norm.ppf(1 - (1 - context.level / 100) / 2))
    return {"row": row, "pid": pid, "estimate": estimate, "mu": math.log(estimate),
            "se": (math.log(high) - math.log(low)) / (2 * crit), "i2": i2, "k": k,
            "crit": crit}


def _sizes(context: Context, analysis: Analysis) -> tuple[pd.DataFrame, np.ndarray]:
    if analysis.data is None:
        raise DossierError(f"{context.where(analysis)}: needs 'data' (the "
                           f"studies whose sizes bound the variances)")
    rows = context.dossier.select(analysis.data, analysis.where, analysis.exclude)
    column = analysis.options.get("size", "n")
    return rows, pd.to_numeric(rows[column]).to_numpy(float)


@kind("implied_pi")
def implied_pi(context: Context, analysis: Analysis) -> Fitted:
    """The prediction interval a printed I² implies (see the module docstring)."""
    p = _printed(context, analysis)
    rows, sizes = _sizes(context, analysis)
    options, dist = analysis.options, context.dossier.meta.options.pi_dist
    floor = float(options.get("per_patient_variance", 4)) / sizes.max()
    references = {
        "equal studies, s2 = (1 - I2) k SE2": (1 - p["i2"] / 100) * p["k"] * p["se"] ** 2,
        "equal studies, s2 = k SE2": p["k"] * p["se"] ** 2,
        f"floor of the largest study, s2 = {options.get('per_patient_variance', 4)}/"
        f"{int(sizes.max())}": floor,
    }
    marks = implied_heterogeneity(p["mu"], p["se"], p["i2"], p["k"], list(references.values()),
                                  level=context.level, dist=dist)
    marks.insert(0, "assumption", list(references))
    marks["pi_low"], marks["pi_high"] = np.exp(marks["pi_low"]), np.exp(marks["pi_high"])
    marks["PI excludes 1"] = (marks["pi_high"] < 1) | (marks["pi_low"] > 1)
    edge = s2_for_excluding_null(p["mu"], p["se"], p["i2"], p["k"], level=context.level,
                                 dist=dist)
    first, second = marks.iloc[0], marks.iloc[1]
    note = (f"ci_low/ci_high hold the {context.level:g}% PREDICTION interval, centred on the "
            f"printed estimate (not re-derived). With s2 = k SE2: {second['pi_low']:.2f} to "
            f"{second['pi_high']:.2f}. The PI excludes 1 only if s2 < {edge:.4f}, against the "
            f"floor of the largest study {floor:.3f}.")
    row = context.results.row(
        analysis_id=analysis.id, outcome=p["row"].get("outcome"), measure=p["row"].get("measure"),
        model=f"random effects; PI with {dist}" + (" on k - 2 df" if dist == "t" else ""),
        analysis=analysis.title, k=p["k"], estimate=p["estimate"], ci_low=first["pi_low"],
        ci_high=first["pi_high"], i2=p["i2"], tau2=first["tau2"], verdict="new", note=note)
    grid = np.geomspace(float(options.get("s2_min", 0.005)), float(options.get("s2_max", 0.5)),
                        200)
    curve = implied_heterogeneity(p["mu"], p["se"], p["i2"], p["k"], grid, level=context.level,
                                  dist=dist)
    table = pd.concat([marks, pd.DataFrame([{"assumption": "largest s2 with the PI excluding 1",
                                             "s2": edge}])], ignore_index=True)

    def figure() -> Any:
        from metakit.plots.implied import implied_pi_plot

        return implied_pi_plot(curve, marks, p["row"], floor=floor, edge=edge,
                               level=context.level, dist=dist, k=p["k"],
                               title=analysis.title)

    return Fitted(analysis, rows, results=[row], table=table, figure=figure)


@kind("narrowest_ci")
def narrowest_ci(context: Context, analysis: Analysis) -> Fitted:
    """The narrowest CI the listed studies allow (see the module docstring)."""
    p = _printed(context, analysis)
    rows, sizes = _sizes(context, analysis)
    i2_low = Printed.parse(p["row"]["i2"]).low
    floors = float(analysis.options.get("per_patient_variance", 4)) / sizes
    narrowest = narrowest_pooled_se(floors, i2_low)
    fixed_se = math.sqrt(1 / np.sum(1 / floors))
    printed_se_high = ((math.log(Printed.parse(p["row"]["ci_high"]).high)
                        - math.log(Printed.parse(p["row"]["ci_low"]).low)) / (2 * p["crit"]))
    low = math.exp(p["mu"] - p["crit"] * narrowest.se)
    high = math.exp(p["mu"] + p["crit"] * narrowest.se)
    labels = ", ".join(rows[analysis.label].astype(str))
    note = (f"Centred on the printed estimate. Narrowest SE {narrowest.se:.4f} vs printed SE at "
            f"most {printed_se_high:.4f} ({p['row']['ci_low']} to {p['row']['ci_high']})"
            + (": the printed CI is narrower than these studies can produce with this I2"
               if narrowest.se > printed_se_high else ": attainable")
            + f"; a fixed-effect pool could reach SE {fixed_se:.4f}. Studies: {labels}.")
    row = context.results.row(
        analysis_id=analysis.id, outcome=p["row"].get("outcome"), measure=p["row"].get("measure"),
        model="DerSimonian-Laird, I2 as printed", analysis=analysis.title, k=len(rows),
        estimate=p["estimate"], ci_low=low, ci_high=high, i2=i2_low, tau2=narrowest.tau2,
        verdict="new", note=note)
    table = pd.DataFrame([{
        "studies": labels, "k": len(rows), "patients": int(sizes.sum()), "I2 used (%)": i2_low,
        "narrowest SE (DL, I2 as printed)": narrowest.se, "tau2 there": narrowest.tau2,
        "minimum at every floor": narrowest.at_floor,
        "narrowest SE with no heterogeneity": fixed_se,
        "printed SE, widest given rounding": printed_se_high,
        "narrowest CI around the printed estimate": f"{low:.2f} to {high:.2f}",
        "printed CI": f"{p['row']['ci_low']} to {p['row']['ci_high']}",
        "printed CI attainable": narrowest.se <= printed_se_high}], index=[p["pid"]]).T
    return Fitted(analysis, rows, results=[row], table=table)

"""Forest plot of printed summaries: what a paper printed, drawn in the RevMan layout.

When a paper's forest plots are images and only their summaries survive in the text, the printed
subgroup results can still be drawn side by side, each block closed by the total the paper
printed for it. Nothing is re-pooled: squares are printed estimates with their printed CIs (all
the same size, since no weight is printed), diamonds are printed totals.

References
----------
Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and the trees. BMJ, 322,
1479-1480.
The Cochrane Collaboration (2020). Review Manager (RevMan) 5.4 user guide: forest plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from metakit.plots._style import describe, require_nonempty
from metakit.plots.forest import MEASURE_NAMES, RATIO, _alt, _draw, _Row, _Scale

if TYPE_CHECKING:
    import pandas as pd

NOTE = "Squares: printed summaries (no weights printed); diamonds: printed totals, not re-pooled"


def summaries_forest(rows: pd.DataFrame, *, group: str, label: str,
                     totals: Mapping[str, Mapping[str, Any]] | None = None,
                     columns: Sequence[str] = (), measure: str | None = None,
                     level: float = 95, favours: tuple[str, str] | None = None,
                     null: float | None = 0.0, title: str | None = None,
                     xlabel: str | None = None, digits: int = 2,
                     plot_width: float = 2.6) -> Figure:
    """Printed summaries grouped into blocks, each block closed by its printed total.

    Parameters
    ----------
    rows : DataFrame
        One printed summary per row: ``estimate``, ``ci_low``, ``ci_high`` (numbers, on the scale
        printed: ratios as ratios), the ``group`` and ``label`` columns and any ``columns``.
    group : str
        Column naming each row's block (blocks in order of first appearance).
    label : str
        Column of row labels.
    totals : mapping of str to mapping, optional
        Per block, its printed total: ``label``, ``estimate``, ``ci_low``, ``ci_high`` and
        optionally ``text`` (a line under the block, e.g. the printed heterogeneity).
    columns : sequence of str
        Extra text columns shown beside the labels.
    measure : str, optional
        The measure (``SMD``, ``OR`` ...): its name heads the effect column; ratios get a log
        axis.
    level : float
        Level of the printed CIs (percent), for the header.
    favours : (str, str), optional
        What the left and the right of the null line favour ("Favours A | Favours B").
    null : float or None
        The value of no effect (default 0; use 1 for ratios); ``None`` draws no null line.
    title, xlabel, digits, plot_width
        As in :func:`metakit.plots.forest`.

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.alt`` saying what it shows.
    """
    missing = [c for c in ("estimate", "ci_low", "ci_high", group, label, *columns)
               if c not in getattr(rows, "columns", ())]
    if missing:
        raise ValueError(f"rows: expected a DataFrame with column {missing[0]!r}")
    require_nonempty("rows", len(rows), "rows")
    scale = _Scale(log=measure in RATIO, null=null, digits=digits)
    drawn: list[_Row] = []
    for name, block in rows.groupby(group, sort=False):
        drawn.append(_Row("header", str(name)))
        for record in block.to_dict("records"):
            est, lo, hi = (float(record[c]) for c in ("estimate", "ci_low", "ci_high"))
            drawn.append(_Row("study", str(record[label]), [str(record[c]) for c in columns],
                              "", scale.effect(est, lo, hi), est, lo, hi))
        total = (totals or {}).get(name)
        if total is not None:
            est, lo, hi = (float(total[c]) for c in ("estimate", "ci_low", "ci_high"))
            drawn.append(_Row("subtotal", str(total.get("label", "Total")),
                              [""] * len(columns), "", scale.effect(est, lo, hi), est, lo, hi))
            if total.get("text"):
                drawn.append(_Row("text", str(total["text"])))
        drawn.append(_Row("blank"))
    effect_header = f"{MEASURE_NAMES.get(measure or '', 'Estimate')}\n{level:g}% CI (printed)"
    if not np.isfinite([r.est for r in drawn if r.kind == "study"]).all():
        raise ValueError("rows: every estimate and CI bound must be a number")
    fig = _draw(drawn, [NOTE], scale=scale, label_header="Printed summary",
                col_headers=list(columns), weight_header=None, effect_header=effect_header,
                favours=None if null is None else favours, xlabel=xlabel, title=title,
                xlim=None, plot_width=plot_width)
    return describe(fig, _alt("Forest plot of printed summaries", title, drawn, effect_header,
                              [NOTE]))

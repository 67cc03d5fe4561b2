"""Figures of a single cohort: proportions with their intervals, and how a total is made up.

- :func:`rates`: one row per proportion (events, total, percentage and interval), grouped under
  headings, in the RevMan forest layout without a null line, weights or pooled diamond (a single
  cohort compares nothing against a null value);
- :func:`composition`: a stacked bar of the parts of one total (e.g. how the pregnancies ended).

References
----------
Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023), chapter 10
(forest plots); Wilson, E. B. (1927). Probable inference, the law of succession, and
statistical inference. Journal of the American Statistical Association, 22(158), 209-212.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from metakit.plots._style import describe, new_figure, require_nonempty, styled
from metakit.plots.forest import _draw, _Row, _Scale

_PART_COLOURS = ("#1F4E79", "#6BAED6", "#B2182B", "#F4A582", "#7F7F7F", "#BDBDBD")


def rates(labels: Sequence[str], events: Sequence[int], totals: Sequence[int],
          lows: Sequence[float], highs: Sequence[float], *,
          groups: Sequence[str] | None = None, level: float = 95, percent: bool = True,
          interval: str = "Wilson", title: str | None = None,
          xlabel: str | None = None) -> Figure:
    """Proportions ``events / totals`` with their confidence intervals, one row each.

    Parameters
    ----------
    labels : sequence of str
        Row labels.
    events, totals : sequence of int
        Counts and denominators (shown as columns).
    lows, highs : sequence of float
        Interval bounds as proportions (0 to 1).
    groups : sequence of str, optional
        A heading for each row; consecutive rows with one heading are drawn under it.
    level : float
        Confidence level of the intervals, percent.
    percent : bool
        Show percentages (else proportions).
    interval : str
        Name of the interval method, for the header and the alternative text.
    title, xlabel : str, optional
        Figure title and axis label.

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.alt`` listing every proportion.
    """
    k = len(labels)
    require_nonempty("labels", k, "proportions")
    if not all(len(x) == k for x in (events, totals, lows, highs)):
        raise ValueError("events, totals, lows, highs: need one value per label")
    scale = _Scale(log=False, null=None, digits=2, percent=percent, proportion=True)
    rows: list[_Row] = []
    heading = None
    for i in range(k):
        if groups is not None and groups[i] != heading:
            heading = groups[i]
            rows += ([_Row("blank")] if rows else []) + [_Row("header", str(heading))]
        est = int(events[i]) / int(totals[i])
        rows.append(_Row("study", str(labels[i]), [str(int(events[i])), str(int(totals[i]))],
                         "", scale.effect(est, lows[i], highs[i]), est, float(lows[i]),
                         float(highs[i])))
    unit = "%" if percent else "proportion"
    fig = _draw(rows, [f"Intervals: {interval} score, {level:g}%."], scale=scale,
                label_header="Group", col_headers=["Events", "Total"], weight_header=None,
                effect_header=f"{'Percent' if percent else 'Proportion'}\n{interval} "
                              f"{level:g}% CI",
                favours=None, xlabel=xlabel, title=title, xlim=None, plot_width=2.6)
    shown = "; ".join(f"{r.label} {r.cells[0]}/{r.cells[1]} = {r.effect}" for r in rows
                      if r.kind == "study")
    return describe(fig, f"{title + ': ' if title else ''}{k} proportions ({unit}) with "
                         f"{interval} {level:g}% intervals, no null line: {shown}.")


@styled
def composition(labels: Sequence[str], counts: Sequence[int], *, title: str | None = None,
                unit: str = "") -> Figure:
    """A stacked horizontal bar of the parts of one total, each part with its count.

    Parameters
    ----------
    labels : sequence of str
        What each part is.
    counts : sequence of int
        Its count (the bar's length is their sum).
    title : str, optional
        Figure title.
    unit : str
        What is counted (the axis label reads "<total> <unit>").

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.alt`` naming every part and its count.
    """
    require_nonempty("labels", len(labels), "parts")
    values = np.asarray(counts, dtype=float)
    if len(values) != len(labels) or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError("counts: need one non-negative count per label")
    total = int(values.sum())
    if total == 0:
        raise ValueError("counts: all parts are zero (nothing to draw)")
    fig = new_figure(6.0, 1.9 if title else 1.6)
    ax = fig.add_axes((0.04, 0.5, 0.92, 0.22))
    colours = [_PART_COLOURS[i % len(_PART_COLOURS)] for i in range(len(labels))]
    ax.barh([0] * len(values), values, left=np.concatenate([[0], np.cumsum(values)[:-1]]),
            color=colours, height=0.8, edgecolor="white", linewidth=0.8)
    ax.set_xlim(0, total)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(f"{total} {unit}".strip())
    names = [f"{label} ({int(n)})" for label, n in zip(labels, values)]
    ax.legend([Patch(color=c) for c in colours], names, loc="lower left",
              bbox_to_anchor=(0, 1.05), ncol=len(names), handlelength=1.2, borderaxespad=0)
    if title:
        fig.suptitle(title, x=0.04, ha="left", fontsize=9, fontweight="bold")
    return describe(fig, f"{title + ': ' if title else ''}stacked bar of {total} "
                         f"{unit}: " + ", ".join(names) + ".")

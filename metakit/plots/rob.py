"""Risk-of-bias figures: traffic-light plot, summary bar chart, and quality-score tables.

References
----------
McGuinness, L. A., & Higgins, J. P. T. (2021). Risk-of-bias VISualization (robvis): an R package
and Shiny web app for visualizing risk-of-bias assessments. Research Synthesis Methods, 12(1),
55-61. doi:10.1002/jrsm.1411
Sterne, J. A. C., et al. (2016). ROBINS-I: a tool for assessing risk of bias in non-randomised
studies of interventions. BMJ, 355, i4919.
Higgins, J. P. T., et al. (2011). The Cochrane Collaboration's tool for assessing risk of bias in
randomised trials. BMJ, 343, d5928.
Wells, G. A., et al. The Newcastle-Ottawa Scale (NOS) for assessing the quality of
nonrandomised studies in meta-analyses. Ottawa Hospital Research Institute.
Jadad, A. R., et al. (1996). Assessing the quality of reports of randomized clinical trials: is
blinding necessary? Controlled Clinical Trials, 17(1), 1-12.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from metakit.plots._style import (
    ROB_COLOURS,
    describe,
    new_figure,
    require_nonempty,
    styled,
    text_width,
)

if TYPE_CHECKING:
    import pandas as pd

#: Judgements of each tool, from best to worst, with the symbol robvis prints in the circle.
TOOLS: dict[str, dict[str, str]] = {
    "ROBINS-I": {"low": "+", "moderate": "\u2212", "serious": "\u00d7", "critical": "!",
                 "no information": "?"},
    "RoB1": {"low": "+", "unclear": "?", "high": "\u00d7", "no information": "\u2013"},
}
_ALIASES = {"ni": "no information", "no info": "no information", "no_information":
            "no information", "nan": "no information", "": "no information",
            "some concerns": "unclear", "unclear risk": "unclear", "low risk": "low",
            "high risk": "high", "moderate risk": "moderate", "serious risk": "serious",
            "critical risk": "critical"}
#: Maximum score per item (lower-case column name) for the score scales.
SCALE_MAX: dict[str, dict[str, float]] = {
    "NOS": {"selection": 4, "comparability": 2, "outcome": 3, "exposure": 3, "total": 9},
    "Jadad": {"randomization": 2, "randomisation": 2, "blinding": 2, "withdrawals": 1,
              "withdrawals and dropouts": 1, "dropouts": 1, "total": 5},
}


def _tool(tool: str) -> str:
    for name in TOOLS:
        if str(tool).replace(" ", "").lower() == name.replace("-", "").lower() or \
                str(tool).lower() == name.lower():
            return name
    raise ValueError(f"tool: expected one of {list(TOOLS)}, got {tool!r}")


def _normalise(judgements: Any, tool: str) -> pd.DataFrame:
    import pandas as pd  # loads only when a figure is drawn

    if not isinstance(judgements, pd.DataFrame):
        raise ValueError("judgements: expected a DataFrame (index: study, columns: domains)")  # noqa: TRY004
    require_nonempty("judgements", judgements.shape[0] * judgements.shape[1], "judgements")
    allowed = TOOLS[tool]
    out = judgements.copy().astype(object)
    for study in judgements.index:
        for domain in judgements.columns:
            raw = judgements.at[study, domain]
            word = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else \
                " ".join(str(raw).strip().lower().split())
            word = _ALIASES.get(word, word)
            if tool == "ROBINS-I" and word == "unclear":
                word = "no information"
            if word not in allowed:
                raise ValueError(f"judgements: {raw!r} for study {study!r}, domain {domain!r} "
                                 f"is not a {tool} judgement; expected one of {list(allowed)}")
            out.at[study, domain] = word
    return out


def _tally_words(frame: pd.DataFrame) -> str:
    """``"12 low, 3 serious"``: how often each judgement occurs in the whole table."""
    counts = frame.stack().value_counts()
    return ", ".join(f"{int(n)} {word}" for word, n in counts.items()) + " judgements"


def _domain_headers(columns: list[str]) -> tuple[list[str], list[str]]:
    """Short headers (D1, D2, ... and Overall) plus a key, when domain names are long."""
    if all(len(c) <= 8 for c in columns):
        return columns, []
    heads, key, n = [], [], 0
    for c in columns:
        if c.strip().lower() == "overall":
            heads.append("Overall")
        else:
            n += 1
            heads.append(f"D{n}")
            key.append(f"D{n}: {c}")
    return heads, key


@styled
def rob_traffic_light(judgements: pd.DataFrame, tool: str = "ROBINS-I", *,
                      title: str | None = None, cell: float = 0.3) -> Figure:
    """Traffic-light plot: one coloured circle (with robvis symbol) per study and domain.

    Parameters
    ----------
    judgements : DataFrame
        Index: study labels; columns: domains (an ``Overall`` column is drawn like the others);
        values: ``low``, ``moderate``, ``serious``, ``critical``, ``no information`` (ROBINS-I)
        or ``low``, ``unclear``, ``high`` (RoB 1), case-insensitive; empty cells count as
        no information (grey, "not reported"), never a judgement the source did not make.
    tool : {"ROBINS-I", "RoB1"}, default "ROBINS-I"
    title : str, optional
    cell : float, default 0.3
        Size of one cell in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Circles are one scatter collection (``gid="rob-cells"``) in row-major order. Long
        domain names become D1, D2, ... with a key under the plot.

    References
    ----------
    McGuinness & Higgins (2021), Res Synth Methods 12:55-61; Sterne et al. (2016), BMJ
    355:i4919; Higgins et al. (2011), BMJ 343:d5928.
    """
    tool = _tool(tool)
    frame = _normalise(judgements, tool)
    studies = [str(s) for s in frame.index]
    heads, key = _domain_headers([str(c) for c in frame.columns])
    n, m = frame.shape
    label_w = max(text_width(s) for s in studies) + 0.25
    legend_w = 1.55
    key_h = 0.16 * len(key) + (0.05 if key else 0)
    width = label_w + m * cell + 0.2 + legend_w
    head_h = max(text_width(h, weight="bold") if len(h) > 4 else 0.15 for h in heads)
    top = head_h + 0.25 + (0.25 if title else 0)
    height = top + n * cell + 0.25 + key_h
    fig = new_figure(width, height)
    ax = fig.add_axes((label_w / width, (0.25 + key_h) / height, m * cell / width,
                       n * cell / height))
    ax.set_xlim(-0.5, m - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_axis_off()
    xs, ys, colours = [], [], []
    for i, study in enumerate(frame.index):
        for j, domain in enumerate(frame.columns):
            word = frame.at[study, domain]
            xs.append(j)
            ys.append(i)
            colours.append(ROB_COLOURS[word])
            ax.text(j, i, TOOLS[tool][word], ha="center", va="center", fontsize=8,
                    fontweight="bold", color="white" if word != "moderate" and
                    word != "unclear" else "black", zorder=4)
    diameter = cell * 72 * 0.78
    ax.scatter(xs, ys, s=diameter ** 2, c=colours, edgecolors="#333333", linewidths=0.4,
               zorder=3, gid="rob-cells")
    for i in range(n + 1):
        ax.axhline(i - 0.5, color="#DDDDDD", lw=0.5, zorder=1)
    for j in range(m + 1):
        ax.axvline(j - 0.5, color="#DDDDDD", lw=0.5, zorder=1)
    for i, s in enumerate(studies):
        ax.text(-0.65, i, s, ha="right", va="center")
    for j, h in enumerate(heads):
        ax.text(j, -0.6, h, ha="center", va="bottom", fontweight="bold",
                rotation=0 if len(h) <= 4 else 90)
    if title:
        fig.text(0.1 / width, 1 - 0.08 / height, title, ha="left", va="top", fontsize=9.5,
                 fontweight="bold")
    handles = [Line2D([], [], ls="none", marker="o", ms=8, mfc=ROB_COLOURS[w], mec="#333333",
                      mew=0.4, label=f"{sym}  {w.capitalize()}")
               for w, sym in TOOLS[tool].items()]
    fig.legend(handles=handles, loc="upper left", title="Judgement",
               bbox_to_anchor=((label_w + m * cell + 0.2) / width, 1 - top / height),
               title_fontproperties={"weight": "bold", "size": 7.5}, alignment="left")
    for r, line in enumerate(key):
        fig.text(0.1 / width, (key_h - 0.1 - 0.16 * r) / height, line, ha="left", va="center",
                 fontsize=7)
    return describe(fig, f"{tool} traffic-light plot{': ' + title if title else ''}. "
                         f"{n} studies by {m} domains; {_tally_words(frame)}.")


@styled
def rob_summary(judgements: pd.DataFrame, tool: str = "ROBINS-I", *,
                weights: Any = None, title: str | None = None,
                width: float = 6.0) -> Figure:
    """Summary bar chart: per domain, the percentage of studies at each judgement.

    Parameters
    ----------
    judgements : DataFrame
        As in :func:`rob_traffic_light`.
    tool : {"ROBINS-I", "RoB1"}, default "ROBINS-I"
    weights : sequence or Series, optional
        Weight of each study (e.g. meta-analysis weights); default equal weights, as robvis.
    title : str, optional
    width : float, default 6.0
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Bars are ``BarContainer`` objects labelled with the judgement.

    References
    ----------
    McGuinness & Higgins (2021), Res Synth Methods 12:55-61.
    """
    tool = _tool(tool)
    frame = _normalise(judgements, tool)
    w = np.ones(len(frame)) if weights is None else np.asarray(weights, float)
    if w.shape != (len(frame),) or np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights: one non-negative weight per study (not all zero) needed")
    domains = [str(c) for c in frame.columns]
    m = len(domains)
    label_w = max(text_width(d) for d in domains) + 0.25
    height = 0.3 * m + 0.95 + (0.25 if title else 0)
    fig = new_figure(width, height)
    ax = fig.add_axes((label_w / width, 0.7 / height, (width - label_w - 0.25) / width,
                       0.3 * m / height))
    left = np.zeros(m)
    for word in TOOLS[tool]:
        share = np.array([100 * w[(frame[c] == word).to_numpy()].sum() / w.sum()
                          for c in frame.columns])
        ax.barh(range(m), share, left=left, height=0.7, color=ROB_COLOURS[word],
                edgecolor="white", linewidth=0.5, label=word.capitalize())
        left += share
    ax.set_yticks(range(m), domains)
    ax.set_ylim(m - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 * 1.2 / (0.3 * m) * 1.3),
              ncol=len(TOOLS[tool]), handlelength=1.0, columnspacing=1.2)
    if title:
        ax.set_title(title, loc="left", fontweight="bold")
    return describe(fig, f"{tool} summary plot{': ' + title if title else ''}. Share of "
                         f"{len(frame)} studies per judgement in each of {m} domains; "
                         f"{_tally_words(frame)}.")


@styled
def score_table(scores: pd.DataFrame, scale: str = "NOS", *,
                max_scores: Mapping[str, float] | None = None, title: str | None = None,
                cmap: str | None = None, cell: tuple[float, float] = (0.95, 0.26)) -> Figure:
    """Heat map of quality scores (Newcastle-Ottawa or Jadad) with each score in its cell.

    Parameters
    ----------
    scores : DataFrame
        Index: studies; columns: items, e.g. ``Selection, Comparability, Outcome, Total``
        (NOS, maxima 4/2/3/9) or ``Randomization, Blinding, Withdrawals, Total`` (Jadad, maxima
        2/2/1/5). Colour shows the score as a fraction of the item's maximum.
    scale : {"NOS", "Jadad"}, default "NOS"
    max_scores : mapping, optional
        Maximum of columns the scale does not know (default: the largest observed value).
    title : str, optional
    cmap : str, optional
        Matplotlib colormap; default a red-yellow-green ramp.
    cell : (float, float), default (0.95, 0.26)
        Cell width and height in inches.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Wells et al., Newcastle-Ottawa Scale; Jadad et al. (1996), Control Clin Trials 17:1-12.
    """
    if scale not in SCALE_MAX:
        raise ValueError(f"scale: expected one of {list(SCALE_MAX)}, got {scale!r}")
    import pandas as pd

    if not isinstance(scores, pd.DataFrame):
        raise ValueError("scores: expected a DataFrame (index: study, columns: items)")  # noqa: TRY004
    require_nonempty("scores", scores.size, "scores")
    try:
        values = scores.apply(pd.to_numeric, errors="raise").to_numpy(float)
    except (TypeError, ValueError):
        raise ValueError("scores: all scores must be numbers (or empty)") from None
    known = dict(SCALE_MAX[scale])
    known.update({str(k).lower(): float(v) for k, v in (max_scores or {}).items()})
    maxima = []
    for j, col in enumerate(scores.columns):
        top = known.get(str(col).strip().lower())
        if top is None:
            top = np.nanmax(values[:, j]) if np.isfinite(values[:, j]).any() else 1.0
        bad = np.flatnonzero((values[:, j] < 0) | (values[:, j] > top))
        if bad.size:
            raise ValueError(f"scores: {values[bad[0], j]:g} for study "
                             f"{scores.index[bad[0]]!r}, column {col!r} is outside 0-{top:g}")
        maxima.append(top if top > 0 else 1.0)
    frac = values / np.array(maxima)
    n, m = values.shape
    label_w = max(text_width(str(s)) for s in scores.index) + 0.2
    width = label_w + m * cell[0] + 0.2
    top = 0.5 + (0.25 if title else 0)
    height = top + n * cell[1] + 0.15
    fig = new_figure(width, height)
    ax = fig.add_axes((label_w / width, 0.15 / height, m * cell[0] / width,
                       n * cell[1] / height))
    colours = LinearSegmentedColormap.from_list("q", ["#D7301F", "#FEE08B", "#1A9850"]) \
        if cmap is None else cmap
    masked = np.ma.masked_invalid(frac)
    ax.imshow(masked, cmap=colours, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    for i in range(n):
        for j in range(m):
            text = "NR" if not np.isfinite(values[i, j]) else f"{values[i, j]:g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(m), [f"{c}\n(max {mx:g})" for c, mx in zip(scores.columns, maxima)],
                  fontweight="bold")
    ax.xaxis.tick_top()
    ax.set_yticks(range(n), [str(s) for s in scores.index])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xticks(np.arange(-0.5, m), minor=True)
    ax.set_yticks(np.arange(-0.5, n), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    if title:
        fig.text(0.1 / width, 1 - 0.08 / height, f"{title} ({scale})", ha="left", va="top",
                 fontsize=9.5, fontweight="bold")
    shown = "; ".join(f"{s}: " + ", ".join(
        f"{c} {'not reported' if not np.isfinite(values[i, j]) else f'{values[i, j]:g}'}"
        for j, c in enumerate(scores.columns)) for i, s in enumerate(scores.index))
    return describe(fig, f"{scale} quality scores{': ' + title if title else ''}. {shown}.")

"""Forest plots in the RevMan 5 layout, and the leave-one-out forest plot.

References
----------
Higgins, J. P. T., Thomas, J., et al. (eds.) (2023). Cochrane Handbook for Systematic Reviews of
Interventions, version 6.4, chapter 10 (Analysing data and undertaking meta-analyses).
The Cochrane Collaboration (2020). Review Manager (RevMan) 5.4 user guide: forest plots.
Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and the trees. BMJ, 322,
1479-1480.
IntHout, J., Ioannidis, J. P. A., Rovers, M. M., & Goeman, J. J. (2016). Plea for routinely
presenting prediction intervals in meta-analysis. BMJ Open, 6, e010247.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from metakit.engine.measures import LOG_MEASURES
from metakit.plots._style import (
    FONT_SIZE,
    INK,
    PI_COLOUR,
    SQUARE,
    fmt_p,
    describe,
    n_lines,
    new_figure,
    require_nonempty,
    styled,
    text_width,
)
from metakit.engine.transforms import expit, ipft

if TYPE_CHECKING:
    import pandas as pd

RATIO = LOG_MEASURES
PROPORTION = frozenset({"PFT", "PLO", "PR"})
MEASURE_NAMES = {
    "RR": "Risk Ratio", "OR": "Odds Ratio", "HR": "Hazard Ratio", "PETO": "Peto Odds Ratio",
    "IRR": "Rate Ratio", "RD": "Risk Difference", "MD": "Mean Difference",
    "SMD": "Std. Mean Difference", "PFT": "Proportion", "PLO": "Proportion", "PR": "Proportion",
}

ROW_H = 0.19          # inches per text row
FOOT_SIZE = 7.5       # font size of heterogeneity / overall-effect lines
PAD = 0.14            # inches between columns


# ---------------------------------------------------------------------------- rows
@dataclass
class _Row:
    kind: str                      # study, header, subtotal, overall, pi, text, blank
    label: str = ""
    cells: list[str] = field(default_factory=list)
    weight: str = ""
    effect: str = ""
    est: float = np.nan            # display scale
    lo: float = np.nan
    hi: float = np.nan
    size: float = np.nan           # weight (percent) for square area
    gid: str = ""


@dataclass
class _Scale:
    log: bool
    null: float | None
    digits: int
    percent: bool = False
    proportion: bool = False

    def fmt(self, value: float) -> str:
        if not np.isfinite(value):
            return "NA"
        if self.percent:
            return f"{100 * value:.{max(self.digits - 1, 0)}f}"
        return f"{value:.{self.digits}f}"

    def effect(self, est: float, lo: float, hi: float) -> str:
        if not np.isfinite(est):
            return "Not estimable"  # RevMan's words for a study without an estimate
        return f"{self.fmt(est)} [{self.fmt(lo)}, {self.fmt(hi)}]"


POOLING_NAMES = {"MH": "M-H", "MH-DL": "M-H", "Peto": "Peto"}
"""RevMan's name of a pooling method in the effect column's header (else ``IV``)."""


def _unwrap(result: Any) -> tuple[Any, Any]:
    """``(fit, metaprop_or_None)`` from an RMAResult, PooledTablesResult (``rma_mh``,
    ``rma_peto``), MetapropResult or SubgroupResult."""
    if result is None:
        raise ValueError("result: a fitted model is required")
    if hasattr(result, "fit") and hasattr(result, "prop"):
        return result.fit, result
    if hasattr(result, "overall") and hasattr(result, "q_between"):
        return _unwrap(result.overall)
    if not hasattr(result, "yi") or not hasattr(result, "vi"):
        raise ValueError(f"result: expected an RMAResult, PooledTablesResult, MetapropResult or "
                         f"SubgroupResult, got {type(result).__name__}")
    return result, None


def _crit(fit: Any) -> float:
    from scipy.special import ndtri  # scipy loads only when a figure is drawn

    return float(-ndtri((1 - fit.level / 100) / 2))


def _study_intervals(fit: Any, prop: Any, back: bool) -> tuple[np.ndarray, ...]:
    """Per-study estimate and CI on the display scale."""
    yi, se = np.asarray(fit.yi, float), np.sqrt(np.asarray(fit.vi, float))
    z = _crit(fit)
    lo, hi = yi - z * se, yi + z * se
    if not back:
        return yi, lo, hi
    if prop is not None:
        frame = prop.studies()
        return (frame["prop"].to_numpy(float), frame["ci_low"].to_numpy(float),
                frame["ci_high"].to_numpy(float))
    measure = fit.measure
    if measure in RATIO:
        return np.exp(yi), np.exp(lo), np.exp(hi)
    if measure == "PLO":
        return expit(yi), expit(lo), expit(hi)
    if measure == "PFT":
        if fit.ni is None:
            raise ValueError("result: back-transforming PFT needs the study sizes (fit with ni=)")
        n = np.asarray(fit.ni, float)
        return ipft(yi, n), ipft(lo, n), ipft(hi, n)
    return yi, lo, hi


def _summary(fit: Any, prop: Any, back: bool) -> tuple[float, float, float, float, float]:
    """Pooled estimate, CI and PI on the display scale."""
    if prop is not None and back:
        return prop.prop, prop.prop_low, prop.prop_high, prop.pi_low_prop, prop.pi_high_prop
    values = (fit.estimate, fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high)
    if back and fit.measure is not None:
        bt = fit.back_transform()
        values = (bt["estimate"], bt["ci_low"], bt["ci_high"], bt["pi_low"], bt["pi_high"])
    return tuple(float(x) for x in values)  # type: ignore[return-value]


def _het_text(fit: Any) -> str:
    if fit.k < 2 or fit.q_df < 1:
        return "Heterogeneity: Not applicable"
    tau = "" if fit.is_fixed else f"Tau\u00b2 = {fit.tau2:.2f}; "
    return (f"Heterogeneity: {tau}Chi\u00b2 = {fit.q:.2f}, df = {fit.q_df} "
            f"({fmt_p(fit.q_pval)}); I\u00b2 = {fit.i2:.0f}%")


def _effect_text(fit: Any) -> str:
    stat = "t" if getattr(fit, "test", "z") == "knha" else "Z"
    df = f"(df = {fit.k - 1}) " if stat == "t" else ""
    return f"Test for overall effect: {stat} = {abs(fit.zval):.2f} {df}({fmt_p(fit.pval)})"


def _alt(kind: str, title: str | None, rows: list[_Row], effect_header: str,
         foot: list[str]) -> str:
    """What a forest plot shows, in words: its alternative text."""
    studies = sum(r.kind == "study" for r in rows)
    groups = sum(r.kind == "subtotal" for r in rows)
    parts = [f"{kind}{': ' + title if title else ''}.",
             f"{studies} rows" + (f" in {groups} subgroups" if groups else "") + ", "
             + effect_header.replace("\n", ", ") + "."]
    overall = [r for r in rows if r.kind == "overall"]
    if overall:
        parts.append(f"{overall[0].label}: {overall[0].effect}.")
    parts += [f"{line}." for line in foot]
    return " ".join(parts)


def arm_columns(*, labels: tuple[str, str] = ("MSC", "Control"), ai: Any = None,
                n1i: Any = None, ci: Any = None, n2i: Any = None, m1i: Any = None,
                sd1i: Any = None, m2i: Any = None, sd2i: Any = None,
                decimals: int = 1) -> dict[str, list[str]]:
    """Per-arm columns for :func:`forest` as RevMan prints them.

    Dichotomous data (``ai, n1i, ci, n2i``): ``Events`` and ``Total`` of each arm; continuous
    data (``m1i, sd1i, n1i, m2i, sd2i, n2i``): ``Mean``, ``SD`` and ``Total`` of each arm.

    Parameters
    ----------
    labels : (str, str), default ("MSC", "Control")
        Names of the experimental and the control arm (column headers).
    ai, n1i, ci, n2i : array_like, optional
        Events and totals of the two arms.
    m1i, sd1i, m2i, sd2i : array_like, optional
        Means and SDs of the two arms (with ``n1i``, ``n2i``).
    decimals : int, default 1
        Decimals of means and SDs.

    Returns
    -------
    dict
        Header (``"MSC\nEvents"`` ...) -> one text per study, ready for ``forest(columns=)``.

    Raises
    ------
    ValueError
        If neither a complete dichotomous nor a complete continuous set is given, or the
        columns differ in length.

    References
    ----------
    The Cochrane Collaboration (2020). Review Manager (RevMan) 5.4 user guide: forest plots.
    """
    def values(name: str, data: Any) -> list[Any]:
        out = list(np.asarray(data, dtype=float))
        if not out:
            raise ValueError(f"{name}: no studies")
        return out

    def count(x: float) -> str:
        return "" if not np.isfinite(x) else str(int(round(x)))

    def real(x: float) -> str:
        return "" if not np.isfinite(x) else f"{x:.{decimals}f}".replace("-", "\u2212")

    first, second = labels
    if all(a is not None for a in (m1i, sd1i, n1i, m2i, sd2i, n2i)):
        spec = [(first, "Mean", "m1i", m1i, real), (first, "SD", "sd1i", sd1i, real),
                (first, "Total", "n1i", n1i, count), (second, "Mean", "m2i", m2i, real),
                (second, "SD", "sd2i", sd2i, real), (second, "Total", "n2i", n2i, count)]
    elif all(a is not None for a in (ai, n1i, ci, n2i)):
        spec = [(first, "Events", "ai", ai, count), (first, "Total", "n1i", n1i, count),
                (second, "Events", "ci", ci, count), (second, "Total", "n2i", n2i, count)]
    else:
        raise ValueError("arm_columns: give ai, n1i, ci, n2i (events) or m1i, sd1i, n1i, m2i, "
                         "sd2i, n2i (means)")
    columns = {f"{arm}\n{what}": [show(x) for x in values(name, data)]
               for arm, what, name, data, show in spec}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"arm_columns: the columns differ in length ({sorted(lengths)})")
    return columns


def _columns(columns: Any, k: int) -> tuple[list[str], list[list[str]]]:
    """Headers and per-study cells of the extra text columns."""
    import pandas as pd  # loads only when a figure is drawn

    if columns is None:
        return [], []
    if isinstance(columns, pd.DataFrame):
        frame = columns
    elif isinstance(columns, Mapping):
        frame = pd.DataFrame({str(key): list(val) for key, val in columns.items()})
    else:
        raise ValueError("columns: expected a DataFrame or a mapping header -> list of values")  # noqa: TRY004
    if len(frame) != k:
        raise ValueError(f"columns: {len(frame)} rows for {k} studies")

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)
    cells = [[cell(frame.iloc[i, j]) for j in range(frame.shape[1])] for i in range(k)]
    return [str(c) for c in frame.columns], cells


def _levels(groups: Any, subgroup_results: Any, fit: Any) -> tuple[list[str], dict[str, Any]]:
    """Per-study level and the ordered mapping level -> fit."""
    mapping = subgroup_results.groups if hasattr(subgroup_results, "groups") else subgroup_results
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError("subgroup_results: expected a SubgroupResult or a non-empty mapping "
                         "level -> RMAResult")
    mapping = {str(key): val for key, val in mapping.items()}
    if groups is None:
        owner: dict[str, str] = {}
        for level, sub in mapping.items():
            for label in _unwrap(sub)[0].slab:
                if label in owner:
                    raise ValueError("groups: study labels repeat across subgroups; pass groups=")
                owner[label] = level
        missing = [s for s in fit.slab if s not in owner]
        if missing:
            raise ValueError(f"groups: cannot place study {missing[0]!r} in a subgroup; "
                             "pass groups=")
        return [owner[s] for s in fit.slab], mapping
    levels = [str(g) for g in groups]
    if len(levels) != fit.k:
        raise ValueError(f"groups: {len(levels)} labels for {fit.k} studies")
    unknown = sorted(set(levels) - set(mapping))
    if unknown:
        raise ValueError(f"groups: level {unknown[0]!r} has no entry in subgroup_results")
    return levels, mapping


# ---------------------------------------------------------------------------- axis range
_RATIO_TICKS = {2: [0.5, 1, 2], 5: [0.2, 0.5, 1, 2, 5], 10: [0.1, 0.2, 0.5, 1, 2, 5, 10],
                20: [0.05, 0.2, 1, 5, 20], 50: [0.02, 0.1, 1, 10, 50],
                100: [0.01, 0.1, 1, 10, 100], 1000: [0.001, 0.01, 0.1, 1, 10, 100, 1000]}


def _nice(x: float) -> float:
    if x <= 0 or not np.isfinite(x):
        return 1.0
    base = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * base >= x * (1 - 1e-9):
            return m * base
    return 10 * base  # pragma: no cover


def _axis(rows: list[_Row], scale: _Scale,
          xlim: tuple[float, float] | None) -> tuple[tuple[float, float], list[float]]:
    core, full = [], []
    for row in rows:
        if row.kind in ("study", "subtotal", "overall", "pi"):
            vals = [row.lo, row.hi] if row.kind != "study" else [row.est]
            core += [v for v in vals if np.isfinite(v)]
            full += [v for v in (row.est, row.lo, row.hi) if np.isfinite(v)]
    if scale.log:
        core = [math.log10(v) for v in core if v > 0]
        full = [math.log10(v) for v in full if v > 0]
    if xlim is not None:
        lo, hi = float(xlim[0]), float(xlim[1])
        if scale.log:
            cands = sorted({t for ts in _RATIO_TICKS.values() for t in ts}
                           | {0.05, 0.02, 20, 50})
            ticks = [t for t in cands if lo <= t <= hi]
        else:
            step = _nice((hi - lo) / 4)
            ticks = list(np.arange(math.ceil(lo / step) * step, hi + step / 2, step))
        return (lo, hi), ticks
    if scale.null is None and scale.proportion:  # proportions: from 0 up
        top = max(full) if full else 1.0
        hi = min(1.0, _nice(top * 1.02)) if top <= 1 else _nice(top)
        step = _nice(hi / 5)
        return (-0.02 * hi, hi), list(np.arange(0, hi + step / 2, step))
    if scale.null is None:                       # no null (single-arm means): the data's range
        lo, hi = (min(core), max(core)) if core else (0.0, 1.0)
        step = _nice(max(hi - lo, 1e-9) / 4)
        lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
        return (lo, hi), list(np.arange(lo, hi + step / 2, step))
    null = math.log10(scale.null) if scale.log else scale.null
    half_core = max([abs(v - null) for v in core] + [1e-12])
    half_full = max([abs(v - null) for v in full] + [1e-12])
    half = min(half_full, 2.5 * half_core)
    if scale.log:
        for c in sorted(_RATIO_TICKS):
            if math.log10(c) >= half * 0.999 or c == 1000:
                return (1 / c, c), _RATIO_TICKS[c]
    half = _nice(half)
    return (null - half, null + half), [null - half, null - half / 2, null, null + half / 2,
                                        null + half]


def _tick_label(value: float, _pos: Any = None) -> str:
    if value == 0:
        return "0"
    text = f"{value:.6g}"
    return text.replace("-", "\u2212")


# ---------------------------------------------------------------------------- drawing
@styled
def _draw(rows: list[_Row], foot: list[str], *, scale: _Scale, label_header: str,
          col_headers: list[str], weight_header: str | None, effect_header: str,
          favours: tuple[str, str] | None, xlabel: str | None, title: str | None,
          xlim: tuple[float, float] | None, plot_width: float,
          max_square: float = 0.8) -> Figure:
    k_rows = len(rows)
    header_lines = max([n_lines(h) for h in [label_header, effect_header, *col_headers,
                                               weight_header or ""]])
    # ---- column widths (inches)
    label_w = max([text_width(label_header, weight="bold")]
                  + [text_width(r.label, weight="bold" if r.kind in ("header", "overall",
                                                                      "subtotal") else "normal")
                     for r in rows if r.kind != "text"])
    col_w = [max([text_width(h, weight="bold")] + [text_width(r.cells[j]) for r in rows
                                                  if r.cells]) for j, h in enumerate(col_headers)]
    def bold(r: _Row) -> str:
        return "bold" if r.kind in ("header", "subtotal", "overall") else "normal"
    weight_w = (max([text_width(weight_header, weight="bold")]
                    + [text_width(r.weight, weight=bold(r)) for r in rows])
                if weight_header else 0.0)
    effect_w = max([text_width(effect_header, weight="bold")]
                   + [text_width(r.effect, weight=bold(r)) for r in rows])
    x0 = 0.12
    xs_cols = []
    x = x0 + label_w + PAD
    for w in col_w:
        xs_cols.append(x + w / 2)
        x += w + PAD
    plot_left = x + 0.05
    plot_right = plot_left + plot_width
    x = plot_right + PAD + 0.05
    weight_x = x + weight_w if weight_header else None
    if weight_header:
        x += weight_w + PAD
    effect_x = x + effect_w
    width = effect_x + 0.12
    texts_w = [text_width(t, size=FOOT_SIZE) for t in foot]
    texts_w += [text_width(r.label, size=FOOT_SIZE) for r in rows if r.kind == "text"]
    width = max(width, x0 + max(texts_w + [0]) + 0.12)
    if title:
        width = max(width, x0 + text_width(title, size=9.5, weight="bold") + 0.12)

    # ---- vertical layout (inches)
    top = 0.12 + (0.28 if title else 0.0)
    head_h = header_lines * 0.15 + 0.1
    body_h = k_rows * ROW_H
    below_axis = 0.22 + (0.2 if favours else 0.0) + (0.2 if xlabel else 0.0)
    foot_h = len(foot) * 0.17 + 0.12
    height = top + head_h + body_h + below_axis + foot_h
    fig = new_figure(width, height)
    ax_bottom = foot_h + below_axis
    ax = fig.add_axes((plot_left / width, ax_bottom / height, plot_width / width,
                       body_h / height))
    ax.set_ylim(k_rows - 0.5, -0.5)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.yaxis.set_major_locator(NullLocator())
    ax.patch.set_alpha(0)
    if scale.log:
        ax.set_xscale("log")
    (xmin, xmax), ticks = _axis(rows, scale, xlim)
    ax.set_xlim(xmin, xmax)
    if scale.proportion and xlim is None:
        ax.spines["bottom"].set_bounds(0.0, xmax)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    if scale.percent:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{100 * v:.0f}"))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(_tick_label))

    row_tf = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
    inch_tf = fig.dpi_scale_trans
    head_y = height - top - 0.04          # bottom of header text (inches) sits over row 0
    head_base = height - top - head_h + 0.06

    def head(xpos: float, text: str, ha: str) -> None:
        fig.text(xpos, head_base, text, transform=inch_tf, ha=ha, va="bottom",
                 fontweight="bold", linespacing=1.15)
    head(x0, label_header, "left")
    for xc, h in zip(xs_cols, col_headers):
        head(xc, h, "center")
    if weight_header:
        head(weight_x, weight_header, "right")
    head(effect_x, effect_header, "right")
    del head_y
    if title:
        fig.text(x0, height - 0.1, title, transform=inch_tf, ha="left", va="top",
                 fontsize=9.5, fontweight="bold")

    # ---- text cells
    for i, row in enumerate(rows):
        if row.kind == "blank":
            continue
        if row.kind == "text":
            ax.text(x0, i, row.label, transform=row_tf, ha="left", va="center",
                    fontsize=FOOT_SIZE, clip_on=False, zorder=6,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                          "edgecolor": "none"})
            continue
        bold = row.kind in ("header", "subtotal", "overall")
        ax.text(x0, i, row.label, transform=row_tf, ha="left", va="center",
                fontweight="bold" if bold else "normal", clip_on=False)
        for xc, cell in zip(xs_cols, row.cells):
            ax.text(xc, i, cell, transform=row_tf, ha="center", va="center", clip_on=False)
        if weight_header and row.weight:
            ax.text(weight_x, i, row.weight, transform=row_tf, ha="right", va="center",
                    fontweight="bold" if bold else "normal", clip_on=False)
        if row.effect:
            ax.text(effect_x, i, row.effect, transform=row_tf, ha="right", va="center",
                    fontweight="bold" if bold else "normal", clip_on=False)

    # ---- null line over each run of data rows, never through a text row
    runs: list[list[int]] = []
    for i, r in enumerate(rows):
        if r.kind in ("study", "subtotal", "overall", "pi"):
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    if scale.null is not None and runs:
        ax.vlines([scale.null] * len(runs), [run[0] - 0.5 for run in runs],
                  [run[-1] + 0.5 for run in runs], color=INK, linewidth=0.7, zorder=1,
                  gid="null-line")

    # ---- studies: CI lines, arrows, squares
    studies = [(i, r) for i, r in enumerate(rows) if r.kind == "study"]
    segments, arrows_l, arrows_r = [], [], []
    for i, r in studies:
        lo, hi = max(r.lo, xmin), min(r.hi, xmax)
        if hi > lo:
            segments.append([(lo, i), (hi, i)])
        if r.lo < xmin:
            arrows_l.append(i)
        if r.hi > xmax:
            arrows_r.append(i)
    ax.add_collection(LineCollection(segments, colors=INK, linewidths=0.9, zorder=2,
                                     gid="study-ci"))
    if arrows_l:
        ax.plot([xmin] * len(arrows_l), arrows_l, ls="none", marker="<", ms=4.5, color=INK,
                clip_on=False, zorder=3, gid="ci-arrows")
    if arrows_r:
        ax.plot([xmax] * len(arrows_r), arrows_r, ls="none", marker=">", ms=4.5, color=INK,
                clip_on=False, zorder=3, gid="ci-arrows")
    sizes = np.array([r.size for _, r in studies], dtype=float)
    if np.all(np.isfinite(sizes)) and sizes.size and sizes.max() > 0:
        side = max_square * ROW_H * 72 * np.sqrt(sizes / sizes.max())
    else:
        side = np.full(len(studies), 0.45 * ROW_H * 72)
    side = np.maximum(side, 3.0)
    ax.scatter([r.est for _, r in studies], [i for i, _ in studies], s=side ** 2, marker="s",
               color=SQUARE, edgecolors="none", zorder=4, gid="study-squares", clip_on=True)

    # ---- diamonds and prediction interval
    for i, r in enumerate(rows):
        if r.kind in ("subtotal", "overall") and np.isfinite(r.est):
            hh = 0.36 if r.kind == "overall" else 0.3
            poly = Polygon([(r.lo, i), (r.est, i - hh), (r.hi, i), (r.est, i + hh)],
                           closed=True, facecolor=INK if r.kind == "overall" else "white",
                           edgecolor=INK, linewidth=0.9, zorder=5,
                           gid="diamond-overall" if r.kind == "overall" else "diamond-subgroup")
            ax.add_patch(poly)
        if r.kind == "pi" and np.isfinite(r.lo):
            ax.plot([max(r.lo, xmin), min(r.hi, xmax)], [i, i], color=PI_COLOUR, lw=3.0,
                    solid_capstyle="butt", zorder=4, gid="prediction-interval")

    # ---- favours labels and axis label
    if favours:
        base = blended_transform_factory(ax.transData, ax.transAxes)
        ref = scale.null if scale.null is not None else (xmin + xmax) / 2
        for text, dx, ha in ((favours[0], -5, "right"), (favours[1], 5, "left")):
            text = text if text.lower().startswith("favours") else f"Favours {text}"
            ax.annotate(text, xy=(ref, 0), xycoords=base, xytext=(dx, -19),
                        textcoords="offset points", ha=ha, va="top", fontsize=FONT_SIZE)
    if xlabel:
        ax.set_xlabel(xlabel, labelpad=18 if favours else 4)
    for j, line in enumerate(foot):
        fig.text(x0, foot_h - 0.14 - 0.17 * j, line, transform=inch_tf, ha="left",
                 va="center", fontsize=FOOT_SIZE)
    return fig


# ---------------------------------------------------------------------------- public API
def forest(result: Any, *, columns: pd.DataFrame | Mapping[str, Sequence[Any]] | None = None,
           groups: Sequence[Any] | None = None, subgroup_results: Any = None,
           show_pi: bool = False, xlabel: str | None = None,
           favours: tuple[str, str] | None = ("Favours control", "Favours MSC"),
           back_transform: bool = True, title: str | None = None,
           label_header: str = "Study or Subgroup", digits: int = 2,
           xlim: tuple[float, float] | None = None, plot_width: float = 2.6,
           percent: bool = False, show_weights: bool = True,
           null: float | None | str = "auto", alt: str | None = None) -> Figure:
    """Forest plot in the RevMan 5 layout.

    Left: study labels and optional extra text columns; middle: squares (area proportional to
    the weight), confidence-interval lines (an arrowhead where an interval runs off the axis),
    subgroup and overall diamonds that span their confidence interval exactly; right: weight
    and effect with CI as text. Under the plot: the "favours" labels, then (bottom left) the
    heterogeneity line (Tau², Chi², df, P, I²), the test for the overall effect (Z, P) and,
    with subgroups, the test for subgroup differences.

    Parameters
    ----------
    result : RMAResult, MetapropResult or SubgroupResult
        The fit of all studies (an intercept-only model). A ``SubgroupResult`` supplies both
        the overall fit and ``subgroup_results``.
    columns : DataFrame or mapping of str to list, optional
        Extra text columns (one value per study, in the order of ``result.slab``), e.g.
        ``{"MSC\\nevents/total": [...], "Control\\nevents/total": [...]}`` or ``"Mean (SD) n"``.
        Headers may contain a newline. Default: none (``Events``/``Total`` for metaprop).
    groups : sequence, optional
        Subgroup level of every study. Default: inferred from the study labels of each fit in
        ``subgroup_results``.
    subgroup_results : SubgroupResult or mapping of level to RMAResult, optional
        Subgroup fits; draws a header, the studies, a subtotal diamond and heterogeneity lines
        per level, and the test for subgroup differences. Levels appear in mapping order.
    show_pi : bool, default False
        Add a prediction-interval bar under the overall diamond (random-effects models).
    xlabel : str, optional
        Axis label under the favours labels. Default: none.
    favours : (str, str) or None, default ("Favours control", "Favours MSC")
        What the left and the right of the null line favour, in RevMan's one convention
        "Favours A | Favours B": a bare arm name ``"MSC"`` is shown as ``"Favours MSC"``.
        Not drawn for proportions or without a null line.
    back_transform : bool, default True
        Ratios on a log axis labelled on the ratio scale; ``PFT``/``PLO`` proportions on a
        linear 0-1 axis. ``False`` plots the model scale (log ratios, transformed proportions).
    title : str, optional
        Title at the top left.
    label_header : str, default "Study or Subgroup"
        Header of the label column.
    digits : int, default 2
        Decimals of the effect text.
    xlim : (float, float), optional
        Axis limits on the display scale. Default: symmetric about the null line (ratio
        limits 1/c to c), wide enough for all point estimates and diamonds; intervals beyond
        it end in arrowheads.
    plot_width : float, default 2.6
        Width of the graphical column in inches.
    percent : bool, default False
        Proportions as percentages.
    show_weights : bool, default True
        Show the weight column.
    null : float, None or "auto"
        The value of no effect: ``"auto"`` is 1 for ratios, 0 for differences and none for
        proportions. ``None`` (single-arm means, e.g. months to union) draws no null line, no
        favours labels and no test for the overall effect (a test against zero means nothing
        there), and fits the axis to the data.
    alt : str, optional
        Alternative text of the figure in reports; default: a description of what it shows
        (title, measure, model, studies, pooled estimate, heterogeneity).

    Returns
    -------
    matplotlib.figure.Figure
        Its height grows with the number of rows (0.19 in per row), so 2 to 30 studies stay
        legible.

    Notes
    -----
    Study weights are those of ``result`` (the overall model), and a subtotal's weight is the sum
    of its studies' weights, as RevMan shows them. Per-study intervals are Wald intervals on the
    model scale (for ``metaprop`` results the Wilson or exact intervals of ``studies()``).

    References
    ----------
    Cochrane Handbook, chapter 10; RevMan 5.4 user guide; Lewis & Clarke (2001), BMJ 322:1479;
    IntHout et al. (2016), BMJ Open 6:e010247 (prediction intervals).
    """
    if hasattr(result, "overall") and hasattr(result, "q_between") and subgroup_results is None:
        subgroup_results = result
    fit, prop = _unwrap(result)
    if getattr(fit, "is_regression", False):
        raise ValueError("result: forest() needs a model without moderators (see bubble())")
    k = len(fit.yi)
    require_nonempty("result", k)
    measure = fit.measure
    is_prop = measure in PROPORTION or prop is not None
    back = bool(back_transform)
    log = back and measure in RATIO
    if isinstance(null, str):
        if null != "auto":
            raise ValueError(f"null: expected a number, None or 'auto', got {null!r}")
        null = None if (is_prop and back) else (1.0 if log else 0.0)
    elif null is not None:
        null = float(null)
    scale = _Scale(log=log, null=null, digits=digits, percent=percent and is_prop and back,
                   proportion=is_prop and back)
    test_effect = null is not None
    if columns is None and prop is not None:
        columns = {"Events": list(np.asarray(prop.xi).astype(int)),
                   "Total": list(np.asarray(prop.ni).astype(int))}
    elif columns is None and getattr(fit, "tables", None) is not None and len(fit.tables) == k:
        a, b, c, d = np.asarray(fit.tables, float).T   # a Mantel-Haenszel or Peto fit's 2x2s
        columns = arm_columns(labels=("Experimental", "Control"), ai=a, n1i=a + b, ci=c,
                              n2i=c + d)
    col_headers, cells = _columns(columns, k)
    est, lo, hi = _study_intervals(fit, prop, back)
    weights = np.asarray(fit.weights, float)
    model = "Fixed" if fit.is_fixed else "Random"
    name = MEASURE_NAMES.get(measure or "", "Estimate")
    if is_prop:
        name += " (%)" if scale.percent else ""
        effect_header = f"{name}\n{fit.level:g}% CI"
    else:
        if not back and measure in RATIO:
            name = f"log {name}"
        pooling = POOLING_NAMES.get(getattr(fit, "method", ""), "IV")
        effect_header = f"{name}\n{pooling}, {model}, {fit.level:g}% CI"

    def study_row(i: int) -> _Row:
        return _Row("study", str(fit.slab[i]), cells[i] if cells else [],
                    f"{weights[i]:.1f}%" if show_weights else "",
                    scale.effect(est[i], lo[i], hi[i]), est[i], lo[i], hi[i], weights[i])

    def summary_rows(sub: Any, sub_prop: Any, label: str, kind: str, weight: float,
                     with_pi: bool) -> list[_Row]:
        s_est, s_lo, s_hi, p_lo, p_hi = _summary(sub, sub_prop, back)
        out = [_Row(kind, label, [""] * len(col_headers),
                    f"{weight:.1f}%" if show_weights else "", scale.effect(s_est, s_lo, s_hi),
                    s_est, s_lo, s_hi)]
        if with_pi and np.isfinite(p_lo):
            out.append(_Row("pi", "Prediction interval", [""] * len(col_headers), "",
                            scale.effect(np.nan, p_lo, p_hi).replace("NA ", ""), np.nan,
                            p_lo, p_hi))
        return out

    level_txt = f"{fit.level:g}% CI"
    rows: list[_Row] = []
    foot: list[str] = []
    if subgroup_results is not None:
        levels, mapping = _levels(groups, subgroup_results, fit)
        for level, sub in mapping.items():
            members = [i for i in range(k) if levels[i] == level]
            if not members:
                continue
            sub_fit, sub_prop = _unwrap(sub)
            rows.append(_Row("header", level))
            rows += [study_row(i) for i in members]
            rows += summary_rows(sub_fit, sub_prop if back else None, f"Subtotal ({level_txt})",
                                 "subtotal", float(weights[members].sum()), False)
            rows.append(_Row("text", _het_text(sub_fit)))
            if test_effect:
                rows.append(_Row("text", _effect_text(sub_fit)))
            rows.append(_Row("blank"))
    else:
        rows += [study_row(i) for i in range(k)]
        rows.append(_Row("blank"))
    rows += summary_rows(fit, prop if back else None, f"Total ({level_txt})", "overall", 100.0,
                         show_pi and not fit.is_fixed)
    foot += [_het_text(fit)] + ([_effect_text(fit)] if test_effect else [])
    if subgroup_results is not None:
        sr = subgroup_results
        if hasattr(sr, "q_between"):
            qb, df, p = sr.q_between, sr.q_between_df, sr.q_between_pval
        else:
            from metakit.engine.subgroups import q_between
            fits = [_unwrap(s)[0] for s in mapping.values()]
            qb, df, p = q_between([f.estimate for f in fits], [f.se for f in fits])
        i2 = max(0.0, 100 * (qb - df) / qb) if qb > 0 else 0.0
        foot.append(f"Test for subgroup differences: Chi\u00b2 = {qb:.2f}, df = {df} "
                    f"({fmt_p(p)}), I\u00b2 = {i2:.1f}%")
    fig = _draw(rows, foot, scale=scale, label_header=label_header, col_headers=col_headers,
                weight_header="Weight" if show_weights else None, effect_header=effect_header,
                favours=None if null is None else favours, xlabel=xlabel, title=title,
                xlim=xlim, plot_width=plot_width)
    return describe(fig, alt or _alt("Forest plot", title, rows, effect_header, foot))


def loo_forest(frame: pd.DataFrame, overall: Any = None, *, back_transform: bool = True,
               measure: str | None = None, xlabel: str | None = None,
               favours: tuple[str, str] | None = None, title: str | None = None,
               label_header: str = "Study omitted", digits: int = 2,
               xlim: tuple[float, float] | None = None, plot_width: float = 2.6,
               show_i2: bool = True) -> Figure:
    """Leave-one-out forest plot: the pooled estimate with each study omitted in turn.

    Parameters
    ----------
    frame : DataFrame
        One row per omitted study (index: its label) with ``estimate, ci_low, ci_high`` on the
        model scale, as returned by :func:`metakit.leave1out`; an ``i2`` column (percent) is
        shown when present.
    overall : RMAResult, optional
        The fit of all studies, drawn as a diamond at the bottom with its heterogeneity line.
    back_transform : bool, default True
        Exponentiate ratio measures and plot them on a log axis.
    measure : str, optional
        Effect measure; default ``overall.measure``.
    xlabel, favours, title, label_header, digits, xlim, plot_width
        As in :func:`forest` (``favours`` defaults to none here).
    show_i2 : bool, default True
        Show the I² column when ``frame`` has one.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods, 1(2), 112-125.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError("frame: expected a DataFrame with estimate, ci_low, ci_high")  # noqa: TRY004
    require_nonempty("frame", len(frame), "rows")
    missing = [c for c in ("estimate", "ci_low", "ci_high") if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing column {missing[0]!r}")
    fit, prop = _unwrap(overall) if overall is not None else (None, None)
    measure = measure if measure is not None else getattr(fit, "measure", None)
    if measure in PROPORTION and back_transform and fit is None:
        raise ValueError("overall: back-transforming proportions needs the overall fit")
    back = bool(back_transform) and measure is not None
    log = back and measure in RATIO
    is_prop = measure in PROPORTION and back
    scale = _Scale(log=log, null=None if is_prop else (1.0 if log else 0.0), digits=digits,
                   proportion=is_prop)

    def bt(x: float) -> float:
        if not back:
            return float(x)
        from metakit.engine.transforms import back_transform as _bt
        return _bt(measure, float(x), None if fit is None else fit.ni)
    show = show_i2 and "i2" in frame.columns
    rows = []
    for label, rec in frame.iterrows():
        e, lo, hi = bt(rec["estimate"]), bt(rec["ci_low"]), bt(rec["ci_high"])
        rows.append(_Row("study", str(label), [f"{rec['i2']:.0f}%"] if show else [], "",
                         scale.effect(e, lo, hi), e, lo, hi, np.nan))
    foot: list[str] = []
    if fit is not None:
        rows.append(_Row("blank"))
        s = _summary(fit, prop if back else None, back)
        rows.append(_Row("overall", f"All studies ({fit.level:g}% CI)",
                         [f"{fit.i2:.0f}%"] if show else [], "", scale.effect(*s[:3]), *s[:3]))
        foot = [_het_text(fit), _effect_text(fit)]
    name = MEASURE_NAMES.get(measure or "", "Estimate")
    if measure in RATIO and not back:
        name = f"log {name}"
    fig = _draw(rows, foot, scale=scale, label_header=label_header,
                col_headers=["I\u00b2"] if show else [], weight_header=None,
                effect_header=f"{name}\n(study omitted)", favours=favours, xlabel=xlabel,
                title=title, xlim=xlim, plot_width=plot_width)
    return describe(fig, _alt("Leave-one-out forest plot", title, rows,
                              f"{name} with each study omitted in turn", foot))

"""Contour-enhanced funnel plot.

References
----------
Peters, J. L., Sutton, A. J., Jones, D. R., Abrams, K. R., & Rushton, L. (2008).
Contour-enhanced meta-analysis funnel plots help distinguish publication bias from other causes
of asymmetry. Journal of Clinical Epidemiology, 61(10), 991-996.
Sterne, J. A. C., et al. (2011). Recommendations for examining and interpreting funnel plot
asymmetry in meta-analyses of randomised controlled trials. BMJ, 343, d4002.
Duval, S., & Tweedie, R. (2000). Trim and fill. Biometrics, 56(2), 455-463.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from metakit.plots._style import INK, describe, new_figure, require_nonempty, styled
from metakit.plots.forest import MEASURE_NAMES, RATIO, _unwrap

#: Shades from the innermost (non-significant) region outwards, as metafor's defaults.
SHADES = ("white", "#8C8C8C", "#BFBFBF", "#E5E5E5", "#F2F2F2")


def _filled_arrays(filled: Any) -> tuple[np.ndarray, np.ndarray]:
    if filled is None:
        return np.empty(0), np.empty(0)
    import pandas as pd  # loads only when a figure is drawn

    source = getattr(filled, "filled", filled)
    if isinstance(source, (pd.DataFrame, Mapping)):
        if "yi" not in source or "vi" not in source:
            raise ValueError("filled: expected columns 'yi' and 'vi'")
        yi, vi = np.asarray(source["yi"], float), np.asarray(source["vi"], float)
    elif hasattr(source, "yi") and hasattr(source, "vi"):
        yi, vi = np.asarray(source.yi, float), np.asarray(source.vi, float)
    else:
        raise ValueError("filled: expected a DataFrame (or mapping) with 'yi' and 'vi'")
    if yi.shape != vi.shape or np.any(~np.isfinite(yi)) or np.any(~(vi > 0)):
        raise ValueError("filled: 'yi' must be finite and 'vi' positive, of equal length")
    return yi, vi


def _ratio_ticks(lo: float, hi: float) -> list[float]:
    """At most 7 ratio ticks from the 1-2-5, then 1-5, then 1 series inside [lo, hi]."""
    for mantissas in ((1, 2, 5), (1, 5), (1,)):
        ticks = [m * 10.0 ** e for e in range(-4, 5) for m in mantissas
                 if lo <= m * 10.0 ** e <= hi]
        if len(ticks) <= 7:
            break
    return ticks


MODEL_SCALE_NAMES = {"PFT": "Proportion (Freeman-Tukey double arcsine)",
                     "PLO": "Proportion (logit)"}


@styled
def funnel(result: Any, *, contours: Sequence[float] | None = (0.90, 0.95, 0.99),
           filled: Any = None, adjusted: float | None = None, pseudo_ci: bool = True,
           back_transform: bool = True, xlabel: str | None = None, title: str | None = None,
           legend: bool = True, figsize: tuple[float, float] = (4.6, 3.6)) -> Figure:
    """Contour-enhanced funnel plot (standard error on an inverted y axis).

    Parameters
    ----------
    result : RMAResult or MetapropResult
        The fitted model; its ``yi`` and ``vi`` are the observed studies (filled dots).
    contours : sequence of float or None, default (0.90, 0.95, 0.99)
        Confidence levels of the significance contours around 0 (the null on the model scale):
        regions where a study's two-sided p-value falls between 1 - level pairs are shaded, as
        in Peters et al. (2008). ``None`` or ``()`` draws no contours.
    filled : DataFrame or mapping with ``yi`` and ``vi``, or an object with ``.filled``
        Studies imputed by trim-and-fill, drawn as open circles.
    adjusted : float, optional
        Trim-and-fill adjusted pooled estimate (model scale), drawn as a dashed line.
    pseudo_ci : bool, default True
        Pseudo 95% confidence limits (dotted) around the pooled estimate.
    back_transform : bool, default True
        For ratio measures, a log axis labelled on the ratio scale.
    xlabel : str, optional
        Default: the measure's name (e.g. "Risk Ratio (log scale)").
    title : str, optional
    legend : bool, default True
        Legend of the contour regions and markers, outside the plot on the right.
    figsize : (float, float), default (4.6, 3.6)
        Width and height of the plot area block in inches (the legend adds width).

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Peters et al. (2008), J Clin Epidemiol 61:991-996; Sterne et al. (2011), BMJ 343:d4002;
    Duval & Tweedie (2000), Biometrics 56:455-463.
    """
    fit, _prop = _unwrap(result)
    require_nonempty("result", len(fit.yi))
    if getattr(fit, "is_regression", False):
        raise ValueError("result: funnel() needs a model without moderators")
    levels = sorted(float(c) for c in (contours or ()))
    if any(not 0 < c < 1 for c in levels):
        raise ValueError(f"contours: levels must lie in (0, 1), got {list(contours or ())}")
    yi, se = np.asarray(fit.yi, float), np.sqrt(np.asarray(fit.vi, float))
    fy, fv = _filled_arrays(filled)
    fse = np.sqrt(fv)
    log = back_transform and fit.measure in RATIO
    tx = np.exp if log else (lambda x: np.asarray(x, float))

    width = figsize[0] + (1.45 if legend else 0.0)
    fig = new_figure(width, figsize[1])
    ax = fig.add_axes((0.62 / width, 0.5 / figsize[1], (figsize[0] - 0.75) / width,
                       (figsize[1] - 0.5 - (0.35 if title else 0.12)) / figsize[1]))
    se_all = np.concatenate([se, fse])
    se_max = float(se_all.max()) * 1.08
    est = float(fit.estimate)
    from scipy.special import ndtri  # scipy loads only when a figure is drawn

    z95 = -ndtri(0.025)
    zs = [-ndtri((1 - c) / 2) for c in levels]
    reach = max([abs(y) + (zs[-1] if zs else z95) * s for y, s in zip(yi, se)]
                + [abs(y) for y in np.concatenate([yi, fy])]
                + [abs(est) + z95 * se_max, (zs[-1] if zs else 0) * se_max])
    lim = reach * 1.05
    lo, hi = (-lim, lim) if zs else (min(np.concatenate([yi, fy, [est - z95 * se_max]])) * 1.05,
                                     max(np.concatenate([yi, fy, [est + z95 * se_max]])) * 1.05)
    handles = []
    if zs:
        ax.add_patch(Rectangle(
            (tx(lo), 0), tx(hi) - tx(lo), se_max, facecolor=SHADES[len(zs)], edgecolor="none",
            zorder=0))
        for j in range(len(zs) - 1, -1, -1):
            z = zs[j]
            xs = np.array([0, z * se_max, -z * se_max])
            ax.fill(tx(xs), [0, se_max, se_max], facecolor=SHADES[j], edgecolor="none",
                    zorder=0.5 + (len(zs) - j) * 0.01, gid=f"contour-{levels[j]:g}")
        edges = [1.0] + [1 - c for c in levels] + [0.0]
        for j in range(len(zs) + 1):
            hi_p, lo_p = edges[j], edges[j + 1]
            label = (f"{lo_p:.2g} < p \u2264 {hi_p:.2g}" if j < len(zs) else
                     f"p \u2264 {hi_p:.2g}")
            handles.append(Patch(facecolor=SHADES[j], edgecolor="#777777", linewidth=0.5,
                                 label=label))
    if pseudo_ci:
        ax.plot(tx([est - z95 * se_max, est, est + z95 * se_max]), [se_max, 0, se_max],
                color=INK, lw=0.7, ls=(0, (2, 2)), zorder=2, gid="pseudo-ci")
    ax.plot(tx([est, est]), [0, se_max], color=INK, lw=0.8, zorder=2, gid="estimate-line")
    if adjusted is not None:
        ax.plot(tx([adjusted, adjusted]), [0, se_max], color="#B2182B", lw=0.8, ls="--",
                zorder=2, gid="adjusted-line")
        handles.append(Line2D([], [], color="#B2182B", lw=0.8, ls="--",
                              label="Trim-and-fill estimate"))
    ax.scatter(tx(yi), se, s=22, facecolor=INK, edgecolor=INK, linewidths=0.7, zorder=4,
               gid="observed", clip_on=False)
    handles.append(Line2D([], [], ls="none", marker="o", ms=4.5, color=INK,
                          label="Observed studies"))
    if fy.size:
        ax.scatter(tx(fy), fse, s=22, facecolor="white", edgecolor=INK, linewidths=0.8,
                   zorder=4, gid="filled", clip_on=False)
        handles.append(Line2D([], [], ls="none", marker="o", ms=4.5, mfc="white", color=INK,
                              label="Imputed (trim-and-fill)"))
    ax.set_ylim(se_max, 0)
    ax.set_ylabel("Standard error")
    if log:
        ax.set_xscale("log")
        ax.set_xlim(np.exp(lo), np.exp(hi))
        ticks = _ratio_ticks(np.exp(lo), np.exp(hi))
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    else:
        ax.set_xlim(lo, hi)
    name = MEASURE_NAMES.get(fit.measure or "", "Effect size")
    if fit.measure in RATIO and not log:
        name = f"log {name}"
    elif fit.measure in MODEL_SCALE_NAMES:   # the funnel stays on the transformed scale
        name = MODEL_SCALE_NAMES[fit.measure]
    ax.set_xlabel(xlabel if xlabel is not None else name + (" (log scale)" if log else ""))
    if title:
        ax.set_title(title, loc="left", fontweight="bold")
    if legend:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0),
                  borderaxespad=0, handlelength=1.4, fontsize=7)
    extra = []
    if levels:
        extra.append("significance contours at " + ", ".join(f"{c:g}" for c in levels))
    if fy.size:
        extra.append(f"{fy.size} studies imputed by trim-and-fill (open circles)")
    return describe(fig, f"Funnel plot{': ' + title if title else ''}. {len(yi)} studies, "
                         f"{ax.get_xlabel()} against its standard error (larger studies at the "
                         f"top), with the pooled estimate and its pseudo 95% confidence "
                         f"region" + "".join(f"; {e}" for e in extra) + ".")

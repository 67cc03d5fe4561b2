"""The prediction interval a printed I² implies, drawn against the assumed within-study variance.

See :func:`metakit.engine.summary_level.implied_heterogeneity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from metakit.plots._style import INK, PI_COLOUR, SQUARE, describe, new_figure, styled

if TYPE_CHECKING:
    import pandas as pd

_MARKERS = ("o", "s", "^")


@styled
def implied_pi_plot(curve: pd.DataFrame, marks: pd.DataFrame, printed: Mapping[str, Any], *,
                    floor: float, edge: float, level: float = 95, dist: str = "t", k: int,
                    title: str | None = None) -> Figure:
    """The implied prediction interval (ratio scale) over a sweep of typical variances s².

    Parameters
    ----------
    curve : DataFrame
        ``s2, pi_low, pi_high`` on the log scale over the sweep.
    marks : DataFrame
        Reference assumptions: ``assumption, s2, pi_low, pi_high`` (ratio scale).
    printed : mapping
        The published row: ``estimate, ci_low, ci_high`` as printed.
    floor : float
        The smallest typical variance the study sizes allow (shaded below).
    edge : float
        The largest s² for which the interval excludes 1 (dotted; none when 0).
    level, dist, k
        Level, distribution and number of studies of the interval (for the caption).
    title : str, optional
        Figure title.
    """
    if curve.empty:
        raise ValueError("curve: no variances to draw")
    fig = new_figure(5.6, 3.6)
    ax = fig.add_axes((0.12, 0.14, 0.55, 0.72))
    ax.fill_between(curve["s2"], np.exp(curve["pi_low"]), np.exp(curve["pi_high"]),
                    color="#c6dbef", label=f"{level:g}% prediction interval")
    ax.axhspan(float(printed["ci_low"]), float(printed["ci_high"]), color="#fdd49e",
               label=f"printed {level:g}% CI")
    ax.axhline(float(printed["estimate"]), color=SQUARE, lw=1, label="printed estimate")
    ax.axhline(1, color=INK, ls="--", lw=0.8)
    ax.axvspan(curve["s2"].min(), floor, color="#eeeeee", zorder=0,
               label="s² below the floor of the largest study")
    if edge > 0:
        ax.axvline(edge, color=SQUARE, ls=":", lw=0.9, label="largest s² excluding 1")
    for marker, (_, mark) in zip(_MARKERS, marks.iterrows()):
        ax.plot([mark["s2"]] * 2, [mark["pi_low"], mark["pi_high"]], marker=marker, ls="none",
                color=PI_COLOUR, ms=4, label=mark["assumption"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8)
             if np.exp(curve["pi_low"]).min() / 2 <= t <= np.exp(curve["pi_high"]).max() * 2]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("assumed typical within-study variance s² (log scale)")
    ax.set_ylabel("ratio (log scale)")
    quantile = f"t on {k - 2} df" if dist == "t" else "normal quantile"
    ax.set_title((title + "\n" if title else "") + f"prediction interval with {quantile}",
                 loc="left", fontsize=8.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6.5)
    low, high = np.exp(curve["pi_low"].iloc[[0, -1]]), np.exp(curve["pi_high"].iloc[[0, -1]])
    return describe(fig, (
        f"{title + ': ' if title else ''}the {level:g}% prediction interval implied by the "
        f"printed I² widens from {low.iloc[0]:.2f}-{high.iloc[0]:.2f} to {low.iloc[1]:.2f}-"
        f"{high.iloc[1]:.2f} as the assumed within-study variance s² grows from "
        f"{curve['s2'].iloc[0]:g} to {curve['s2'].iloc[-1]:g}; the printed estimate "
        f"{printed['estimate']} and CI {printed['ci_low']} to {printed['ci_high']} are shaded, "
        f"and s² below {floor:.3f} is ruled out by the largest study."))

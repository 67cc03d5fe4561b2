"""Bubble plot for meta-regression.

References
----------
Thompson, S. G., & Higgins, J. P. T. (2002). How should meta-regression analyses be undertaken
and interpreted? Statistics in Medicine, 21(11), 1559-1573.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. JSS 36(3)
(``regplot``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from metakit.plots._style import (
    INK,
    SQUARE,
    describe,
    fmt_p,
    new_figure,
    require_nonempty,
    styled,
)
from metakit.plots.forest import MEASURE_NAMES, RATIO


@styled
def bubble(result: Any, moderator: int | str = 0, *, labels: bool = False,
           ci: bool = True, back_transform: bool = True, xlabel: str | None = None,
           ylabel: str | None = None, title: str | None = None,
           figsize: tuple[float, float] = (4.6, 3.4)) -> Figure:
    """Meta-regression bubble plot: effect sizes against one moderator.

    Parameters
    ----------
    result : RMAResult
        A meta-regression (``rma(..., mods=...)``).
    moderator : int or str, default 0
        The moderator on the x axis: its name in ``result.mod_names`` or its position among the
        moderators (0 = the first after the intercept).
    labels : bool, default False
        Write the study label next to each bubble.
    ci : bool, default True
        Shade the confidence band of the fitted line.
    back_transform : bool, default True
        For ratio measures, a log y axis labelled on the ratio scale.
    xlabel, ylabel, title : str, optional
    figsize : (float, float), default (4.6, 3.4)

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Bubble areas are proportional to the model weights. The fitted line and its confidence band
    hold the other moderators at their (unweighted) means, like metafor's ``regplot``.

    References
    ----------
    Thompson & Higgins (2002), Stat Med 21:1559-1573; Viechtbauer (2010), JSS 36(3).
    """
    if result is None or not hasattr(result, "X"):
        raise ValueError("result: expected an RMAResult from rma(..., mods=...)")
    require_nonempty("result", len(result.yi))
    if not result.is_regression:
        raise ValueError("result: bubble() needs a meta-regression (fit rma with mods=)")
    names = list(result.mod_names[1:])
    if isinstance(moderator, str):
        if moderator not in names:
            raise ValueError(f"moderator: {moderator!r} is not one of {names}")
        j = names.index(moderator) + 1
    else:
        if not 0 <= int(moderator) < len(names):
            raise ValueError(f"moderator: index {moderator} out of range 0-{len(names) - 1}")
        j = int(moderator) + 1
    X = np.asarray(result.X, float)
    x, y = X[:, j], np.asarray(result.yi, float)
    grid = np.linspace(x.min(), x.max(), 100)
    G = np.tile(X.mean(axis=0), (grid.size, 1))
    G[:, j] = grid
    pred = G @ result.beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, result.vb, G))
    from scipy import stats  # scipy loads only when a figure is drawn

    alpha = 1 - result.level / 100
    crit = (stats.t.isf(alpha / 2, result.k - result.p) if result.test == "knha"
            else stats.norm.isf(alpha / 2))
    log = back_transform and result.measure in RATIO
    tx = np.exp if log else (lambda v: v)

    fig = new_figure(*figsize)
    ax = fig.add_axes((0.72 / figsize[0], 0.5 / figsize[1], (figsize[0] - 0.9) / figsize[0],
                       (figsize[1] - 0.5 - (0.35 if title else 0.15)) / figsize[1]))
    w = np.asarray(result.weights, float)
    sizes = 12 + 400 * w / w.max()
    if ci:
        ax.fill_between(grid, tx(pred - crit * se), tx(pred + crit * se), color="#BBBBBB",
                        alpha=0.45, linewidth=0, zorder=1, gid="ci-band")
    ax.plot(grid, tx(pred), color=INK, lw=1.1, zorder=2, gid="fitted-line")
    ax.scatter(x, tx(y), s=sizes, facecolor=SQUARE, alpha=0.55, edgecolor=INK,
               linewidths=0.5, zorder=3, gid="bubbles")
    ax.axhline(tx(0.0), color="#777777", lw=0.6, ls=(0, (3, 2)), zorder=0)
    if labels:
        _place_labels(ax, x, tx(y), [str(lab) for lab in result.slab], np.sqrt(sizes) / 2)
    if log:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    name = MEASURE_NAMES.get(result.measure or "", "Effect size")
    if result.measure in RATIO and not log:
        name = f"log {name}"
    ax.set_xlabel(xlabel if xlabel is not None else names[j - 1])
    ax.set_ylabel(ylabel if ylabel is not None else name)
    ax.margins(x=0.06)
    if title:
        ax.set_title(title, loc="left", fontweight="bold")
    slope = f"slope = {result.beta[j]:.3f} ({fmt_p(result.pval[j])})"
    ax.set_title(slope, loc="right", fontsize=7)
    return describe(fig, f"Bubble plot{': ' + title if title else ''}. {name} of {result.k} "
                         f"studies against {ax.get_xlabel()}, bubble area by weight, with the "
                         f"fitted meta-regression line and its confidence band; {slope}.")


def _place_labels(ax: Any, x: np.ndarray, y: np.ndarray, texts: list[str],
                  radii: np.ndarray) -> None:
    """Write each label beside its bubble (``radii`` in points) where it stays inside the axes
    and overlaps no label placed before it: to the right, else to the left, above or below; to
    the right when no place is free."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []
    for i in np.argsort(x, kind="stable"):
        gap = radii[i] + 2
        spots = (((gap, 0), "left", "center"), ((-gap, 0), "right", "center"),
                 ((0, gap), "center", "bottom"), ((0, -gap), "center", "top"))
        for n, (offset, ha, va) in enumerate((*spots, spots[0])):
            label = ax.annotate(texts[i], (x[i], y[i]), xytext=offset, textcoords="offset points",
                                ha=ha, va=va, fontsize=7)
            box = label.get_window_extent(renderer)
            inside = (frame.x0 <= box.x0 and box.x1 <= frame.x1
                      and frame.y0 <= box.y0 and box.y1 <= frame.y1)
            if n == len(spots) or (inside and not any(box.overlaps(b) for b in placed)):
                break
            label.remove()
        placed.append(box)

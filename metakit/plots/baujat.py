"""Baujat plot: contribution to heterogeneity against influence on the pooled result.

References
----------
Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
heterogeneity in meta-analyses: application to a meta-analysis of 65 trials. Statistics in
Medicine, 21(18), 2641-2652.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from metakit.plots._style import SQUARE, describe, new_figure, require_nonempty, styled

if TYPE_CHECKING:
    import pandas as pd


@styled
def baujat_plot(frame_or_x: pd.DataFrame | Sequence[float], y: Sequence[float] | None = None,
                labels: Sequence[Any] | None = None, *, title: str | None = None,
                figsize: tuple[float, float] = (4.2, 3.4)) -> Figure:
    """Baujat plot.

    Parameters
    ----------
    frame_or_x : DataFrame or sequence of float
        Either the frame from :func:`metakit.baujat` (columns ``x`` = contribution to Cochran's
        Q, ``y`` = influence on the pooled estimate; index = study labels, or a ``slab``/
        ``study`` column), or the x values.
    y : sequence of float, optional
        Influence values when ``frame_or_x`` is a sequence.
    labels : sequence, optional
        Study labels (default: the frame's index or 1, 2, ...).
    title : str, optional
    figsize : (float, float), default (4.2, 3.4)

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Baujat et al. (2002), Stat Med 21:2641-2652.
    """
    import pandas as pd  # loads only when a figure is drawn

    if isinstance(frame_or_x, pd.DataFrame):
        frame = frame_or_x
        require_nonempty("frame_or_x", len(frame), "rows")
        missing = [c for c in ("x", "y") if c not in frame.columns]
        if missing:
            raise ValueError(f"frame_or_x: missing column {missing[0]!r}")
        x, yy = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
        if labels is None:
            col = next((c for c in ("slab", "study", "label") if c in frame.columns), None)
            labels = list(frame[col]) if col else [str(i) for i in frame.index]
    else:
        if frame_or_x is None:
            raise ValueError("frame_or_x: a DataFrame or x values are required")
        x = np.asarray(frame_or_x, float).ravel()
        require_nonempty("frame_or_x", x.size, "values")
        if y is None:
            raise ValueError("y: influence values are required with a sequence of x values")
        yy = np.asarray(y, float).ravel()
        if yy.size != x.size:
            raise ValueError(f"y: {yy.size} values for {x.size} x values")
        labels = [str(i + 1) for i in range(x.size)] if labels is None else list(labels)
    if len(labels) != x.size:
        raise ValueError(f"labels: {len(labels)} labels for {x.size} studies")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(yy))):
        raise ValueError("frame_or_x: x and y must be finite")
    fig = new_figure(*figsize)
    ax = fig.add_axes((0.65 / figsize[0], 0.5 / figsize[1], (figsize[0] - 0.85) / figsize[0],
                       (figsize[1] - 0.5 - (0.35 if title else 0.15)) / figsize[1]))
    ax.scatter(x, yy, s=18, color=SQUARE, zorder=3, gid="baujat-points")
    for xi, yi, lab in zip(x, yy, labels):
        ax.annotate(str(lab), (xi, yi), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_xlabel("Contribution to overall heterogeneity")
    ax.set_ylabel("Influence on overall result")
    ax.margins(x=0.12, y=0.1)
    if title:
        ax.set_title(title, loc="left", fontweight="bold")
    top = labels[int(np.argmax(x))]
    return describe(fig, f"Baujat plot{': ' + title if title else ''}. {x.size} studies by "
                         f"contribution to heterogeneity (x) and influence on the pooled result "
                         f"(y); the largest contribution is {top}.")

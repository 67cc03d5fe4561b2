"""Shared style for metakit figures: one font, thin lines, no chart junk.

Every public figure function runs inside :func:`styled` so that the output does not depend on
the user's matplotlib configuration (which also keeps image snapshots stable).
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

FONT = "DejaVu Sans"
FONT_SIZE = 8.0

RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": FONT_SIZE,
    "mathtext.fontset": "dejavusans",
    "axes.titlesize": 9,
    "axes.labelsize": FONT_SIZE,
    "axes.linewidth": 0.8,
    "axes.edgecolor": "black",
    "axes.labelcolor": "black",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE,
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.color": "black",
    "ytick.color": "black",
    "legend.frameon": False,
    "legend.fontsize": 7.5,
    "lines.linewidth": 0.9,
    "lines.solid_capstyle": "butt",
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": None,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "axes.unicode_minus": True,
}

#: Colours of risk-of-bias judgements (robvis, McGuinness & Higgins 2021).
ROB_COLOURS = {
    "low": "#02C100",
    "moderate": "#E2DF07",
    "unclear": "#E2DF07",
    "some concerns": "#E2DF07",
    "serious": "#BF0000",
    "high": "#BF0000",
    "critical": "#820000",
    "no information": "#AAAAAA",   # grey (robvis uses blue); prints better in greyscale
}

SQUARE = "#1F4E79"   # study squares
INK = "black"
PI_COLOUR = "#B2182B"

F = TypeVar("F", bound=Callable[..., Any])
_T2P = TextToPath()


def styled(func: F) -> F:
    """Run ``func`` with the metakit rcParams (fixed font, sizes and line widths)."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with mpl.rc_context(RC):
            return func(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


DISPLAY_DPI = 96
"""CSS pixels per inch of a figure in a report (its size on screen)."""

RESOLUTION = 2
"""Pixels per CSS pixel of a figure's PNG (2x: sharp on high-density screens and in print)."""


class NotebookFigure(Figure):
    """A figure that displays itself in Jupyter (``_repr_png_``) without going through pyplot.

    Its PNG is rendered at :data:`RESOLUTION` times :data:`DISPLAY_DPI` and shown at its size in
    inches, and it carries its alternative text (``alt``) in the output's metadata, which the
    report template writes into the ``<img alt>`` attribute.
    """

    alt: str = ""

    def _repr_png_(self) -> tuple[bytes, dict[str, Any]]:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DISPLAY_DPI * RESOLUTION, bbox_inches="tight")
        png = buffer.getvalue()
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        metadata: dict[str, Any] = {"width": round(width / RESOLUTION),
                                    "height": round(height / RESOLUTION)}
        if self.alt:
            metadata["alt"] = self.alt
        return png, metadata


def describe(fig: Figure, alt: str) -> Figure:
    """Attach ``alt`` (what the figure shows, in words) to ``fig`` and return it."""
    fig.alt = " ".join(str(alt).split())  # type: ignore[attr-defined]
    return fig


def _register_with_ipython() -> None:
    """Make IPython display a :class:`NotebookFigure` through its own ``_repr_png_``.

    The inline backend registers a PNG printer for every matplotlib ``Figure``, which would take
    precedence over ``_repr_png_`` (and drop the 2x size and the alt text); a printer registered
    for the subclass is found first.
    """
    shell = None
    if "IPython" in sys.modules:
        shell = sys.modules["IPython"].get_ipython()
    if shell is None or getattr(shell, "_metakit_figures", False):
        return
    shell.display_formatter.formatters["image/png"].for_type(
        NotebookFigure, lambda fig: fig._repr_png_())
    shell._metakit_figures = True


def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot (no global state, no double display in notebooks)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    _register_with_ipython()
    fig = NotebookFigure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


def text_width(text: Any, size: float = FONT_SIZE, weight: str = "normal") -> float:
    """Width in inches of ``text`` (widest line) set in the metakit font."""
    prop = FontProperties(family=FONT, size=size, weight=weight)
    widest = 0.0
    for line in str(text).split("\n"):
        if line:
            widest = max(widest, _T2P.get_text_width_height_descent(line, prop, ismath=False)[0])
    return widest / 72.0


def n_lines(text: Any) -> int:
    return str(text).count("\n") + 1


def require_nonempty(name: str, n: int, what: str = "studies") -> None:
    """Raise ``ValueError`` naming ``name`` when there is nothing to draw."""
    if n == 0:
        raise ValueError(f"{name}: no {what} to plot (empty data)")


def fmt_p(p: float) -> str:
    """P-value in the RevMan style: ``P = 0.03``, ``P = 0.004``, ``P < 0.00001``."""
    if p is None or not np.isfinite(p):
        return "P = NA"
    if p < 0.00001:
        return "P < 0.00001"
    for digits, bound in ((2, 0.01), (3, 0.001), (4, 0.0001), (5, 0.0)):
        if p >= bound:
            return f"P = {p:.{digits}f}"
    return f"P = {p:.5f}"  # pragma: no cover

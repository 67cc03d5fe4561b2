"""PRISMA 2020 flow diagram drawn from the counts a review reports.

References
----------
Page, M. J., McKenzie, J. E., Bossuyt, P. M., et al. (2021). The PRISMA 2020 statement: an
updated guideline for reporting systematic reviews. BMJ, 372, n71. doi:10.1136/bmj.n71
Haddaway, N. R., Page, M. J., Pritchard, C. C., & McGuinness, L. A. (2022). PRISMA2020: an R
package and Shiny app for producing PRISMA 2020-compliant flow diagrams. Campbell Systematic
Reviews, 18, e1230.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from metakit.plots._style import INK, describe, new_figure, styled, text_width

#: Accepted keys of ``counts`` and the box each fills.
KEYS = {
    "identified": "Records identified from databases and registers",
    "duplicates_removed": "Duplicate records removed before screening",
    "screened": "Records screened",
    "excluded_screening": "Records excluded (title and abstract)",
    "full_text_assessed": "Reports assessed for eligibility (full text)",
    "excluded_full_text": "Reports excluded after full-text assessment",
    "included": "Studies included in review",
    "sought": "Reports sought for retrieval",
    "not_retrieved": "Reports not retrieved",
    "participants": "Participants in the included studies",
}
OPTIONAL = ("sought", "not_retrieved", "participants")
"""Keys drawn only when given (the PRISMA 2020 boxes a review may not report)."""
PHASE = "#C9DDF0"
LINE_H = 0.155


def _n(value: Any) -> str:
    return "n = not reported" if value is None else f"n = {int(value):,}"


def _reasons(name: str, mapping: Any) -> dict[str, int]:
    """A mapping label -> count, validated (``ValueError`` naming ``name`` and the label)."""
    reasons: dict[str, int] = {}
    if mapping is None:
        return reasons
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{name}: expected a mapping label -> number of records")  # noqa: TRY004
    for reason, value in mapping.items():
        if value is None or isinstance(value, bool) or not float(value).is_integer() \
                or value < 0:
            raise ValueError(f"{name}: count for {reason!r} must be a non-negative "
                             f"whole number, got {value!r}")
        reasons[str(reason)] = int(value)
    return reasons


def _lines(mapping: Mapping[str, int], width: int) -> str:
    return "".join("\n" + _wrap(f"\u2022 {r} (n = {v:,})", width - 2).replace("\n", "\n   ")
                   for r, v in mapping.items())


def _check(counts: Any, exclusions: Any) -> tuple[dict[str, int | None], dict[str, int]]:
    if not isinstance(counts, Mapping):
        raise ValueError("counts: expected a mapping such as {'identified': 250, ...}")  # noqa: TRY004
    unknown = sorted(set(counts) - set(KEYS))
    if unknown:
        raise ValueError(f"counts: unknown key {unknown[0]!r}; expected keys {list(KEYS)}")
    clean: dict[str, int | None] = {}
    for key in KEYS:
        value = counts.get(key)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            clean[key] = None
            continue
        if isinstance(value, bool) or not float(value).is_integer() or value < 0:
            raise ValueError(f"counts: {key!r} must be a non-negative whole number, got {value!r}")
        clean[key] = int(value)
    reasons = _reasons("exclusions", exclusions)
    if all(v is None for v in clean.values()) and not reasons:
        raise ValueError("counts: no counts given (empty data); nothing to draw")
    return clean, reasons


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(part, width) if part else "" for part in text.split("\n"))


@styled
def prisma(counts: Mapping[str, int | None], exclusions: Mapping[str, int] | None = None, *,
           sources: Mapping[str, int] | None = None,
           screening_exclusions: Mapping[str, int] | None = None,
           title: str | None = None, width: float = 7.0) -> Figure:
    """PRISMA 2020 flow diagram (new review; databases and registers only).

    Parameters
    ----------
    counts : mapping of str to int or None
        Keys (all optional, at least one required):

        - ``identified``: records identified from databases and registers;
        - ``duplicates_removed``: duplicate records removed before screening;
        - ``screened``: records screened (title and abstract);
        - ``excluded_screening``: records excluded at screening;
        - ``full_text_assessed``: reports assessed for eligibility (full text);
        - ``excluded_full_text``: reports excluded after full-text assessment;
        - ``included``: studies included in the review;
        - ``sought``, ``not_retrieved``: reports sought for retrieval and not retrieved (the
          row is drawn only when one of them is given);
        - ``participants``: participants of the included studies (shown under them).

        A missing key or ``None`` prints "n = not reported"; nothing is derived from the other
        counts, so an inconsistency in a paper stays visible.
    exclusions : mapping of str to int, optional
        Full-text exclusion reasons and their counts, listed in the side box.
    sources : mapping of str to int, optional
        Records per database or register (``{"MEDLINE": 308, ...}``), listed under the
        identified records.
    screening_exclusions : mapping of str to int, optional
        Reasons for excluding records at title and abstract, with their counts.
    title : str, optional
    width : float, default 7.0
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Page et al. (2021), BMJ 372:n71; Haddaway et al. (2022), Campbell Syst Rev 18:e1230.
    """
    c, reasons = _check(counts, exclusions)
    per_source = _reasons("sources", sources)
    screening = _reasons("screening_exclusions", screening_exclusions)
    main_w, side_w = 0.46 * (width - 0.75), 0.42 * (width - 0.75)
    main_x = 0.55
    side_x = width - 0.1 - side_w
    chars_main, chars_side = int(main_w * 15), int(side_w * 15)
    side3 = f"Reports excluded ({_n(c['excluded_full_text'])})" + _lines(reasons, chars_side)
    included = f"Studies included in review\n({_n(c['included'])})"
    if c["participants"] is not None:
        included += f"\nParticipants ({_n(c['participants'])})"
    rows = [
        ("Identification",
         f"Records identified from databases\nand registers\n({_n(c['identified'])})"
         + _lines(per_source, chars_main),
         (f"Records removed before screening:\nDuplicate records removed\n"
          f"({_n(c['duplicates_removed'])})")),
        ("Screening", f"Records screened\n({_n(c['screened'])})",
         f"Records excluded\n({_n(c['excluded_screening'])})" + _lines(screening, chars_side)),
        ("Screening", f"Reports assessed for eligibility\n({_n(c['full_text_assessed'])})",
         side3),
        ("Included", included, None),
    ]
    if c["sought"] is not None or c["not_retrieved"] is not None:
        rows.insert(2, ("Screening", f"Reports sought for retrieval\n({_n(c['sought'])})",
                        f"Reports not retrieved\n({_n(c['not_retrieved'])})"))
    rows = [(ph, _wrap(m, chars_main), s if s is None else _wrap(s, chars_side))
            for ph, m, s in rows]
    heights = [max(m.count("\n") + 1, 0 if s is None else s.count("\n") + 1) * LINE_H + 0.22
               for _, m, s in rows]
    for phase in ("Identification", "Included"):
        r = [ph for ph, _m, _s in rows].index(phase)
        heights[r] = max(heights[r], text_width(phase, weight="bold") + 0.2)
    gap = 0.32
    top_pad = 0.12 + (0.3 if title else 0)
    height = top_pad + sum(heights) + gap * (len(rows) - 1) + 0.12
    fig = new_figure(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()

    def box(x: float, y_top: float, w: float, h: float, text: str, gid: str,
            align: str = "center") -> None:
        ax.add_patch(FancyBboxPatch((x, y_top - h), w, h, boxstyle="round,pad=0,rounding_size=0.04",
                                    facecolor="white", edgecolor=INK, linewidth=0.8, gid=gid))
        if align == "center":
            ax.text(x + w / 2, y_top - h / 2, text, ha="center", va="center", linespacing=1.35)
        else:
            ax.text(x + 0.1, y_top - h / 2, text, ha="left", va="center", linespacing=1.35)

    def arrow(p: tuple[float, float], q: tuple[float, float]) -> None:
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=9, color=INK,
                                     linewidth=0.8, shrinkA=0, shrinkB=0))

    y = height - top_pad
    tops = []
    for r, ((_phase, main, side), h) in enumerate(zip(rows, heights)):
        tops.append(y)
        box(main_x, y, main_w, h, main, f"prisma-main-{r}")
        if side is not None:
            box(side_x, y, side_w, h, side, f"prisma-side-{r}", align="left")
            arrow((main_x + main_w, y - h / 2), (side_x, y - h / 2))
        if r:
            arrow((main_x + main_w / 2, y + gap), (main_x + main_w / 2, y))
        y -= h + gap
    # phase strips
    spans = {}
    for r, (phase, _m, _s) in enumerate(rows):
        lo = tops[r] - heights[r]
        first, _ = spans.get(phase, (tops[r], lo))
        spans[phase] = (first, lo)
    for phase, (hi, lo) in spans.items():
        ax.add_patch(FancyBboxPatch((0.1, lo), 0.28, hi - lo,
                                    boxstyle="round,pad=0,rounding_size=0.05", facecolor=PHASE,
                                    edgecolor="none"))
        ax.text(0.24, (hi + lo) / 2, phase, rotation=90, ha="center", va="center",
                fontweight="bold")
    if title:
        ax.text(0.1, height - 0.1, title, ha="left", va="top", fontsize=9.5, fontweight="bold")
    given = "; ".join(f"{KEYS[k].lower()} {v:,}" for k, v in c.items() if v is not None)
    return describe(fig, f"PRISMA 2020 flow diagram{': ' + title if title else ''}. {given}"
                         + "".join(f"; excluded: {r} {v:,}" for r, v in reasons.items()) + ".")

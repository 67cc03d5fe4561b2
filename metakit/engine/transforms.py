"""Back-transformations from the model scale to the scale a paper prints.

References
----------
Miller, J. J. (1978). The inverse of the Freeman-Tukey double arcsine transformation. The
American Statistician, 32(4), 138.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def pft(p: ArrayLike, n: ArrayLike) -> NDArray[np.float64]:
    """Freeman-Tukey double arcsine of proportion ``p`` with size ``n`` (metafor ``transf.pft``)."""
    x = np.asarray(p, dtype=float) * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def ipft(t: ArrayLike, n: ArrayLike) -> NDArray[np.float64]:
    """Inverse Freeman-Tukey transformation for size ``n`` (Miller, 1978), clipped to [0, 1]."""
    t = np.asarray(t, dtype=float)
    n = np.asarray(n, dtype=float)
    s = np.sin(2 * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    p = np.where(t > pft(1.0, n), 1.0, p)
    return np.where(t < pft(0.0, n), 0.0, p)


def expit(x: ArrayLike) -> NDArray[np.float64]:
    """Inverse logit (back-transformation of ``PLO``)."""
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def ipft_hm(t: ArrayLike, ni: ArrayLike) -> NDArray[np.float64]:
    """Inverse Freeman-Tukey with the harmonic mean of study sizes (metafor ``transf.ipft.hm``)."""
    harmonic = 1 / np.mean(1 / np.asarray(ni, dtype=float))
    return ipft(t, harmonic)


def back_transform(measure: str | None, value: float, ni: ArrayLike | None = None) -> float:
    """``value`` on the natural scale of ``measure`` (identity for differences and unknown)."""
    from metakit.engine.measures import LOG_MEASURES

    if measure in LOG_MEASURES:
        return float(np.exp(value))
    if measure == "PLO":
        return float(expit(value))
    if measure == "PFT":
        if ni is None:
            raise ValueError("ni: study sizes are needed to back-transform PFT")
        return float(ipft_hm(value, ni))
    return float(value)

"""The effect-size measures metakit knows, by family, and the scale each is analysed on.

One source for these facts (escalc, the back-transforms, the audit's model scales and the
figures read them from here); the module imports nothing, so the audit can use it cheaply.
"""

from __future__ import annotations

BINARY = ("RR", "OR", "RD", "PETO")
CONTINUOUS = ("MD", "SMD", "ROM")
PROPORTION = ("PR", "PLO", "PFT", "PAS")
RATES = ("IRR", "IRD")
CORRELATION = ("COR", "ZCOR")
GENERIC = ("GEN", "HR")
MEASURES = BINARY + CONTINUOUS + PROPORTION + RATES + CORRELATION + GENERIC
"""Every measure ``escalc`` computes."""

LOG_MEASURES = frozenset({"RR", "OR", "HR", "PETO", "ROM", "IRR"})
"""Ratio measures, analysed on the log scale and back-transformed with ``exp``."""

"""Short quotes of user-supplied values for error messages (standard library only).

A message quotes what was wrong, never all of it: a 4 MB string, a 2,000-row column or a YAML
structure that expands to millions of nodes is shown as its first few characters.
"""

from __future__ import annotations

import reprlib

QUOTE_CHARS = 40
"""Longest quote of a value in a message, in characters."""

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, QUOTE_CHARS, QUOTE_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (nested values to two levels)."""
    return shorten(_REPR.repr(value), limit)


def shorten(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"

"""YAML as the dossier and parameter files use it: safe loading, with libyaml when installed.

PyYAML's C loader reads a ``review.yaml`` about ten times faster than the pure-Python one, which
the no-op rebuild (reading every review's identity for the index) notices.
"""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` of ``text``, with the C loader when PyYAML has one.

    Raises
    ------
    yaml.YAMLError
        As ``yaml.safe_load`` does (with ``problem_mark`` naming the line).
    """
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 (a safe loader)

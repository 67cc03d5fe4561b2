"""Notebook parameters: read a notebook's ``parameters`` cell and validate a YAML parameter file.

A notebook declares its parameters, with defaults, in the code cell tagged ``parameters`` (the
papermill convention). ``params/<review>.yaml`` may override them, under three rules:

* the file is YAML read with :func:`yaml.safe_load` (never evaluated) and holds a mapping;
* every key is a parameter the notebook declares;
* every value has the type of the declared default (an ``int`` is accepted for a ``float``; a
  default of ``None`` accepts any value).

``output_dir`` is reserved: the build always sets it. Any violation raises :class:`ParamsError`
with a one-line message that names the file and, where there is one, the key.

This module only uses the standard library and PyYAML, so that validation is fast enough to run on
every build, including a build where nothing has changed.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import yaml

REQUIRED: tuple[str, ...] = ("review", "data_dir", "output_dir")
"""Parameters every notebook must declare."""

RESERVED: frozenset[str] = frozenset({"output_dir"})
"""Parameters a parameter file may not set: the build injects them."""

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


class ParamsError(ValueError):
    """A notebook's parameters cell or a parameter file is unusable; the message is one line."""


def _label(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` when it lies inside it, for short messages."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def notebook_parameters(notebook: str | os.PathLike[str],
                        root: Path | None = None) -> dict[str, Any]:
    """Declared parameters and their defaults, from the cell tagged ``parameters``.

    Parameters
    ----------
    notebook : path-like
        The ``.ipynb`` file.
    root : Path, optional
        Project root; paths in error messages are shown relative to it.

    Returns
    -------
    dict
        Parameter name -> default value. A default that is not a Python literal (an expression)
        is returned as ``None``, meaning "any type".

    Raises
    ------
    ParamsError
        The file is missing or not a notebook, it has no ``parameters`` cell, the cell is not
        valid Python, or it lacks one of :data:`REQUIRED`.
    """
    path = Path(notebook)
    label = _label(path, root)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except FileNotFoundError:
        raise ParamsError(f"{label}: notebook not found") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ParamsError(f"{label}: not a Jupyter notebook ({exc})") from None
    source = next((_cell_source(cell) for cell in cells
                   if "parameters" in cell.get("metadata", {}).get("tags", [])), None)
    if source is None:
        raise ParamsError(f"{label}: no cell tagged 'parameters'")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParamsError(f"{label}: parameters cell, line {exc.lineno}: {exc.msg}") from None
    declared = dict(_assignments(tree))
    missing = [name for name in REQUIRED if name not in declared]
    if missing:
        raise ParamsError(f"{label}: parameters cell does not declare {', '.join(missing)}")
    return declared


def _cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else source
    # IPython magics and shell escapes are not Python; they declare nothing.
    return "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def _assignments(tree: ast.Module) -> list[tuple[str, Any]]:
    """``name = literal`` (or ``name: type = literal``) statements at the top of the cell."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    default = ast.literal_eval(value)
                except ValueError:
                    default = None
                found.append((target.id, default))
    return found


def _check_value(key: str, value: Any, default: Any, where: str) -> None:
    if default is None:
        return
    expected = type(default)
    ok = type(value) is expected or (expected is float and type(value) is int)
    if not ok:
        raise ParamsError(
            f"{where}: key '{key}': expected {_type_name(default)} like the notebook's default "
            f"{default!r}, got {_type_name(value)} {value!r}")


def load_params(params_file: str | os.PathLike[str], declared: dict[str, Any], review: str,
                root: Path | None = None) -> dict[str, Any]:
    """Read and validate a parameter file against a notebook's declared parameters.

    Parameters
    ----------
    params_file : path-like
        The YAML file.
    declared : dict
        The notebook's parameters, from :func:`notebook_parameters`.
    review : str
        Review id; a ``review`` key in the file must equal it.
    root : Path, optional
        Project root; paths in error messages are shown relative to it.

    Returns
    -------
    dict
        The overrides (possibly empty).

    Raises
    ------
    ParamsError
        Not YAML, not a mapping, an unknown or reserved key, a value of the wrong type, or a
        ``review`` that names another review.
    """
    path = Path(params_file)
    where = _label(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{where}: parameter file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ParamsError(f"{where}: not valid YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{where}: expected a mapping of parameter names to values, got {_type_name(data)}")
    for key, value in data.items():
        if not isinstance(key, str) or key not in declared:
            known = ", ".join(sorted(declared))
            raise ParamsError(f"{where}: key '{key}': unknown parameter (the notebook declares "
                              f"{known})")
        if key in RESERVED:
            raise ParamsError(f"{where}: key '{key}': set by the build (use --out), not by a "
                              f"parameter file")
        _check_value(key, value, declared[key], where)
    if data.get("review", review) != review:
        raise ParamsError(f"{where}: key 'review': {data['review']!r} is not the review being "
                          f"built ({review!r})")
    return data

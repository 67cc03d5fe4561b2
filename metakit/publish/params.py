"""Notebook parameters: read a notebook's ``parameters`` cell and validate a YAML parameter file.

A notebook declares its parameters, with defaults, in the code cell tagged ``parameters`` (the
papermill convention). A parameter may declare its type with an annotation and its allowed values
with a trailing comment::

    level: float = 95       # range: 50 to 99.9
    pi_dist = "t"           # choices: t, z
    max_df = 60             # range: 1 to 500

``choices:`` lists the allowed values, separated by commas (read as the default's type);
``range: LOW to HIGH`` bounds a number (both ends included). A comment that starts with
``choices:`` or ``range:`` but is malformed, or a default outside its own declaration, is an
error in the notebook. ``params/<review>.yaml`` may override the parameters, under these rules:

* the file is a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8 YAML read with a safe
  loader (never evaluated: no Python tags), holding a mapping without repeated keys, whose values
  expand (YAML aliases included) to at most :data:`MAX_NODES` values;
* every key is a parameter the notebook declares;
* every value has the declared type (the annotation, else the default's: an ``int`` is accepted
  for a ``float``, a ``bool`` never for a number; a default of ``None`` accepts any value), is
  among the declared choices and within the declared range; floats are finite everywhere (no
  ``.nan``, ``.inf``), strings at most :data:`MAX_STRING_CHARS` characters.

``output_dir`` is reserved: the build always sets it. Any violation raises :class:`ParamsError`
with a one-line message that names the file and, where there is one, the key, and quotes at most
a few dozen characters of the offending value.

This module only uses the standard library and PyYAML, so that validation is fast enough to run on
every build, including a build where nothing has changed.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from metakit.engine._text import quote, shorten

REQUIRED: tuple[str, ...] = ("review", "data_dir", "output_dir")
"""Parameters every notebook must declare."""

RESERVED: frozenset[str] = frozenset({"output_dir"})
"""Parameters a parameter file may not set: the build injects them."""

MAX_FILE_BYTES = 64 * 1024
"""Largest parameter file read."""
MAX_STRING_CHARS = 4096
"""Longest string value."""
MAX_NODES = 10_000
"""Most values (scalars, list items, mapping entries) a parameter file may expand to."""

_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict}
_TYPE_NAMES = {kind: name for name, kind in _TYPES.items()}
_DECLARATION = re.compile(r"#\s*(choices|range)\s*:(.*)$")
_RANGE = re.compile(r"^\s*(\S+)\s+to\s+(\S+)\s*$")


class ParamsError(ValueError):
    """A notebook's parameters cell or a parameter file is unusable; the message is one line."""


@dataclass(frozen=True)
class Parameter:
    """A parameter as the notebook declares it.

    Attributes
    ----------
    name : str
        Variable name.
    default : object
        The default (``None`` for an expression that is not a literal).
    kind : type or None
        Required type of a value; ``None`` accepts any.
    choices : tuple or None
        Allowed values.
    low, high : float or None
        Allowed range, both ends included.
    """

    name: str
    default: Any
    kind: type | None = None
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed for this parameter, or ``None``."""
        if self.kind is not None:
            ok = type(value) is self.kind or (self.kind is float and type(value) is int)
            if not ok:
                like = f" like the notebook's default {quote(self.default)}" if (
                    type(self.default) is self.kind) else ""
                return (f"expected {_type_name(self.kind)}{like}, got {_type_name(type(value))} "
                        f"{quote(value)}")
        if self.choices is not None and value not in self.choices:
            return (f"{quote(value)} is not one of the notebook's choices "
                    f"({', '.join(str(c) for c in self.choices)})")
        if self.low is not None and not (self.low <= value <= self.high):
            return f"{quote(value)} is outside the notebook's range {self.low:g} to {self.high:g}"
        return None


def relative_label(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` when it lies inside it, for short messages."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def _type_name(kind: type) -> str:
    return _TYPE_NAMES.get(kind, kind.__name__)


def notebook_parameters(notebook: str | os.PathLike[str],
                        root: Path | None = None) -> dict[str, Parameter]:
    """Declared parameters, from the cell tagged ``parameters``.

    Parameters
    ----------
    notebook : path-like
        The ``.ipynb`` file.
    root : Path, optional
        Project root; paths in error messages are shown relative to it.

    Returns
    -------
    dict
        Parameter name -> :class:`Parameter`.

    Raises
    ------
    ParamsError
        The file is missing or not a notebook, it has no ``parameters`` cell, the cell is not
        valid Python, a declaration is malformed or excludes its own default, or the cell lacks
        one of :data:`REQUIRED`.
    """
    path = Path(notebook)
    label = relative_label(path, root)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except FileNotFoundError:
        raise ParamsError(f"{label}: notebook not found (looked for "
                          f"{path.resolve()})") from None
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ParamsError(f"{label}: not a Jupyter notebook ({shorten(str(exc), 80)})") from None
    source = next((_cell_source(cell) for cell in cells
                   if "parameters" in cell.get("metadata", {}).get("tags", [])), None)
    if source is None:
        raise ParamsError(f"{label}: no cell tagged 'parameters'")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParamsError(f"{label}: parameters cell, line {exc.lineno}: {exc.msg}") from None
    comments = _comments(source)
    declared = {}
    for node, name, default in _assignments(tree):
        where = f"{label}: parameters cell, line {node.lineno}, '{name}'"
        declared[name] = _declare(node, name, default, comments.get(node.end_lineno), where)
    missing = [name for name in REQUIRED if name not in declared]
    if missing:
        raise ParamsError(f"{label}: parameters cell does not declare {', '.join(missing)}")
    return declared


def _cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else source
    # IPython magics and shell escapes are not Python; they declare nothing (kept as blank
    # lines so that line numbers stay those of the cell).
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in text.splitlines())


def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment that ends the line."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string
    return found


def _assignments(tree: ast.Module) -> list[tuple[ast.stmt, str, Any]]:
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
                found.append((node, target.id, default))
    return found


def _declare(node: ast.stmt, name: str, default: Any, comment: str | None,
             where: str) -> Parameter:
    kind = None if default is None else type(default)
    if isinstance(node, ast.AnnAssign):
        annotation = ast.unparse(node.annotation)
        if annotation not in _TYPES:
            raise ParamsError(f"{where}: type {annotation!r} is not one of "
                              f"{', '.join(_TYPES)}")
        kind = _TYPES[annotation]
    parameter = Parameter(name, default, kind)
    match = _DECLARATION.search(comment or "")
    if match:
        keyword, text = match.group(1), match.group(2).strip()
        if keyword == "choices":
            items = [item.strip() for item in text.split(",")]
            if not all(items):
                raise ParamsError(f"{where}: 'choices:' needs values separated by commas")
            parameter = Parameter(name, default, kind, choices=tuple(
                _choice(item, kind, where) for item in items))
        else:
            bounds = _RANGE.match(text)
            numbers = (_number(bounds.group(1)), _number(bounds.group(2))) if bounds else None
            if kind not in (int, float) or numbers is None or None in numbers \
                    or numbers[0] > numbers[1]:
                raise ParamsError(f"{where}: 'range:' needs 'LOW to HIGH' (numbers, LOW <= "
                                  f"HIGH) on a number parameter")
            parameter = Parameter(name, default, kind, low=numbers[0], high=numbers[1])
    if default is not None and parameter.problem(default) is not None:
        raise ParamsError(f"{where}: the default {parameter.problem(default)}")
    return parameter


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _choice(text: str, kind: type | None, where: str) -> Any:
    if kind in (None, str):
        return text
    if kind is bool and text in ("True", "False"):
        return text == "True"
    try:
        value = kind(text) if kind in (int, float) else None
    except ValueError:
        value = None
    if value is None:
        raise ParamsError(f"{where}: choice {quote(text)} is not a {_type_name(kind)}")
    return value


# --------------------------------------------------------------------------------------------
# Parameter files
# --------------------------------------------------------------------------------------------

class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser where PyYAML has it: ten times faster, and it bounds
    the nesting depth itself), rejecting a mapping that repeats a key (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key is PyYAML's own error
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"repeated key {quote(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read(path: Path, where: str) -> str:
    """The text of a parameter file: a regular UTF-8 file of at most :data:`MAX_FILE_BYTES`."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ParamsError(f"{where}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ParamsError(f"{where}: {info.st_size:,} bytes, larger than the "
                              f"{MAX_FILE_BYTES:,} a parameter file may have")
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ParamsError(f"{where}: parameter file not found") from None
    except OSError as exc:
        raise ParamsError(f"{where}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ParamsError(f"{where}: larger than the {MAX_FILE_BYTES:,} bytes a parameter file "
                          f"may have")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{where}: not UTF-8 text (byte {exc.start})") from None


def _value_problem(value: Any) -> str | None:
    """Why a parsed value is not allowed whatever the notebook declares, or ``None``.

    Walks the value without recursion and stops after :data:`MAX_NODES` values, so a YAML
    alias bomb (a few hundred bytes that expand to billions of values) is rejected at once.
    """
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return (f"expands to more than {MAX_NODES:,} values (YAML aliases repeat a value "
                    f"each time they are used)")
        if isinstance(item, float) and not math.isfinite(item):
            return f"{item!r} is not allowed: numbers must be finite"
        if isinstance(item, str) and len(item) > MAX_STRING_CHARS:
            return (f"a string of {len(item):,} characters ({quote(item)}) is longer than the "
                    f"{MAX_STRING_CHARS:,} allowed")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
    return None


def load_params(params_file: str | os.PathLike[str], declared: dict[str, Parameter],
                review: str, root: Path | None = None) -> dict[str, Any]:
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
        Not a regular file, too large, not UTF-8, not YAML, not a mapping, a repeated, unknown
        or reserved key, a value of the wrong type, not among the choices, outside the range,
        not finite, too long or too large, or a ``review`` that names another review.
    """
    path = Path(params_file)
    where = relative_label(path, root)
    text = _read(path, where)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ParamsError(f"{where}: not valid YAML{at}: {shorten(problem, 80)}") from None
    except RecursionError:
        raise ParamsError(f"{where}: not valid YAML: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{where}: expected a mapping of parameter names to values, got "
            f"{_type_name(type(data))}")
    for key, value in data.items():
        if not isinstance(key, str) or key not in declared:
            known = ", ".join(sorted(declared))
            raise ParamsError(f"{where}: key {quote(key)}: unknown parameter (the notebook "
                              f"declares {known})")
        if key in RESERVED:
            raise ParamsError(f"{where}: key '{key}': set by the build (use --out), not by a "
                              f"parameter file")
        problem = _value_problem(value) or declared[key].problem(value)
        if problem:
            raise ParamsError(f"{where}: key '{key}': {problem}")
    if data.get("review", review) != review:
        raise ParamsError(f"{where}: key 'review': {quote(data['review'])} is not the review "
                          f"being built ({review!r})")
    return data

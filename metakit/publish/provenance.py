"""Provenance of a report: content hashes, data checksums, git commit, package versions.

The build uses :func:`file_checksums` and :func:`input_hash` to decide whether a review must be
re-run, and :func:`footer_html` to close every report with what produced it. Only the standard
library is imported, so that a build where nothing changed stays fast.
"""

from __future__ import annotations

import hashlib
import html
import json
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGES: tuple[str, ...] = (
    "metakit", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "seaborn", "pyyaml",
    "pandera", "papermill", "nbconvert", "nbformat", "ipykernel",
)
"""Distributions whose versions a report lists."""

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_checksums(directory: Path, suffixes: tuple[str, ...] | None = None) -> dict[str, str]:
    """SHA-256 of every file under ``directory``, keyed by POSIX path relative to it.

    Hidden files and ``__pycache__`` folders are ignored. A missing directory gives ``{}``.

    Parameters
    ----------
    directory : Path
        Folder to walk recursively.
    suffixes : tuple of str, optional
        Keep only files whose name ends with one of these (e.g. ``(".py",)``).
    """
    if not directory.is_dir():
        return {}
    sums = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        if path.is_file() and (suffixes is None or path.name.endswith(suffixes)):
            sums[relative.as_posix()] = sha256_file(path)
    return sums


def input_hash(parts: Mapping[str, Any]) -> str:
    """One hex SHA-256 over JSON-serialisable parts (file checksums, parameters, options)."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def git_commit(root: Path) -> str | None:
    """``HEAD`` of the git checkout at ``root`` (with ``+dirty`` for local changes), or ``None``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    """Python and :data:`PACKAGES` versions (``"not installed"`` where absent)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class Provenance:
    """What produced one report.

    Attributes
    ----------
    review : str
        Review id.
    commit : str or None
        Git commit of the project, ``None`` outside a git checkout.
    parameters : dict
        Parameter values the notebook ran with.
    data_checksums : dict
        Data file (relative to the review's data folder) -> SHA-256.
    inputs : str
        :func:`input_hash` of everything the build read (notebook, parameter file, parameters,
        data, ``metakit`` source, options): the same for two builds of the same inputs, so that
        their reports are byte-identical (the time of a build is kept in its record instead).
    versions : dict
        Package -> version.
    """

    review: str
    commit: str | None
    parameters: Mapping[str, Any]
    data_checksums: Mapping[str, str]
    inputs: str
    versions: Mapping[str, str] = field(default_factory=package_versions)


def relative_to(value: Any, root: Path) -> Any:
    """A path under ``root`` as a POSIX path relative to it (``data/por``), so that a report
    never shows the build machine's folders; anything else unchanged."""
    if not isinstance(value, (str, Path)) or not str(value).startswith("/"):
        return value
    try:
        return Path(value).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return value


def _table(rows: Mapping[str, Any], head: tuple[str, str]) -> str:
    body = "".join(f"<tr><td>{html.escape(str(k))}</td><td><code>{html.escape(str(v))}</code>"
                   f"</td></tr>" for k, v in rows.items())
    return (f"<table><thead><tr><th>{head[0]}</th><th>{head[1]}</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def footer_html(prov: Provenance) -> str:
    """The provenance footer of a report, every value HTML-escaped."""
    commit = html.escape(prov.commit or "not a git checkout")
    data = (_table(prov.data_checksums, ("data file", "SHA-256")) if prov.data_checksums
            else "<p>No data files.</p>")
    return (
        '<footer id="provenance" class="metakit-provenance">'
        "<h2>Provenance of this report</h2>"
        f"<p>Review <code>{html.escape(prov.review)}</code>, built from commit "
        f"<code>{commit}</code>; inputs SHA-256 <code>{html.escape(prov.inputs)}</code> "
        f"(notebook, parameters, data, metakit source, build options).</p>"
        f"<h3>Parameters</h3>{_table(prov.parameters, ('parameter', 'value'))}"
        f"<h3>Data</h3>{data}"
        f"<h3>Software</h3>{_table(prov.versions, ('package', 'version'))}"
        "</footer>"
    )

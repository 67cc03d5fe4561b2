"""Fault injection, parameter files: values outside the declared choices and ranges, non-finite and
oversized values, alias bombs, deep nesting, repeated keys, non-files, data folders outside the
project. Each is refused before anything runs: exit status 2, one line naming the file and key
that quotes at most a short value, and nothing written."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import pytest

from conftest import write_notebook
from faults import quick_project
from metakit.__main__ import main
from metakit.engine._text import quote
from metakit.publish.build import BuildError, Project, plan
from metakit.publish.params import MAX_FILE_BYTES, MAX_NODES, MAX_STRING_CHARS

REVIEW = "ovarian"
PARAMETERS = ('level: float = 95  # range: 50 to 99.9\npi_dist = "t"  # choices: t, z\n'
              "max_df = 60  # range: 1 to 500\nlabel = 'x'\nexclude = []\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = quick_project(tmp_path / "project", REVIEW)
    write_notebook(root / "notebooks" / f"{REVIEW}.ipynb", REVIEW, "x = 1",
                   extra_params=PARAMETERS)
    return root


def cli(root: Path, text: str | bytes | None, *args: str) -> tuple[int, str]:
    """Build ``REVIEW`` with ``params/<REVIEW>.yaml`` holding ``text``; exit status, stderr."""
    params = root / "params" / f"{REVIEW}.yaml"
    if isinstance(text, bytes):
        params.write_bytes(text)
    elif text is not None:
        params.write_text(text)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", "--root", str(root), "--out", str(root / "out"), "--only", REVIEW,
                     *args])
    return code, err.getvalue()


def refused(root: Path, text: str | bytes | None, *args: str) -> str:
    """The one-line message of a refused request (exit 2, nothing written)."""
    code, stderr = cli(root, text, *args)
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert len(stderr) < 400, len(stderr)
    assert not (root / "out").exists()
    return stderr.removeprefix("error: ").strip()


WHERE = f"params/{REVIEW}.yaml: "


@pytest.mark.parametrize("text, message", [
    ("pi_dist: q\n", "key 'pi_dist': 'q' is not one of the notebook's choices (t, z)"),
    ("level: 0.95\n", "key 'level': 0.95 is outside the notebook's range 50 to 99.9"),
    ("level: 120\n", "key 'level': 120 is outside the notebook's range 50 to 99.9"),
    ("max_df: 0\n", "key 'max_df': 0 is outside the notebook's range 1 to 500"),
    ("level: .nan\n", "key 'level': nan is not allowed: numbers must be finite"),
    ("level: .inf\n", "key 'level': inf is not allowed: numbers must be finite"),
    ("exclude: [1.0, -.inf]\n", "key 'exclude': -inf is not allowed: numbers must be finite"),
    ("level: true\n", "key 'level': expected float, got bool True"),
    ("max_df: 2.5\n", "key 'max_df': expected int like the notebook's default 60, got float 2.5"),
    ("label: [a]\n", "key 'label': expected str like the notebook's default 'x', got list ['a']"),
    ("level: 95\nlevel: 90\n", "not valid YAML at line 2, column 1: repeated key 'level'"),
    ("review: iua\n", f"key 'review': 'iua' is not the review being built ('{REVIEW}')"),
    ("output_dir: /tmp/x\n", "key 'output_dir': set by the build (use --out), not by a parameter file"),
    ("k" * 1000 + ": 1\n", f"key {quote('k' * 1000)}: unknown parameter"),
    (b"level: 95\nlabel: caf\xe9\n", "not UTF-8 text (byte 20)"),
    ("- a\n- b\n", "expected a mapping of parameter names to values, got list"),
])
def test_bad_value_is_refused_naming_file_and_key(project, text, message):
    assert refused(project, text).startswith(WHERE + message)


def test_value_not_among_choices_never_reaches_the_notebook(project):
    """The issue: a pi_dist other than t/z was accepted and the notebook silently took a
    default; now it is refused before any kernel starts."""
    start = time.perf_counter()
    assert "not one of the notebook's choices" in refused(project, "pi_dist: normal\n")
    assert time.perf_counter() - start < 5


def test_long_string_and_large_file(project):
    message = refused(project, f"label: {'x' * (MAX_STRING_CHARS + 1)}\n")
    assert message == (f"{WHERE}key 'label': a string of {MAX_STRING_CHARS + 1:,} characters "
                       f"({quote('x' * (MAX_STRING_CHARS + 1))}) is longer than the "
                       f"{MAX_STRING_CHARS:,} allowed")
    assert len(quote("x" * (MAX_STRING_CHARS + 1))) <= 40
    four_mb = f"label: {'x' * 4_000_000}\n"  # the _csv.Error: field larger than limit
    assert refused(project, four_mb) == (f"{WHERE}{len(four_mb):,} bytes, larger than the "
                                         f"{MAX_FILE_BYTES:,} a parameter file may have")


ALIAS_BOMB = "exclude:\n- &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"- &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def test_yaml_alias_bomb_fails_fast_with_a_short_message(project):
    assert len(ALIAS_BOMB.encode()) < 500  # nine levels: 9**9 = 387 million strings if expanded
    start = time.perf_counter()
    message = refused(project, ALIAS_BOMB)
    assert time.perf_counter() - start < 2
    assert message.startswith(WHERE) and f"expands to more than {MAX_NODES:,} values" in message


def test_deep_nesting_is_refused(project):
    deep = "exclude: " + "[" * 20_000 + "]" * 20_000 + "\n"
    message = refused(project, deep)
    assert message.startswith(f"{WHERE}not valid YAML") and "nest" in message, message


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "p.yaml").mkdir(), "not a regular file"),
    (lambda root: None, "parameter file not found"),
])
def test_parameter_file_that_is_not_a_file(project, make, message):
    make(project)
    assert refused(project, None, "--params", str(project / "p.yaml")) == f"p.yaml: {message}"


def test_device_is_not_read(project):
    assert refused(project, None, "--params", "/dev/zero") == "/dev/zero: not a regular file"


def test_python_tags_are_never_evaluated(project, tmp_path):
    marker = tmp_path / "evaluated"
    message = refused(project, f'label: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert message.startswith(f"{WHERE}not valid YAML at line 1")
    assert not marker.exists()


@pytest.mark.parametrize("data_dir", ["../../../../etc", "/etc", "data/../../outside"])
def test_data_dir_outside_the_project_is_refused(project, data_dir):
    message = refused(project, f"data_dir: {data_dir}\n")
    assert message.startswith(f"{WHERE}key 'data_dir': '{data_dir}' lies outside the project "
                              f"folder {project}")
    assert message.endswith("a folder elsewhere must be given on the command line (--data-dir)")


def test_symlink_out_of_the_project_is_refused(project):
    (project / "data" / "elsewhere").symlink_to("/etc")
    assert "lies outside the project folder" in refused(project, "data_dir: data/elsewhere\n")


def test_missing_data_dir_is_refused(project):
    assert refused(project, "data_dir: data/none\n") == (
        f"{WHERE}key 'data_dir': 'data/none' is not a folder")


def test_data_dir_given_on_the_command_line_may_be_anywhere(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "studies.csv").write_text("study,n,source\nB,3,T1\n")
    jobs = plan(Project(project), [REVIEW], project / "out", data_dir=elsewhere)
    assert jobs[0].data_dir == elsewhere and jobs[0].parameters["data_dir"] == str(elsewhere)
    with pytest.raises(BuildError, match="^--data-dir: needs exactly one review"):
        plan(Project(project, reviews=(REVIEW, "other")), None, project / "out",
             data_dir=elsewhere)
    assert refused(project, None, "--data-dir", str(tmp_path / "none")) == (
        f"--data-dir {tmp_path / 'none'}: not a folder")

"""Parameter files and notebook parameters: validation errors are one line naming file and key."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from conftest import REPO, write_notebook
from metakit.__main__ import main
from metakit.publish.build import discover_reviews
from metakit.publish.params import Parameter, ParamsError, load_params, notebook_parameters


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with one review, ``alpha``, whose notebook declares a few typed parameters."""
    write_notebook(tmp_path / "notebooks" / "alpha.ipynb", "alpha", "x = 1",
                   extra_params="level: float = 95  # range: 50 to 99.9\nk = 3\n"
                                "method = 'REML'  # choices: REML, DL\nshow = True\n"
                                "exclude = []\nseed = None\n%matplotlib inline\n")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "alpha.yaml").write_text("review: alpha\n")
    return tmp_path


def validate(root: Path, text: str) -> dict:
    path = root / "params" / "alpha.yaml"
    path.write_text(text)
    declared = notebook_parameters(root / "notebooks" / "alpha.ipynb", root)
    return load_params(path, declared, "alpha", root)


def error(root: Path, text: str) -> str:
    with pytest.raises(ParamsError) as info:
        validate(root, text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("params/alpha.yaml: ")
    return message


def test_notebook_parameters_reads_defaults_types_choices_and_ranges(project):
    declared = notebook_parameters(project / "notebooks" / "alpha.ipynb")
    assert {name: p.default for name, p in declared.items()} == {
        "review": "alpha", "data_dir": "", "output_dir": "", "level": 95, "k": 3,
        "method": "REML", "show": True, "exclude": [], "seed": None}
    assert declared["level"] == Parameter("level", 95, float, low=50.0, high=99.9)
    assert declared["method"] == Parameter("method", "REML", str, choices=("REML", "DL"))
    assert declared["seed"].kind is None and declared["k"].kind is int


def test_valid_overrides(project):
    assert validate(project, "") == {}
    assert validate(project, "level: 90\nk: 5\nseed: [1, 2]\nexclude: [Smith 2019]\n") == {
        "level": 90, "k": 5, "seed": [1, 2], "exclude": ["Smith 2019"]}
    assert validate(project, "level: 99.9\nmethod: DL\n") == {"level": 99.9, "method": "DL"}


def test_unknown_key(project):
    message = error(project, "review: alpha\nmethd: DL\n")
    assert "key 'methd'" in message and "unknown parameter" in message and "method" in message


@pytest.mark.parametrize("text, key, expected", [
    ("k: 2.5\n", "k", "expected int"),
    ("k: true\n", "k", "expected int"),
    ("level: '95'\n", "level", "expected float"),
    ("show: 1\n", "show", "expected bool"),
    ("method: 3\n", "method", "expected str"),
    ("exclude: Smith\n", "exclude", "expected list"),
])
def test_wrong_type(project, text, key, expected):
    message = error(project, text)
    assert f"key '{key}'" in message and expected in message


def test_not_yaml(project):
    message = error(project, "review: alpha\nk: [1, 2\n")
    assert "not valid YAML" in message and "line" in message


def test_not_a_mapping(project):
    assert "expected a mapping" in error(project, "- k\n- 3\n")


def test_output_dir_is_reserved(project):
    message = error(project, "output_dir: /tmp/x\n")
    assert "key 'output_dir'" in message and "--out" in message


def test_review_must_match(project):
    assert "key 'review'" in error(project, "review: beta\n")


def test_yaml_is_never_evaluated(project, tmp_path):
    marker = tmp_path / "evaluated"
    message = error(project, f'k: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert "not valid YAML" in message
    assert not marker.exists()


@pytest.mark.parametrize("line, message", [
    ("pi_dist = 'q'  # choices: t, z", "line 4, 'pi_dist': the default 'q' is not one of the notebook's choices (t, z)"),
    ("level = 120  # range: 50 to 99.9", "line 4, 'level': the default 120 is outside the notebook's range 50 to 99.9"),
    ("level = 95  # range: 50 -", "line 4, 'level': 'range:' needs 'LOW to HIGH'"),
    ("name = 'a'  # range: 1 to 2", "line 4, 'name': 'range:' needs 'LOW to HIGH' (numbers, LOW <= HIGH) on a number parameter"),
    ("k = 3  # choices: 1, two", "line 4, 'k': choice 'two' is not a int"),
    ("level: number = 95", "line 4, 'level': type 'number' is not one of bool, int, float, str, list, dict"),
])
def test_malformed_declarations_are_errors_in_the_notebook(tmp_path, line, message):
    path = write_notebook(tmp_path / "n.ipynb", "n", extra_params=line + "\n")
    with pytest.raises(ParamsError) as info:
        notebook_parameters(path, tmp_path)
    assert str(info.value).startswith("n.ipynb: parameters cell, " + message), str(info.value)


def test_ordinary_comments_declare_nothing(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", "n", extra_params="k = 3  # the number of studies\n")
    assert notebook_parameters(path)["k"] == Parameter("k", 3, int)


def test_notebook_without_parameters_cell(tmp_path):
    path = tmp_path / "n.ipynb"
    write_notebook(path, "n")
    path.write_text(path.read_text().replace('"parameters"', '"other"'))
    with pytest.raises(ParamsError, match="n.ipynb: no cell tagged 'parameters'"):
        notebook_parameters(path)


def test_notebook_missing_required_parameter(tmp_path):
    path = tmp_path / "n.ipynb"
    write_notebook(path, "n")
    path.write_text(path.read_text().replace("data_dir", "data_folder"))
    with pytest.raises(ParamsError, match="does not declare data_dir"):
        notebook_parameters(path)


def test_repository_params_files_match_their_notebooks():
    for review in discover_reviews(REPO):
        declared = notebook_parameters(REPO / "notebooks" / f"{review}.ipynb", REPO)
        assert declared["review"].default == review
        if "level" in declared:
            assert declared["level"] == Parameter("level", 95, float, low=50.0, high=99.9)
        load_params(REPO / "params" / f"{review}.yaml", declared, review, REPO)


# ---------------------------------------------------------------- the command line

def cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", *args])
    return code, err.getvalue()


@pytest.fixture
def iua_project(tmp_path: Path) -> Path:
    """A project with two notebooks, ``iua`` and ``nonunion``."""
    (tmp_path / "params").mkdir()
    for review in ("iua", "nonunion"):
        write_notebook(tmp_path / "notebooks" / f"{review}.ipynb", review)
        (tmp_path / "params" / f"{review}.yaml").write_text(f"review: {review}\n")
    return tmp_path


@pytest.mark.parametrize("args, expected", [
    (["--only", "gamma"], "--only: unknown review 'gamma'"),
    (["--only", "iua", "--params", "missing.yaml"], "missing.yaml: parameter file not found"),
    (["--params", "params/iua.yaml"], "--params: needs exactly one review"),
    (["--jobs", "0"], "--jobs"),
])
def test_cli_rejects_bad_requests_writing_nothing(iua_project, args, expected, monkeypatch):
    monkeypatch.chdir(iua_project)
    out = iua_project / "out"
    code, stderr = cli("--root", str(iua_project), "--out", str(out), *args)
    assert code == 2
    assert stderr.count("\n") == 1 and expected in stderr
    assert not out.exists()


def test_cli_bad_params_file_and_missing_notebook(iua_project):
    (iua_project / "params" / "iua.yaml").write_text("review: iua\nbogus: 1\n")
    out = iua_project / "out"
    code, stderr = cli("--root", str(iua_project), "--out", str(out), "--only", "iua")
    assert code == 2 and stderr == ("error: params/iua.yaml: key 'bogus': unknown parameter "
                                    "(the notebook declares data_dir, output_dir, review)\n")
    code, stderr = cli("--root", str(iua_project), "--out", str(out), "--only", "por")
    assert code == 2 and stderr == "error: --only: unknown review 'por' (known: iua, nonunion)\n"
    assert not out.exists()


def test_missing_notebook_says_where_it_looked(tmp_path):
    with pytest.raises(ParamsError) as info:
        notebook_parameters(tmp_path / "notebooks" / "por.ipynb", tmp_path)
    assert str(info.value) == (f"notebooks/por.ipynb: notebook not found (looked for "
                               f"{tmp_path / 'notebooks' / 'por.ipynb'})")

"""Every review's data folder obeys the data contract, and bad files are rejected clearly."""

from pathlib import Path

import pytest

from metakit.workbook.data import DataError, load_review, read_table
from metakit.workbook.schema import SCHEMA_FILE, load_schema

from conftest import REPO

DATA = REPO / "data"

REVIEWS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


@pytest.mark.parametrize("review", REVIEWS)
def test_review_data_is_valid(review):
    tables = load_review(review)
    assert "published" in tables, f"data/{review}/published.csv is missing"
    assert len(tables["published"]) > 0
    assert (DATA / review / "README.md").is_file()


@pytest.mark.parametrize("review", REVIEWS)
def test_review_has_a_schema_naming_only_its_files(review):
    schemas = load_schema(DATA / review)
    assert schemas, f"data/{review}/{SCHEMA_FILE} is missing or empty"
    files = {p.name for p in (DATA / review).glob("*.csv")}
    assert set(schemas) <= files
    assert "published.csv" in files


@pytest.mark.parametrize("review", REVIEWS)
def test_readme_lists_every_file(review):
    readme = (DATA / review / "README.md").read_text()
    for csv in (DATA / review).glob("*.csv"):
        assert csv.name in readme, f"data/{review}/README.md does not document {csv.name}"


def _write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("study,events,n,source\nA,5,4,Table 1\n", "table.csv, row 2, column 'events': '5' exceeds n"),
    ("study,events,n,source\nA,2.5,4,Table 1\n", "row 2, column 'events': '2.5' is not a whole number"),
    ("study,events,n,source\nA,-1,4,Table 1\n", "column 'events': '-1' must be >= 0"),
    ("study,mean,sd,source\nA,2,0,Table 1\n", "column 'sd': '0' must be > 0"),
    ("study,n,source\nA,ten,Table 1\n", "row 2, column 'n': 'ten' is not a number"),
    ("study,n,source\nA,10,\n", "row 2, column 'source': (empty) is not allowed"),
    ("study,n\nA,10\n", "every data file needs a source column"),
    ("study,n,source\nA,10,T1\nB,5,T1\nA,3,T1\n", "row 4, column 'study': 'A' repeats the key"),
    ("study,estimate,ci_low,ci_high,source\nA,2,2.5,3,Fig. 2\n", "is outside its CI"),
    ("study,weight,source\nA,120,Fig. 2\n", "column 'weight': '120' must be within 0-100"),
])
def test_bad_file_names_file_row_and_column(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_table(_write(tmp_path, text))


def test_published_keeps_printed_text(tmp_path):
    text = ("analysis_id,outcome,measure,estimate,ci_low,ci_high,i2,k,source\n"
            "a,x,OR,0.40,0.20,0.80,0,3,Fig. 6\n")
    table = read_table(_write(tmp_path, text, "published.csv"))
    assert table.loc[0, "estimate"] == "0.40"


def test_published_requires_unique_ids(tmp_path):
    text = ("analysis_id,outcome,measure,estimate,ci_low,ci_high,i2,k,source\n"
            "a,x,OR,0.40,0.20,0.80,0,3,Fig. 6\na,y,OR,1,0.5,2,0,3,Fig. 6\n")
    with pytest.raises(DataError, match=r"row 3, column 'analysis_id': 'a' repeats the key \['analysis_id'\]"):
        read_table(_write(tmp_path, text, "published.csv"))


def test_missing_folder():
    with pytest.raises(DataError, match="no data folder for review 'nope'"):
        load_review("nope")


# ---------------------------------------------------------------- schema.yaml

SCHEMA = """\
studies.csv:
  columns:
    study_id: {blank: false}
    n_total: size
    year: number
    hr: {type: number, blank: false}
  key: [study_id]
  one_to_one: [[study_id, label]]
"""
HEADER = "study,study_id,label,n_total,year,hr,source\n"
GOOD_ROWS = "A 2020,A2020,a,10,2020,0.5,T1\nB 2021,B2021,b,12,2021,0.7,T1\n"


def _folder(tmp_path: Path, rows: str, schema: str = SCHEMA) -> Path:
    folder = tmp_path / "rev"
    folder.mkdir(exist_ok=True)
    (folder / SCHEMA_FILE).write_text(schema)
    (folder / "studies.csv").write_text(HEADER + rows)
    (folder / "published.csv").write_text(
        "analysis_id,outcome,measure,estimate,ci_low,ci_high,i2,k,source\n"
        "a,x,HR,0.80,0.6,1.1,0,3,Table 2\n")
    return folder


def test_schema_types_keys_and_conversions(tmp_path):
    tables = load_review("rev", _folder(tmp_path, GOOD_ROWS))
    studies = tables["studies"]
    assert str(studies["n_total"].dtype) == "Int64" and list(studies["n_total"]) == [10, 12]
    assert list(studies["hr"]) == [0.5, 0.7] and list(studies["year"]) == [2020, 2021]
    assert studies.loc[0, "label"] == "a"
    assert tables["published"].loc[0, "estimate"] == "0.80"  # printed text kept


@pytest.mark.parametrize("rows, message", [
    ("A 2020,,a,10,2020,0.5,T1\n",
     "rev/studies.csv, row 2, column 'study_id': (empty) is not allowed: schema.yaml requires a value in every row"),
    ("A 2020,A2020,a,10,2020,,T1\n", "rev/studies.csv, row 2, column 'hr': (empty) is not allowed"),
    ("A 2020,A2020,a,0,2020,0.5,T1\n", "rev/studies.csv, row 2, column 'n_total': '0' must be >= 1"),
    ("A 2020,A2020,a,10,2020,inf,T1\n", "rev/studies.csv, row 2, column 'hr': 'inf' is not a finite number"),
    ("A 2020,A2020,a,10,2020,0.5,T1\nB 2021,A2020,b,12,2021,0.7,T1\n",
     "rev/studies.csv, row 3, column 'study_id': 'A2020' repeats the key ['study_id']"),
    ("A 2020,A2020,a,10,2020,0.5,T1\nB 2021,B2021,a,12,2021,0.7,T1\n",
     "rev/studies.csv, row 3, column 'label': 'a' is paired with another study_id in an earlier row"),
])
def test_schema_violations_name_file_row_and_column(tmp_path, rows, message):
    with pytest.raises(DataError) as info:
        load_review("rev", _folder(tmp_path, rows))
    assert str(info.value).startswith(message), str(info.value)


def test_schema_requires_its_columns_and_files(tmp_path):
    folder = _folder(tmp_path, GOOD_ROWS)
    (folder / "studies.csv").write_text("study,study_id,label,year,hr,source\nA,A1,a,2020,0.5,T1\n")
    with pytest.raises(DataError, match=r"^rev/studies.csv, column 'n_total': missing: schema.yaml requires it$"):
        load_review("rev", folder)
    (folder / "studies.csv").unlink()
    with pytest.raises(DataError, match=r"^rev/studies.csv: no such data file \(schema.yaml lists it\)$"):
        load_review("rev", folder)


@pytest.mark.parametrize("schema, message", [
    ("studies.csv:\n  columns:\n    n_total: cnt\n", "rev/schema.yaml: studies.csv > columns > n_total"),
    ("studies.csv:\n  keys: [study]\n", "rev/schema.yaml: studies.csv > keys: Extra inputs are not permitted"),
    ("studies.txt: {}\n", "rev/schema.yaml: 'studies.txt' is not a CSV file of the folder"),
    ("studies.csv: [\n", "rev/schema.yaml: not valid YAML"),
])
def test_unusable_schema_file_is_named(tmp_path, schema, message):
    with pytest.raises(DataError) as info:
        load_review("rev", _folder(tmp_path, GOOD_ROWS, schema))
    assert str(info.value).startswith(message) and "\n" not in str(info.value), str(info.value)

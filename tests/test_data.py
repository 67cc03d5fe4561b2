"""Every review's data folder obeys the data contract, and bad files are rejected clearly."""

from pathlib import Path

import pytest

from metakit.workbook.data import DATA_ROOT, DataError, load_review, read_table

REVIEWS = sorted(p.name for p in DATA_ROOT.iterdir() if p.is_dir())


@pytest.mark.parametrize("review", REVIEWS)
def test_review_data_is_valid(review):
    tables = load_review(review)
    assert "published" in tables, f"data/{review}/published.csv is missing"
    assert len(tables["published"]) > 0
    assert (DATA_ROOT / review / "README.md").is_file()


@pytest.mark.parametrize("review", REVIEWS)
def test_readme_lists_every_file(review):
    readme = (DATA_ROOT / review / "README.md").read_text()
    for csv in (DATA_ROOT / review).glob("*.csv"):
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
    with pytest.raises(DataError, match="row 3, column 'analysis_id': 'a' is not unique"):
        read_table(_write(tmp_path, text, "published.csv"))


def test_missing_folder():
    with pytest.raises(DataError, match="no data folder for review 'nope'"):
        load_review("nope")

"""metakit scan: readers, the audited rows, the files written, and the command line."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from metakit.__main__ import main
from metakit.scan import ReadError, read_paper, scan_file, scan_files, scan_text
from metakit.scan.readers import html_text
from metakit.scan.report import draft_published, scan_html
from metakit.scan.runner import COLUMNS, papers_in

PAPER = """Results
Pain scores
Across six trials, pain fell with the drug (MD = -1.20, 95% CI -1.80 to -0.60; p < 0.001;
I2 = 35%).
Relapse was rarer (RR 0.72, 95% CI 0.58 to 0.89; p = 0.30).
Falls
The pooled odds ratio for falls was 1.10 (95% CI 0.70 to 1.90).
Compared with placebo the odds of nausea were higher (OR = 1.40).
"""


def test_scan_text_reads_audits_and_explains():
    rows = scan_text(PAPER, file="paper.txt")
    assert [r["verdict"] for r in rows] == ["consistent", "inconsistent", "inconsistent",
                                            "unread"]
    pain, relapse, falls, nausea = rows
    assert tuple(pain) == COLUMNS
    assert (pain["measure"], pain["estimate"], pain["k"], pain["i2"]) == ("MD", "-1.20", "6",
                                                                         "35")
    assert pain["section"] == "Results > Pain scores"
    assert "p_from_ci: consistent" in pain["checks"]
    assert "p_from_ci: inconsistent" in relapse["checks"] and "p_from_ci" in relapse["note"]
    assert falls["checks"].startswith("ci_symmetry: inconsistent")  # 1.10 is not central
    assert nausea["note"].startswith("no confidence interval printed")
    assert nausea["checks"] == ""


def test_offsets_point_into_the_raw_text():
    raw = "Intro.\n\nThe score fell ($\\text{SMD}=-0.62$; 95% CI $[-0.82, -0.42]$; $p<0.00001$)."
    [row] = scan_text(raw)
    assert raw[int(row["offset"]):].startswith("-0.62")
    assert row["quote"] == "The score fell (SMD=-0.62; 95% CI [-0.82, -0.42]; p<0.00001)."


def test_stated_rule_makes_a_deviation():
    text = "Heterogeneity was high (P < 0.001; I2 = 80%), and a fixed-effect model gave " \
           "(MD = 2.00, 95% CI 1.00 to 3.00)."
    [row] = scan_text(text, rule="random if I2 > 50%")
    assert row["verdict"] == "deviates" and "model_rule: inconsistent" in row["checks"]
    [row] = scan_text(text)
    assert "model_rule" not in row["checks"]


def test_an_impossible_printed_bound_is_a_contradiction():
    [row] = scan_text("Odds rose (OR 1.20, 95% CI -0.50 to 2.00).")
    assert row["verdict"] == "inconsistent" and row["assumption"] == ""
    assert "ci_low -0.50 is not above 0, as a ratio must be" in row["note"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"text": None}, "text: expected the paper's text"),
    ({"text": "x", "rule": "random when heterogeneous"}, "rule: cannot read"),
])
def test_scan_text_rejects_bad_arguments(kwargs, message):
    text = kwargs.pop("text")
    with pytest.raises(ValueError, match=message):
        scan_text(text, **kwargs)


# -- readers ---------------------------------------------------------------------------------


def test_html_keeps_headings_paragraphs_table_cells_and_superscripts():
    page = ("<html><head><style>p {color: red}</style></head><body><h2>Results</h2>"
            "<p>Pain fell (MD = -1.2, 95% CI -1.8 to -0.6; I<sup>2</sup> = 35%).</p>"
            "<table><tr><th>Outcome</th><th>OR (95% CI)</th></tr>"
            "<tr><td>Falls</td><td>1.10 (0.70&ndash;1.90)</td></tr></table></body></html>")
    text = html_text(page)
    assert "## Results" in text and "color" not in text
    assert "\tFalls\t1.10 (0.70–1.90)" in text
    rows = scan_text(text)
    assert [(r["section"], r["estimate"], r["i2"]) for r in rows] == [
        ("Results", "-1.2", "35"), ("Results", "1.10", "")]


def _pdf(path: Path, lines: list[str]) -> Path:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_text_layer_is_read(tmp_path):
    paper = _pdf(tmp_path / "paper.pdf", ["Results", "Relapse was rarer (RR 0.72, 95% CI "
                                                     "0.58 to 0.89; p = 0.003)."])
    assert "RR 0.72" in read_paper(paper)
    [row] = scan_file(paper).rows
    assert (row["estimate"], row["verdict"]) == ("0.72", "consistent")


def test_read_paper_decodes_windows_1252(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Risk fell (RR 0.72, 95% CI 0.58 \x96 0.89) \x96 caf\xe9.".encode("latin-1"))
    assert "0.58 – 0.89" in read_paper(path)


def _bad_files(folder: Path) -> dict[str, str]:
    from pypdf import PdfWriter

    folder.mkdir()
    (folder / "empty.txt").write_text("")
    (folder / "blank.md").write_text(" \n\t\n")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf body")
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with open(folder / "scanned.pdf", "wb") as stream:
        writer.write(stream)
    (folder / "undecodable.txt").write_bytes(b"\x81\x8d\x8f\x90\x9d" * 10)
    (folder / "huge.txt").write_text("x" * 3_000_000)
    return {"empty.txt": "empty file", "blank.md": "no text in the file",
            "binary.txt": "binary file", "broken.pdf": "not a readable PDF",
            "scanned.pdf": "PDF without a text layer", "undecodable.txt": "not text",
            "huge.txt": "over the limit of 2 MiB"}


def test_unreadable_files_give_a_one_line_reason(tmp_path):
    expected = _bad_files(tmp_path / "bad")
    for name, reason in expected.items():
        with pytest.raises(ReadError, match=reason):
            read_paper(tmp_path / "bad" / name, max_megabytes=2)
    with pytest.raises(ReadError, match="no such file"):
        read_paper(tmp_path / "missing.txt")
    with pytest.raises(ReadError, match="not a file"):
        read_paper(tmp_path)


def test_scan_files_keeps_order_and_reports_failures(tmp_path):
    expected = _bad_files(tmp_path / "bad")
    good = tmp_path / "good.txt"
    good.write_text(PAPER)
    files = [good, *sorted((tmp_path / "bad").iterdir())]
    done: list[int] = []
    for jobs in (1, 2):
        scans = scan_files(files, jobs=jobs, max_megabytes=2, progress=done.append)
        assert [s.file for s in scans] == [str(f) for f in files]
        assert len(scans[0].rows) == 4 and not scans[0].error
        assert {Path(s.file).name: s.error for s in scans[1:]}.keys() == expected.keys()
        for scan in scans[1:]:
            assert expected[Path(scan.file).name] in scan.error and "\n" not in scan.error
    assert sum(done) == 2 * len(files)
    with pytest.raises(ValueError, match="jobs: must be a whole number >= 1"):
        scan_files(files, jobs=0)


def test_papers_in_walks_folders_for_readable_endings(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.txt", "sub/b.pdf", "sub/c.html", "d.csv", ".hidden.txt"):
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in papers_in([tmp_path])] == [
        "a.txt", "sub/b.pdf", "sub/c.html"]
    with pytest.raises(ValueError, match="PAPER: .* does not exist"):
        papers_in([tmp_path / "nope"])


# -- outputs ---------------------------------------------------------------------------------


def test_draft_published_merges_repeats_and_names_each_row():
    text = ("Abstract\nRelapse fell (RR 0.72, 95% CI 0.58 to 0.89).\nResults\nRelapse\n"
            "Relapse fell in 7 trials (RR 0.72, 95% CI 0.58 to 0.89; I2 = 20%).\n"
            "Nausea rose (RR 1.50, 95% CI 1.10 to 2.05).\n")
    drafts = draft_published(scan_text(text))
    assert [d["analysis_id"] for d in drafts] == ["abstract_rr_1", "relapse_rr_1"]
    first = drafts[0]
    assert (first["k"], first["i2"]) == ("7", "20")
    assert first["source"].count("offset") == 2 and "Results > Relapse" in first["source"]


def test_html_lists_contradictions_first_and_escapes_text():
    from metakit.scan.runner import FileScan

    rows = scan_text("Results\nPain <b>fell</b> (MD = 2.00, 95% CI 0.50 to 2.50).\n"
                     "Mood rose (SMD = 0.40, 95% CI 0.20 to 0.60).\n", file="p&q.txt")
    page = scan_html([FileScan("p&q.txt", rows), FileScan("bad.pdf", error="empty file")])
    assert page.index("Contradictions") < page.index("Consistent")
    assert "<b>fell</b>" not in page and "&lt;b&gt;fell&lt;/b&gt;" in page
    assert "p&amp;q.txt" in page and "could not be read: empty file" in page


# -- command line ----------------------------------------------------------------------------


def test_cli_one_paper_writes_every_output(tmp_path, capsys):
    paper = tmp_path / "paper.md"
    paper.write_text(PAPER)
    out = tmp_path / "out"
    assert main(["scan", str(paper), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["published.csv", "scan.csv", "scan.html",
                                                     "summary.csv"]
    with open(out / "scan.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames) == COLUMNS
        assert [r["verdict"] for r in reader] == ["consistent", "inconsistent",
                                                  "inconsistent", "unread"]
    summary = capsys.readouterr().out
    assert "1 of 1 paper(s) scanned: 4 results (1 unread)" in summary
    assert "2 contradictions" in summary


def test_cli_folder_with_bad_files(tmp_path, capsys):
    expected = _bad_files(tmp_path / "papers")
    (tmp_path / "papers" / "good.txt").write_text(PAPER)
    out = tmp_path / "out"
    status = main(["scan", str(tmp_path / "papers"), "--out", str(out), "--max-mb", "2",
                   "--jobs", "2", "--quiet"])
    assert status == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == len(expected)  # one line per file that could not be read
    for line in errors:
        name = Path(line.removeprefix("error: ").split(": ")[0]).name
        assert expected[name] in line
    assert (out / "published" / "good.csv").is_file()
    with open(out / "summary.csv", newline="") as stream:
        summary = {Path(r["file"]).name: r for r in csv.DictReader(stream)}
    assert summary["good.txt"]["results"] == "4" and summary["good.txt"]["error"] == ""
    assert summary["scanned.pdf"]["error"].startswith("PDF without a text layer")


@pytest.mark.parametrize(("argv", "message"), [
    (["scan", "no/such/paper.txt"], "does not exist"),
    (["scan", "{paper}", "--jobs", "0"], "--jobs: must be at least 1"),
    (["scan", "{paper}", "--rule", "random sometimes"], "rule: cannot read"),
])
def test_cli_invalid_requests_exit_2(argv, message, capsys, tmp_path):
    paper = tmp_path / "paper.txt"
    paper.write_text(PAPER)
    argv = [a.format(paper=paper) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_module_runs_as_a_command(tmp_path):
    import subprocess

    paper = tmp_path / "p.txt"
    paper.write_text(PAPER)
    done = subprocess.run([sys.executable, "-m", "metakit", "scan", str(paper), "--out",
                           str(tmp_path / "o"), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "scan.html").is_file()

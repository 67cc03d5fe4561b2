"""Fault injection, security: HTML injection through data, parameters and error messages; no
evaluation of parameters; traversal through review names, stale-file records and symbolic links
a notebook leaves in its output folder. (Data folders outside the project and ``--out`` inside
it: :mod:`test_faults_params`, :mod:`test_faults_build`.)"""

from __future__ import annotations

import json
import re

import pytest

from conftest import write_notebook
from faults import environment, left_after, one_line, quick_project, reports, run
from metakit.publish.build import RECORD_FILE

pytestmark = pytest.mark.slow

A, B = "iua", "por"
SCRIPT = "<script>alert(1)</script>"
HOSTILE = {  # parameter values a notebook must receive as inert text
    "label": f"</code></pre>{SCRIPT}",
    "quoted": "'; import os; os.system('touch {marker}') #",
    "dunder": "__import__('os').system('touch {marker}')",
    "escapes": '\\"; import os; os.system("touch {marker}") #\n',
}


def test_parameters_are_inert_text_and_escaped_in_every_report(tmp_path):
    marker = tmp_path / "evaluated"
    values = {key: value.format(marker=marker) for key, value in HOSTILE.items()}
    declared = "".join(f"{key} = ''\n" for key in values)
    root = quick_project(tmp_path / "project", A)
    write_notebook(root / "notebooks" / f"{A}.ipynb", A, "# Echo",
                   "import json, pathlib\n"
                   f"received = {{k: globals()[k] for k in {sorted(values)!r}}}\n"
                   "pathlib.Path(output_dir, 'received.json').write_text(json.dumps(received))\n"
                   "print(received['label'])\n"
                   "pathlib.Path(output_dir, 'status.json').write_text("
                   "json.dumps({'status': 'not_implemented'}))",
                   extra_params=declared)
    (root / "params" / f"{A}.yaml").write_text(json.dumps({"review": A, **values}))
    token, env = environment()
    result = run(root, tmp_path / "out", "--only", A, "--with-code", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "out" / A
    assert json.loads((out / "received.json").read_text()) == values
    assert not marker.exists()
    for page in (f"{A}.html", f"{A}-with-code.html"):
        html = (out / page).read_text()
        assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert left_after(token) == []


def test_data_text_is_escaped(tmp_path):
    root = quick_project(tmp_path / "project", A, cells=(
        "# Data", "import pandas as pd\npd.read_csv(f'{data_dir}/studies.csv')",
        "import json, pathlib\npathlib.Path(output_dir, 'status.json').write_text("
        "json.dumps({'status': 'not_implemented'}))"))
    (root / "data" / A / "studies.csv").write_text(
        f'study,n,source\n"{SCRIPT} & <b>bold</b>",10,"<img src=x onerror=alert(2)>"\n')
    result = run(root, tmp_path / "out", "--only", A)
    assert result.returncode == 0, result.stdout
    html = (tmp_path / "out" / A / f"{A}.html").read_text()
    assert SCRIPT not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_error_text_symlinks_and_stale_records_cannot_escape(tmp_path):
    root = quick_project(tmp_path / "project", A, B)
    out = tmp_path / "out"
    assert run(root, out, "--only", A, B).returncode == 0
    good = reports(out, index=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    record = json.loads((out / B / RECORD_FILE).read_text())
    record["files"].append("../../victim.txt")
    (out / B / RECORD_FILE).write_text(json.dumps(record))
    write_notebook(root / "notebooks" / f"{A}.ipynb", A, "# Links",
                   "import pathlib\npathlib.Path(output_dir, 'passwd').symlink_to('/etc/passwd')\n"
                   "pathlib.Path(output_dir, 'status.json').write_text("
                   "'{\"status\": \"not_implemented\"}')")
    write_notebook(root / "notebooks" / f"{B}.ipynb", B, "# Raises",
                   "raise ValueError('<img src=x onerror=alert(3)>')")
    result = run(root, out, "--only", A, B)
    assert result.returncode == 1
    assert "output_dir: 'passwd' is not a regular file; only regular files are published" \
        in result.stdout
    assert not (out / A / "passwd").exists() and not (out / A / "passwd").is_symlink()
    index = (out / "index.html").read_text()
    assert "<img src=x" not in index and "&lt;img src=x onerror=alert(3)&gt;" in index
    assert victim.read_text() == "keep me"
    assert reports(out, index=False) == good


@pytest.mark.parametrize("name", ["../../etc", "iua/../por", "<script>"])
def test_review_names_are_only_the_known_ones(tmp_path, name):
    root = quick_project(tmp_path / "project", A)
    result = run(root, tmp_path / "out", "--only", name)
    assert result.returncode == 2 and not (tmp_path / "out").exists()
    message = one_line(result.stderr)
    assert re.fullmatch(r"error: --only: unknown review '.+' \(known: iua\)", message), message

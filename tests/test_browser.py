"""The reports as a reader meets them: rendered in headless Chromium at 1,400 px.

On every report and on the index: no console message (the pages have no JavaScript, so any message
at all, an error or a blocked resource, fails), no table wider than its container, no raw value
("NaN", "None", "<NA>", "dtype:", "e-0") in the rendered text, a real alternative text on every
image, and, on a report, the findings summary before the first section. Full-page screenshots are
kept in ``tests/_artifacts/`` for a human to look at.

The reports are the repository's own, built once per session (``repo_build`` in conftest.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ARTIFACTS

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get "
                                                "install chromium; .ci/run does this)"),
]

WIDTH = 1400
CONSOLE = re.compile(r":CONSOLE[(:]")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RAW = re.compile(r"\bNaN\b|\bnan\b|<NA>|dtype:|\de-0\d|[=:(\[,]\s*None\b|\bNone\s*[,)\]]"
                 r"|^\s*None\s*$", flags=re.M)
"""Raw values: NaN, ``<NA>``, a pandas footer, scientific notation, Python's None in a value's
place. The word "None" alone is prose ("None of the studies ...") or a GRADE judgement as a
paper prints it, so it counts only where a value stands (``= None``, ``[None,``, a cell of its
own)."""
NO_ALT = "No description has been provided for this image"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]

# Runs in a copy of the page after load; writes what a reader meets into <pre id="mk-metrics">.
PROBE = """<script>
(function () {
  function outside(el) {
    var parent = el.parentElement; if (!parent) return false;
    return el.getBoundingClientRect().width > parent.getBoundingClientRect().width + 1;
  }
  var tables = Array.prototype.slice.call(document.querySelectorAll('table'));
  var wide = tables.filter(outside).map(function (t) {
    return Math.round(t.getBoundingClientRect().width) + ' px: ' +
      (t.innerText || '').slice(0, 60).replace(/\\s+/g, ' ');
  });
  var images = Array.prototype.slice.call(document.querySelectorAll('img'));
  var badAlt = images.filter(function (i) {
    var alt = (i.getAttribute('alt') || '').trim();
    return alt.length < 20 || alt === '""" + NO_ALT + """';
  }).length;
  var summary = document.getElementById('findings');
  var sections = Array.prototype.slice.call(document.querySelectorAll('h2')).filter(function (h) {
    return !(summary && summary.contains(h)) && !h.closest('nav') && !h.closest('footer');
  });
  var first = sections.length ? sections[0] : null;
  var before = !!(summary && first &&
    (summary.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING));
  var pre = document.createElement('pre');
  pre.id = 'mk-metrics';
  pre.textContent = JSON.stringify({
    height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
    tables: tables.length, wide: wide, images: images.length, bad_alt: badAlt,
    summary: !!summary, summary_first: before,
    summary_top: summary ? Math.round(summary.getBoundingClientRect().top) : null,
    text: document.body.innerText
  });
  document.body.appendChild(pre);
})();
</script>"""


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def measure(page: Path, tmp: Path) -> dict:
    """What a reader meets on ``page`` at 1,400 px: height, wide tables, images, text."""
    probe = tmp / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1),
                     encoding="utf-8")
    run = chromium(probe, tmp / "profile-probe", f"--window-size={WIDTH},1000",
                   "--virtual-time-budget=5000", "--dump-dom")
    match = re.search(r'<pre id="mk-metrics">(.*?)</pre>', run.stdout, flags=re.S)
    assert match, run.stderr[-2000:]
    import html

    metrics = json.loads(html.unescape(match.group(1)))
    metrics["bytes"] = page.stat().st_size
    return metrics


def screenshot(page: Path, name: str, tmp: Path, height: int) -> str:
    """A full-page screenshot in ``tests/_artifacts/<name>.png``; returns Chromium's log."""
    target = ARTIFACTS / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    run = chromium(page, tmp / f"profile-{name}", f"--window-size={WIDTH},{min(height, 16000)}",
                   f"--screenshot={target}", "--enable-logging=stderr", "--v=0")
    assert target.read_bytes()[:8] == PNG_MAGIC and target.stat().st_size > 5000
    return run.stderr


def check_page(page: Path, name: str, tmp: Path, *, report: bool) -> dict:
    metrics = measure(page, tmp)
    log = screenshot(page, name, tmp, metrics["height"])
    console = [line for line in log.splitlines() if CONSOLE.search(line)]
    assert not console, "\n".join(console)
    assert metrics["width"] <= WIDTH, f"{name}: the page is {metrics['width']} px wide"
    assert not metrics["wide"], f"{name}: tables wider than their container: {metrics['wide']}"
    raw = sorted({m.group(0) for m in RAW.finditer(metrics["text"])})
    assert not raw, f"{name}: raw values in the rendered text: {raw}"
    assert metrics["bad_alt"] == 0, f"{name}: {metrics['bad_alt']} images without a real alt"
    if report:
        assert metrics["summary_first"], f"{name}: no findings summary before the first section"
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(
        {k: v for k, v in metrics.items() if k != "text"}, indent=1))
    return metrics


REVIEWS = ("iua", "por", "nonunion", "cirrhosis", "ovarian")


def test_index_reads_well(repo_build, tmp_path):
    out, _ = repo_build
    metrics = check_page(out / "index.html", "index", tmp_path, report=False)
    assert metrics["tables"] == 1
    index = (out / "index.html").read_text(encoding="utf-8")
    for href in re.findall(r'href="(?!https?:|#)([^"#]+)', index):
        assert (out / href).exists(), f"index links to {href}, which does not exist"


@pytest.mark.parametrize("review", REVIEWS)
def test_report_reads_well(repo_build, review, tmp_path):
    out, _ = repo_build
    metrics = check_page(out / review / f"{review}.html", f"report-{review}", tmp_path,
                         report=True)
    assert metrics["summary_top"] < 1000, f"{review}: the findings are not on the first screen"
    assert metrics["images"] > 0


def test_report_with_code_renders_without_console_messages(repo_build, tmp_path):
    out, outcomes = repo_build
    review = outcomes[0].review
    log = screenshot(out / review / f"{review}-with-code.html", f"report-{review}-with-code",
                     tmp_path, 1600)
    assert not [line for line in log.splitlines() if CONSOLE.search(line)]


def test_console_errors_and_raw_values_are_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom')</script>"
                    "<table style='width:3000px'><tr><td>NaN</td></tr></table>"
                    "<img src='data:,' alt='No description has been provided for this image'>"
                    "<h2>Section</h2></body></html>")
    log = screenshot(page, "selftest-broken", tmp_path, 800)
    assert any(CONSOLE.search(line) and "boom" in line for line in log.splitlines())
    metrics = measure(page, tmp_path)
    assert metrics["wide"] and metrics["bad_alt"] == 1 and not metrics["summary_first"]
    assert RAW.search(metrics["text"])
    (ARTIFACTS / "selftest-broken.png").unlink(missing_ok=True)

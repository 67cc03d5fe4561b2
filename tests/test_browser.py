"""The reports as a reader sees them: rendered in headless Chromium, without console messages.

Screenshots are saved to ``tests/_artifacts/`` for a human to look at. The pages have no
JavaScript, so any console message at all (an error, a blocked resource) fails the test.
"""

from __future__ import annotations

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

CONSOLE = re.compile(r":CONSOLE[(:]")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def render(page: Path, screenshot: Path, profile: Path) -> str:
    """Render ``page`` headless, save a screenshot and return Chromium's log."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,1600",
               f"--screenshot={screenshot}", "--enable-logging=stderr", "--v=0",
               page.resolve().as_uri()]
    run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stderr


def check(page: Path, name: str, tmp_path: Path) -> None:
    screenshot = ARTIFACTS / f"{name}.png"
    log = render(page, screenshot, tmp_path / f"profile-{name}")
    console = [line for line in log.splitlines() if CONSOLE.search(line)]
    assert not console, "\n".join(console)
    assert screenshot.read_bytes()[:8] == PNG_MAGIC and screenshot.stat().st_size > 5000


def test_index_renders_without_console_messages(repo_build, tmp_path):
    out, _ = repo_build
    check(out / "index.html", "index", tmp_path)


def test_report_renders_without_console_messages(repo_build, tmp_path):
    out, outcomes = repo_build
    review = outcomes[0].review
    check(out / review / f"{review}.html", f"report-{review}", tmp_path)
    check(out / review / f"{review}-with-code.html", f"report-{review}-with-code", tmp_path)


def test_console_errors_are_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom')</script></body></html>")
    log = render(page, tmp_path / "broken.png", tmp_path / "profile")
    assert any(CONSOLE.search(line) and "boom" in line for line in log.splitlines())

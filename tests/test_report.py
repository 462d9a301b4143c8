"""The HTML report, opened in a real headless Debian chromium: loads without console errors, charts render."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from newsetl.cli import main
from reporting_warehouse import PLANTED, reporting_warehouse, write_config  # noqa: F401

SETUP = Path(__file__).parent / "setup_browser.sh"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> str:
    if shutil.which("chromium") is None:
        result = subprocess.run(["sh", str(SETUP)], capture_output=True, text=True)
        if result.returncode != 0 or shutil.which("chromium") is None:
            pytest.skip(f"chromium could not be installed: {(result.stderr or result.stdout).strip()[-200:]}")
    return shutil.which("chromium")


def browse(chromium: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run headless chromium on a local file, with a fresh profile and console messages on stderr."""
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           *extra, page.as_uri()], capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(reporting_warehouse, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--config", str(write_config(reporting_warehouse)), "--out", str(out)]) == 0
    return out


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "<link" not in html and "src=" not in html
    for chart in ("chart-articles-over-time", "chart-image-outcomes", "chart-top-keywords", "chart-duplicate-stories",
                  "chart-latest-runs"):
        assert f"id='{chart}'" in html


def test_console_check_catches_errors(chromium, tmp_path):
    """The console check used below does see a page's errors (so a clean result means something)."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); missingFn();</script></body></html>")
    messages = console_messages(browse(chromium, bad, tmp_path / "profile", "--dump-dom").stderr)
    assert any("boom" in m for m in messages) and any("missingFn" in m for m in messages)


def test_report_renders_in_chromium(chromium, report, tmp_path):
    result = browse(chromium, report, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0
    assert console_messages(result.stderr) == []
    dom = result.stdout
    for label in ("Articles per", "Images per host", "Top keywords", "Duplicate stories", "Rejects",
                  "Latest runs", "newsroom", "reposts", PLANTED, "completed", "下降"):
        assert label in dom, label
    assert dom.count("<svg") == 5          # images off in this warehouse: its URLs are charted as not tried yet
    assert "not tried yet" in dom and "none tried" in dom
    assert '<div class="total" id="total-articles"><b>17</b>' in dom


def test_report_screenshot_is_not_blank(chromium, report, tmp_path):
    shot = tmp_path / "shot.png"
    result = browse(chromium, report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=900,2000")
    assert result.returncode == 0 and shot.exists()
    image = Image.open(shot).convert("RGB")
    assert image.size == (900, 2000)
    colors = image.getcolors(maxcolors=1 << 20)
    non_white = sum(count for count, rgb in colors if rgb != (255, 255, 255))
    assert non_white > 0.05 * image.size[0] * image.size[1]
    # the bar colour of the first series (#4e79a7) is drawn
    assert any(rgb == (0x4E, 0x79, 0xA7) for _, rgb in colors)

"""The real-browser test proves it can fail: a broken widget callback, a cell that raises, a page that
loads from the network or misses a local file each fail it; a working notebook, its live slide, its
built HTML page and its slide deck pass.

These start JupyterLab and Debian's Chromium, so they run in `make test-browser` (which sets
COURSE_BROWSER_TESTS=1), not in `make test`.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "browser"
sys.path.insert(0, str(ROOT / "scripts"))

import build_site  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_BROWSER_TESTS") != "1",
                                reason="needs Chromium and JupyterLab: run by `make test-browser`")


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory):
    """One run of scripts/browser_test.py over the fixture notebooks and a few built pages."""
    tmp = tmp_path_factory.mktemp("browser")
    built = build_site.build("html", [FIXTURES / "01_widget_ok.ipynb"], tmp / "build")
    built += build_site.build("slides", [FIXTURES / "01_widget_ok.ipynb"], tmp / "build")
    remote = tmp / "build" / "html" / "remote.html"
    remote.write_text('<html><body><div class="jp-Cell">a</div><div class="jp-Cell">b</div>'
                      '<script src="https://cdn.example.org/lib.js"></script></body></html>')
    missing = tmp / "build" / "html" / "missing.html"
    missing.write_text('<html><body><div class="jp-Cell">a</div><div class="jp-Cell">b</div>'
                       '<script src="static/not-there.js"></script></body></html>')
    command = [sys.executable, str(ROOT / "scripts" / "browser_test.py"), "--folder", str(FIXTURES),
               "--live-slides", "01", "--screenshots", str(tmp / "shots"),
               "--static", *map(str, built), str(remote), str(missing)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    print(result.stdout[-6000:], result.stderr[-3000:])
    blocks, current = {}, None
    for line in result.stdout.splitlines():
        if line.startswith(("PASS ", "FAIL ")):
            current = line.split(" (")[0]
            blocks[current] = []
        elif current and line.startswith("    "):
            blocks[current].append(line.strip())
    return result, blocks, tmp / "shots"


def _block(blocks, verdict, name):
    found = [lines for key, lines in blocks.items() if key.startswith(verdict) and name in key]
    assert found, f"no '{verdict} ...{name}' line; got {list(blocks)}"
    return "\n".join(found[0])


def test_the_run_fails_as_a_whole(browser_run):
    result, _, _ = browser_run
    assert result.returncode == 1


def test_a_working_notebook_passes_with_its_live_slide_and_screenshots(browser_run):
    _, blocks, shots = browser_run
    lines = _block(blocks, "PASS", "01_widget_ok.ipynb")
    assert "slider" in lines and "live slide" in lines
    assert (shots / "01.png").stat().st_size > 10_000 and (shots / "live-slides-01.png").exists()


def test_a_broken_widget_callback_fails(browser_run):
    _, blocks, _ = browser_run
    assert "ZeroDivisionError: division by zero" in _block(blocks, "FAIL", "02_broken_callback.ipynb")


def test_a_cell_that_raises_fails(browser_run):
    _, blocks, _ = browser_run
    assert "error output in cell 2: RuntimeError: deliberate failure in a cell" in _block(
        blocks, "FAIL", "03_cell_raises.ipynb")


def test_built_page_and_deck_render_offline(browser_run):
    _, blocks, _ = browser_run
    assert '"widgets": 0' not in _block(blocks, "PASS", "01_widget_ok.html")
    assert '"ready": true' in _block(blocks, "PASS", "01_widget_ok.slides.html")


def test_a_page_loading_from_the_network_or_missing_a_file_fails(browser_run):
    _, blocks, _ = browser_run
    assert "network request: https://cdn.example.org/lib.js" in _block(blocks, "FAIL", "remote.html")
    assert "failed request: file://" in _block(blocks, "FAIL", "missing.html")

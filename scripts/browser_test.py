"""Drive every notebook in a real browser: JupyterLab + headless Chromium through Playwright.

Usage: ``python scripts/browser_test.py [NN_x.ipynb ...] [--static PAGE ...] [--live-slides [NN]]``

For each ``NN_*.ipynb`` (all of them by default, so a new notebook needs no change here) it opens a
copy in JupyterLab, runs all cells from the Run menu, waits until the kernel stays idle and every
code cell has an execution count (or a cell failed), reports every error output, finds the widget
panel (the cell that calls ``interactive_panel(``), moves one control the way a person would (keyboard
on a slider, a new option in a drop-down, a click on a check box; then the panel's button if it has
one), checks that the panel's output changes and shows no error, and saves a screenshot to
``build/screenshots/NN.png``. With ``--static`` it opens the built slide decks and HTML pages from
``file://`` with the browser offline and fails on any request that is not a local file, any failed
request or script error, or a page that did not render. With ``--live-slides`` it starts the live
slideshow (jupyterlab-slideshow's deck mode) on the first notebook and checks a slide renders.

JupyterLab runs on loopback without a token (test only), with ``port_retries=0`` so it never moves to
another port, fresh settings and workspaces, and it is stopped by its process id. Chromium is Debian's
package (``apt-get install chromium``), launched with ``--no-sandbox`` (needed as root); set
``CHROMIUM`` to use another binary. Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
VIEWPORT = {"width": 1400, "height": 1000}
# course_utils.widgets.interactive_panel shows a callback's exception as "<ExceptionType>: message".
WIDGET_ERROR = re.compile(r"^\s*(Traceback \(most recent call last\)|[A-Za-z_][\w.]*(Error|Exception)\b.*:)",
                          re.MULTILINE)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# JavaScript run in the page. JupyterLab is started with expose_app_in_browser, so window.jupyterapp is
# the application; the notebook model gives execution counts and outputs of every cell, including cells
# that JupyterLab has not rendered because they are far from the viewport.
STATE_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  for (const cell of panel.content.model.cells) {
    const slideshow = cell.getMetadata('slideshow');
    const info = {type: cell.type, source: cell.sharedModel.getSource(),
                  slideType: slideshow ? slideshow.slide_type : undefined};
    if (cell.type === 'code') {
      info.count = cell.executionCount;
      info.running = cell.executionState === 'running';
      info.errors = cell.outputs.toJSON().filter(o => o.output_type === 'error')
                        .map(o => o.ename + ': ' + o.evalue);
    }
    cells.push(info);
  }
  return {path: panel.context.path, kernel: kernel ? kernel.status : null, cells};
}"""


@dataclass
class Report:
    """What one check found; ``problems`` empty means it passed."""

    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def widget_error(text: str) -> str | None:
    """The first line of ``text`` that reads like an exception shown by a widget panel, else None."""
    match = WIDGET_ERROR.search(text)
    return text[match.start():].strip().splitlines()[0] if match else None


def run_state_summary(state: dict) -> tuple[list[str], list[int]]:
    """Error outputs (as "cell i: Type: message") and the indexes of code cells never executed."""
    errors, unexecuted = [], []
    for index, cell in enumerate(state["cells"]):
        if cell["type"] != "code":
            continue
        errors += [f"cell {index}: {error}" for error in cell["errors"]]
        if cell["count"] is None and cell["source"].strip():
            unexecuted.append(index)
    return errors, unexecuted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """JupyterLab on loopback for the test, in its own process group, stopped by its process id."""

    def __init__(self, root_dir: Path, scratch: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = scratch / "jupyterlab.log"
        env = dict(os.environ,
                   JUPYTERLAB_SETTINGS_DIR=str(scratch / "user-settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(scratch / "runtime"))
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root_dir}",
                   "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.process = subprocess.Popen(command, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}); log:\n{self.log.read_text()[-2000:]}")
            try:  # loopback only
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/api/status")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def _stop_deck(page) -> None:
    """Leave deck mode; it persists in the user settings, so later notebooks would open presenting."""
    if page.evaluate("() => document.body.dataset.jpDeckMode !== 'presenting'"):
        return
    page.keyboard.press("Shift+Escape")
    page.evaluate("""async () => { if (document.body.dataset.jpDeckMode === 'presenting')
                                        await window.jupyterapp.commands.execute('deck:stop'); }""")
    page.wait_for_selector("body:not([data-jp-deck-mode=presenting])", state="attached", timeout=10_000)


def open_notebook(page, base_url: str, name: str) -> None:
    """Open ``name`` in a fresh workspace (no restored tabs) and wait for its kernel."""
    page.goto(f"{base_url}/lab/workspaces/test-{uuid.uuid4().hex[:8]}/tree/{name}?reset")
    page.wait_for_function(
        """(name) => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            return p && p.context && p.context.path === name && p.sessionContext && p.sessionContext.isReady
                   && p.sessionContext.session && p.sessionContext.session.kernel
                   && p.sessionContext.session.kernel.status === 'idle'; }""",
        arg=name, timeout=120_000)
    if page.evaluate("() => document.body.dataset.jpDeckMode === 'presenting'"):  # left on by a failed run
        _stop_deck(page)


def run_all(page, timeout: float) -> dict:
    """Run all cells from the Run menu; return the state once the kernel stays idle and the run ended."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = time.monotonic() + timeout
    quiet = 0
    state = page.evaluate(STATE_JS)
    while time.monotonic() < deadline:
        time.sleep(1)
        state = page.evaluate(STATE_JS)
        busy = state["kernel"] != "idle" or any(c.get("running") for c in state["cells"])
        errors, unexecuted = run_state_summary(state)
        quiet = 0 if busy else quiet + 1
        # "Idle" also shows between two cells: the run is over only when idle lasts and either every
        # code cell has its execution count or a cell failed (JupyterLab then skips the rest).
        if quiet >= 3 and (errors or not unexecuted):
            return state
    raise TimeoutError(f"the notebook was still running after {timeout:.0f} s")


def _output_signature(cell) -> str:
    output = cell.locator(".widget-output").first
    text = output.inner_text()
    images = output.locator("img").evaluate_all("imgs => imgs.map(i => i.src.length + ':' + i.src.slice(-64))")
    return text + "\n" + "\n".join(images)


def _wait_idle(page, seconds: int = 3, timeout: float = 300) -> None:
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and quiet < seconds:
        time.sleep(1)
        state = page.evaluate(STATE_JS)
        quiet = quiet + 1 if state and state["kernel"] == "idle" else 0


def move_one_control(cell) -> str:
    """Change the last slider, drop-down or check box of the panel (else its text box); say what."""
    sliders, drops = cell.locator(".widget-slider"), cell.locator(".widget-dropdown select")
    boxes, texts = cell.locator(".widget-checkbox input"), cell.locator(".widget-text input")
    order = [(el, kind) for kind, group in (("slider", sliders), ("drop-down", drops), ("check box", boxes))
             for el in group.all()]
    # Controls in the order they appear in the panel; the last one is usually the cheapest to rerun.
    order.sort(key=lambda item: (item[0].bounding_box() or {"y": 0})["y"] * 10000
               + (item[0].bounding_box() or {"x": 0})["x"])
    if order:
        control, kind = order[-1]
    elif texts.count():
        control, kind = texts.last, "text box"
    else:
        raise LookupError("the widget panel has no slider, drop-down, check box or text box")
    row = control.locator("xpath=ancestor-or-self::*[contains(@class,'widget-inline-hbox')][1]").first
    name = re.sub(r"[\u200b\s]+", " ", row.inner_text() if row.count() else "").strip()[:40] or kind
    if kind == "slider":
        handle = control.locator(".noUi-handle").first
        before = control.locator(".widget-readout").inner_text()
        handle.focus()
        handle.press("ArrowRight")
        if control.locator(".widget-readout").inner_text() == before:  # already at its maximum
            handle.press("ArrowLeft")
        after = control.locator(".widget-readout").inner_text()
    elif kind == "drop-down":
        options = control.locator("option").all_inner_texts()
        before = control.evaluate("s => s.options[s.selectedIndex].text")
        after = options[(options.index(before) + 1) % len(options)]
        control.select_option(label=after)
    elif kind == "check box":
        before = str(control.is_checked())
        control.click()
        after = str(control.is_checked())
    else:
        # Several text boxes (a sentence beside a word to find in it): lengthen the longest one by
        # repeating its last word, which keeps every word it had; one box: drop its last letter.
        boxes = texts.all()
        if len(boxes) > 1:
            control = max(boxes, key=lambda box: len(box.input_value()))
            row = control.locator("xpath=ancestor-or-self::*[contains(@class,'widget-inline-hbox')][1]").first
            name = re.sub(r"[\u200b\s]+", " ", row.inner_text() if row.count() else "").strip()[:40] or kind
        before = control.input_value()
        if len(boxes) > 1 and before.split():
            after = f"{before} {before.split()[-1]}"
        else:
            after = before[:-1] if len(before) > 1 else before + "a"
        control.fill(after)
        control.press("Enter")
    buttons = cell.locator(".widget-button, button.jupyter-button")
    clicked = ""
    if buttons.count():
        buttons.last.click()
        clicked = f", then clicked '{buttons.last.inner_text()}'"
    return f"{kind} '{name.strip()}': {before} -> {after}{clicked}"


def check_widget(page, state: dict, timeout: float) -> tuple[list[str], str]:
    """Move one control of the notebook's widget panel and check its output changes without error."""
    index = next((i for i, c in enumerate(state["cells"])
                  if c["type"] == "code" and "interactive_panel(" in c["source"]), None)
    if index is None:
        return ["no widget section (no cell calls interactive_panel)"], ""
    page.evaluate("""(i) => { const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
                              cell.node.setAttribute('data-browser-test', 'widget');
                              cell.node.scrollIntoView({block: 'start'}); }""", index)
    cell = page.locator("[data-browser-test=widget]")
    try:
        cell.locator(".widget-output").first.wait_for(timeout=30_000)
    except Exception:
        return [f"cell {index}: the widget panel did not render (no live widget output area)"], ""
    before = _output_signature(cell)
    problems = []
    if error := widget_error(before):
        problems.append(f"cell {index}: the widget panel shows an error before any change: {error}")
    try:
        action = move_one_control(cell)
    except LookupError as error:
        return [f"cell {index}: {error}"], ""
    deadline, after = time.monotonic() + timeout, before
    while time.monotonic() < deadline:
        time.sleep(1)
        after = _output_signature(cell)
        if after != before and after.strip():
            break
    _wait_idle(page)
    after = _output_signature(cell)
    cell.scroll_into_view_if_needed()
    if after == before:
        problems.append(f"cell {index}: moved {action}, but the widget output did not change in {timeout:.0f} s")
    elif error := widget_error(after):
        problems.append(f"cell {index}: moved {action}; the widget output shows an error: {error}")
    return problems, action


def check_notebook(browser, server: LabServer, workdir: Path, source: Path, screenshots: Path,
                   timeout: float, live_slides: bool = False) -> Report:
    """Open, run all, check errors and the widget panel, screenshot; the notebook's Report.

    With ``live_slides``, then also present it live (see ``check_live_slides``).
    """
    report = Report(source.name)
    shutil.copy2(source, workdir / source.name)
    start = time.monotonic()
    page = browser.new_page(viewport=VIEWPORT)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        open_notebook(page, server.url, source.name)
        state = run_all(page, timeout)
        errors, unexecuted = run_state_summary(state)
        report.problems += [f"error output in {error}" for error in errors]
        if unexecuted and not errors:
            report.problems.append(f"code cells never executed: {unexecuted}")
        if not errors:
            problems, action = check_widget(page, state, timeout)
            report.problems += problems
            report.notes.append(action)
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshots / f"{_number(source)}.png"))
            if live_slides and not problems:
                problems, action = check_live_slides(page, state, screenshots, source.name, timeout)
                report.problems += problems
                report.notes.append(action)
    except Exception as error:  # a hang or a missing element is a failed check, not a crash
        report.problems.append(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    finally:
        if not report.ok:  # show where it stopped
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshots / f"{_number(source)}.png"))
        report.problems += [f"script error in the page: {e}" for e in page_errors]
        _shut_down_kernels(page)
        page.close()
    report.seconds = time.monotonic() - start
    return report


def _number(source: Path) -> str:
    return source.name[:2] if source.name[:2].isdigit() else source.stem


def _shut_down_kernels(page) -> None:
    """Stop every kernel from the page (the server wants the page's XSRF cookie for that)."""
    try:
        page.evaluate("() => window.jupyterapp && window.jupyterapp.serviceManager.sessions.shutdownAll()")
    except Exception as error:
        print(f"    (could not shut the kernels down: {str(error).splitlines()[0]})", flush=True)


def check_static_page(browser, path: Path, screenshots: Path) -> Report:
    """Open a built page from file:// with the network off; every request must be a local file."""
    report = Report(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path))
    start = time.monotonic()
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    page = context.new_page()
    requests, failed, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url[:120]} ({r.failure})"))
    page.on("pageerror", lambda e: errors.append(str(e).splitlines()[0]))
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(3000)  # MathJax, the widget renderer and reveal.js finish after "load"
        page.wait_for_function("""() => !window.MathJax || !MathJax.Hub
                                      || (MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running)""",
                               timeout=60_000)
        if path.name == "index.html":
            rendered = page.evaluate("""() => ({rows: document.querySelectorAll('tbody tr').length,
                                                  links: [...document.querySelectorAll('tbody a')].map(a => a.href)})""")
            if rendered["rows"] == 0:
                report.problems.append("the index lists no notebook")
            missing = [link for link in rendered["links"] if not Path(link.removeprefix("file://")).exists()]
            report.problems += [f"the index links to a missing page: {link}" for link in missing]
            rendered = {"rows": rendered["rows"], "math": 0, "widgets": 0}
        elif path.name.endswith(".slides.html"):
            rendered = page.evaluate("""() => ({ready: !!document.querySelector('.reveal.ready'),
                                                  slides: document.querySelectorAll('.reveal .slides > section').length,
                                                  math: document.querySelectorAll('.MathJax, .MathJax_CHTML, mjx-container').length,
                                                  widgets: document.querySelectorAll('.jupyter-widgets.widget-container, .widget-slider, .widget-dropdown, .widget-checkbox, .widget-text').length})""")
            if not rendered["ready"] or rendered["slides"] < 2:
                report.problems.append(f"reveal.js did not render the deck: {rendered}")
        else:
            rendered = page.evaluate("""() => ({cells: document.querySelectorAll('.jp-Cell').length,
                                                  math: document.querySelectorAll('.MathJax, .MathJax_CHTML, mjx-container').length,
                                                  widgets: document.querySelectorAll('.jupyter-widgets.widget-container, .widget-slider, .widget-dropdown, .widget-checkbox, .widget-text').length,
                                                  brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length})""")
            if rendered["cells"] < 2 or rendered["brokenImages"]:
                report.problems.append(f"the page did not render: {rendered}")
        # MathJax replaces $...$ in the markdown by typeset math; TeX still in the text means it failed.
        raw_tex = page.evaluate(r"""() => [...document.querySelectorAll('.jp-RenderedMarkdown')]
            .map(m => m.innerText).join('\n').match(/\$[^$\n]+\$|\\\(|\\\[/)""")
        if raw_tex:
            report.problems.append(f"formula left as TeX (MathJax did not run): {raw_tex[0][:60]}")
        page_text = path.read_text(encoding="utf-8")
        if "application/vnd.jupyter.widget-state+json" in page_text and rendered["widgets"] == 0:
            report.problems.append("the widget renderer drew no widget from the saved widget state")
        report.notes.append(json.dumps(rendered))
        remote = [url for url in requests if not url.startswith(LOCAL_SCHEMES)]
        report.problems += [f"network request: {url[:120]}" for url in remote]
        report.problems += [f"failed request: {item}" for item in failed]
        report.problems += [f"script error: {item}" for item in errors]
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshots / f"{path.parent.name}-{path.name.replace('.html', '')}.png"))
    except Exception as error:
        report.problems.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    finally:
        context.close()
    report.seconds = time.monotonic() - start
    return report


def check_live_slides(page, state: dict, screenshots: Path, name: str, timeout: float) -> tuple[list[str], str]:
    """Present the run notebook live in jupyterlab-slideshow's deck mode: the first slide shows, and on
    the widget's slide moving a control changes the output (a live kernel behind the slide)."""
    try:
        return _present(page, state, screenshots, name, timeout)
    finally:
        _stop_deck(page)


def _present(page, state: dict, screenshots: Path, name: str, timeout: float) -> tuple[list[str], str]:
    # Start at the first cell, as a presenter would, and page forward until the widget's slide shows.
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
    page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="deck"] jp-button').click()
    page.wait_for_selector("body[data-jp-deck-mode=presenting]", state="attached", timeout=30_000)
    page.wait_for_timeout(1500)
    cell = page.locator("[data-browser-test=widget]")
    on_screen = "c => c.classList.contains('jp-deck-mod-onscreen') && getComputedStyle(c).visibility === 'visible'"
    first_slide = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell.jp-deck-mod-onscreen')]
                                     .map(c => c.innerText.trim().split('\\n')[0]).filter(t => t)""")
    problems = [] if first_slide else ["deck mode started, but the first slide shows nothing"]
    index = next(i for i, c in enumerate(state["cells"]) if c["type"] == "code" and "interactive_panel(" in c["source"])
    if state["cells"][index].get("slideType") == "-":
        # JupyterLab 4 writes "" for the "-" of its Slide Type menu; jupyterlab-slideshow shows "" or a
        # missing slide_type with the slide before, but never a cell marked with the older "-".
        dashes = sum(1 for c in state["cells"] if c.get("slideType") == "-")
        return problems + [f"cell {index} (the widget panel) and {dashes - 1} other cells have slide_type '-', "
                           "which jupyterlab-slideshow never shows; use '' (JupyterLab 4's '-'): "
                           "python scripts/slide_types.py --fix NOTEBOOK"], f"first live slide: {first_slide[:1]}"
    # Go to the widget's slide: select its cell (the deck follows the active cell), else page forward.
    page.evaluate("(i) => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = i; }", index)
    page.wait_for_timeout(1500)
    presses = 0
    while not cell.evaluate(on_screen) and presses < 200:
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        presses += 1
    if not cell.evaluate(on_screen):
        return problems + [f"the widget cell never came on screen in deck mode ({presses} slides forward)"], ""
    before = _output_signature(cell)
    action = move_one_control(cell)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _output_signature(cell) == before:
        time.sleep(1)
    _wait_idle(page)
    after = _output_signature(cell)
    if after == before:
        problems.append(f"on the slide, moved {action}, but the widget output did not change")
    elif error := widget_error(after):
        problems.append(f"on the slide, moved {action}; the widget output shows an error: {error}")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / f"live-slides-{name[:2]}.png"))
    return problems, f"live slides: first slide {first_slide[:1]}; on the widget's slide moved {action}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every NN_*.ipynb in --folder")
    parser.add_argument("--folder", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "build" / "screenshots")
    parser.add_argument("--static", nargs="*", type=Path, default=[],
                        help="built pages (.html / .slides.html) to open offline")
    parser.add_argument("--live-slides", nargs="?", const="", default=None, metavar="NN",
                        help="also present notebook NN (default: the first) live in deck mode")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a notebook may run")
    args = parser.parse_intermixed_args(argv)
    from playwright.sync_api import sync_playwright

    sources = [p.resolve() for p in args.notebooks] or sorted(args.folder.resolve().glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        parser.error("no notebooks to test")
    reports: list[Report] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="browser-test-") as tmp, sync_playwright() as playwright:
        scratch = Path(tmp)
        workdir = scratch / "notebooks"
        workdir.mkdir()
        browser = _launch(playwright)
        server = LabServer(workdir, scratch)
        try:
            server.wait_ready()
            for source in sources:
                live = (args.live_slides == "" and source == sources[0]) or bool(
                    args.live_slides and source.name.startswith(args.live_slides))
                reports.append(check_notebook(browser, server, workdir, source, args.screenshots, args.timeout, live))
                _print(reports[-1])
        finally:
            server.stop()
        for path in args.static:
            reports.append(check_static_page(browser, path, args.screenshots))
            _print(reports[-1])
        browser.close()
    failed = [r for r in reports if not r.ok]
    print(f"browser test: {len(reports) - len(failed)} of {len(reports)} checks passed in "
          f"{time.monotonic() - started:.0f} s (load average {os.getloadavg()[0]:.1f})")
    return 1 if failed else 0


def _print(report: Report) -> None:
    print(f"{'PASS' if report.ok else 'FAIL'} {report.name} ({report.seconds:.0f} s)", flush=True)
    for note in report.notes:
        if note:
            print(f"    {note}", flush=True)
    for problem in report.problems:
        print(f"    problem: {problem}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""Build the offline reading copies of the course: executed HTML pages and reveal.js slide decks.

Usage: ``python scripts/build_site.py html|slides [--build build] [notebooks/NN_x.ipynb ...]``
(default: every ``notebooks/NN_*.ipynb``, so a new notebook needs no change here).

Each notebook is executed once, top to bottom in a fresh kernel, by nbclient; the executed copy, its
widget state and the measured run time are cached in ``build/executed/`` and reused by the other
format until the source notebook changes. ``html`` writes ``build/html/NN_x.html`` and an index page
(one line per notebook with its measured run time); ``slides`` writes ``build/slides/NN_x.slides.html``
and an index. nbconvert loads reveal.js, require.js, jQuery, MathJax, font-awesome and the widget
renderer from CDNs by default; here every one is copied into ``<output>/static/`` from the npm
packages that ``package.json`` pins (installed by ``npm ci``), and the written pages are checked to
load nothing from the network, so the output works offline (also opened as ``file://``).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
STATIC = "static"
# (source inside node_modules, destination inside <output>/static): only what the pages load.
ASSETS = [
    ("reveal.js/dist", "reveal.js/dist"),
    ("reveal.js/plugin", "reveal.js/plugin"),
    ("requirejs/require.js", "require.js"),
    ("jquery/dist/jquery.min.js", "jquery.min.js"),
    ("font-awesome/css", "font-awesome/css"),
    ("font-awesome/fonts", "font-awesome/fonts"),
    ("mathjax/MathJax.js", "mathjax/MathJax.js"),
    ("mathjax/config", "mathjax/config"),
    ("mathjax/extensions", "mathjax/extensions"),
    ("mathjax/jax/input/TeX", "mathjax/jax/input/TeX"),
    ("mathjax/jax/element", "mathjax/jax/element"),
    ("mathjax/jax/output/CommonHTML", "mathjax/jax/output/CommonHTML"),
    ("mathjax/jax/output/PreviewHTML", "mathjax/jax/output/PreviewHTML"),
    ("mathjax/localization/en", "mathjax/localization/en"),
    ("mathjax/fonts/HTML-CSS/TeX/woff", "mathjax/fonts/HTML-CSS/TeX/woff"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
]
# URLs as the pages see them, relative to the page (pages sit next to static/).
URLS = {
    "require_js_url": f"{STATIC}/require.js",
    "jquery_url": f"{STATIC}/jquery.min.js",
    "mathjax_url": f"{STATIC}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "widget_renderer_url": f"{STATIC}/html-manager/embed-amd.js",
}
REVEAL_PREFIX = f"{STATIC}/reveal.js"
FONT_AWESOME_URL = f"{STATIC}/font-awesome/css/font-awesome.min.css"
# reveal.js themes such as "simple" @import Google fonts; "white" ships its font in dist/theme/fonts.
REVEAL_THEME = "white"
# nbconvert's templates import mermaid (diagrams in markdown) from a CDN; the course draws no mermaid
# diagrams, so the course's templates leave that script out.
TEMPLATES = {f"course_{base}.html.j2": f"{{%- extends '{base}/index.html.j2' -%}}\n"
             "{% block html_head_js_mermaidjs %}{% endblock %}\n" for base in ("lab", "reveal")}


@dataclass
class Executed:
    """One executed notebook: the notebook with outputs and widget state, and how long it ran."""

    source: Path
    notebook: nbformat.NotebookNode
    seconds: float
    load_average: float
    executed_at: str

    @property
    def title(self) -> str:
        return notebook_title(self.notebook, self.source.stem)


def notebook_title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The first ``# `` heading of the first markdown cell, else ``fallback``."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    return fallback


def course_notebooks(folder: Path) -> list[Path]:
    """Every ``NN_topic.ipynb`` in ``folder``, in course order."""
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks in {folder}")
    return paths


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def execute(source: Path, cache: Path, timeout: int = 600) -> Executed:
    """Run ``source`` in a fresh kernel (working directory: its folder), or reuse the cached run.

    Raises ``RuntimeError`` naming the notebook and the failing cell when a cell raises.
    """
    from nbclient.exceptions import CellExecutionError

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from notebook_client import notebook_client

    cache.mkdir(parents=True, exist_ok=True)
    cached_notebook, cached_info = cache / source.name, cache / f"{source.stem}.json"
    digest = _digest(source)
    if cached_notebook.exists() and cached_info.exists():
        info = json.loads(cached_info.read_text())
        if info.get("sha256") == digest:
            print(f"{source.name}: reusing the run of {info['executed_at']} ({info['seconds']:.0f} s)", flush=True)
            return Executed(source, nbformat.read(cached_notebook, as_version=4), info["seconds"],
                            info["load_average"], info["executed_at"])
    notebook = nbformat.read(source, as_version=4)
    client = notebook_client(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(source.parent)}})
    print(f"{source.name}: executing ...", flush=True)
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback's terminal colours
        raise RuntimeError(f"{source.name} failed while executing:\n{plain}") from None
    seconds = time.perf_counter() - start
    load = os.getloadavg()[0]
    executed_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    nbformat.write(notebook, cached_notebook)
    cached_info.write_text(json.dumps({"sha256": digest, "seconds": seconds, "load_average": load,
                                       "executed_at": executed_at}))
    print(f"{source.name}: ran in {seconds:.1f} s (load average {load:.1f})", flush=True)
    return Executed(source, notebook, seconds, load, executed_at)


def copy_assets(output: Path, node_modules: Path = NODE_MODULES) -> None:
    """Copy the JavaScript, CSS and fonts the pages load into ``output/static``."""
    missing = [src for src, _ in ASSETS if not (node_modules / src).exists()]
    if missing:
        raise FileNotFoundError(f"missing in {node_modules}: {missing} (run `npm ci` in the repository root)")
    for src, dest in ASSETS:
        target = output / STATIC / dest
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if (node_modules / src).is_dir():
            shutil.copytree(node_modules / src, target, ignore=shutil.ignore_patterns("*.map"))
        else:
            shutil.copy2(node_modules / src, target)


# What a browser loads by itself (not links a reader may follow): scripts, style sheets, images, frames,
# media, and ES/CSS imports.
_REMOTE = re.compile(r"""<(?:script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']?"""
                     r"""(?:https?:)?//|import\s*\(?\s*["'](?:https?:)?//|@import\s+url\(\s*["']?(?:https?:)?//""",
                     re.IGNORECASE)


def remote_references(page: str) -> list[str]:
    """Places where ``page`` would load a script, style sheet, image or module from the network."""
    return [page[max(0, m.start() - 40): m.end() + 60].replace("\n", " ") for m in _REMOTE.finditer(page)]


def _check_offline(path: Path, page: str) -> None:
    found = remote_references(page)
    if found:
        raise RuntimeError(f"{path} would load from the network: {found[:3]}")


def export_html(run: Executed, output: Path) -> Path:
    """The executed notebook as one HTML page (JupyterLab look, widgets in their last state)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[DictLoader(TEMPLATES)], template_name="lab",
                            template_file="course_lab.html.j2", **URLS)
    page, _ = exporter.from_notebook_node(run.notebook, resources={"metadata": {"name": run.title}})
    path = output / f"{run.source.stem}.html"
    _check_offline(path, page)
    path.write_text(page, encoding="utf-8")
    return path


def export_slides(run: Executed, output: Path) -> Path:
    """The executed notebook as a reveal.js deck, from each cell's ``slideshow`` metadata."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(extra_loaders=[DictLoader(TEMPLATES)], template_name="reveal",
                              template_file="course_reveal.html.j2", reveal_url_prefix=REVEAL_PREFIX,
                              font_awesome_url=FONT_AWESOME_URL, reveal_theme=REVEAL_THEME, **URLS)
    page, _ = exporter.from_notebook_node(run.notebook, resources={"metadata": {"name": run.title}})
    path = output / f"{run.source.stem}.slides.html"
    _check_offline(path, page)
    path.write_text(page, encoding="utf-8")
    return path


def index_page(runs: list[Executed], links: list[str], heading: str) -> str:
    """The table of contents: one line per notebook with its link and measured run time."""
    rows = "\n".join(
        f'<tr><td><a href="{html.escape(link)}">{html.escape(run.source.stem)}</a></td>'
        f"<td>{html.escape(run.title)}</td>"
        f'<td class="time">{run.seconds:.0f} s</td>'
        f"<td>{html.escape(run.executed_at)}, load average {run.load_average:.1f}</td></tr>"
        for run, link in zip(runs, links, strict=True))
    total = sum(run.seconds for run in runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(heading)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
td.time {{ text-align: right; white-space: nowrap; }}
</style></head>
<body>
<h1>{html.escape(heading)}</h1>
<p>How language models came to be: each notebook executed top to bottom in a fresh kernel. The run
time is the wall time of that execution on the machine that built these pages (total
{total:.0f} s). Widgets show the state they had at the end of the run; move them in JupyterLab.</p>
<table>
<thead><tr><th>notebook</th><th>title</th><th>run time</th><th>measured</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body></html>
"""


def build(kind: str, sources: list[Path], build_dir: Path, timeout: int = 600) -> list[Path]:
    """Execute ``sources`` (or reuse their cached runs) and write the ``kind`` pages and an index."""
    output = build_dir / kind
    output.mkdir(parents=True, exist_ok=True)
    copy_assets(output)
    runs = [execute(source, build_dir / "executed", timeout) for source in sources]
    export = export_html if kind == "html" else export_slides
    pages = [export(run, output) for run in runs]
    heading = "Course notebooks, executed" if kind == "html" else "Course slide decks"
    (output / "index.html").write_text(index_page(runs, [p.name for p in pages], heading), encoding="utf-8")
    for page in pages:
        print(f"wrote {page.relative_to(build_dir.parent) if page.is_relative_to(build_dir.parent) else page}")
    print(f"wrote {output / 'index.html'}")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["html", "slides"])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="output folder (default: build/)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may run")
    args = parser.parse_intermixed_args(argv)
    sources = [p.resolve() for p in args.notebooks] or course_notebooks(ROOT / "notebooks")
    try:
        build(args.kind, sources, args.build.resolve(), args.timeout)
    except (RuntimeError, FileNotFoundError) as error:
        print(f"build_site.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

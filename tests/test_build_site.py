"""scripts/build_site.py (offline HTML pages and slide decks), scripts/slide_types.py and the pure helpers
of scripts/browser_test.py. The browser itself is exercised by tests/test_browser.py."""

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import browser_test  # noqa: E402
import build_site  # noqa: E402
import slide_types  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "browser"


def _run(name="01_demo", title="Demo", seconds=12.4):
    notebook = new_notebook(cells=[new_markdown_cell(f"# {title}\n\ntext")])
    return build_site.Executed(Path(f"/x/{name}.ipynb"), notebook, seconds, 1.5, "2026-01-01 10:00 UTC")


def test_notebook_title_is_the_first_heading_or_the_fallback():
    assert build_site.notebook_title(new_notebook(cells=[new_markdown_cell("intro\n# The title\n")]), "f") == "The title"
    assert build_site.notebook_title(new_notebook(cells=[new_code_cell("x = 1")]), "fallback") == "fallback"


def test_course_notebooks_lists_numbered_notebooks_in_order_and_refuses_an_empty_folder(tmp_path):
    for name in ["02_b.ipynb", "01_a.ipynb", "notes.ipynb"]:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in build_site.course_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    with pytest.raises(FileNotFoundError, match="no NN_"):
        build_site.course_notebooks(tmp_path / "missing")


def test_course_notebooks_finds_every_notebook_of_the_course():
    found = {p.name for p in build_site.course_notebooks(ROOT / "notebooks")}
    assert found == {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} and found


@pytest.mark.parametrize("page", [
    '<script src="https://cdn.example.org/x.js"></script>',
    "<link rel='stylesheet' href='//cdn.example.org/x.css'>",
    'const m = await import("https://cdn.example.org/m.mjs")',
])
def test_remote_references_finds_scripts_styles_and_modules_from_the_network(page):
    assert len(build_site.remote_references(page)) == 1


def test_remote_references_ignores_local_files_and_links_to_read():
    page = '<script src="static/require.js"></script><a href="https://arxiv.org/abs/1706.03762">paper</a>'
    assert build_site.remote_references(page) == []


def test_index_page_has_one_line_per_notebook_with_its_run_time():
    runs = [_run("01_a", "First", 12.4), _run("02_b", "Second <b>", 61.0)]
    page = build_site.index_page(runs, ["01_a.html", "02_b.html"], "Index")
    assert page.count("<tr><td>") == 2
    assert '<a href="01_a.html">01_a</a>' in page and "12 s" in page and "61 s" in page
    assert "Second &lt;b&gt;" in page and "total\n73 s" in page.replace("total ", "total\n")


def test_copy_assets_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm ci"):
        build_site.copy_assets(tmp_path / "out", node_modules=tmp_path / "empty")


def test_execute_caches_the_run_and_reports_a_failing_cell(tmp_path):
    good = tmp_path / "01_good.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Good"), new_code_cell("print(6 * 7)")]), good)
    run = build_site.execute(good, tmp_path / "cache")
    assert run.notebook.cells[1].outputs[0]["text"] == "42\n" and run.seconds > 0
    again = build_site.execute(good, tmp_path / "cache")
    assert again.executed_at == run.executed_at and again.seconds == run.seconds  # reused, not rerun
    bad = tmp_path / "02_bad.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("raise ValueError('boom')")]), bad)
    with pytest.raises(RuntimeError, match=r"(?s)02_bad.ipynb failed.*ValueError: boom"):
        build_site.execute(bad, tmp_path / "cache")


@pytest.mark.skipif(not (ROOT / "node_modules" / "reveal.js").exists(), reason="needs `npm ci` (make slides does it)")
def test_exported_page_and_deck_load_only_local_files(tmp_path):
    notebook = nbformat.read(FIXTURES / "01_widget_ok.ipynb", as_version=4)
    notebook.cells.insert(1, new_markdown_cell("A formula: $x^2$"))
    source = tmp_path / "01_fixture.ipynb"
    nbformat.write(notebook, source)
    pages = build_site.build("html", [source], tmp_path / "build") + build_site.build("slides", [source], tmp_path / "build")
    for page in pages:
        text = page.read_text()
        assert build_site.remote_references(text) == []
        assert "static/require.js" in text and "static/mathjax/MathJax.js" in text
        for local in ["static/require.js", "static/html-manager/embed-amd.js", "static/mathjax/MathJax.js"]:
            assert (page.parent / local).exists(), local
    deck = (tmp_path / "build" / "slides" / "01_fixture.slides.html").read_text()
    assert "static/reveal.js/dist/reveal.js" in deck and (tmp_path / "build/slides/static/reveal.js/plugin/notes/notes.js").exists()
    assert "01_fixture.html" in (tmp_path / "build" / "html" / "index.html").read_text()


def test_widget_error_reads_the_panels_exception_line():
    assert browser_test.widget_error("n = 3\nZeroDivisionError: division by zero\n") == "ZeroDivisionError: division by zero"
    assert browser_test.widget_error("KeyError: 'x'") == "KeyError: 'x'"
    assert browser_test.widget_error("Traceback (most recent call last):\n  File") == "Traceback (most recent call last):"
    assert browser_test.widget_error("error rate: 0.1\n5 squared is 25") is None


def test_run_state_summary_lists_errors_and_unexecuted_cells():
    state = {"cells": [
        {"type": "markdown", "source": "# t"},
        {"type": "code", "source": "x = 1", "count": 1, "errors": []},
        {"type": "code", "source": "1/0", "count": 2, "errors": ["ZeroDivisionError: division by zero"]},
        {"type": "code", "source": "y = 2", "count": None, "errors": []},
        {"type": "code", "source": "  ", "count": None, "errors": []},
    ]}
    errors, unexecuted = browser_test.run_state_summary(state)
    assert errors == ["cell 2: ZeroDivisionError: division by zero"] and unexecuted == [3]


def test_slide_types_rewrites_only_the_old_dash(tmp_path):
    notebook = new_notebook(cells=[new_markdown_cell("# t"), new_code_cell("x"), new_code_cell("y")])
    for cell, kind in zip(notebook.cells, ["slide", "-", "fragment"]):
        cell.metadata["slideshow"] = {"slide_type": kind}
    path = tmp_path / "01_t.ipynb"
    nbformat.write(notebook, path)
    assert slide_types.main([str(path)]) == 1
    assert slide_types.main(["--fix", str(path)]) == 0
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nbformat.read(path, as_version=4).cells]
    assert kinds == ["slide", "", "fragment"] and slide_types.main([str(path)]) == 0


def test_browser_fixtures_use_the_slide_type_jupyterlab_writes():
    for path in FIXTURES.glob("*.ipynb"):
        assert slide_types.continuation_cells(nbformat.read(path, as_version=4)) == [], path.name

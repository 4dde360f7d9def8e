"""Every notebook follows the house conventions (CONTRIBUTING.md, ../shared/COURSE_GUIDE.md).

nbval executes the notebooks; this file checks their structure: slide metadata on every cell, outputs
stripped except the reference outputs nbval checks, the section order, exercises in nbgrader syntax
followed by check cells, and a final results cell that asserts.
"""

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# "" is what JupyterLab 4 writes for "-" (part of the slide before); jupyterlab-slideshow shows only "".
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "", "skip", "notes"}
CHECKED = "nbval-check-output"

sys.path.insert(0, str(ROOT / "scripts"))
import make_student_notebooks  # noqa: E402


def _ids(paths):
    return [p.name for p in paths]


def _headings(notebook):
    return [line.strip() for cell in notebook.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("#")]


def _code_without_magics(source: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
class TestNotebook:
    def load(self, path):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        return notebook

    def test_name_kernel_and_title(self, path):
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
        notebook = self.load(path)
        assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
        first = notebook.cells[0]
        assert first.cell_type == "markdown" and first.source.startswith("# ")
        assert "objectives" in first.source.lower(), "the first cell states the learning objectives"

    def test_every_cell_has_slide_metadata(self, path):
        for number, cell in enumerate(self.load(path).cells):
            slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
            assert slide_type in SLIDE_TYPES, f"cell {number} has no valid slideshow.slide_type"

    def test_outputs_stripped_except_checked_cells(self, path):
        for number, cell in enumerate(self.load(path).cells):
            if cell.cell_type != "code":
                continue
            checked = CHECKED in cell.metadata.get("tags", [])
            if not checked:
                assert not cell.outputs, f"cell {number} stores outputs nbval does not check (strip them)"
                assert cell.execution_count is None, f"cell {number} stores an execution count"
            else:
                assert cell.outputs, f"cell {number} is tagged {CHECKED} but stores no reference output"
                assert cell.execution_count is not None, f"cell {number}: nbval needs an execution count"

    def test_setup_cell_seeds_and_reports_the_device(self, path):
        code = [c.source for c in self.load(path).cells if c.cell_type == "code"]
        setup = code[0]
        assert "course_utils" in setup and "seed_everything(" in setup and "device_report(" in setup

    def test_sections_in_order(self, path):
        headings = [h.lstrip("#").strip().lower() for h in _headings(self.load(path))]
        wanted = ["try it yourself", "exercises", "check your understanding", "results"]
        positions = []
        for name in wanted:
            found = [i for i, h in enumerate(headings) if h.startswith(name)]
            assert found, f"missing a section headed '{name}'"
            positions.append(found[0])
        assert positions == sorted(positions), f"sections out of order: {wanted}"

    def test_widget_cells_ignore_output(self, path):
        cells = [c for c in self.load(path).cells if c.cell_type == "code" and "interactive_panel(" in c.source]
        assert cells, "no interactive widget cell (course_utils.widgets.interactive_panel)"
        for cell in cells:
            assert "nbval-ignore-output" in cell.metadata.get("tags", [])

    def test_exercises_use_nbgrader_syntax_and_are_checked(self, path):
        cells = self.load(path).cells
        solutions = [i for i, c in enumerate(cells) if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
        assert len(solutions) >= 2, "at least two exercises"
        for index in solutions:
            meta = cells[index].metadata.get("nbgrader", {})
            assert meta.get("solution") is True and meta.get("grade_id"), f"cell {index}: nbgrader metadata"
            following = [c for c in cells[index + 1 :] if c.cell_type == "code"]
            assert following and "check" in following[0].source, f"exercise cell {index} needs a check cell after it"
        grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
        assert len(grade_ids) == len(set(grade_ids)), "nbgrader grade_ids must be unique"

    def test_last_code_cell_asserts_results(self, path):
        cells = self.load(path).cells
        last = [c for c in cells if c.cell_type == "code"][-1]
        assert "assert" in last.source, "the last code cell asserts the key measured results"

    def test_code_parses_and_student_copy_raises_not_implemented(self, path):
        notebook = self.load(path)
        for number, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                ast.parse(_code_without_magics(cell.source), filename=f"{path.name} cell {number}")
        student = make_student_notebooks.student_version(notebook)
        stubs = [c for c in student.cells if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
        assert len(stubs) >= 2
        for cell in student.cells:
            if cell.cell_type == "code":
                assert "### BEGIN" not in cell.source
                ast.parse(_code_without_magics(cell.source))

"""Every notebook's assignment, graded for real (scripts/grade.py, a fresh kernel each):

- the solution copy earns full marks: every visible check and hidden test passes with the package's
  references unavailable, and no other cell fails;
- the untouched student copy runs to the end and earns zero: the only cells that fail are exercise
  cells (the stubs' NotImplementedError, or a hidden test's assertion), never a later cell.

The notebooks are enumerated, so a new one is covered without editing this file. Each test runs one
whole notebook (about as long as its nbval run).
"""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import assignments  # noqa: E402
import grade  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob(assignments.NOTEBOOK_PATTERN))
# a notebook takes up to ~2 min on 2 busy cores; the limits leave room and stay under pytest's 600 s
CELL_TIMEOUT, TOTAL_TIMEOUT = 300, 540


def _grade(path, tmp_path, version):
    source = assignments.source_version(nbformat.read(path, as_version=4), path.stem)
    copy = assignments.solution_version(source) if version == "solution" else assignments.student_version(source)
    submission = tmp_path / version / path.name
    submission.parent.mkdir(parents=True)
    nbformat.write(copy, submission)
    return grade.grade_submission(submission, notebooks=ROOT / "notebooks", cell_timeout=CELL_TIMEOUT,
                                  total_timeout=TOTAL_TIMEOUT)


def _solution_copy_earns_full_marks(path, tmp_path):
    report = _grade(path, tmp_path, "solution")
    assert report.error == "", report.to_markdown()
    assert report.points == report.max_points > 0, report.to_markdown()
    assert not report.cell_errors, report.to_markdown()
    assert not report.notices, report.to_markdown()


def _untouched_student_copy_runs_to_the_end_and_earns_zero(path, tmp_path):
    report = _grade(path, tmp_path, "student")
    assert report.error == "", report.to_markdown()
    assert report.points == 0 and all(e.status == "failed" for e in report.exercises), report.to_markdown()
    outside = [e for e in report.cell_errors if e["role"] not in ("solution", "check", "test")]
    assert not outside, f"cells outside the exercises fail in the student copy: {outside}"
    wrong = [e for e in report.cell_errors if not e["error"].startswith(
        ("NotImplementedError", *(("AssertionError",) if e["role"] == "test" else ())))]
    assert not wrong, f"exercise cells fail for another reason than the stub: {wrong}"


def _notebook_class(path):
    """One test class per notebook: pytest-xdist's --dist loadscope then spreads notebooks over workers."""

    def test_solution_copy_earns_full_marks(self, tmp_path):
        _solution_copy_earns_full_marks(path, tmp_path)

    def test_untouched_student_copy_runs_to_the_end_and_earns_zero(self, tmp_path):
        _untouched_student_copy_runs_to_the_end_and_earns_zero(path, tmp_path)

    return type(f"TestAssignment_{path.stem}", (), {
        "test_solution_copy_earns_full_marks": test_solution_copy_earns_full_marks,
        "test_untouched_student_copy_runs_to_the_end_and_earns_zero":
            test_untouched_student_copy_runs_to_the_end_and_earns_zero})


for _path in NOTEBOOKS:
    globals()[f"TestAssignment_{_path.stem}"] = _notebook_class(_path)

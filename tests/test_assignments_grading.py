"""The grader (scripts/grade.py) on a two-exercise fixture: right, partial, wrapped, broken and tampered
submissions each get an honest report within the time limits.

The fixture (tests/fixtures/assignments/90_grading_fixture.ipynb) uses two real checkers: the causal mask
(guarding course_utils.attention.causal_mask) and PPMI (guarding course_utils.vectors.ppmi).
"""

import copy
import csv
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import assignments  # noqa: E402
import grade  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "assignments"
NAME = "90_grading_fixture"
CAUSAL, PPMI = "my_causal_mask", "my_ppmi"
SOLVED_CAUSAL = "def my_causal_mask(T):\n    return torch.tril(torch.ones(T, T)).bool()"
SOLVED_PPMI = """def my_ppmi(counts):
    counts = np.asarray(counts, dtype=float)
    joint = counts / counts.sum()
    outer = joint.sum(1, keepdims=True) @ joint.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(joint / outer)
    return np.where(counts > 0, np.clip(value, 0, None), 0.0)"""
# generous for a loaded 2-core machine: the set-up cell imports torch
CELL_TIMEOUT, TOTAL_TIMEOUT = 40, 240


@pytest.fixture(scope="module")
def copies():
    source = assignments.source_version(nbformat.read(FIXTURES / f"{NAME}.ipynb", as_version=4), NAME)
    return assignments.student_version(source), assignments.solution_version(source)


def _with(notebook, **solutions):
    nb = copy.deepcopy(notebook)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return nb


def _grade(tmp_path, notebook, name=f"{NAME}.ipynb", **options):
    path = tmp_path / "alice" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, str):
        path.write_text(notebook)
    else:
        nbformat.write(notebook, path)
    options = {"cell_timeout": CELL_TIMEOUT, "total_timeout": TOTAL_TIMEOUT, **options}
    start = time.monotonic()
    report = grade.grade_submission(path, notebooks=FIXTURES, **options)
    report.wall = time.monotonic() - start
    return report


def _points(report):
    return {e.grade_id: e.points for e in report.exercises}


def test_solution_gets_full_marks_and_student_copy_zero(tmp_path, copies):
    student, solution = copies
    report = _grade(tmp_path, solution)
    assert (report.points, report.max_points, report.error) == (2, 2, ""), report.to_markdown()
    assert report.student == "alice" and report.assignment == NAME
    assert not report.notices, report.notices
    untouched = _grade(tmp_path, student)
    assert untouched.points == 0 and untouched.max_points == 2 and untouched.error == ""
    assert all(e.status == "failed" and "NotImplementedError" in e.error for e in untouched.exercises)
    markdown = untouched.to_markdown()
    assert "Total: 0 / 2" in markdown and "not attempted yet" in markdown


def test_partial_marks_and_a_wrapper_around_the_reference_scores_zero(tmp_path, copies):
    student, _ = copies
    # the reference bound early, as a default argument: the guard still sees the call
    wrapper = ("import course_utils.vectors as v\n\n"
               "def my_ppmi(counts, _reference=v.ppmi):\n    return _reference(counts).toarray()")
    report = _grade(tmp_path, _with(student, my_causal_mask=SOLVED_CAUSAL, my_ppmi=wrapper))
    assert _points(report) == {CAUSAL: 1, PPMI: 0}, report.to_markdown()
    failed = report.exercises[1]
    assert failed.status == "failed" and "ReferenceUnavailableError" in failed.check_output + failed.error


def test_reference_results_cached_while_the_solution_cell_runs_score_zero(tmp_path, copies):
    student, _ = copies
    cached = ("from course_utils.attention import causal_mask\n"
              "_masks = {T: causal_mask(T) for T in range(1, 12)}\n\n"
              "def my_causal_mask(T):\n    return _masks[T].clone()")
    report = _grade(tmp_path, _with(student, my_causal_mask=cached, my_ppmi=SOLVED_PPMI))
    assert _points(report) == {CAUSAL: 0, PPMI: 1}, report.to_markdown()


def test_deleted_and_reordered_cells_are_restored_and_reported(tmp_path, copies):
    _, solution = copies
    nb = _with(solution)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "my_causal_mask_tests"]
    ppmi = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == PPMI][0]
    nb.cells.insert(1, nb.cells.pop(ppmi))  # the ppmi solution moved before the set-up cell
    report = _grade(tmp_path, nb)
    assert report.points == 2, report.to_markdown()
    text = " ".join(report.notices)
    assert "'my_causal_mask_tests' was deleted" in text and "reordered" in text


def test_an_edited_check_cell_runs_as_written_and_an_endless_loop_is_interrupted(tmp_path, copies):
    student, _ = copies
    loop = "def my_causal_mask(T):\n    while True:\n        pass"
    report = _grade(tmp_path, _with(student, my_causal_mask=loop, my_ppmi_tests="result_ppmi = True"),
                    cell_timeout=25)
    assert report.points == 0 and report.error == "", report.to_markdown()
    text = " ".join(report.notices)
    assert "'my_ppmi_tests' was edited" in text
    assert "ran longer than the per-cell limit of 25 s" in text
    assert report.exercises[0].status == "failed" and "KeyboardInterrupt" in report.exercises[0].error


def test_a_loop_that_swallows_interrupts_hits_the_total_limit(tmp_path, copies):
    student, _ = copies
    stubborn = ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n        pass")
    report = _grade(tmp_path, _with(student, my_causal_mask=stubborn), cell_timeout=20, total_timeout=60)
    assert report.wall < 60 + 30, report.wall
    assert report.points == 0 and "longer than the limit of 60 s" in report.error
    assert all(e.status == "not run" for e in report.exercises)


def test_a_kernel_crash_keeps_earlier_points_and_says_so(tmp_path, copies):
    student, _ = copies
    crash = "import os\nos._exit(1)"
    report = _grade(tmp_path, _with(student, my_causal_mask=SOLVED_CAUSAL, my_ppmi=crash))
    assert _points(report) == {CAUSAL: 1, PPMI: 0}, report.to_markdown()
    assert "kernel died" in report.error and "solution cell my_ppmi" in report.error
    assert report.exercises[1].status == "not run"


def test_redefined_checkers_and_input_transformers_are_undone(tmp_path, copies):
    student, _ = copies
    tamper = ("import course_utils.exercises as E\n"
              "def my_causal_mask(T):\n    return None\n"
              "check_causal_mask = lambda f: E.ExerciseResult('x', True, 'fine')\n"
              "E.check_function = lambda *a, **k: E.ExerciseResult('x', True, 'fine')")
    blank = ("def my_ppmi(counts):\n    return counts\n"
             "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])")
    report = _grade(tmp_path, _with(student, my_causal_mask=tamper, my_ppmi=blank))
    assert report.points == 0, report.to_markdown()
    text = " ".join(report.notices)
    assert "check_causal_mask" in text and "course_utils.exercises.check_function" in text
    assert "did not run as written" in text  # the transformer blanked the grader's own cells too
    assert all(e.status == "failed" for e in report.exercises)


def test_a_patch_made_while_the_student_function_runs_is_undone(tmp_path, copies):
    student, _ = copies
    sneaky = ("def my_ppmi(counts):\n    np.allclose = lambda *a, **k: True\n"
              "    np.array_equal = lambda *a, **k: True\n    return np.zeros_like(np.asarray(counts, float))")
    report = _grade(tmp_path, _with(student, my_causal_mask=SOLVED_CAUSAL, my_ppmi=sneaky))
    assert _points(report) == {CAUSAL: 1, PPMI: 0}, report.to_markdown()
    assert "numpy.allclose (in a call of my_ppmi)" in " ".join(report.notices)


def test_a_patched_shell_is_restored_before_the_tests(tmp_path, copies):
    student, _ = copies
    # a patch that lets the grader's cells through and blanks everything else: undone before the tests
    patch = (SOLVED_CAUSAL + "\n_shell = get_ipython()\n_run = _shell.run_cell\n"
             "_shell.run_cell = lambda raw, *a, **k: _run(raw if '__course_grader__' in raw else 'pass', *a, **k)")
    report = _grade(tmp_path, _with(student, my_causal_mask=patch))
    assert _points(report) == {CAUSAL: 1, PPMI: 0}, report.to_markdown()
    assert "IPython shell.run_cell" in " ".join(report.notices)


def test_malformed_json_gets_a_report_and_a_folder_gets_a_gradebook(tmp_path, copies):
    report = _grade(tmp_path, '{"cells": [ this is not json', cell_timeout=5, total_timeout=5)
    assert report.points == 0 and report.max_points == 2 and report.assignment == NAME
    assert "not a valid notebook" in report.error and report.wall < 5
    odd = _grade(tmp_path, '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [1, "x"]}')
    assert odd.points == 0 and ("not a valid notebook" in odd.error or "cannot be read" in odd.error), odd.error
    folder = tmp_path / "submitted"
    for student, text in (("bob", "{}"), ("carol", "[1, 2")):
        (folder / student).mkdir(parents=True)
        (folder / student / f"{NAME}.ipynb").write_text(text)
    out = tmp_path / "grades"
    assert grade.main([str(folder), "--notebooks", str(FIXTURES), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["student"] for r in rows] == ["bob", "carol"]
    assert set(rows[0]) >= {CAUSAL, PPMI, "total", "max"} and rows[1]["max"] == "2.0"
    assert "not a valid notebook" in rows[1]["problems"]
    assert (out / f"carol__{NAME}.md").read_text().startswith("# Grade report")


def test_gradebook_has_one_column_per_exercise(tmp_path):
    reports = [grade.Report("a.ipynb", "ann", NAME, 1.0, 2.0,
                            [grade.ExerciseGrade(CAUSAL, "t1", 1.0, 1.0, "passed"),
                             grade.ExerciseGrade(PPMI, "t2", 1.0, 0.0, "failed")])]
    path = tmp_path / "book.csv"
    grade.write_gradebook(reports, path)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["student", "assignment", CAUSAL, PPMI, "total", "max", "problems"]
    assert rows[1][:6] == ["ann", NAME, "1.0", "0.0", "1.0", "2.0"]

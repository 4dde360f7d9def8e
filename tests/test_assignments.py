"""The assignment builder (scripts/assignments.py) and the properties every notebook's exercises need.

The per-notebook tests enumerate notebooks/, so a new notebook is checked without editing this file:
- every exercise has a grade id, points, a locked graded check cell with hidden tests, and checkers that
  declare the course_utils reference they guard (course_utils.exercises.guards);
- the student copy's set-up (every cell outside the exercises) does not import an exercise's reference;
- hints (the checkers' strings and the notebook's own text) do not contain a line of the solution;
- answers (check-your-understanding <details>) reach the solutions only.
"""

import ast
import inspect
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import assignments  # noqa: E402
import make_student_notebooks  # noqa: E402

from course_utils import exercises as exercise_machinery  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob(assignments.NOTEBOOK_PATTERN))
FIXTURE = ROOT / "tests" / "fixtures" / "assignments" / "90_grading_fixture.ipynb"


def _ids(paths):
    return [p.name for p in paths]


def _source(path):
    return assignments.source_version(nbformat.read(path, as_version=4), path.stem)


def _exercises(notebook):
    return notebook.metadata[assignments.METADATA_KEY]["exercises"]


# --- the builder on the fixture --------------------------------------------------------------------


def test_source_version_derives_nbgrader_metadata_from_markers_and_cell_order():
    source = _source(FIXTURE)
    found = _exercises(source)
    assert [e["grade_id"] for e in found] == ["my_causal_mask", "my_ppmi"]
    assert [e["references"] for e in found] == [["course_utils.attention.causal_mask"], ["course_utils.vectors.ppmi"]]
    assert [e["student_names"] for e in found] == [["my_causal_mask"], ["my_ppmi"]]
    for exercise in found:
        solution = source.cells[exercise["solution_cells"][0]].metadata["nbgrader"]
        assert solution["solution"] and not solution["grade"] and not solution["locked"]
        test = source.cells[exercise["test_cell"]]
        assert test.metadata["nbgrader"] == {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                             "grade_id": exercise["test_id"], "points": 1.0}
        hidden = test.source.split(assignments.BEGIN_HIDDEN, 1)[1]
        assert f"assert {exercise['result_names'][0]}" in hidden  # a failed check loses the points
    results = source.cells[-1].source
    assert results.count(assignments.BEGIN_HIDDEN) == 2  # the print and the assert use the exercises
    answers = [c for c in source.cells if c.cell_type == "markdown" and assignments.MD_BEGIN in c.source]
    assert len(answers) == 1 and answers[0].metadata["nbgrader"]["points"] == 0


def test_student_copy_from_nbgrader_preprocessors_matches_generate_assignment(tmp_path, monkeypatch):
    pytest.importorskip("nbgrader", reason="nbgrader needs Python >= 3.11")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(nbformat.read(FIXTURE, as_version=4), notebooks / FIXTURE.name)
    monkeypatch.chdir(tmp_path)  # relative folders, as `make assignments` passes them
    assert assignments.main(["--notebooks", "notebooks", "--out", "build"]) == 0
    released = nbformat.read(tmp_path / "build" / "student" / FIXTURE.name, as_version=4)
    direct = assignments.student_version(_source(FIXTURE))
    assert [c.source for c in released.cells] == [c.source for c in direct.cells]
    assert [c.metadata.get("nbgrader") for c in released.cells] == [c.metadata.get("nbgrader") for c in direct.cells]
    solutions = nbformat.read(tmp_path / "build" / "solutions" / FIXTURE.name, as_version=4)
    assert "torch.ones(T, T, dtype=torch.bool).tril()" in solutions.cells[3].source
    assert (tmp_path / "build" / "course" / "source" / FIXTURE.stem / FIXTURE.name).exists()
    student_text = "\n".join(c.source for c in released.cells)
    for gone in ("tril()", "BEGIN", "HIDDEN", "Query t may read keys", "int(my_causal_mask(5).sum())"):
        assert gone not in student_text, gone
    assert student_text.count("raise NotImplementedError()") == 2 and "YOUR ANSWER HERE" in student_text


@pytest.mark.parametrize("path", [FIXTURE, *NOTEBOOKS], ids=_ids([FIXTURE, *NOTEBOOKS]))
def test_student_copy_without_nbgrader_has_the_same_text(path):
    source = _source(path)
    with_nbgrader = assignments.student_version(source)
    without = assignments.student_version_without_nbgrader(source)
    assert [c.source.rstrip() for c in without.cells] == [c.source.rstrip() for c in with_nbgrader.cells]


def test_builder_errors_name_the_problem(tmp_path):
    notebook = nbformat.read(FIXTURE, as_version=4)
    unchecked = nbformat.from_dict(notebook)
    unchecked.cells = unchecked.cells[:4]  # the first exercise without its check cell
    with pytest.raises(ValueError, match="has no check cell"):
        assignments.source_version(unchecked)
    unbalanced = nbformat.from_dict(notebook)
    unbalanced.cells[3].source = unbalanced.cells[3].source.replace(assignments.END, "")
    with pytest.raises(ValueError, match="never closed"):
        assignments.source_version(unbalanced)
    assert assignments.main(["--notebooks", str(tmp_path), "--out", str(tmp_path / "b")]) == 1


def test_make_student_notebooks_is_the_same_student_copy():
    notebook = nbformat.read(FIXTURE, as_version=4)
    via_script = make_student_notebooks.student_version(notebook)
    assert [c.source for c in via_script.cells] == [c.source for c in assignments.student_version(_source(FIXTURE)).cells]


def test_stubbed_student_copy_executes_the_stub():
    code = assignments.student_version(_source(FIXTURE)).cells[3].source
    namespace = {}
    exec(code, namespace)
    with pytest.raises(NotImplementedError):
        namespace["my_causal_mask"](3)


# --- properties of every notebook ------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_every_exercise_has_an_id_points_a_locked_check_and_hidden_tests(path):
    source = _source(path)
    found = _exercises(source)
    assert len(found) >= 2
    ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    student = assignments.student_version(source)
    for exercise in found:
        test = source.cells[exercise["test_cell"]]
        assert test.metadata["nbgrader"]["grade"] and test.metadata["nbgrader"]["locked"]
        assert exercise["points"] > 0 and assignments.BEGIN_HIDDEN in test.source
        assert exercise["checkers"], f"{exercise['grade_id']}: its check cells call no checker"
        for index in exercise["solution_cells"]:
            assert "raise NotImplementedError()" in student.cells[index].source
        for index in exercise["check_cells"]:
            assert student.cells[index].metadata["nbgrader"]["locked"]
            assert "### BEGIN" not in student.cells[index].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_every_exercise_checker_declares_the_reference_it_guards(path):
    registry = exercise_machinery.checker_registry()
    for exercise in _exercises(_source(path)):
        known = [name for name in exercise["checkers"] if name in registry]
        assert known, f"{exercise['grade_id']}: no course_utils.exercises checker among {exercise['checkers']}"
        undeclared = [name for name in known if registry[name] is None]
        assert not undeclared, f"{exercise['grade_id']}: add @guards(<reference>) to {undeclared}"
        for reference in exercise["references"]:
            exercise_machinery.resolve_reference(reference)


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield f"{node.module}.{alias.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_student_copy_does_not_import_the_functions_the_exercises_ask_for(path):
    source = _source(path)
    student = assignments.student_version(source)
    # functions only: a guarded class (word2vec.CBOW) is often what the rest of the notebook trains, and the
    # guard keeps its methods out of the student's reach anyway
    references = {r: e["grade_id"] for e in _exercises(source) for r in e["references"]
                  if not isinstance(exercise_machinery.resolve_reference(r), type)}
    exercise_cells = {i for e in _exercises(source) for i in e["solution_cells"]}
    offenders = []
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code" or index in exercise_cells:
            continue
        tree = ast.parse(assignments.code_without_magics(cell.source))
        offenders += [f"cell {index} imports {name} ({references[name]})" for name in _imported_names(tree)
                      if name in references]
    assert not offenders, "; ".join(offenders)


def _normalised(text):
    return re.sub(r"\s+", "", text)


def _solution_lines(source, exercise):
    lines = []
    for index in exercise["solution_cells"]:
        inside = False
        for line in source.cells[index].source.splitlines():
            if line.strip() in (assignments.BEGIN, assignments.END):
                inside = line.strip() == assignments.BEGIN
                continue
            code = _normalised(line.split("#")[0])
            code = re.sub(r"^(return|.*?[^=!<>]=(?!=))", "", code)  # the expression, not its target
            if inside and len(code) >= 20:  # shorter fragments ("[synset.name()]") are fair hints
                lines.append(code)
    return lines


def _hint_texts(exercise, notebook, previous_end):
    registry = exercise_machinery.checker_registry()
    texts = [c.source for c in notebook.cells[previous_end:exercise["solution_cells"][0]] if c.cell_type == "markdown"]
    for name in exercise["checkers"]:
        if registry.get(name) is None:
            continue
        for module_name in [m for m in sys.modules if m.startswith("course_utils.exercises.")]:
            module = sys.modules[module_name]
            checker = getattr(module, name, None)
            if checker is None:
                continue
            tree = ast.parse(inspect.getsource(module))
            function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
            used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
            texts += [n.value for n in ast.walk(function) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            texts += [n.value.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                      and isinstance(n.value.value, str) and any(t.id in used for t in n.targets if isinstance(t, ast.Name))]
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_hints_do_not_print_the_solution_code(path):
    source = _source(path)
    # code the student copy shows anyway (outside the exercises) is no secret of the solution
    shown = _normalised("\n".join(c.source for c in assignments.student_version(source).cells if c.cell_type == "code"))
    leaks, previous_end = [], 0
    for exercise in _exercises(source):
        hints = [_normalised(text) for text in _hint_texts(exercise, source, previous_end)]
        previous_end = exercise["test_cell"] + 1
        for line in _solution_lines(source, exercise):
            if line not in shown and any(line in hint for hint in hints):
                leaks.append(f"{exercise['grade_id']}: a hint contains the solution's {line!r}")
    assert not leaks, "; ".join(leaks)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_answers_reach_the_solutions_only(path):
    notebook = nbformat.read(path, as_version=4)
    source = assignments.source_version(notebook, path.stem)
    student = assignments.student_version(source)
    solution = assignments.solution_version(source)
    original = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    student_text = "\n".join(c.source for c in student.cells)
    for block in re.findall(r"<details>.*?</details>", student_text.split("## Check your understanding", 1)[-1], re.DOTALL):
        inside = re.sub(r"</?details>|<summary>.*?</summary>", "", block, flags=re.DOTALL).strip()
        assert inside in ("", assignments.TEXT_STUB), f"an answer is left in the student copy: {block[:200]!r}"
    for match in re.finditer(r"<details>.*?</details>", original, re.DOTALL):
        if re.search(r"answer|solution", match.group(0)[:200], re.IGNORECASE):
            assert match.group(0) not in student_text
            assert match.group(0) in "\n".join(c.source for c in solution.cells)

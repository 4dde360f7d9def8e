"""Build nbgrader assignments from the course notebooks: student copies, solutions and the source layout.

Usage: ``python scripts/assignments.py [--notebooks notebooks] [--out build]``

Nothing in a notebook has to be written for nbgrader by hand. From the markers the notebooks already use
and from the order of their cells, :func:`source_version` derives nbgrader's cell metadata:

- an *exercise* is a code cell with ``### BEGIN SOLUTION`` (consecutive ones form one exercise) and the
  code cells after it up to the next exercise or level-2 heading: its checks. The solution cells keep
  their ``grade_id`` (or get one from the function they define); the check cells are locked, and the last
  one is the graded test cell (its ``points``, or 1) with hidden tests appended that assert every check
  result the exercise's cells keep (``result_x = check_x(...)``), so a failed check loses the points;
- top-level statements of later cells that use an exercise's function or result (e.g. the results
  cell's ``assert result_x``) become hidden tests, so a student copy runs to the end;
- ``<details>`` blocks whose summary says "answer" or "solution", and every ``<details>`` block of the
  "Check your understanding" section, become solution regions of a markdown answer cell (0 points: a
  self-check that an instructor may grade by hand in nbgrader's formgrader);
- the notebook's metadata gets ``course_assignment``: its name and, per exercise, the grade ids, points,
  the student's function names and the ``course_utils`` references its checkers guard (declared with
  ``course_utils.exercises.guards``), which the grader (``scripts/grade.py``) makes unavailable.

:func:`build` lays the sources out as nbgrader expects (``build/course/source/NN_x/NN_x.ipynb``), runs
``nbgrader generate_assignment NN_x --no-db --force`` for each, and copies the release to
``build/student/NN_x.ipynb`` and the source, outputs cleared, to ``build/solutions/NN_x.ipynb``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MD_BEGIN, MD_END = "=== BEGIN SOLUTION ===", "=== END SOLUTION ==="
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
METADATA_KEY = "course_assignment"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
_DETAILS = re.compile(r"<details>\s*(?:<summary>(?P<summary>.*?)</summary>)?.*?</details>", re.DOTALL | re.IGNORECASE)
_ANSWER_SUMMARY = re.compile(r"answer|solution", re.IGNORECASE)


@dataclass
class Exercise:
    """One exercise of a notebook, found from its markers and the order of its cells."""

    grade_id: str
    solution_cells: list[int]
    check_cells: list[int] = field(default_factory=list)
    test_cell: int = -1  # the graded cell: the last check cell
    test_id: str = ""
    points: float = 1.0
    student_names: list[str] = field(default_factory=list)
    result_names: list[str] = field(default_factory=list)
    checkers: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    undeclared_checkers: list[str] = field(default_factory=list)

    @property
    def cells(self) -> list[int]:
        return [*self.solution_cells, *self.check_cells]


def replace_blocks(source: str, begin: str, end: str, replacement: str | None) -> str:
    """``source`` with every block from a ``begin`` line to an ``end`` line replaced by ``replacement``
    (at the block's indentation; ``None`` removes it). Unbalanced markers raise ValueError."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"nested {begin!r} at line {number}")
            inside = True
            if replacement is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(indent + replacement)
            continue
        if stripped == end:
            if not inside:
                raise ValueError(f"{end!r} without {begin!r} at line {number}")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} is never closed by {end!r}")
    return "\n".join(out)


def code_without_magics(source: str) -> str:
    """Cell source that ``ast`` can parse: IPython magics and shell lines become ``pass`` (same line count)."""
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _parse(source: str, where: str) -> ast.Module:
    try:
        return ast.parse(code_without_magics(source))
    except SyntaxError as error:
        raise ValueError(f"{where}: cannot parse the code ({error})") from None


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and (BEGIN in cell.source or cell.metadata.get("nbgrader", {}).get("solution", False))


def _defined_names(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _checker_calls(tree: ast.Module) -> tuple[list[str], list[str]]:
    """Names of the checkers a check cell calls, and the names their results are kept in."""
    checkers, results = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (name := _called_name(node)) and name.startswith("check"):
            checkers.append(name)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            name = _called_name(node.value)
            if name and name.startswith("check"):
                results += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return checkers, results


def _is_level2_heading(cell) -> bool:
    return cell.cell_type == "markdown" and any(re.match(r"##\s", line) for line in cell.source.splitlines())


def find_exercises(notebook: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of ``notebook`` in order (see the module docstring for the rules)."""
    from course_utils.exercises import checker_registry

    registry = checker_registry()
    exercises: list[Exercise] = []
    current: Exercise | None = None
    for index, cell in enumerate(notebook.cells):
        if _is_level2_heading(cell):
            current = None
        elif _is_solution(cell):
            if current is not None and not current.check_cells:
                current.solution_cells.append(index)
            else:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
                current = Exercise(grade_id=grade_id, solution_cells=[index])
                exercises.append(current)
        elif cell.cell_type == "code" and current is not None:
            current.check_cells.append(index)
    taken: set[str] = {c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                       if c.metadata.get("nbgrader", {}).get("grade_id")}
    for exercise in exercises:
        first = exercise.solution_cells[0]
        for index in exercise.solution_cells:
            replace_blocks(notebook.cells[index].source, BEGIN, END, "")  # balanced markers or ValueError
            exercise.student_names += _defined_names(_parse(notebook.cells[index].source, f"cell {index}"))
        if not exercise.grade_id:
            base = re.sub(r"\W+", "_", (exercise.student_names or [f"exercise_cell_{first}"])[0]).strip("_")
            exercise.grade_id = _unique(base, taken)
        graded = []
        for index in exercise.check_cells:
            cell = notebook.cells[index]
            checkers, results = _checker_calls(_parse(cell.source, f"cell {index}"))
            exercise.checkers += checkers
            exercise.result_names += results
            meta = cell.metadata.get("nbgrader", {})
            if checkers or BEGIN_HIDDEN in cell.source or meta.get("grade"):
                graded.append(index)
        if not graded:
            raise ValueError(f"exercise {exercise.grade_id!r} (cell {first}) has no check cell after it "
                             "(a code cell calling a course_utils.exercises checker)")
        exercise.check_cells = [i for i in exercise.check_cells if i <= graded[-1]]
        exercise.test_cell = graded[-1]
        test_meta = notebook.cells[exercise.test_cell].metadata.get("nbgrader", {})
        exercise.test_id = test_meta.get("grade_id") if test_meta.get("grade") else _unique(f"{exercise.grade_id}_tests", taken)
        points = [notebook.cells[i].metadata.get("nbgrader", {}).get("points") for i in exercise.check_cells
                  if notebook.cells[i].metadata.get("nbgrader", {}).get("grade")]
        exercise.points = float(sum(p for p in points if p)) or 1.0
        for name in dict.fromkeys(exercise.checkers):
            if name not in registry:
                continue  # a helper such as check_close, or a checker outside course_utils
            if registry[name] is None:
                exercise.undeclared_checkers.append(name)
            else:
                exercise.references += [r for r in registry[name] if r not in exercise.references]
    return exercises


def _unique(base: str, taken: set[str]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def _add_hidden(source: str, lines: list[str]) -> str:
    """Append hidden-test lines to a cell: inside its last hidden block if it has one, else in a new block."""
    if not lines:
        return source
    if BEGIN_HIDDEN in source:
        head, _, tail = source.rpartition(END_HIDDEN)
        return head.rstrip("\n") + "\n" + "\n".join(lines) + "\n" + END_HIDDEN + tail
    return source.rstrip("\n") + "\n" + "\n".join([BEGIN_HIDDEN, *lines, END_HIDDEN])


def _hide_statements_using(source: str, names: set[str], where: str) -> str:
    """Wrap the top-level statements of ``source`` that use any of ``names`` in hidden-test markers.
    The names a hidden statement assigns are added to ``names`` (later uses depend on it too)."""
    tree = _parse(source, where)
    lines = source.splitlines()
    spans = []
    for node in tree.body:
        if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node)):
            spans.append((node.lineno, node.end_lineno))
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for start, end in reversed(spans):
        lines[end:end] = [END_HIDDEN]
        lines[start - 1:start - 1] = [BEGIN_HIDDEN]
    return "\n".join(lines)


def _wrap_answers(source: str, in_check_section: bool) -> str:
    def wrap(match: re.Match) -> str:
        summary = match.group("summary") or ""
        if MD_BEGIN in match.group(0):
            return match.group(0)  # the notebook marks its answer itself
        if in_check_section or _ANSWER_SUMMARY.search(summary):
            return f"\n{MD_BEGIN}\n{match.group(0)}\n{MD_END}\n"
        return match.group(0)

    return _DETAILS.sub(wrap, source)


def _meta(**values) -> dict:
    return {"schema_version": 3, "grade": False, "solution": False, "locked": False, **values}


def source_version(notebook: nbformat.NotebookNode, name: str = "") -> nbformat.NotebookNode:
    """The instructor's version of ``notebook`` with nbgrader metadata derived from its markers and cell
    order (module docstring), hidden tests for every exercise and answers marked as solutions."""
    nb = copy.deepcopy(nbformat.from_dict(notebook))
    exercises = find_exercises(nb)
    taken = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")}
    taken |= {e.grade_id for e in exercises} | {e.test_id for e in exercises}
    exercise_cells = {i for e in exercises for i in e.cells}
    for exercise in exercises:
        for number, index in enumerate(exercise.solution_cells):
            cell = nb.cells[index]
            grade_id = exercise.grade_id if number == 0 else cell.metadata.get("nbgrader", {}).get("grade_id") \
                or _unique(f"{exercise.grade_id}_part{number + 1}", taken)
            cell.metadata["nbgrader"] = _meta(solution=True, grade_id=grade_id)
        for number, index in enumerate(exercise.check_cells):
            cell = nb.cells[index]
            if index == exercise.test_cell:
                asserts = [f"assert {r}, {f'the check kept in {r} did not pass'!r}" for r in dict.fromkeys(exercise.result_names)]
                cell.source = _add_hidden(cell.source, asserts)
                cell.metadata["nbgrader"] = _meta(grade=True, locked=True, grade_id=exercise.test_id, points=exercise.points)
            else:
                old = cell.metadata.get("nbgrader", {})
                cell.metadata["nbgrader"] = _meta(locked=True, grade_id=old.get("grade_id") if old.get("grade_id") and not old.get("grade")
                                                  else _unique(f"{exercise.grade_id}_check{number + 1}", taken))
    exercise_names = {n for e in exercises for n in [*e.student_names, *e.result_names]}
    first_exercise = min(exercise_cells, default=len(nb.cells))
    in_check_section = False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            if _is_level2_heading(cell):
                in_check_section = any(re.match(r"##\s+check your understanding", line.strip(), re.IGNORECASE)
                                       for line in cell.source.splitlines())
            source = _wrap_answers(cell.source, in_check_section)
            if MD_BEGIN in source:
                replace_blocks(source, MD_BEGIN, MD_END, "")  # balanced or ValueError
                cell.source = source.strip("\n")
                cell.metadata["nbgrader"] = _meta(solution=True, grade=True, points=0,
                                                  grade_id=_unique(f"answers_cell{index}", taken))
        elif cell.cell_type == "code" and index > first_exercise and index not in exercise_cells:
            cell.source = _hide_statements_using(cell.source, exercise_names, f"cell {index}")
    nb.metadata[METADATA_KEY] = {
        "name": name,
        "exercises": [{k: v for k, v in asdict(e).items() if k not in ("undeclared_checkers",)} for e in exercises],
    }
    return nb


def _preprocessors():
    from nbgrader.preprocessors import (
        ClearHiddenTests,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    return [LockCells(), ClearSolutions(code_stub={"python": CODE_STUB}, text_stub=TEXT_STUB, enforce_metadata=False),
            ClearOutput(), ClearHiddenTests(enforce_metadata=False), ComputeChecksums()]


def student_version(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student copy of a :func:`source_version`, made with nbgrader's own preprocessors (the ones
    ``nbgrader generate_assignment`` applies): graded cells locked, solutions replaced by stubs, hidden
    tests and outputs removed, checksums recorded. Without nbgrader (Python 3.10) the same text comes
    from :func:`student_version_without_nbgrader`, minus nbgrader's checksums."""
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        return student_version_without_nbgrader(source)
    nb = copy.deepcopy(source)
    resources: dict = {}
    for preprocessor in _preprocessors():
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def student_version_without_nbgrader(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student copy's text without nbgrader: solution regions become the stub, hidden tests go,
    outputs are cleared (a test checks it equals nbgrader's)."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = replace_blocks(cell.source, BEGIN, END, "\0").split("\n")
            stubbed = []
            for line in lines:
                indent = line[: len(line) - len(line.lstrip())]
                stubbed += [indent + s for s in CODE_STUB.split("\n")] if line.strip() == "\0" else [line]
            cell.source = replace_blocks("\n".join(stubbed), BEGIN_HIDDEN, END_HIDDEN, None)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown" and MD_BEGIN in cell.source:
            cell.source = replace_blocks(cell.source, MD_BEGIN, MD_END, TEXT_STUB)
    return nb


def solution_version(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solutions: the source version (solutions, hidden tests, answers) with outputs cleared."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


NBGRADER_CONFIG = f'''# Written by scripts/assignments.py: how the course's notebooks become nbgrader assignments.
c = get_config()  # noqa: F821 - provided by nbgrader
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
c.ClearSolutions.text_stub = {TEXT_STUB!r}
# later cells that use an exercise hide those statements, outside graded cells
c.ClearSolutions.enforce_metadata = False
c.ClearHiddenTests.enforce_metadata = False
# the course's notebooks train small models: far more than the 30 s default per cell
c.Execute.timeout = 600
'''


def run_generate_assignment(course: Path, name: str) -> None:
    """``nbgrader generate_assignment NAME --no-db --force`` on the course folder (nbgrader's own layout)."""
    course = course.resolve()
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", name, f"--CourseDirectory.root={course}",
               "--no-db", "--force", "--log-level=WARN"]
    done = subprocess.run(command, cwd=course, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{done.stdout}\n{done.stderr}")


def build(notebooks: Path, out: Path, *, use_nbgrader_cli: bool = True) -> list[str]:
    """Build every ``NN_*.ipynb`` of ``notebooks`` into ``out`` (course/, student/, solutions/)."""
    paths = sorted(notebooks.glob(NOTEBOOK_PATTERN))
    if not paths:
        raise FileNotFoundError(f"no notebooks (NN_topic.ipynb) in {notebooks}")
    course, student_dir, solution_dir = out / "course", out / "student", out / "solutions"
    for folder in (student_dir, solution_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
    if use_nbgrader_cli and importlib.util.find_spec("nbgrader") is None:
        print("nbgrader is not installed (it needs Python >= 3.11): student copies made without it", file=sys.stderr)
        use_nbgrader_cli = False
    names = []
    for path in paths:
        name = path.stem
        source = source_version(nbformat.read(path, as_version=4), name)
        source_path = course / "source" / name / path.name
        source_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source, source_path)
        if use_nbgrader_cli:
            run_generate_assignment(course, name)
            shutil.copy(course / "release" / name / path.name, student_dir / path.name)
        else:
            nbformat.write(student_version(source), student_dir / path.name)
        nbformat.write(solution_version(source), solution_dir / path.name)
        names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="folder of NN_topic.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="where course/, student/, solutions/ go")
    parser.add_argument("--no-nbgrader-cli", action="store_true",
                        help="apply nbgrader's preprocessors in-process instead of running generate_assignment")
    args = parser.parse_args(argv)
    try:
        names = build(args.notebooks, args.out, use_nbgrader_cli=not args.no_nbgrader_cli)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name in names:
        print(f"{name}: {args.out / 'student' / name}.ipynb, {args.out / 'solutions' / name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())

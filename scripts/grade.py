"""Grade submitted notebooks: a fresh kernel per submission, time limits, visible and hidden tests, reports.

Usage: ``python scripts/grade.py SUBMISSION [--out build/grades] [--cell-timeout 300] [--total-timeout 900]``

SUBMISSION is one ``.ipynb`` or a folder searched recursively (e.g. nbgrader's ``submitted/`` tree); a
folder also gets ``gradebook.csv`` (one row per submission, one column per exercise). Every submission
gets ``<student>__<assignment>.json`` and ``.md``: points per exercise, the total, the error text of
failed checks, and notices about anything unusual in the submission.

How a submission is graded (``make grade SUBMISSION=...`` runs this offline through scripts/offline.py):

1. The notebook must be valid notebook JSON; its assignment comes from the metadata the builder wrote
   (``course_assignment.name``) or from its file name (``NN_topic.ipynb``).
2. The notebook that is run is rebuilt from the course's own files (``scripts/assignments.py``): the
   cells of the student copy, the graded cells with their hidden tests, and from the submission only the
   student's *solution cells* (matched by nbgrader ``grade_id``). So
   deleted, reordered or edited check cells, and cells the student added, change nothing: the tests run
   as written, in the course's order, and the report names each such change.
3. While a solution cell runs, and whenever the student's functions are called afterwards (by the
   checks or the hidden tests), the ``course_utils`` references its checkers declare are unavailable
   (``course_utils.exercises.references_unavailable``): a wrapper around them scores zero.
4. Before each graded cell the checkers, ``builtins``, ``numpy`` and ``torch`` are restored to what they
   were before any student code ran, as are IPython's input transformers; a redefinition is reported.
5. A graded cell earns its points only if it ran to the end without an error and printed a random
   token appended to it by the grader (so a cell that was skipped or rewritten on the fly earns nothing).
6. Each cell has a time limit (interrupted when reached), the whole run another; a kernel that dies or
   a run that overstays ends the grading there, with a report: what ran before keeps its points.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignments  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CELL_TIMEOUT = 300
DEFAULT_TOTAL_TIMEOUT = 900
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
GRADER_MODULE = "__course_grader__"

# Runs in the kernel before the notebook's first cell: the guard, the snapshot and the restore step.
_PRELUDE = r'''
def _install_course_grader(nonce, shell):
    import builtins, functools, importlib, json, sys, types
    import course_utils.exercises as exercises
    g = types.ModuleType("__course_grader__")
    registry = exercises.checker_registry()
    checker_modules = [m for n, m in sorted(sys.modules.items()) if n.startswith("course_utils.exercises")]
    checkers = {name: value for module in checker_modules for name, value in vars(module).items()
                if name in registry or name in exercises.__all__}
    # what the checks compare with: a submission that replaces any of it is undone (libraries patch other
    # attributes of numpy and torch themselves, e.g. torch._dynamo wraps torch.manual_seed)
    watched = {"numpy": ("allclose", "array_equal", "array_equiv", "isclose", "isfinite", "isnan", "asarray",
                         "array", "nanmax", "abs", "all", "any", "testing", "ndarray"),
               "torch": ("allclose", "equal", "isclose", "isfinite", "isnan", "as_tensor", "tensor", "testing",
                         "autograd", "Tensor", "softmax", "log_softmax", "no_grad")}
    modules = [builtins, *checker_modules]
    for name in watched:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            pass
    snapshot = {m.__name__: {k: v for k, v in vars(m).items() if k in watched.get(m.__name__, (k,))}
                for m in modules}
    streams = {"stdout": sys.stdout, "stderr": sys.stderr}
    transformers = {n: list(getattr(shell, n)) for n in ("input_transformers_cleanup", "input_transformers_post",
                                                         "ast_transformers")}
    shell_methods = ("run_cell", "run_cell_async", "transform_cell", "run_ast_nodes", "run_code", "should_run_async")
    own_methods = {name: shell.__dict__.get(name) for name in shell_methods}
    class_methods = {name: getattr(type(shell), name, None) for name in shell_methods}
    say_print, state = builtins.print, {"guard": None}
    per_request = {"input", "raw_input", "getpass"}

    def say(kind, payload):
        say_print(nonce, kind, json.dumps(payload), file=streams["stdout"], flush=True)

    def enter(references):
        state["guard"] = exercises.references_unavailable(references)
        state["guard"].__enter__()
        say("ack", "enter")

    def leave(namespace, names, references):
        if state["guard"] is not None:
            state["guard"].__exit__(None, None, None)
            state["guard"] = None
        for name in names:
            if name in namespace and callable(namespace[name]) and not isinstance(namespace[name], type):
                namespace[name] = undone_after_each_call(exercises.as_student(namespace[name], references), name)
        say("ack", "leave")

    def undone_after_each_call(function, name):
        @functools.wraps(function)
        def student(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            finally:
                changed = undo_module_changes()
                if changed:
                    say("restored", [f"{c} (in a call of {name})" for c in changed])
        return student

    def undo_module_changes():
        changed = []
        for module in modules:
            saved, current = snapshot[module.__name__], vars(module)
            for key, value in saved.items():
                if key in per_request or (key.startswith("_") and key != "__import__"):
                    continue  # the kernel itself sets these for every cell
                if current.get(key, saved) is not value:
                    changed.append(f"{module.__name__}.{key}")
                    setattr(module, key, value)
        return changed

    def restore(namespace, names):
        changed = undo_module_changes()
        for key, value in streams.items():
            if getattr(sys, key) is not value:
                changed.append(f"sys.{key}")
                setattr(sys, key, value)
        for name, checker in checkers.items():
            if name in namespace and namespace[name] is not checker:
                changed.append(name)
                namespace[name] = checker
        for name in names:
            if name in checkers and name not in namespace:
                namespace[name] = checkers[name]
        for attribute, saved in transformers.items():
            if list(getattr(shell, attribute)) != saved:
                changed.append(f"IPython {attribute}")
                getattr(shell, attribute)[:] = saved
        for name in shell_methods:
            if shell.__dict__.get(name) is not own_methods[name]:
                changed.append(f"IPython shell.{name}")
                if own_methods[name] is None:
                    del shell.__dict__[name]
                else:
                    shell.__dict__[name] = own_methods[name]
            if getattr(type(shell), name, None) is not class_methods[name]:
                changed.append(f"IPython {type(shell).__name__}.{name}")
                setattr(type(shell), name, class_methods[name])
        if changed:
            say("restored", sorted(set(changed)))
        say("ack", "restore")

    def passed(test_id):
        say("passed", test_id)

    g.enter, g.leave, g.restore, g.passed = enter, leave, restore, passed
    sys.modules["__course_grader__"] = g


_install_course_grader(NONCE, get_ipython())
del _install_course_grader
'''


@dataclass
class ExerciseGrade:
    """The grade of one exercise: its graded cell's points if that cell ran as written without error."""

    grade_id: str
    test_id: str
    max_points: float
    points: float = 0.0
    status: str = "not run"  # passed | failed | not run
    error: str = ""
    check_output: str = ""


@dataclass
class Report:
    """Everything the grader found for one submission."""

    submission: str
    student: str
    assignment: str = ""
    points: float = 0.0
    max_points: float = 0.0
    exercises: list[ExerciseGrade] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str = ""  # why the submission could not be graded (fully), if it could not
    cell_errors: list[dict] = field(default_factory=list)  # {"role", "cell", "error"} for every failed cell
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def to_markdown(self) -> str:
        lines = [f"# Grade report: {self.assignment or 'unknown assignment'} — {self.student}", "",
                 f"Submission: `{self.submission}`  ", f"**Total: {self.points:g} / {self.max_points:g}**", ""]
        if self.error:
            lines += [f"**Grading stopped:** {self.error}", ""]
        if self.exercises:
            lines += ["| exercise | points | status |", "| --- | --- | --- |"]
            lines += [f"| {e.grade_id} | {e.points:g} / {e.max_points:g} | {e.status} |" for e in self.exercises]
            lines.append("")
        for e in self.exercises:
            if e.status != "passed" and (e.error or e.check_output):
                lines += [f"## {e.grade_id}", ""]
                if e.check_output:
                    lines += ["```", e.check_output.strip(), "```"]
                if e.error:
                    lines += ["```", e.error.strip(), "```"]
                lines.append("")
        others = [e for e in self.cell_errors if e["role"] != "test"]
        if others:
            lines += ["## Other cells that failed", ""]
            lines += [f"- {e['role']} cell {e['cell']}: `{e['error']}`" for e in others] + [""]
        if self.notices:
            lines += ["## Notices", ""] + [f"- {n}" for n in self.notices] + [""]
        lines.append(f"Graded in {self.seconds:.1f} s.")
        return "\n".join(lines) + "\n"


def _student_id(path: Path, assignment: str) -> str:
    for part in [path.stem, *[p.name for p in path.parents]]:
        if part and part not in (assignment, "submitted", "autograded") and not part.startswith(assignment):
            return part
    return path.stem


def _assignment_name(notebook, path: Path, notebooks: Path, override: str = "") -> str:
    names = {p.stem for p in notebooks.glob(assignments.NOTEBOOK_PATTERN)}
    candidates = [override, (notebook or {}).get("metadata", {}).get(assignments.METADATA_KEY, {}).get("name", ""),
                  path.stem, *[p.name for p in path.parents]]
    for candidate in candidates:
        if candidate in names:
            return candidate
    for candidate in candidates[2:]:
        match = re.match(r"(\d\d)_", candidate or "")
        if match:
            found = [n for n in names if n.startswith(match.group(0))]
            if len(found) == 1:
                return found[0]
    return ""


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def _error_text(outputs) -> str:
    for output in outputs:
        if output.get("output_type") == "error":
            traceback = _plain("\n".join(output.get("traceback", [])))
            tail = "\n".join(traceback.strip().splitlines()[-12:])
            return f"{output.get('ename')}: {_plain(str(output.get('evalue')))}\n{tail}".strip()
    return ""


def _stdout(outputs) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def grading_notebook(source, submission, nonce: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook the kernel runs: the course's source with the student's solution cells and the
    grader's own cells in between, and the notices about how the submission differs from the release."""
    release = assignments.student_version(source)
    info = source.metadata[assignments.METADATA_KEY]["exercises"]
    notices: list[str] = []
    submitted: dict[str, nbformat.NotebookNode] = {}
    order = []
    for cell in submission.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            if grade_id in submitted:
                notices.append(f"cell {grade_id!r} appears twice; the first one was used")
                continue
            submitted[grade_id] = cell
            order.append(grade_id)
    release_ids = [c.metadata["nbgrader"]["grade_id"] for c in release.cells if "nbgrader" in c.metadata]
    kept = [g for g in order if g in release_ids]
    if kept != [g for g in release_ids if g in kept]:
        notices.append("cells were reordered; the notebook was run in the course's order")
    added = sum(1 for c in submission.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
    release_plain = sum(1 for c in release.cells if "nbgrader" not in c.metadata)
    if added != release_plain:
        notices.append(f"the submission has {added} cells without a grade id where the release has {release_plain}; "
                       "only solution cells are taken from a submission (put helper code in a solution cell)")
    solution_cells = {i: e for e in info for i in e["solution_cells"]}
    test_cells = {e["test_cell"]: e for e in info}
    cells = [nbformat.v4.new_code_cell(_PRELUDE.replace("NONCE", repr(nonce)), metadata={"grader": "prelude"})]
    grader = f"__import__('sys').modules[{GRADER_MODULE!r}]"
    for index, (cell, released) in enumerate(zip(source.cells, release.cells)):
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if index in solution_cells:
            exercise = solution_cells[index]
            if index == exercise["solution_cells"][0]:
                cells.append(nbformat.v4.new_code_cell(f"{grader}.enter({exercise['references']!r})",
                                                       metadata={"grader": "enter"}))
            student = submitted.get(grade_id)
            if student is None:
                notices.append(f"solution cell {grade_id!r} is missing; it was graded as not attempted")
                text = released.source
            elif student.get("cell_type") != "code":
                notices.append(f"solution cell {grade_id!r} was turned into a {student.get('cell_type')} cell; "
                               "graded as not attempted")
                text = released.source
            else:
                text = student.get("source", "")
                text = "".join(text) if isinstance(text, list) else str(text)
            cells.append(nbformat.v4.new_code_cell(text, metadata={"grader": "solution", "grade_id": grade_id}))
            if index == exercise["solution_cells"][-1]:
                cells.append(nbformat.v4.new_code_cell(
                    f"{grader}.leave(globals(), {exercise['student_names']!r}, {exercise['references']!r})",
                    metadata={"grader": "leave"}))
            continue
        if meta.get("locked") and cell.cell_type == "code":
            student = submitted.get(grade_id)
            if student is None:
                notices.append(f"locked cell {grade_id!r} was deleted; the course's version was run")
            elif "".join(student.get("source", "")).strip() not in (released.source.strip(), cell.source.strip()):
                notices.append(f"locked cell {grade_id!r} was edited; the course's version was run")
        if index in test_cells:
            exercise = test_cells[index]
            cells.append(nbformat.v4.new_code_cell(f"{grader}.restore(globals(), {exercise['checkers']!r})",
                                                   metadata={"grader": "restore"}))
            text = cell.source.rstrip("\n") + f"\n{grader}.passed({exercise['test_id']!r})"
            cells.append(nbformat.v4.new_code_cell(text, metadata={"grader": "test", "grade_id": exercise["test_id"]}))
            continue
        if cell.cell_type == "code":  # as in the student copy: later cells do not use the exercises
            role = "check" if meta.get("locked") else "course"
            cells.append(nbformat.v4.new_code_cell(released.source, metadata={"grader": role, "grade_id": grade_id or index}))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": source.metadata.get("kernelspec", {})})
    return notebook, notices


def _run_child(notebook_path: Path, progress_path: Path, cwd: Path, cell_timeout: int) -> int:
    """In a child process: run the grading notebook cell by cell, appending one JSON line per cell."""
    from nbclient.exceptions import DeadKernelError
    from notebook_client import notebook_client

    notebook = nbformat.read(notebook_path, as_version=4)
    # this process exists only to run one submission: its environment is the kernel's
    os.environ.update({"COURSE_GRADING": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "HF_DATASETS_OFFLINE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    progress = progress_path.open("a")

    def record(**payload):
        progress.write(json.dumps(payload) + "\n")
        progress.flush()

    started: dict[int, float] = {}

    def on_start(cell, cell_index):
        if not started:
            process = getattr(client.km.provisioner, "process", None)
            record(event="kernel", pid=getattr(process, "pid", None))
        started[cell_index] = time.monotonic()
        record(event="start", index=cell_index)

    def on_done(cell, cell_index, execute_reply):
        record(event="cell", index=cell_index, status=execute_reply["content"]["status"],
               seconds=time.monotonic() - started.get(cell_index, time.monotonic()), outputs=cell.outputs)

    client = notebook_client(notebook, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                            timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                            startup_timeout=120, iopub_timeout=10, record_timing=False,
                            on_cell_start=on_start, on_cell_executed=on_done)
    try:
        client.execute()
        record(event="done")
    except DeadKernelError as error:
        record(event="dead", message=str(error))
    except Exception as error:  # noqa: BLE001 - anything else stops grading with a report
        record(event="failed", message=f"{type(error).__name__}: {error}")
    finally:
        progress.close()
    return 0


def _kill(pid: int | None) -> None:
    if not pid:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass


def grade_submission(path: Path, *, notebooks: Path = ROOT / "notebooks", assignment: str = "",
                     cell_timeout: int = DEFAULT_CELL_TIMEOUT, total_timeout: int = DEFAULT_TOTAL_TIMEOUT) -> Report:
    """Grade one submitted notebook (see the module docstring); never raises for a bad submission."""
    start = time.monotonic()
    report = Report(submission=str(path), student=path.stem)
    text = path.read_text(errors="replace") if path.exists() else None
    submission = None
    try:
        if text is None:
            raise FileNotFoundError(f"{path} does not exist")
        submission = nbformat.reads(text, as_version=4)
        if not isinstance(submission.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as error:  # noqa: BLE001 - JSON, schema or read errors are all "not a notebook"
        report.error = f"the submission is not a valid notebook (notebook JSON): {type(error).__name__}: {error}"
        submission = None
    report.assignment = _assignment_name(submission, path, notebooks, assignment)
    report.student = _student_id(path, report.assignment)
    if not report.assignment:
        report.error = report.error or (f"cannot tell which assignment this is (no {assignments.METADATA_KEY} "
                                        "metadata and no NN_topic name); pass --assignment")
        report.seconds = time.monotonic() - start
        return report
    source = assignments.source_version(nbformat.read(notebooks / f"{report.assignment}.ipynb", as_version=4),
                                        report.assignment)
    info = source.metadata[assignments.METADATA_KEY]["exercises"]
    report.exercises = [ExerciseGrade(e["grade_id"], e["test_id"], e["points"]) for e in info]
    report.max_points = sum(e.max_points for e in report.exercises)
    if submission is None:
        report.seconds = time.monotonic() - start
        return report
    nonce = secrets.token_hex(16)
    try:
        notebook, report.notices = grading_notebook(source, submission, nonce)
    except Exception as error:  # noqa: BLE001 - e.g. cells that are not objects: a report, not a crash
        report.error = f"the submission's cells cannot be read as notebook cells: {type(error).__name__}: {error}"
        report.seconds = time.monotonic() - start
        return report
    with tempfile.TemporaryDirectory(prefix="course-grade-") as folder:
        notebook_path, progress_path = Path(folder) / "grading.ipynb", Path(folder) / "progress.jsonl"
        nbformat.write(notebook, notebook_path)
        progress_path.touch()
        child = subprocess.Popen([sys.executable, __file__, "--child", str(notebook_path), str(progress_path),
                                  str(notebooks.resolve()), str(cell_timeout)], start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, stderr = child.communicate(timeout=total_timeout)
            overstayed = False
        except subprocess.TimeoutExpired:
            overstayed = True
        events = [json.loads(line) for line in progress_path.read_text().splitlines() if line.strip()]
        if overstayed:
            for event in events:
                if event.get("event") == "kernel":
                    _kill(event.get("pid"))
            _kill(child.pid)
            child.wait()
            stderr = b""
    _score(report, notebook, events, nonce, cell_timeout)
    if overstayed:
        report.error = (f"the whole run took longer than the limit of {total_timeout} s and was stopped; "
                        "exercises not reached by then earn no points")
    elif not any(e.get("event") in ("done", "dead", "failed") for e in events):
        report.error = f"the grading process stopped unexpectedly: {_plain(stderr.decode(errors='replace'))[-800:]}"
    report.points = sum(e.points for e in report.exercises)
    report.seconds = time.monotonic() - start
    return report


def _score(report: Report, notebook, events: list[dict], nonce: str, cell_timeout: int) -> None:
    cells = {e["index"]: e for e in events if e.get("event") == "cell"}
    by_test = {e.test_id: e for e in report.exercises}
    by_solution = {}
    started = [e["index"] for e in events if e.get("event") == "start"]
    interfered = False
    for index, cell in enumerate(notebook.cells):
        role = cell.metadata.get("grader")
        record = cells.get(index)
        if role == "solution":
            by_solution[cell.metadata["grade_id"]] = record
        if record is None:
            continue
        out = _stdout(record["outputs"])
        for line in out.splitlines():
            if line.startswith(f"{nonce} restored "):
                changed = json.loads(line.split(" ", 2)[2])
                report.notices.append("the submission changed " + ", ".join(changed) +
                                      "; the course's versions were restored before the tests ran")
        error = _error_text(record["outputs"])
        if error and role not in ("prelude", "enter", "leave", "restore"):
            report.cell_errors.append({"role": role, "cell": cell.metadata.get("grade_id", index),
                                       "error": error.splitlines()[0][:300]})
        elif error:
            report.notices.append(f"the grader's own {role} cell failed: {error.splitlines()[0][:300]}")
        if error.startswith("KeyboardInterrupt") and record.get("seconds", 0) >= cell_timeout * 0.9:
            where = f"solution cell {cell.metadata.get('grade_id')!r}" if role == "solution" else \
                f"test cell {cell.metadata.get('grade_id')!r}" if role == "test" else f"cell {index}"
            report.notices.append(f"{where} ran longer than the per-cell limit of {cell_timeout} s and was interrupted")
        if role in ("enter", "leave", "restore") and f"{nonce} ack " not in out and not interfered:
            interfered = True
            report.notices.append(f"the grader's {role} step did not run as written (the submission changed how "
                                  "cells run, e.g. with an IPython input transformer); no later test earns points")
        if role == "test":
            grade = by_test[cell.metadata["grade_id"]]
            passed_marker = f"{nonce} passed {json.dumps(grade.test_id)}" in out
            grade.check_output = "\n".join(line for line in out.splitlines() if not line.startswith(nonce))
            if record["status"] == "ok" and passed_marker and not error and not interfered:
                grade.status, grade.points = "passed", grade.max_points
            else:
                grade.status = "failed"
                grade.error = error or ("the grader could not make sure this test ran as written" if interfered
                                        else "the test cell did not run to its end as written")
    for event in events:
        if event.get("event") == "dead":
            last = started[-1] if started else None
            cell = notebook.cells[last] if last is not None else None
            where = (f"{cell.metadata.get('grader')} cell {cell.metadata.get('grade_id') or last}" if cell is not None
                     else "start-up")
            report.error = (f"the kernel died while running the {where} (e.g. os._exit or a crash); "
                            "the cells after it were not run")
        elif event.get("event") == "failed":
            report.error = f"running the notebook failed: {event.get('message')}"
    for grade in report.exercises:
        if grade.status == "not run":
            grade.error = "the test cell was never reached"


def grade_path(path: Path, out: Path, **options) -> list[Report]:
    """Grade a notebook or every notebook under a folder; write the reports (and a gradebook for a folder)."""
    paths = [path] if path.is_file() else sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for submission in paths:
        report = grade_submission(submission, **options)
        stem = f"{report.student}__{report.assignment or 'unknown'}"
        (out / f"{stem}.json").write_text(report.to_json())
        (out / f"{stem}.md").write_text(report.to_markdown())
        print(f"{submission}: {report.points:g} / {report.max_points:g}" + (f" ({report.error})" if report.error else ""))
        reports.append(report)
    if path.is_dir():
        write_gradebook(reports, out / "gradebook.csv")
    return reports


def write_gradebook(reports: list[Report], path: Path) -> None:
    """One row per submission, one column per exercise (``assignment:grade_id`` when several assignments)."""
    several = len({r.assignment for r in reports}) > 1
    columns: list[str] = []
    for report in reports:
        for grade in report.exercises:
            column = f"{report.assignment}:{grade.grade_id}" if several else grade.grade_id
            if column not in columns:
                columns.append(column)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", *columns, "total", "max", "problems"])
        for report in reports:
            points = {(f"{report.assignment}:{g.grade_id}" if several else g.grade_id): g.points for g in report.exercises}
            problems = "; ".join([report.error] * bool(report.error) + report.notices)
            writer.writerow([report.student, report.assignment, *[points.get(c, "") for c in columns],
                             report.points, report.max_points, problems])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _run_child(Path(argv[1]), Path(argv[2]), Path(argv[3]), int(argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", type=Path, help="a submitted .ipynb or a folder of them")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "grades", help="folder for the reports")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="the course's source notebooks")
    parser.add_argument("--assignment", default="", help="assignment name when the submission does not say")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("--total-timeout", type=int, default=DEFAULT_TOTAL_TIMEOUT, help="seconds per submission")
    args = parser.parse_args(argv)
    if not args.submission.exists():
        print(f"error: {args.submission} does not exist", file=sys.stderr)
        return 1
    grade_path(args.submission, args.out, notebooks=args.notebooks, assignment=args.assignment,
               cell_timeout=args.cell_timeout, total_timeout=args.total_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

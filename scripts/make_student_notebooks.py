"""Make student copies of the notebooks (kept for ``make student-notebooks``; see scripts/assignments.py).

Usage: ``python scripts/make_student_notebooks.py notebooks notebooks/student``

The copies are the ones ``make assignments`` builds: nbgrader's own preprocessors (ClearSolutions with
``# YOUR CODE HERE`` / ``raise NotImplementedError()``, ClearHiddenTests, ClearOutput, LockCells) applied to
the source version that ``assignments.source_version`` derives from the notebook's markers and cell
order, so answers, hidden tests and statements that use unsolved exercises are gone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assignments import (  # noqa: E402,F401
    BEGIN,
    BEGIN_HIDDEN,
    END,
    END_HIDDEN,
    MD_BEGIN,
    MD_END,
    NOTEBOOK_PATTERN,
    source_version,  # noqa: E402
)
from assignments import replace_blocks as _replace_blocks  # noqa: E402,F401 - marker validation, kept for callers
from assignments import student_version as _student_of_source  # noqa: E402


def student_version(notebook: nbformat.NotebookNode, name: str = "") -> nbformat.NotebookNode:
    """A student copy of ``notebook``: solutions stubbed, hidden tests and answers removed, outputs cleared."""
    return _student_of_source(source_version(notebook, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with the instructor notebooks")
    parser.add_argument("target", type=Path, help="folder for the student copies")
    args = parser.parse_args(argv)
    notebooks = sorted(args.source.glob(NOTEBOOK_PATTERN))
    if not notebooks:
        print(f"no notebooks (NN_topic.ipynb) in {args.source}", file=sys.stderr)
        return 1
    args.target.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nbformat.write(student_version(nbformat.read(path, as_version=4), path.stem), args.target / path.name)
        print(f"wrote {args.target / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

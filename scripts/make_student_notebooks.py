"""Make student copies of the notebooks: solutions replaced by stubs, hidden tests removed, outputs stripped.

Usage: ``python scripts/make_student_notebooks.py notebooks notebooks/student``

Follows nbgrader's syntax, so instructors can also use nbgrader itself:
- in a code cell, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become
  ``raise NotImplementedError()`` at the same indentation;
- the lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are removed;
- in a markdown cell, the text between ``=== BEGIN SOLUTION ===`` and ``=== END SOLUTION ===`` becomes
  "YOUR ANSWER HERE".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MD_BEGIN, MD_END = "=== BEGIN SOLUTION ===", "=== END SOLUTION ==="


def _replace_blocks(source: str, begin: str, end: str, replacement: str | None) -> str:
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


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with solutions and hidden tests removed and outputs cleared."""
    copy = nbformat.from_dict(notebook)
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.source = _replace_blocks(cell.source, BEGIN, END, "raise NotImplementedError()")
            cell.source = _replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = _replace_blocks(cell.source, MD_BEGIN, MD_END, "YOUR ANSWER HERE")
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with the instructor notebooks")
    parser.add_argument("target", type=Path, help="folder for the student copies")
    args = parser.parse_args(argv)
    notebooks = sorted(args.source.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(f"no notebooks (NN_topic.ipynb) in {args.source}", file=sys.stderr)
        return 1
    args.target.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nbformat.write(student_version(nbformat.read(path, as_version=4)), args.target / path.name)
        print(f"wrote {args.target / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

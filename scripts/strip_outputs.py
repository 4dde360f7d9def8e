"""Strip notebook outputs, keeping those of cells tagged ``nbval-check-output`` (their reference output).

Usage: ``python scripts/strip_outputs.py notebooks/*.ipynb`` (``--check`` only reports, exit 1 if dirty).
Execution counts of stripped cells and volatile metadata are cleared too, so diffs show only real changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

CHECKED = "nbval-check-output"


def strip(notebook: nbformat.NotebookNode) -> bool:
    """Strip ``notebook`` in place; return True when anything changed.

    Kept (checked) cells keep an execution count: nbval refuses a reference cell that has outputs but
    no count ("unrun reference cell"), so one is given where it is missing.
    """
    changed = False
    kept = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        keep = CHECKED in cell.metadata.get("tags", [])
        if keep:
            kept += 1
            if cell.outputs and cell.get("execution_count") is None:
                cell.execution_count = kept
                changed = True
        else:
            if cell.get("execution_count") is not None:
                cell.execution_count = None
                changed = True
            if cell.outputs:
                cell.outputs = []
                changed = True
        for volatile in ("execution", "collapsed", "scrolled"):
            if volatile in cell.metadata:
                del cell.metadata[volatile]
                changed = True
    if "widgets" in notebook.metadata:
        del notebook.metadata["widgets"]
        changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report notebooks that need stripping")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        if strip(notebook):
            dirty.append(path)
            if not args.check:
                nbformat.write(notebook, path)
    for path in dirty:
        print(f"{'needs stripping' if args.check else 'stripped'}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())

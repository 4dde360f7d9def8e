"""Check or fix the slide type that marks a cell as part of the slide before it.

Usage: ``python scripts/slide_types.py [--fix] notebooks/NN_x.ipynb ...``

The classic Notebook and RISE wrote ``"slide_type": "-"`` for "part of the previous slide".
JupyterLab 4's own Slide Type menu writes ``""`` for that choice, and jupyterlab-slideshow (the live
slideshow installed by the set-up) shows a cell with ``""`` or no slide type on the slide before it but
never shows a cell marked ``"-"`` (checked in a real browser: the code cells, plots and widget panels of
such a notebook never appear in deck mode). nbconvert's reveal.js export treats both the same way.
Without ``--fix`` this lists the cells marked ``"-"`` and exits 1 if there are any; with ``--fix`` it
rewrites them to ``""`` and leaves everything else in the file as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

OLD, NEW = "-", ""


def continuation_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indexes of the cells whose slide type is the old ``"-"``."""
    return [i for i, cell in enumerate(notebook.cells)
            if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == OLD]


def fix(notebook: nbformat.NotebookNode) -> int:
    """Rewrite ``"-"`` to ``""`` in place; return how many cells changed."""
    cells = continuation_cells(notebook)
    for index in cells:
        notebook.cells[index].metadata["slideshow"]["slide_type"] = NEW
    return len(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--fix", action="store_true", help="rewrite '-' to '' in the files")
    args = parser.parse_args(argv)
    found = 0
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        cells = continuation_cells(notebook)
        found += len(cells)
        if cells and args.fix:
            fix(notebook)
            nbformat.write(notebook, path)
            print(f"{path}: {len(cells)} cells '-' -> ''")
        elif cells:
            print(f"{path}: {len(cells)} cells marked '-' (jupyterlab-slideshow hides them): {cells[:10]}")
    return 1 if found and not args.fix else 0


if __name__ == "__main__":
    sys.exit(main())

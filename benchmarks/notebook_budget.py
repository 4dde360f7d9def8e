"""Measure each notebook's wall time and peak memory when executed top to bottom in a fresh kernel.

Usage: ``python benchmarks/notebook_budget.py [notebooks/NN_topic.ipynb ...]`` (default: all).
The course promises at most 120 s and 2 GB per notebook on 2 CPU cores. Each notebook runs in its own
``jupyter nbconvert --execute`` process tree; its peak memory is the largest resident set of any
process in that tree (the kernel), read with ``resource.getrusage(RUSAGE_CHILDREN)``. The last
line is one JSON object: {notebook: {"seconds": s, "peak_mb": m, "within_budget": bool}}.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 120
BUDGET_MB = 2048
# Notebooks allowed longer, by a word in their name: the RLHF notebook trains three models in a row.
LONGER_BUDGETS = {"instructgpt": 180, "rlhf": 180}


def budget_seconds(path: Path) -> int:
    """The wall-time budget of one notebook: BUDGET_SECONDS unless its name is in LONGER_BUDGETS."""
    return max([BUDGET_SECONDS] + [s for word, s in LONGER_BUDGETS.items() if word in Path(path).stem.lower()])


def run_one(path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                   "--ExecutePreprocessor.timeout=600", "--output-dir", tmp, str(path)]
        # A fresh wrapper process per notebook: RUSAGE_CHILDREN then reports the peak resident memory of
        # the largest process in that tree, which is the kernel executing the notebook.
        wrapper = [sys.executable, "-c",
                   "import resource,subprocess,sys,json;"
                   "r=subprocess.run(sys.argv[1:]);"
                   "print(json.dumps({'rc':r.returncode,'maxrss_kb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))",
                   *command]
        start = time.perf_counter()
        result = subprocess.run(wrapper, capture_output=True, text=True, cwd=path.parent)
        seconds = time.perf_counter() - start
    try:
        info = json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        info = {"rc": result.returncode, "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
    peak_mb = info["maxrss_kb"] / 1024
    ok = info["rc"] == 0 and seconds <= budget_seconds(path) and peak_mb <= BUDGET_MB
    if info["rc"] != 0:
        print(result.stderr[-3000:], file=sys.stderr)
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_mb), "ran": info["rc"] == 0, "within_budget": ok}


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results = {}
    for path in paths:
        results[path.name] = run_one(path)
        r = results[path.name]
        print(f"{path.name}: {r['seconds']} s, peak {r['peak_mb']} MB, "
              f"{'ok' if r['within_budget'] else 'OVER BUDGET or FAILED'}", flush=True)
    print(f"(budget: {BUDGET_SECONDS} s ({', '.join(f'{w}: {s} s' for w, s in LONGER_BUDGETS.items())}) "
          f"and {BUDGET_MB} MB per notebook; {os.cpu_count()} cores)")
    print(json.dumps(results))
    return 0 if all(r["within_budget"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

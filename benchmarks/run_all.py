"""One table of measurements for the whole course (``make bench``): every benchmark, every notebook.

Usage: ``python benchmarks/run_all.py [--fresh-clone] [--strict]`` writes ``benchmarks/RESULTS.md``.

1. Every ``benchmarks/*.py`` except this runner and ``notebook_budget.py`` (and files starting with
   ``_``) runs with its default arguments, one after another. Each prints one JSON object on its last
   stdout line. A benchmark states its goal in that object, so a new benchmark needs no change here::

       "peer": "gensim Word2Vec",                 # what ours is measured against
       "goal": {"speed_ratio": [">=", 0.5]}       # measure -> [comparison, threshold]

   Comparisons: ``<=``, ``>=``, ``<``, ``>``. A benchmark without a ``goal`` is listed as such.
2. Every notebook ``notebooks/NN_*.ipynb`` (found anew each run: a new notebook needs no change here)
   runs top to bottom in a fresh kernel
   (``notebook_budget.run_one``): wall time and peak memory of the kernel's process tree, against
   the budget (120 s, RLHF 180 s, and 2 GB each; 12 minutes for the whole course).
3. With ``--fresh-clone``: a ``git clone`` of this repository's HEAD, timed to JupyterLab answering
   (``make lab``), and a second clone timed to the end of ``make test``.

Everything between the ``BEGIN make bench`` / ``END make bench`` markers of RESULTS.md is rewritten
from this run (machine, date, load average before and after, the tables); text outside the markers,
such as notes written by hand, is kept as it is. The exit status is 1 when a benchmark or notebook
failed to run (or, with ``--strict``, missed its goal).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import operator
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import notebook_budget  # noqa: E402

NOT_BENCHMARKS = {"run_all.py", "notebook_budget.py"}
COURSE_BUDGET_SECONDS = 12 * 60
BEGIN = "<!-- BEGIN make bench: written by benchmarks/run_all.py from one run; edits inside are replaced -->"
END = "<!-- END make bench -->"
HAND_NOTES_HEADING = "## Notes written by hand (kept by `make bench`, not measured in its run)"
COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


# --- benchmarks ------------------------------------------------------------------------------------

@dataclass
class GoalCheck:
    """One measure of a benchmark against its declared goal."""

    measure: str
    comparison: str
    threshold: float
    value: float | None  # None when the benchmark's JSON lacks the measure

    @property
    def met(self) -> bool:
        return self.value is not None and COMPARISONS[self.comparison](self.value, self.threshold)


@dataclass
class BenchmarkResult:
    name: str
    description: str
    seconds: float
    load_at_start: float
    status: str  # "ok", or why there is no result
    summary: dict = field(default_factory=dict)
    goals: list[GoalCheck] = field(default_factory=list)
    goal_problem: str = ""  # why the goal could not be read, if it could not

    @property
    def ran(self) -> bool:
        return self.status == "ok"


def discover_benchmarks(folder: Path) -> list[Path]:
    """The benchmark scripts of ``folder``: every ``*.py`` but the runner, the notebook budget and ``_*``."""
    return sorted(p for p in folder.glob("*.py") if p.name not in NOT_BENCHMARKS and not p.name.startswith("_"))


def describe(path: Path) -> str:
    """First line of the script's module docstring (read without running it)."""
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    return docstring.strip().splitlines()[0] if docstring else ""


def last_json_line(stdout: str) -> dict:
    """The JSON object on the last non-empty line of ``stdout``; ValueError if there is none."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("printed nothing")
    try:
        value = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        raise ValueError(f"last line is not JSON ({error.msg})") from error
    if not isinstance(value, dict):
        raise ValueError("last line is JSON but not an object")
    return value


def read_goals(summary: dict) -> list[GoalCheck]:
    """Parse ``summary["goal"]`` ({measure: [comparison, threshold]}); ValueError names what is wrong."""
    goal = summary.get("goal")
    if goal is None:
        raise ValueError("no goal declared (add \"goal\": {measure: [comparison, threshold]} to its JSON)")
    if not isinstance(goal, dict) or not goal:
        raise ValueError(f"goal must be a non-empty object of measure -> [comparison, threshold], got {goal!r}")
    checks = []
    for measure, rule in goal.items():
        if (not isinstance(rule, list) or len(rule) != 2 or rule[0] not in COMPARISONS
                or not isinstance(rule[1], (int, float))):
            raise ValueError(f"goal for {measure!r} must be [one of {sorted(COMPARISONS)}, number], got {rule!r}")
        value = summary.get(measure)
        checks.append(GoalCheck(measure, rule[0], float(rule[1]),
                                float(value) if isinstance(value, (int, float)) else None))
    return checks


def run_benchmark(path: Path, timeout: float) -> BenchmarkResult:
    """Run one benchmark script with its defaults and read its JSON summary and goal."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        completed = subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True,
                                   timeout=timeout)
    except subprocess.TimeoutExpired:
        return BenchmarkResult(path.stem, describe(path), round(time.perf_counter() - start, 1), load,
                               f"timed out after {timeout:.0f} s")
    seconds = round(time.perf_counter() - start, 1)
    result = BenchmarkResult(path.stem, describe(path), seconds, load, "ok")
    if completed.returncode != 0:
        result.status = f"exit status {completed.returncode}"
        print(completed.stderr[-3000:], file=sys.stderr)
        return result
    try:
        result.summary = last_json_line(completed.stdout)
    except ValueError as error:
        result.status = str(error)
        return result
    try:
        result.goals = read_goals(result.summary)
    except ValueError as error:
        result.goal_problem = str(error)
    return result


# --- notebooks --------------------------------------------------------------------------------------

def discover_notebooks(folder: Path) -> list[Path]:
    """The course's notebooks in ``folder``, in order: every ``NN_*.ipynb`` (two digits, then a name)."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


@dataclass
class NotebookResult:
    name: str
    seconds: float
    peak_mb: float
    ran: bool
    budget_seconds: float
    budget_mb: float
    load_at_start: float

    @property
    def within_budget(self) -> bool:
        return self.ran and self.seconds <= self.budget_seconds and self.peak_mb <= self.budget_mb


def run_notebooks(paths: list[Path]) -> list[NotebookResult]:
    results = []
    for path in paths:
        load = os.getloadavg()[0]
        measured = notebook_budget.run_one(path)
        results.append(NotebookResult(path.stem, measured["seconds"], measured["peak_mb"], measured["ran"],
                                      notebook_budget.budget_seconds(path), notebook_budget.BUDGET_MB, load))
        print(f"{path.name}: {measured['seconds']} s, peak {measured['peak_mb']} MB", flush=True)
    return results


# --- fresh clone ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_group(process: subprocess.Popen) -> None:
    """End a process started in its own session, with everything it started."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def time_to_lab(clone: Path, timeout: float) -> dict:
    """Seconds from ``make lab`` in a fresh clone until JupyterLab answers HTTP on its port."""
    port = _free_port()
    log = clone / "make-lab.log"
    start = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.Popen(["make", "lab", "HOST=127.0.0.1", f"PORT={port}"], cwd=clone,
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while time.perf_counter() - start < timeout:
            if process.poll() is not None:
                return {"seconds": round(time.perf_counter() - start, 1), "ok": False,
                        "result": f"make lab exited with {process.returncode}"}
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5) as response:
                    if response.status == 200:
                        return {"seconds": round(time.perf_counter() - start, 1), "ok": True,
                                "result": f"JupyterLab answered on port {port}"}
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1)
        return {"seconds": round(time.perf_counter() - start, 1), "ok": False, "result": "timed out"}
    finally:
        _stop_group(process)


def time_to_test(clone: Path, timeout: float) -> dict:
    """Seconds from ``make test`` in a fresh clone to its end, and pytest's closing line."""
    start = time.perf_counter()
    process = subprocess.Popen(["make", "test"], cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(process)
        return {"seconds": round(time.perf_counter() - start, 1), "ok": False, "result": "timed out"}
    seconds = round(time.perf_counter() - start, 1)
    closing = [line.strip("= ") for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return {"seconds": seconds, "ok": process.returncode == 0,
            "result": f"exit status {process.returncode}" + (f"; {closing[-1]}" if closing else "")}


def measure_fresh_clone(timeout: float, source: Path = ROOT) -> dict:
    """Clone HEAD twice into a temporary folder: time to ``make lab`` serving, and to ``make test`` done."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="lm-course-clone-") as tmp:
        for step, measure in (("make lab", time_to_lab), ("make test", time_to_test)):
            clone = Path(tmp) / step.replace(" ", "-")
            subprocess.run(["git", "clone", "--quiet", str(source), str(clone)], check=True)
            results[step] = measure(clone, timeout)
            print(f"fresh clone, {step}: {results[step]}", flush=True)
    return results


# --- the report -------------------------------------------------------------------------------------

def machine_description() -> dict:
    info = {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, flags=re.M)
        info["cpu"] = models[0].strip() if models else platform.processor() or "unknown"
    except OSError:
        info["cpu"] = platform.processor() or "unknown"
    try:
        total_kb = int(re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), flags=re.M).group(1))
        info["memory_gib"] = round(total_kb / 1024 ** 2, 1)
    except (OSError, AttributeError):
        info["memory_gib"] = None
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        info["torch"] = "not installed"
    # where the course's helpers (and so the notebooks, which inherit the environment) train in this run
    requested = os.environ.get("COURSE_DEVICE") or None
    try:
        from course_utils.training import choose_device

        info["device"] = f"{choose_device()} (COURSE_DEVICE={requested})" if requested else f"{choose_device()}"
    except (ImportError, RuntimeError, ValueError) as error:
        info["device"] = f"none usable: {error}"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        info["commit"] = commit + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown"
    return info


def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,.0f}" if abs(value) >= 10000 else f"{value:g}"


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def render(run: dict) -> str:
    """The generated block of RESULTS.md (between the markers) for one run."""
    machine = run["machine"]
    lines = [BEGIN, "", "## One run of `make bench`", "",
             f"- Date: {run['started']} to {run['finished']} (UTC); command `{run['command']}`; "
             f"commit {machine['commit']}.",
             f"- Machine: {machine['cores']} cores, {machine['cpu']}, {_number(machine['memory_gib'])} GiB "
             f"memory; {machine['platform']}; Python {machine['python']}; torch {machine.get('torch')} "
             f"({machine.get('torch_threads', '—')} threads); GPU: {machine.get('gpu', '—')}; "
             f"course_utils trains on: {machine.get('device', '—')}.",
             f"- Load average (1 / 5 / 15 min): before {_load(run['load_before'])}, "
             f"after {_load(run['load_after'])}. The machine may have been shared: ratios are measured "
             f"within one process, interleaved, so they suffer less than absolute times.", ""]

    benchmarks: list[BenchmarkResult] = run["benchmarks"]
    if benchmarks is not None:
        lines += ["### Ratios against peers", "",
                  "| benchmark | against | measure | value | goal | met | wall s | load at start |",
                  "|---|---|---|---|---|---|---|---|"]
        for result in benchmarks:
            peer = str(result.summary.get("peer", "—"))
            head = f"| `{result.name}` | {peer}"
            tail = f"| {result.seconds:g} | {result.load_at_start:.2f} |"
            if not result.ran:
                lines.append(f"{head} | — | — | — | **did not run: {result.status}** {tail}")
            elif result.goal_problem:
                lines.append(f"{head} | — | — | — | **{result.goal_problem}** {tail}")
            for check in result.goals:
                met = "yes" if check.met else ("**no**" if check.value is not None else "**measure missing**")
                lines.append(f"{head} | `{check.measure}` | {_number(check.value)} | "
                             f"{check.comparison} {check.threshold:g} | {met} {tail}")
        if not benchmarks:
            lines.append("| (no benchmarks found) | | | | | | | |")
        lines += [""] + [f"- `{r.name}`: {r.description}" for r in benchmarks if r.description] + [""]

    notebooks: list[NotebookResult] = run["notebooks"]
    if notebooks is not None:
        lines += ["### Notebooks: top to bottom in a fresh kernel", "",
                  "| notebook | seconds | goal s | peak MB | goal MB | within goals | load at start |",
                  "|---|---|---|---|---|---|---|"]
        for nb in notebooks:
            verdict = "yes" if nb.within_budget else ("**no**" if nb.ran else "**failed to run**")
            lines.append(f"| `{nb.name}` | {nb.seconds:g} | {nb.budget_seconds:g} | {nb.peak_mb:g} | "
                         f"{nb.budget_mb:g} | {verdict} | {nb.load_at_start:.2f} |")
        total = round(sum(nb.seconds for nb in notebooks), 1)
        peak = max((nb.peak_mb for nb in notebooks), default=0)
        course_ok = all(nb.ran for nb in notebooks) and total <= COURSE_BUDGET_SECONDS
        lines += [f"| **whole course** ({len(notebooks)} notebooks, one after another) | {total:g} | "
                  f"{COURSE_BUDGET_SECONDS} | {peak:g} (largest) | {notebook_budget.BUDGET_MB} | "
                  f"{'yes' if course_ok else '**no**'} | |", "",
                  "Peak MB is the largest resident set of any process in the notebook's process tree "
                  "(the kernel); seconds include starting the kernel.", ""]

    fresh = run.get("fresh_clone")
    lines += ["### From a fresh clone", ""]
    if fresh:
        lines += ["| command | seconds | result |", "|---|---|---|"]
        lines += [f"| `{step}` | {r['seconds']:g} | {r['result']} |" for step, r in fresh.items()]
        lines += ["", "Each step starts from its own `git clone` of the commit above (package downloads "
                  "come from the local pip cache if it is warm).", ""]
    else:
        lines += ["Not measured in this run (`python benchmarks/run_all.py --fresh-clone`).", ""]

    if benchmarks:
        lines += ["### Each benchmark's last line", ""]
        for result in benchmarks:
            if result.summary:
                lines += [f"<details><summary><code>{result.name}</code></summary>", "", "```json",
                          json.dumps(result.summary), "```", "", "</details>", ""]
    lines.append(END)
    return "\n".join(lines)


def merge(existing: str | None, block: str) -> str:
    """Put ``block`` into RESULTS.md: replace the previous generated block, keep everything else.

    A file without markers is taken as notes written by hand: they move, unchanged except that their
    headings go one level down, under a heading that says so, below the generated block.
    """
    if not existing or not existing.strip():
        return f"# Benchmark results\n\n{block}\n"
    if BEGIN in existing and END in existing:
        before, rest = existing.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        return before + block + after
    if BEGIN in existing or END in existing:
        raise ValueError("RESULTS.md has only one of the make bench markers; restore or remove the other")
    lines = existing.splitlines()
    title = "# Benchmark results"
    if lines and lines[0].startswith("# "):
        title, lines = lines[0], lines[1:]
    notes = "\n".join("#" + line if line.startswith("##") else line for line in lines).strip()
    return f"{title}\n\n{block}\n\n{HAND_NOTES_HEADING}\n\n{notes}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument("--benchmarks-dir", type=Path, default=BENCH_DIR)
    parser.add_argument("--notebooks", type=Path, nargs="*", default=None,
                        help="notebooks to time (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--only", nargs="+", metavar="NAME", default=None,
                        help="run only these benchmarks (file names without .py)")
    parser.add_argument("--skip-benchmarks", action="store_true")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed to one benchmark")
    parser.add_argument("--fresh-clone", action="store_true",
                        help="also time make lab and make test from fresh clones (heavy: a full make test)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    run: dict = {"command": "python benchmarks/run_all.py" + (" " + " ".join(argv) if argv else ""),
                 "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                 "load_before": os.getloadavg(), "machine": machine_description()}
    run["benchmarks"] = None
    if not args.skip_benchmarks:
        run["benchmarks"] = []
        paths = discover_benchmarks(args.benchmarks_dir)
        if args.only is not None:
            unknown = set(args.only) - {p.stem for p in paths}
            if unknown:
                parser.error(f"no such benchmark in {args.benchmarks_dir}: {', '.join(sorted(unknown))}")
            paths = [p for p in paths if p.stem in args.only]
        for path in paths:
            print(f"benchmark {path.name} ...", flush=True)
            run["benchmarks"].append(run_benchmark(path, args.timeout))
            print(f"  {run['benchmarks'][-1].status}, {run['benchmarks'][-1].seconds} s", flush=True)
    run["notebooks"] = None
    if not args.skip_notebooks:
        paths = ([p.resolve() for p in args.notebooks] if args.notebooks is not None
                 else discover_notebooks(ROOT / "notebooks"))
        run["notebooks"] = run_notebooks(paths)
    run["fresh_clone"] = measure_fresh_clone(args.timeout) if args.fresh_clone else None
    run["load_after"] = os.getloadavg()
    run["finished"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")

    existing = args.output.read_text() if args.output.exists() else None
    args.output.write_text(merge(existing, render(run)))
    print(f"wrote {args.output}")

    benchmarks, notebooks = run["benchmarks"] or [], run["notebooks"] or []
    failed = [b.name for b in benchmarks if not b.ran] + [n.name for n in notebooks if not n.ran]
    failed += [step for step, r in (run["fresh_clone"] or {}).items() if not r["ok"]]
    missed = [f"{b.name}:{c.measure}" for b in benchmarks for c in b.goals if not c.met]
    missed += [b.name for b in benchmarks if b.ran and b.goal_problem]
    missed += [n.name for n in notebooks if n.ran and not n.within_budget]
    if notebooks and sum(n.seconds for n in notebooks) > COURSE_BUDGET_SECONDS:
        missed.append("whole course")
    print(json.dumps({"failed": failed, "goals_missed": missed, "output": str(args.output)}))
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

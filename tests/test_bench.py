"""The `make bench` runner (benchmarks/run_all.py) on tiny fake benchmarks and a one-cell notebook."""

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import notebook_budget  # noqa: E402
import run_all  # noqa: E402

FAKE_BENCHMARK = '''"""{doc}"""
import json
print("warming up")
print(json.dumps({summary}))
'''


def _fake_benchmark(folder: Path, name: str, summary: dict, doc: str = "A fake benchmark.") -> Path:
    path = folder / f"{name}.py"
    path.write_text(FAKE_BENCHMARK.format(doc=doc, summary=repr(summary)))
    return path


def _tiny_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("total = sum(range(10))\nassert total == 45")]
    path = folder / "01_tiny.ipynb"
    nbformat.write(notebook, path)
    return path


def test_discovery_skips_the_runner_the_budget_and_private_files(tmp_path):
    for name in ("run_all.py", "notebook_budget.py", "_shared.py", "b_vs_peer.py", "a_vs_peer.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "notes.md").write_text("")
    assert [p.name for p in run_all.discover_benchmarks(tmp_path)] == ["a_vs_peer.py", "b_vs_peer.py"]


def test_the_real_benchmarks_are_discovered():
    names = {p.name for p in run_all.discover_benchmarks(ROOT / "benchmarks")}
    assert {"attention_vs_torch.py", "word2vec_vs_gensim.py"} <= names
    assert "run_all.py" not in names and "notebook_budget.py" not in names


def test_goals_are_read_and_checked():
    checks = run_all.read_goals({"ratio": 0.8, "gap": -0.05,
                                 "goal": {"ratio": ["<=", 1.1], "gap": [">=", -0.02], "absent": [">", 0]}})
    assert [(c.measure, c.value, c.met) for c in checks] == [("ratio", 0.8, True), ("gap", -0.05, False),
                                                             ("absent", None, False)]


@pytest.mark.parametrize("goal, message", [
    (None, "no goal declared"),
    ({}, "non-empty object"),
    ({"ratio": ["=<", 1]}, "must be"),
    ({"ratio": ["<=", "one"]}, "must be"),
    ({"ratio": "<= 1"}, "must be"),
])
def test_malformed_goals_are_named(goal, message):
    summary = {"ratio": 1.0} if goal is None else {"ratio": 1.0, "goal": goal}
    with pytest.raises(ValueError, match=message):
        run_all.read_goals(summary)


def test_last_json_line():
    assert run_all.last_json_line('progress\n{"a": 1}\n\n') == {"a": 1}
    for stdout, message in (("", "printed nothing"), ("done", "not JSON"), ("[1, 2]", "not an object")):
        with pytest.raises(ValueError, match=message):
            run_all.last_json_line(stdout)


def test_run_benchmark_reads_summary_and_goal(tmp_path):
    path = _fake_benchmark(tmp_path, "ours_vs_peer", {"speed_ratio": 0.7, "peer": "Peer",
                                                      "goal": {"speed_ratio": [">=", 0.5]}}, doc="Ours vs peer.")
    result = run_all.run_benchmark(path, timeout=60)
    assert result.ran and result.description == "Ours vs peer." and result.summary["peer"] == "Peer"
    assert [(c.measure, c.value, c.met) for c in result.goals] == [("speed_ratio", 0.7, True)]
    assert result.seconds >= 0  # rounded to 0.1 s: a tiny fake benchmark may round to 0.0


def test_run_benchmark_reports_failures(tmp_path):
    crash = tmp_path / "crash.py"
    crash.write_text("raise SystemExit(3)\n")
    assert run_all.run_benchmark(crash, timeout=60).status == "exit status 3"
    silent = tmp_path / "silent.py"
    silent.write_text("print('no summary')\n")
    assert "not JSON" in run_all.run_benchmark(silent, timeout=60).status
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    assert run_all.run_benchmark(slow, timeout=1).status.startswith("timed out")


def test_every_numbered_notebook_is_discovered_even_a_new_one(tmp_path):
    for name in ("01_a.ipynb", "09_new_topic.ipynb", "10_later.ipynb", "draft.ipynb", "1_short.ipynb", "02_b.py"):
        (tmp_path / name).write_text("{}")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "03_c-checkpoint.ipynb").write_text("{}")
    assert [p.name for p in run_all.discover_notebooks(tmp_path)] == ["01_a.ipynb", "09_new_topic.ipynb",
                                                                       "10_later.ipynb"]
    real = [p.name for p in run_all.discover_notebooks(ROOT / "notebooks")]
    assert real[:6] == ["01_wordnet_limits.ipynb", "02_one_hot_vs_dense.ipynb", "03_word2vec.ipynb", "04_elmo.ipynb",
                        "05_self_attention.ipynb", "06_transformer.ipynb"]


def test_the_machine_line_names_the_device_the_course_trains_on(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert run_all.machine_description()["device"] == "cpu (COURSE_DEVICE=cpu)"
    monkeypatch.setenv("COURSE_DEVICE", "bogus")
    assert run_all.machine_description()["device"].startswith("none usable: unknown device 'bogus'")


def test_notebook_budgets():
    assert notebook_budget.budget_seconds(Path("05_self_attention.ipynb")) == 120
    assert notebook_budget.budget_seconds(Path("09_instructgpt.ipynb")) == 180


def test_merge_keeps_hand_notes_outside_the_generated_block():
    block = f"{run_all.BEGIN}\nnew figures\n{run_all.END}"
    assert run_all.merge(None, block) == f"# Benchmark results\n\n{block}\n"
    hand = "# Benchmark results\n\nIntro.\n\n## Attention\n\nmeasured by hand at 10:25\n"
    merged = run_all.merge(hand, block)
    assert merged.index(block) < merged.index(run_all.HAND_NOTES_HEADING) < merged.index("### Attention")
    assert "measured by hand at 10:25" in merged and "Intro." in merged
    again = run_all.merge(merged, f"{run_all.BEGIN}\nnewer figures\n{run_all.END}")
    assert "newer figures" in again and "new figures\n" not in again
    assert again.replace("newer figures", "new figures") == merged
    with pytest.raises(ValueError, match="only one"):
        run_all.merge(f"# R\n{run_all.BEGIN}\nx\n", block)


def test_main_writes_one_table_from_one_run(tmp_path):
    benches = tmp_path / "benchmarks"
    benches.mkdir()
    _fake_benchmark(benches, "fast_vs_peer", {"ratio_fast": 0.767, "peer": "PeerLib",
                                              "goal": {"ratio_fast": ["<=", 1.1]}})
    _fake_benchmark(benches, "slow_vs_peer", {"speed_ratio": 0.3125, "peer": "OtherLib",
                                              "goal": {"speed_ratio": [">=", 0.5]}})
    _fake_benchmark(benches, "undeclared", {"ratio": 1.0})
    notebook = _tiny_notebook(tmp_path)
    output = tmp_path / "RESULTS.md"
    output.write_text("# Benchmark results\n\n## GPU run\n\nrecorded by hand\n")

    code = run_all.main(["--benchmarks-dir", str(benches), "--notebooks", str(notebook), "--output", str(output)])
    assert code == 0  # everything ran; missed goals fail only with --strict
    text = output.read_text()
    assert text.count(run_all.BEGIN) == 1 and "### GPU run\n\nrecorded by hand" in text
    assert "| `fast_vs_peer` | PeerLib | `ratio_fast` | 0.767 | <= 1.1 | yes |" in text
    assert "| `slow_vs_peer` | OtherLib | `speed_ratio` | 0.312 | >= 0.5 | **no** |" in text
    assert "`undeclared`" in text and "no goal declared" in text
    row = next(line for line in text.splitlines() if line.startswith("| `01_tiny`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) > 0 and cells[2] == "120" and float(cells[3]) > 0 and cells[5] == "yes"
    assert "whole course** (1 notebooks" in text
    assert f"{run_all.os.cpu_count()} cores" in text and "Load average (1 / 5 / 15 min): before" in text
    assert "course_utils trains on: " in text
    assert "Not measured in this run" in text  # no --fresh-clone
    assert json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])["ratio_fast"] == 0.767

    strict = run_all.main(["--benchmarks-dir", str(benches), "--skip-notebooks", "--output", str(output),
                           "--strict"])
    assert strict == 1
    text = output.read_text()
    assert "01_tiny" not in text and "fast_vs_peer" in text and "recorded by hand" in text

    only = run_all.main(["--benchmarks-dir", str(benches), "--skip-notebooks", "--output", str(output),
                         "--only", "fast_vs_peer", "--strict"])
    assert only == 0 and "slow_vs_peer" not in output.read_text()
    with pytest.raises(SystemExit):
        run_all.main(["--benchmarks-dir", str(benches), "--only", "no_such_benchmark"])


FAKE_MAKEFILE = """\
lab:
\t{python} -m http.server $(PORT) --bind $(HOST)
test:
\t@echo "===== 3 passed in 0.10s ====="
"""


def test_fresh_clone_times_lab_until_it_answers_and_test_until_it_ends(tmp_path):
    import subprocess
    import urllib.error
    import urllib.request

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Makefile").write_text(FAKE_MAKEFILE.format(python=sys.executable))
    (repo / "api").write_text("{}")  # what the fake server answers on /api, as Jupyter does
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "Makefile", "api"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fake course"], check=True)

    results = run_all.measure_fresh_clone(timeout=60, source=repo)
    assert results["make lab"]["ok"] and results["make lab"]["seconds"] > 0
    port = results["make lab"]["result"].rsplit(" ", 1)[1]
    with pytest.raises(urllib.error.URLError):  # the server was stopped after the measurement
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
    assert results["make test"] == {"seconds": results["make test"]["seconds"], "ok": True,
                                    "result": "exit status 0; 3 passed in 0.10s"}


def test_interleaved_medians_alternates_and_takes_medians():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _interleaved import interleaved_medians

    calls = []
    fake = {"ours": iter([9.0, 1.0, 3.0, 2.0]), "peer": iter([9.0, 4.0, 6.0, 5.0])}

    def step(name):
        calls.append(name)
        return next(fake[name])

    assert interleaved_medians(step, ("ours", "peer"), warmup=1, repeats=3) == {"ours": 2.0, "peer": 5.0}
    assert calls == ["ours", "peer"] * 4
    with pytest.raises(ValueError, match="repeats"):
        interleaved_medians(step, ("ours",), warmup=0, repeats=0)

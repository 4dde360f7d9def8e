"""The tools in scripts/: student copies, output stripping, the offline runner."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import make_student_notebooks  # noqa: E402
import offline  # noqa: E402
import strip_outputs  # noqa: E402

SOLUTION_CELL = """def square(x):
    \"\"\"Return x squared.\"\"\"
    ### BEGIN SOLUTION
    result = x * x
    return result
    ### END SOLUTION"""

CHECK_CELL = """result_square = check(square)
### BEGIN HIDDEN TESTS
assert square(3) == 9
### END HIDDEN TESTS"""


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Answer:\n=== BEGIN SOLUTION ===\nbecause\n=== END SOLUTION ==="),
        nbformat.v4.new_code_cell(SOLUTION_CELL, outputs=[nbformat.v4.new_output("stream", text="x")]),
        nbformat.v4.new_code_cell(CHECK_CELL),
    ]
    nb.cells[2].metadata["tags"] = ["nbval-check-output"]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="PASS")]
    nb.cells[2].execution_count = 4
    return nb


def test_student_version_stubs_solutions_and_drops_hidden_tests():
    student = make_student_notebooks.student_version(_notebook())
    code = student.cells[1].source
    assert "result = x * x" not in code and "    raise NotImplementedError()" in code
    assert '"""Return x squared."""' in code and student.cells[1].outputs == []
    assert student.cells[2].source == "result_square = check(square)"
    assert "because" not in student.cells[0].source and "YOUR ANSWER HERE" in student.cells[0].source
    namespace = {}
    exec(code, namespace)
    with pytest.raises(NotImplementedError):
        namespace["square"](2)


def test_unbalanced_markers_are_errors():
    with pytest.raises(ValueError, match="never closed"):
        make_student_notebooks._replace_blocks("### BEGIN SOLUTION\nx", "### BEGIN SOLUTION", "### END SOLUTION", "")
    with pytest.raises(ValueError, match="without"):
        make_student_notebooks._replace_blocks("### END SOLUTION", "### BEGIN SOLUTION", "### END SOLUTION", "")


def test_make_student_notebooks_command(tmp_path):
    source = tmp_path / "nbs"
    source.mkdir()
    nbformat.write(_notebook(), source / "01_demo.ipynb")
    assert make_student_notebooks.main([str(source), str(tmp_path / "student")]) == 0
    assert "NotImplementedError" in (tmp_path / "student" / "01_demo.ipynb").read_text()
    assert make_student_notebooks.main([str(tmp_path / "student" / "none"), str(tmp_path / "x")]) == 1


def test_strip_outputs_keeps_only_checked_outputs(tmp_path):
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(), path)
    assert strip_outputs.main(["--check", str(path)]) == 1
    assert strip_outputs.main([str(path)]) == 0
    stripped = nbformat.read(path, as_version=4)
    assert stripped.cells[1].outputs == [] and stripped.cells[2].outputs[0]["text"] == "PASS"
    assert stripped.cells[2].execution_count == 4  # nbval needs a count on reference cells
    assert stripped.cells[1].execution_count is None
    assert strip_outputs.main(["--check", str(path)]) == 0


def test_offline_runner_passes_the_exit_code_through():
    assert offline.main(["--mode", "0", "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    with pytest.raises(SystemExit):
        offline.main(["--mode", "0"])


def test_offline_runner_really_cuts_the_network():
    if offline._namespace_prefix() is None:
        pytest.skip("network namespaces are not available on this machine")
    code = ("import socket, sys\n"
            "s = socket.socket(); s.settimeout(2)\n"
            "try:\n    s.connect(('192.0.2.1', 80))\nexcept OSError:\n    sys.exit(0)\nsys.exit(1)\n")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "offline.py"), "--mode", "1", "--",
                             sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

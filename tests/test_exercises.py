import numpy as np
import pytest
import torch

from course_utils.exercises import ExerciseResult, check_close, check_function, check_true, values_close


def reference_square(x):
    return x * x


def test_check_function_passes_a_correct_solution(capsys):
    result = check_function(lambda x: x**2, reference_square, [(torch.tensor([1.0, 2.0]),), (3,)], name="square")
    assert result and result.passed
    assert "PASS" in capsys.readouterr().out


def test_check_function_reports_a_wrong_solution_with_the_hint(capsys):
    result = check_function(lambda x: x + x, reference_square, [(2,), (3,)], name="square", hint="multiply")
    assert not result
    out = capsys.readouterr().out
    assert "FAIL" in out and "case 2 of 2" in out and "Hint: multiply" in out


def test_check_function_reports_stubs_and_errors_without_crashing():
    def stub(x):
        raise NotImplementedError()

    assert "not attempted yet" in check_function(stub, reference_square, [(1,)], name="s").message
    broken = check_function(lambda x: x / 0, reference_square, [(1,)], name="s")
    assert not broken and "ZeroDivisionError" in broken.message


def test_check_function_accepts_keyword_cases_and_needs_cases():
    result = check_function(lambda x, power=2: x**power, lambda x, power=2: x**power,
                            [{"args": (2,), "kwargs": {"power": 3}}], name="pow")
    assert result
    with pytest.raises(ValueError, match="at least one case"):
        check_function(reference_square, reference_square, [], name="s")


@pytest.mark.parametrize(
    ("actual", "expected", "ok", "reason"),
    [
        (np.ones((2, 2)), torch.ones(2, 2), True, ""),
        (np.ones(3), np.ones(2), False, "shape"),
        (torch.tensor([1.0, np.nan]), torch.tensor([1.0, 2.0]), False, "NaN"),
        ([1.0, 2.0], [1.0, 2.1], False, "largest difference 0.1"),
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}, True, ""),
        ({"a": 1}, {"a": 2}, False, "['a']"),
        (("x", 1.0), ("x", 1.0), True, ""),
        (("y", 1.0), ("x", 1.0), False, "[0] expected 'x'"),
        ([("a", 0.5)], [("a", 0.5), ("b", 0.1)], False, "length 2"),
    ],
)
def test_values_close(actual, expected, ok, reason):
    equal, why = values_close(actual, expected)
    assert equal is ok and reason in why


def test_check_close_and_check_true(capsys):
    assert check_close(0.5000001, 0.5, name="value")
    assert not check_close(0.6, 0.5, name="value", hint="look again")
    assert check_true(True, name="t", passed="yes", failed="no").message == "yes"
    assert check_true(False, name="t", passed="yes", failed="no").message == "no"
    assert "Hint: look again" in capsys.readouterr().out


def test_exercise_result_text():
    assert str(ExerciseResult("x", True, "fine")).startswith("PASS")
    assert str(ExerciseResult("x", False, "bad", "try")).endswith("Hint: try")

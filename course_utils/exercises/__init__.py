"""Checkers for the exercise cells: each prints a clear pass/fail line with a hint and returns the result.

The generic machinery lives here; one sub-module per concept (``exercises.vectors``,
``exercises.attention``, ...) holds the checkers a notebook's check cells call, usually by comparing
the student's function with the tested implementation in ``course_utils`` on several inputs.

A student's unfinished stub raises ``NotImplementedError``; checkers report that as "not attempted
yet" rather than as a crash. Results are truthy when passed, so a results cell can ``assert`` them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["ExerciseResult", "values_close", "check_function", "check_close", "check_true"]


@dataclass(frozen=True)
class ExerciseResult:
    """The outcome of one check: its name, whether it passed, what was found and a hint."""

    name: str
    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"PASS ✔ {self.name}: {self.message}"
        text = f"FAIL ✘ {self.name}: {self.message}"
        return text + (f"\n  Hint: {self.hint}" if self.hint else "")


def _as_array(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def values_close(actual, expected, *, atol: float = 1e-6, rtol: float = 1e-5) -> tuple[bool, str]:
    """Compare nested results (tensors, arrays, numbers, strings, tuples, lists, dicts).

    Returns ``(equal, reason)`` where ``reason`` says where and how they differ.
    """
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(actual) != set(expected):
            return False, f"expected a mapping with keys {sorted(expected)}, got {actual!r:.80}"
        for key in expected:
            ok, why = values_close(actual[key], expected[key], atol=atol, rtol=rtol)
            if not ok:
                return False, f"[{key!r}] {why}"
        return True, ""
    if isinstance(expected, (tuple, list)) and not (expected and isinstance(expected[0], (int, float))):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return False, f"expected a sequence of length {len(expected)}, got {actual!r:.80}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            ok, why = values_close(a, e, atol=atol, rtol=rtol)
            if not ok:
                return False, f"[{i}] {why}"
        return True, ""
    if isinstance(expected, str):
        return (actual == expected, "" if actual == expected else f"expected {expected!r}, got {actual!r}")
    try:
        a, e = _as_array(actual), _as_array(expected)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        return (actual == expected, "" if actual == expected else f"expected {expected!r}, got {actual!r}")
    if a.shape != e.shape:
        return False, f"shape {a.shape} instead of {e.shape}"
    if e.dtype.kind in "biuf" and a.dtype.kind in "biuf":
        a, e = a.astype(float), e.astype(float)
        if np.isnan(a).any() and not np.isnan(e).any():
            return False, "the result contains NaN"
        if not np.allclose(a, e, atol=atol, rtol=rtol, equal_nan=True):
            worst = float(np.nanmax(np.abs(a - e))) if a.size else 0.0
            return False, f"values differ (largest difference {worst:.3g})"
        return True, ""
    equal = bool(np.array_equal(a, e))
    return equal, "" if equal else "values differ"


def _report(result: ExerciseResult) -> ExerciseResult:
    print(result)
    return result


def check_function(
    student: Callable,
    reference: Callable,
    cases: Iterable,
    *,
    name: str,
    hint: str = "",
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> ExerciseResult:
    """Call ``student`` and ``reference`` on every case and compare the results.

    A case is a tuple of positional arguments, or a ``(args, kwargs)`` pair written as
    ``{"args": (...), "kwargs": {...}}``. Prints and returns an :class:`ExerciseResult`.
    """
    cases = list(cases)
    if not cases:
        raise ValueError("check_function needs at least one case")
    for number, case in enumerate(cases, start=1):
        args, kwargs = (case.get("args", ()), case.get("kwargs", {})) if isinstance(case, dict) else (case, {})
        expected = reference(*args, **kwargs)
        try:
            actual = student(*args, **kwargs)
        except NotImplementedError:
            return _report(ExerciseResult(name, False, "not attempted yet (the function raises NotImplementedError)", hint))
        except Exception as error:  # noqa: BLE001 - report the student's error, do not crash
            return _report(ExerciseResult(name, False, f"case {number} raised {type(error).__name__}: {error}", hint))
        ok, why = values_close(actual, expected, atol=atol, rtol=rtol)
        if not ok:
            return _report(ExerciseResult(name, False, f"case {number} of {len(cases)}: {why}", hint))
    return _report(ExerciseResult(name, True, f"all {len(cases)} cases agree with the reference"))


def check_close(actual, expected, *, name: str, hint: str = "", atol: float = 1e-6, rtol: float = 1e-5) -> ExerciseResult:
    """Compare one computed value with the expected one."""
    ok, why = values_close(actual, expected, atol=atol, rtol=rtol)
    return _report(ExerciseResult(name, ok, "matches the expected value" if ok else why, hint))


def check_true(condition: bool, *, name: str, passed: str, failed: str, hint: str = "") -> ExerciseResult:
    """Report a yes/no check with a message for each outcome."""
    return _report(ExerciseResult(name, bool(condition), passed if condition else failed, hint))

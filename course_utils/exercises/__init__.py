"""Checkers for the exercise cells: each prints a clear pass/fail line with a hint and returns the result.

The generic machinery lives here; one sub-module per concept (``exercises.vectors``,
``exercises.attention``, ...) holds the checkers a notebook's check cells call, usually by comparing
the student's function with the tested implementation in ``course_utils`` on several inputs.

A student's unfinished stub raises ``NotImplementedError``; checkers report that as "not attempted
yet" rather than as a crash. Results are truthy when passed, so a results cell can ``assert`` them.

Exercises measure the student's code, not the package's. Each checker declares the ``course_utils``
implementation it guards with the :func:`guards` decorator; while a student's function runs inside that
checker, the guarded reference raises :class:`ReferenceUnavailableError`, so a one-line wrapper around it
fails. The guard swaps the reference's code object for the duration of the call, so it also catches an
alias (``from course_utils.attention import causal_mask as m``) or a default argument bound earlier.
The grader (``scripts/grade.py``) uses the same guard while the solution cells and hidden tests run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import pkgutil
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["ExerciseResult", "values_close", "check_function", "check_close", "check_true",
           "ReferenceUnavailableError", "guards", "references_unavailable", "as_student", "checker_registry",
           "qualified_name", "resolve_reference"]


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


# --- keeping the reference out of the student's reach ---------------------------------------------------


class ReferenceUnavailableError(RuntimeError):
    """Raised when a student's exercise code calls the ``course_utils`` implementation it is asked to write."""


def qualified_name(reference: Callable | type) -> str:
    """``module.qualname`` of a function, method or class (the key the guard and the grader use)."""
    target = inspect.unwrap(reference) if not isinstance(reference, type) else reference
    return f"{target.__module__}.{target.__qualname__}"


def resolve_reference(name: str) -> Callable | type:
    """The object behind a ``module.qualname`` string such as ``course_utils.vectors.WordVectors.most_similar``."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
        except AttributeError as error:
            raise LookupError(f"cannot resolve reference {name!r}: {error}") from None
        return obj
    raise LookupError(f"cannot resolve reference {name!r}: no importable module in it")


def _functions_of(reference: Callable | type | str) -> list[types.FunctionType]:
    """The plain Python functions whose code the guard swaps: the function itself (unwrapped from
    decorators), or every function a class defines (methods, static and class methods, properties)."""
    if isinstance(reference, str):
        reference = resolve_reference(reference)
    if isinstance(reference, type):
        found = []
        for value in vars(reference).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                found += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            elif isinstance(value, types.FunctionType):
                found.append(value)
        return [inspect.unwrap(f) for f in found]
    function = inspect.unwrap(reference)
    if isinstance(function, types.MethodType):
        function = function.__func__
    if not isinstance(function, types.FunctionType):
        raise TypeError(f"can only guard Python functions and classes, not {reference!r}")
    return [function]


def _blocked_code(function: types.FunctionType, name: str) -> types.CodeType:
    """A code object that raises ReferenceUnavailableError, with the same free variables as ``function``
    (a function's code may only be swapped for code with as many closure cells)."""
    freevars = function.__code__.co_freevars
    message = (f"{name} is the course's implementation of what this exercise asks you to write; "
               "it is not available inside your solution: write the code yourself")
    lines = ["def _outer():"] + [f"    {var} = None" for var in freevars]
    lines += ["    def _blocked(*args, **kwargs):"]
    if freevars:
        lines += [f"        ({', '.join(freevars)},)"]
    lines += ["        raise __import__('course_utils.exercises', fromlist=['_'])"
              f".ReferenceUnavailableError({message!r})", "    return _blocked"]
    namespace: dict = {}
    exec(compile("\n".join(lines), f"<guard of {name}>", "exec"), namespace)  # noqa: S102 - generated above
    code = namespace["_outer"]().__code__
    if code.co_freevars != freevars:  # the compiler may order free variables differently
        raise TypeError(f"cannot guard {name}: its closure variables {freevars} cannot be reproduced")
    return code


# function -> [original code, defaults, kwdefaults, depth]; one entry per guarded function while active
_ACTIVE: dict[types.FunctionType, list] = {}


@contextlib.contextmanager
def references_unavailable(references: Iterable[Callable | type | str]) -> Iterator[None]:
    """While the block runs, calling any of ``references`` (functions, methods, classes or their
    ``module.qualname``) raises :class:`ReferenceUnavailableError`. Re-entrant; restores on exit."""
    functions = [f for reference in references for f in _functions_of(reference)]
    entered = []
    try:
        for function in functions:
            state = _ACTIVE.get(function)
            if state is None:
                blocked = _blocked_code(function, qualified_name(function))
                state = _ACTIVE[function] = [function.__code__, function.__defaults__, function.__kwdefaults__, 0]
                function.__code__, function.__defaults__, function.__kwdefaults__ = blocked, None, None
            state[3] += 1
            entered.append(function)
        yield
    finally:
        for function in reversed(entered):
            state = _ACTIVE[function]
            state[3] -= 1
            if state[3] == 0:
                function.__code__, function.__defaults__, function.__kwdefaults__ = state[:3]
                del _ACTIVE[function]


def as_student(function: Callable, references: Iterable[Callable | type | str]) -> Callable:
    """Wrap a student's function so that every call runs with ``references`` unavailable.

    Anything that is not a plain Python function (a model, a string answer, a class) is returned as is.
    """
    references = tuple(references)
    if not references or not isinstance(function, (types.FunctionType, types.MethodType, functools.partial)):
        return function

    @functools.wraps(function)
    def student(*args, **kwargs):
        with references_unavailable(references):
            return function(*args, **kwargs)

    student.guarded_references = tuple(qualified_name(r) if not isinstance(r, str) else r for r in references)
    return student


def guards(*references: Callable | type) -> Callable[[Callable], Callable]:
    """Decorator for a checker: ``references`` are the ``course_utils`` implementations the exercise asks
    the student to write. Every plain function passed to the checker runs with them unavailable, and
    the declaration is recorded (``checker.guarded_references``) for the assignment builder and the
    grader. ``@guards()`` declares an exercise with nothing to guard (e.g. multiple choice)."""
    names = tuple(qualified_name(r) for r in references)
    for reference in references:
        for function in _functions_of(reference):  # fail at import time, not while grading
            _blocked_code(function, qualified_name(function))

    def decorate(checker: Callable) -> Callable:
        @functools.wraps(checker)
        def guarded_checker(*args, **kwargs):
            args = tuple(as_student(a, references) for a in args)
            kwargs = {key: as_student(value, references) for key, value in kwargs.items()}
            return checker(*args, **kwargs)

        guarded_checker.guarded_references = names
        return guarded_checker

    return decorate


def checker_registry() -> dict[str, tuple[str, ...]]:
    """Every checker of every ``course_utils.exercises.<concept>`` module: ``{name: guarded references}``
    where ``name`` is the checker's function name (``check_causal_mask``). A checker without a
    :func:`guards` declaration maps to ``None``."""
    registry: dict[str, tuple[str, ...] | None] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("check_") and callable(value) and getattr(value, "__module__", "") == module.__name__:
                if name in registry and registry[name] != getattr(value, "guarded_references", None):
                    raise ValueError(f"two checkers are called {name}; checker names must be unique")
                registry[name] = getattr(value, "guarded_references", None)
    return registry

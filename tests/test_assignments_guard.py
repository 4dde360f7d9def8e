"""The reference guard of course_utils.exercises: a checker's declared reference is unavailable while the
student's function runs, whatever name or route the student reaches it by, and is restored afterwards."""

import functools

import numpy as np
import pytest
import torch

from course_utils import attention, vectors
from course_utils.exercises import (
    ReferenceUnavailableError,
    as_student,
    check_function,
    checker_registry,
    guards,
    qualified_name,
    references_unavailable,
    resolve_reference,
)
from course_utils.exercises.attention import check_causal_mask


def _right_mask(T):
    return torch.ones(T, T).tril().bool()


def test_a_wrapper_around_the_reference_fails_and_a_real_solution_passes(capsys):
    from course_utils.attention import causal_mask as renamed

    assert not check_causal_mask(lambda T: renamed(T))
    assert "ReferenceUnavailableError" in capsys.readouterr().out
    assert not check_causal_mask(lambda T, early=attention.causal_mask: early(T))  # bound before the call
    assert check_causal_mask(_right_mask)
    assert attention.causal_mask(2).tolist() == [[True, False], [True, True]]  # restored afterwards


def test_references_unavailable_covers_functions_methods_classes_and_names():
    words = vectors.WordVectors(["a", "b"], np.eye(2))
    with references_unavailable([attention.causal_mask, "course_utils.vectors.WordVectors.most_similar"]):
        with pytest.raises(ReferenceUnavailableError, match="course_utils.attention.causal_mask"):
            attention.causal_mask(3)
        with pytest.raises(ReferenceUnavailableError):
            words.most_similar("a")
        assert words.similarity("a", "b") == 0.0  # other methods still work
    with references_unavailable([vectors.WordVectors]):
        with pytest.raises(ReferenceUnavailableError):
            vectors.WordVectors(["a"], np.eye(1))
    assert words.most_similar("a", topn=1)[0][0] == "b"
    assert attention.causal_mask(1).tolist() == [[True]]


def test_guard_is_reentrant_and_restores_after_an_error():
    with references_unavailable([attention.causal_mask]):
        with references_unavailable([attention.causal_mask]):
            pass
        with pytest.raises(ReferenceUnavailableError):  # still guarded after the inner block
            attention.causal_mask(2)
    with pytest.raises(ZeroDivisionError):
        with references_unavailable([attention.causal_mask]):
            raise ZeroDivisionError("inside the guard")
    assert attention.causal_mask(1).shape == (1, 1)
    # keyword-only defaults survive the swap
    q = torch.randn(2, 3)
    output, weights = attention.scaled_dot_product_attention(q, q, q, return_weights=True)
    with references_unavailable([attention.scaled_dot_product_attention]):
        pass
    again = attention.scaled_dot_product_attention(q, q, q, return_weights=True)
    assert torch.equal(again[0], output) and torch.equal(again[1], weights)


def test_guard_reaches_through_decorators():
    def plain(x):
        return x + 1

    @functools.wraps(plain)
    def decorated(*args, **kwargs):
        return plain(*args, **kwargs)

    with references_unavailable([decorated]):  # the undecorated function is what gets swapped
        with pytest.raises(ReferenceUnavailableError):
            decorated(1)
    assert decorated(1) == 2


def test_as_student_wraps_only_plain_functions():
    model = torch.nn.Linear(2, 2)
    assert as_student(model, [attention.causal_mask]) is model
    assert as_student("b", [attention.causal_mask]) == "b"
    assert as_student(_right_mask, []) is _right_mask
    wrapped = as_student(lambda T: attention.causal_mask(T), [attention.causal_mask])
    with pytest.raises(ReferenceUnavailableError):
        wrapped(2)
    assert wrapped.guarded_references == ("course_utils.attention.causal_mask",)


def test_guards_records_the_declaration_and_passes_other_arguments_through():
    @guards(attention.split_heads)
    def check(student, n_heads=2):
        return check_function(student, attention.split_heads, [(torch.randn(1, 3, 4), n_heads)], name="split")

    assert check.guarded_references == ("course_utils.attention.split_heads",)
    assert not check(lambda x, h: attention.split_heads(x, h))
    assert check(lambda x, h: x.view(1, 3, h, 4 // h).transpose(1, 2), n_heads=2)
    assert guards()(lambda answer: answer).guarded_references == ()
    with pytest.raises(TypeError, match="can only guard"):
        guards(len)


def test_registry_names_every_checker_and_its_references():
    registry = checker_registry()
    assert registry["check_causal_mask"] == ("course_utils.attention.causal_mask",)
    assert all(name.startswith("check_") for name in registry)
    for references in registry.values():
        for reference in references or ():
            assert qualified_name(resolve_reference(reference)) == reference


def test_resolve_reference_names_what_is_missing():
    assert resolve_reference("course_utils.vectors.WordVectors.most_similar") is vectors.WordVectors.most_similar
    with pytest.raises(LookupError, match="nothing_here"):
        resolve_reference("course_utils.vectors.nothing_here")
    with pytest.raises(LookupError, match="no importable module"):
        resolve_reference("no_such_package.thing")

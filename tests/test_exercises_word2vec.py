"""Checkers of notebook 03: a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from course_utils.exercises.word2vec import (
    _analogy_reference,
    check_analogy_solver,
    check_cbow_forward,
    check_negative_sampling_gradients,
)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _ns(v, u_o, u_neg, *, grad_scale=1.0, drop_negatives=False):
    s_o, s_k = u_o @ v, u_neg @ v  # scalar, (K,)
    loss = -F.logsigmoid(s_o) - (0 if drop_negatives else F.logsigmoid(-s_k).sum())
    e_o, e_k = torch.sigmoid(s_o) - 1, torch.sigmoid(s_k)
    grad_v = e_o * u_o + e_k @ u_neg
    return loss, grad_scale * grad_v, e_o * v, e_k[:, None] * v[None, :]


def test_negative_sampling_checker(capsys):
    assert check_negative_sampling_gradients(_ns)
    assert "gradcheck" in capsys.readouterr().out
    assert not check_negative_sampling_gradients(lambda *a: _ns(*a, grad_scale=2.0))  # wrong gradient
    wrong_loss = check_negative_sampling_gradients(lambda *a: _ns(*a, drop_negatives=True))
    assert not wrong_loss and "σ" in wrong_loss.hint
    assert "not attempted" in check_negative_sampling_gradients(_stub).message


def test_gradcheck_catches_a_gradient_that_disagrees_with_the_students_own_loss():
    """Matching autograd passes first; gradcheck is the second line of defence on the same answer."""
    from course_utils.exercises import word2vec as module

    original = module._autograd_reference
    try:  # a reference that agrees with a wrong student lets only gradcheck see the error
        module._autograd_reference = lambda *a: _ns(*a, grad_scale=2.0)
        result = check_negative_sampling_gradients(lambda *a: _ns(*a, grad_scale=2.0))
    finally:
        module._autograd_reference = original
    assert not result and "gradcheck" in result.message


def _cbow(input_table, output_table, context_ids, *, mean=True):
    rows = input_table[context_ids]
    h = rows.mean(0) if mean else rows.sum(0)
    return torch.softmax(output_table @ h, dim=0)


def test_cbow_checker():
    assert check_cbow_forward(_cbow)
    summed = check_cbow_forward(lambda *a: _cbow(*a, mean=False))
    assert not summed and "mean" in summed.hint
    assert not check_cbow_forward(lambda i, o, c: torch.softmax(i @ o[c].mean(0), dim=0))  # tables swapped
    assert "not attempted" in check_cbow_forward(_stub).message


def _analogy(words, matrix, a, b, c, *, normalise=True, exclude=True):
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True) if normalise else matrix
    index = {w: i for i, w in enumerate(words)}
    query = unit[index[b]] - unit[index[a]] + unit[index[c]]
    scores = unit @ query / np.linalg.norm(query)
    if exclude:
        scores[[index[a], index[b], index[c]]] = -np.inf
    return words[int(np.argmax(scores))]


def test_analogy_checker_and_its_designed_cases():
    words = ["man", "woman", "king", "queen"]
    assert check_analogy_solver(_analogy)
    assert not check_analogy_solver(lambda *a: _analogy(*a, normalise=False))  # the long "prince" vector wins
    assert not check_analogy_solver(lambda *a: _analogy(*a, exclude=False))  # returns an input word
    assert "not attempted" in check_analogy_solver(_stub).message
    matrix = np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]])
    assert _analogy_reference(words, matrix, "man", "woman", "king") == "queen"

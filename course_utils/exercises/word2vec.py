"""Checkers for notebook 03's exercises: the negative-sampling loss and its gradient, CBOW, analogies.

Each checker compares the student's function with the tested implementation in
``course_utils.word2vec`` / ``course_utils.vectors`` (or with autograd) on several inputs and prints
one pass/fail line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from course_utils import word2vec
from course_utils.exercises import ExerciseResult, check_function, check_true, guards
from course_utils.vectors import WordVectors

__all__ = ["check_negative_sampling_gradients", "check_cbow_forward", "check_analogy_solver"]

_NS_HINT = ("loss = -log σ(u_o·v) - Σ_k log σ(-u_k·v) (use F.logsigmoid); with s = u·v, "
            "∂loss/∂v = (σ(s_o) - 1) u_o + Σ_k σ(s_k) u_k, ∂loss/∂u_o = (σ(s_o) - 1) v, ∂loss/∂u_k = σ(s_k) v")


def _autograd_reference(v: torch.Tensor, u_o: torch.Tensor, u_neg: torch.Tensor):
    """Loss of one example and its gradients, from autograd on the tested loss."""
    inputs = [t.detach().clone().requires_grad_(True) for t in (v, u_o, u_neg)]
    loss = word2vec.negative_sampling_loss(inputs[0][None], inputs[1][None], inputs[2][None])
    grads = torch.autograd.grad(loss, inputs)
    return (loss.detach(), *grads)


def _ns_cases() -> list[tuple]:
    generator = torch.Generator().manual_seed(3)

    def randn(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=generator, dtype=torch.float64)

    return [
        (randn(4), randn(4), randn(3, 4)),  # D = 4, K = 3
        (randn(8, scale=0.1), randn(8, scale=0.1), randn(5, 8, scale=0.1)),  # small vectors, as at the start
        (randn(6, scale=3.0), randn(6, scale=3.0), randn(1, 6, scale=3.0)),  # large scores: saturated σ, K = 1
    ]


@guards(word2vec.negative_sampling_loss, word2vec.negative_sampling_gradients)
def check_negative_sampling_gradients(student: Callable) -> ExerciseResult:
    """``student(v, u_o, u_neg)`` → ``(loss, grad_v, grad_u_o, grad_u_neg)`` for one example (float64).

    Checked twice: against autograd on the reference loss, and with ``torch.autograd.gradcheck``,
    which compares the student's gradient with finite differences of the student's own loss.
    """
    name = "negative-sampling loss and gradient"
    result = check_function(student, _autograd_reference, _ns_cases(), name=name, hint=_NS_HINT, atol=1e-8)
    if not result:
        return result

    class StudentLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v, u_o, u_neg):
            loss, *grads = student(v.detach(), u_o.detach(), u_neg.detach())
            ctx.save_for_backward(*[torch.as_tensor(g, dtype=torch.float64) for g in grads])
            return torch.as_tensor(loss, dtype=torch.float64).clone()

        @staticmethod
        def backward(ctx, grad_output):
            return tuple(grad_output * g for g in ctx.saved_tensors)

    passed = True
    for case in _ns_cases():
        inputs = tuple(t.clone().requires_grad_(True) for t in case)
        passed &= bool(torch.autograd.gradcheck(StudentLoss.apply, inputs, raise_exception=False))
    return check_true(passed, name=name, hint=_NS_HINT,
                      passed="matches autograd and passes torch.autograd.gradcheck in float64",
                      failed="the gradient does not match finite differences of the loss (gradcheck)")


def _cbow_reference(input_table: torch.Tensor, output_table: torch.Tensor, context_ids: torch.Tensor) -> torch.Tensor:
    model = word2vec.CBOW(*input_table.shape).double()
    with torch.no_grad():
        model.input_embeddings.weight.copy_(input_table)
        model.output_embeddings.weight.copy_(output_table)
        return torch.softmax(model(torch.as_tensor(context_ids).view(1, -1)), dim=-1)[0]


@guards(word2vec.CBOW)
def check_cbow_forward(student: Callable) -> ExerciseResult:
    """``student(input_table, output_table, context_ids)`` → p(centre = w | context) for every w, (V,)."""
    generator = torch.Generator().manual_seed(4)
    cases = []
    for vocab_size, dim, context in ((6, 3, [1, 4]), (10, 5, [0, 2, 2, 7]), (8, 4, [5])):
        cases.append((torch.randn(vocab_size, dim, generator=generator, dtype=torch.float64),
                      torch.randn(vocab_size, dim, generator=generator, dtype=torch.float64),
                      torch.tensor(context)))
    return check_function(
        student, _cbow_reference, cases, name="CBOW forward pass", atol=1e-8,
        hint="average the input vectors of the context words into h (the mean, not the sum; an id that "
             "appears twice counts twice), score every word's output vector against h with a dot product, "
             "and turn the V scores into probabilities with a softmax",
    )


def _analogy_reference(words: list[str], matrix: np.ndarray, a: str, b: str, c: str) -> str:
    return WordVectors(words, matrix).analogy(a, b, c, topn=1)[0][0]


@guards(WordVectors.analogy)
def check_analogy_solver(student: Callable) -> ExerciseResult:
    """``student(words, matrix, a, b, c)`` → the word d (not a, b or c) maximising cos(d, b̂ − â + ĉ)."""
    rng = np.random.default_rng(7)
    words = ["man", "woman", "king", "queen", "prince", "apple", "paris", "france", "rome", "italy"]
    matrix = rng.normal(scale=0.3, size=(len(words), 6))
    gender, royal, capital = rng.normal(size=(3, 6))
    matrix[1] = matrix[0] + gender
    matrix[2] = matrix[0] + royal
    matrix[3] = matrix[0] + gender + royal + rng.normal(scale=0.1, size=6)
    matrix[4] = 5.0 * (matrix[2] + rng.normal(scale=0.3, size=6))  # long vector: wins only without normalising
    matrix[7] = matrix[6] + capital
    matrix[9] = matrix[8] + capital + rng.normal(scale=0.1, size=6)
    cases = [
        (words, matrix, "man", "woman", "king"),
        (words, matrix, "paris", "france", "rome"),
        (words, matrix, "king", "queen", "man"),
        (words, matrix, "apple", "apple", "paris"),  # b − a + c = c: the answer must not be an input word
    ]
    hint = ("normalise every row to unit length, query = b̂ − â + ĉ, score all words by cosine with the query, "
            "exclude a, b and c, return the best word")
    return check_function(student, _analogy_reference, cases, name="analogy solver", hint=hint)

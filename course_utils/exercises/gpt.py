"""Checkers for notebook 08's exercises: top-k and top-p filtering, the shifted causal LM loss, a k-shot prompt.

Each checker compares the student's function with the tested implementation (``course_utils.generation``,
``course_utils.ngram``, ``course_utils.icl_tasks``) on several inputs and prints one pass/fail line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from course_utils import generation, icl_tasks, ngram
from course_utils.exercises import ExerciseResult, check_function, guards

__all__ = ["check_top_k_filter", "check_top_p_filter", "check_lm_loss", "check_k_shot_prompt"]


def _logits() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(8)
    return [torch.randn(10, generator=generator), torch.randn(3, 12, generator=generator) * 3,
            torch.tensor([[2.0, 1.0, 0.5, 0.5, -1.0]])]


@guards(generation.top_k_filter)
def check_top_k_filter(student: Callable) -> ExerciseResult:
    """``student(logits, k)`` keeps the k largest logits of each row and sets the others to -inf."""
    cases = [(x, k) for x in _logits() for k in (1, 3)] + [(_logits()[1], 12)]
    return check_function(
        student, generation.top_k_filter, cases, name="top-k filtering",
        hint="find the k-th largest value of each row (along the last axis) and replace every logit that is "
             "strictly smaller by minus infinity; rows are independent, and k >= V changes nothing")


@guards(generation.top_p_filter)
def check_top_p_filter(student: Callable) -> ExerciseResult:
    """``student(logits, p)`` keeps the smallest set of most probable tokens whose probability is >= p."""
    cases = [(x, p) for x in _logits() for p in (0.3, 0.9)] + [(_logits()[0], 1.0)]
    return check_function(
        student, generation.top_p_filter, cases, name="top-p (nucleus) filtering",
        hint="sort each row's probabilities in decreasing order; a token stays when the mass of the tokens "
             "ranked before it is still below p (so the most probable one always stays); undo the sorting "
             "before you mask the others with minus infinity")


@guards(ngram.lm_loss, ngram.token_log_probs)
def check_lm_loss(student: Callable) -> ExerciseResult:
    """``student(logits (B, T, V), ids (B, T))`` returns the mean next-token cross-entropy (a scalar)."""
    generator = torch.Generator().manual_seed(9)
    cases = [(torch.randn(1, 4, 6, generator=generator), torch.randint(0, 6, (1, 4), generator=generator)),
             (torch.randn(3, 7, 11, generator=generator), torch.randint(0, 11, (3, 7), generator=generator))]
    return check_function(
        student, ngram.lm_loss, cases, name="causal LM loss with shifted targets",
        hint="the logits at position t predict the token at t + 1: drop the last position of the logits and "
             "the first of the ids, flatten both, and take the mean cross-entropy")


def _examples() -> list[tuple]:
    rng = np.random.RandomState(4)
    return [(icl_tasks.make_examples("reverse", 3, rng), "reverse"), (icl_tasks.make_examples("map", 5, rng), None),
            (icl_tasks.make_examples("sort", 1, rng), "sort")]


@guards(icl_tasks.build_prompt)
def check_k_shot_prompt(student: Callable) -> ExerciseResult:
    """``student(examples, description)`` returns the prompt's symbols, the query's answer left out."""

    def reference(examples, description):
        return icl_tasks.build_prompt(examples, description=description, with_answer=False)[0]

    return check_function(
        student, reference, _examples(), name="a k-shot prompt",
        hint="start with '<bos>'; with a description add it and ':'; then every demonstration's input "
             "symbols, '=>', its output symbols and ';'; end with the query's input and '=>' (no answer)")

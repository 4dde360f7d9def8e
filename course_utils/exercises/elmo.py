"""Checkers for notebook 04's exercises: the scalar mix, combining forward and backward states, and
"what makes ELMo deep?".

The first two compare the student's function with the tested implementation in ``course_utils.elmo``
on several inputs (including one that overflows a naive softmax); the third is a multiple-choice
question with feedback for every option.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_utils import elmo
from course_utils.exercises import ExerciseResult, check_function, check_true, guards

__all__ = ["check_scalar_mix", "check_combine_directions", "ELMO_DEEP_OPTIONS", "check_what_makes_elmo_deep"]


def _scalar_mix_reference(layers: torch.Tensor, raw_weights: torch.Tensor, gamma: float) -> torch.Tensor:
    mix = elmo.ScalarMix(layers.shape[0], initial_weights=raw_weights, gamma=gamma).double()
    with torch.no_grad():
        return mix(layers)


def _scalar_mix_cases() -> list[tuple]:
    generator = torch.Generator().manual_seed(4)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    return [
        (randn(3, 5, 4), torch.zeros(3, dtype=torch.float64), 1.0),  # equal weights: the mean of the layers
        (randn(3, 2, 7, 6), torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 0.7),  # (L+1, B, T, D)
        (randn(2, 4), torch.tensor([3.0, 1.0], dtype=torch.float64), 2.5),
        (randn(3, 1, 8), torch.tensor([800.0, 801.0, 799.0], dtype=torch.float64), 1.0),  # exp would overflow
    ]


@guards(elmo.ScalarMix)
def check_scalar_mix(student: Callable) -> ExerciseResult:
    """``student(layers, raw_weights, gamma)`` → γ Σ_j softmax(w)_j · layers[j] (float64 tensors)."""
    return check_function(
        student, _scalar_mix_reference, _scalar_mix_cases(), name="scalar mix",
        hint="first turn the raw weights into positive weights that sum to one, in a way that cannot overflow "
             "when the raw weights are large (a softmax does not change if every input moves by the same amount); "
             "then give the weights a shape that lines them up with the first axis of the layers, and scale the "
             "weighted sum by gamma",
        atol=1e-9,
    )


def _combine_reference(forward: torch.Tensor, backward_reversed: torch.Tensor) -> torch.Tensor:
    return torch.cat([forward, backward_reversed.flip(0)], dim=-1)


def _combine_cases() -> list[tuple]:
    generator = torch.Generator().manual_seed(5)
    cases = []
    for steps, dim in ((5, 3), (1, 4), (7, 2)):
        cases.append((torch.randn(steps, dim, generator=generator, dtype=torch.float64),
                      torch.randn(steps, dim, generator=generator, dtype=torch.float64)))
    return cases


@guards()
def check_combine_directions(student: Callable) -> ExerciseResult:
    """``student(forward, backward_reversed)`` → (T, 2d) token representations [→h_t; ←h_t].

    ``forward[t]`` is the forward LSTM's state after reading tokens 0..t; ``backward_reversed[i]`` is the
    backward LSTM's i-th output, which it computes after reading the sentence from the end, so it
    belongs to token T−1−i.
    """
    return check_function(
        student, _combine_reference, _combine_cases(), name="combining forward and backward states",
        hint="the backward LSTM read the sentence from the end, so its rows are in reverse token order: put "
             "them back in sentence order first, so that row t belongs to token t in both inputs; then join the "
             "two directions feature by feature, forward part first",
    )


ELMO_DEEP_OPTIONS = {
    "a": "Its LSTMs stack many layers (more than ten per direction).",
    "b": "A token's representation is a learned combination of all the biLM's internal layers, not just the top one.",
    "c": "It reads characters through a convolutional network instead of looking words up in a table.",
    "d": "It was trained on a corpus of about a billion words.",
}
_FEEDBACK = {
    "a": "No: ELMo has only two LSTM layers per direction; depth in the paper's sense is about which layers are used.",
    "c": "The character CNN lets every word, even an unseen one, get a vector; it is layer 0, not what 'deep' means.",
    "d": "The size of the training corpus matters for quality, but it is not what 'deep' refers to.",
}


@guards()
def check_what_makes_elmo_deep(answer: str | Callable[[], str]) -> ExerciseResult:
    """Multiple choice: ``answer`` is one letter among ``ELMO_DEEP_OPTIONS``, or a function returning it
    (a stub that raises NotImplementedError is reported as not attempted)."""
    name = "what makes ELMo deep?"
    hint = "look at the ScalarMix formula: which layers does a task see?"
    if callable(answer):
        try:
            answer = answer()
        except NotImplementedError:
            answer = None
    if answer is None or answer is NotImplemented:
        return check_true(False, name=name, passed="", failed="not attempted yet: set answer to one of a, b, c, d")
    letter = answer.strip().lower().rstrip(")") if isinstance(answer, str) else None
    if letter not in ELMO_DEEP_OPTIONS:
        return check_true(False, name=name, passed="", failed=f"{answer!r} is not one of the options a, b, c, d",
                          hint="answer with a single letter, e.g. answer = 'a'")
    return check_true(
        letter == "b", name=name, hint=hint, failed=_FEEDBACK.get(letter, ""),
        passed="right: Peters et al. call the representations deep because they are a function of all "
               "internal layers (ELMo_k = γ Σ_j s_j h_kj), so each task can weight the layers as it needs (the "
               "paper found lower layers better for syntax and upper ones for word senses; section 5 of the "
               "notebook tests that)",
    )

"""Checkers for attention exercises: Bahdanau's additive attention, a sliding-window causal mask, attention
with a distance penalty (ALiBi) — notebook 05 — and scaled dot-product attention, the causal mask and
splitting heads (kept for assignments built on them).

Each checker compares the student's function with a tested implementation (``course_utils.attention``,
``course_utils.rnn_attention``, or a reference below whose tests use PyTorch as the oracle) on several
inputs and prints one pass/fail line with a hint that points the way without giving the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_utils import attention, rnn_attention
from course_utils.exercises import ExerciseResult, check_function, check_true, guards

__all__ = [
    "check_additive_attention",
    "check_local_causal_mask",
    "check_alibi_attention",
    "local_causal_mask",
    "alibi_bias",
    "biased_attention",
    "check_scaled_dot_product_attention",
    "check_causal_mask",
    "check_split_merge_heads",
]


def _cases_for_attention() -> list[tuple]:
    generator = torch.Generator().manual_seed(5)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    mask = torch.rand(4, 6, generator=generator) > 0.5
    mask[:, 0] = True  # every query keeps at least one key
    return [
        (randn(3, 4), randn(5, 4), randn(5, 2)),  # one sequence, T=3, S=5
        (randn(2, 4, 8), randn(2, 6, 8), randn(2, 6, 3)),  # a batch, larger d_k (does it scale?)
        (randn(2, 4, 8), randn(2, 6, 8), randn(2, 6, 3), mask),  # with a mask (True = may attend)
        (randn(2, 3, 4, 4), randn(2, 3, 4, 4), randn(2, 3, 4, 4), attention.causal_mask(4)),  # (B, H, T, D)
    ]


@guards(attention.scaled_dot_product_attention, attention.fast_scaled_dot_product_attention)
def check_scaled_dot_product_attention(student: Callable) -> ExerciseResult:
    """``student(query, key, value, mask=None)`` must return ``(output, weights)`` like the reference."""

    def reference(query, key, value, mask=None):
        return attention.scaled_dot_product_attention(query, key, value, mask, return_weights=True)

    return check_function(
        student, reference, _cases_for_attention(), name="scaled dot-product attention",
        hint="score every query against every key with a dot product, divide by the square root of the key "
             "width, shut out the masked keys before the softmax (they must get weight 0), normalise over the "
             "keys, and average the values with those weights; transpose only the last two axes of the keys so "
             "batch and head axes pass through",
    )


@guards(attention.causal_mask)
def check_causal_mask(student: Callable) -> ExerciseResult:
    """``student(T)`` must return the (T, T) bool mask that is True on and below the diagonal."""
    name = "causal mask"
    hint = ("query t may read keys 0..t: the allowed entries form a triangle that includes the diagonal; "
            "the result must hold booleans, not numbers")
    result = check_function(student, attention.causal_mask, [(1,), (3,), (6,)], name=name, hint=hint)
    if not result:
        return result
    dtype = getattr(student(4), "dtype", None)
    if dtype != torch.bool:
        return check_true(False, name=name, passed="", hint=hint,
                          failed=f"the values are right but the dtype is {dtype}, not torch.bool")
    return result


@guards(attention.split_heads, attention.merge_heads)
def check_split_merge_heads(split: Callable, merge: Callable) -> ExerciseResult:
    """``split(x, n_heads)``: (B, T, C) -> (B, H, T, C/H); ``merge`` is its inverse."""
    generator = torch.Generator().manual_seed(6)
    xs = [torch.randn(2, 5, 8, generator=generator), torch.randn(1, 3, 12, generator=generator)]
    hint = ("split: first cut the channel axis into (heads, channels per head), keeping positions where they "
            "are, then swap the position and head axes; merge undoes the two steps in the opposite order")
    result = check_function(split, attention.split_heads, [(xs[0], 2), (xs[0], 4), (xs[1], 3)],
                            name="split heads", hint=hint)
    if not result:
        return result
    heads = [attention.split_heads(xs[0], 4), attention.split_heads(xs[1], 3)]
    result = check_function(merge, attention.merge_heads, [(h,) for h in heads], name="merge heads", hint=hint)
    if not result:
        return result
    return check_function(lambda x, h: merge(split(x, h)), lambda x, h: x, [(xs[0], 2), (xs[1], 6)],
                          name="split then merge gives the input back", hint=hint)


# --------------------------------------------------------------------------------------------------
# Notebook 05: additive attention, a sliding-window causal mask, attention with a distance penalty
# --------------------------------------------------------------------------------------------------


def _additive_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(11)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    mask = torch.tensor([[True, True, False, True, False], [True, False, False, False, False]])
    return [
        (randn(1, 3), randn(1, 4, 3), randn(3, 5), randn(3, 5), randn(5)),  # one decoder state, 4 source words
        (randn(2, 4), randn(2, 5, 6), randn(4, 7), randn(6, 7), randn(7)),  # query and key widths differ
        (randn(2, 4), randn(2, 5, 6), randn(4, 7), randn(6, 7), randn(7), mask),  # with a mask
        (10 * randn(3, 2), randn(3, 6, 2), randn(2, 3), randn(2, 3), randn(3)),  # large scores: tanh saturates
    ]


@guards(rnn_attention.additive_attention)
def check_additive_attention(student: Callable) -> ExerciseResult:
    """``student(query, keys, w_query, w_key, v, mask=None)`` must return ``(context (B, D_h), weights (B, S))``
    like :func:`course_utils.rnn_attention.additive_attention`."""
    return check_function(
        student, rnn_attention.additive_attention, _additive_cases(), name="additive (Bahdanau) attention",
        hint="project the decoder state and every encoder state into the attention width, add them (the "
             "state's projection is shared by all source positions: give it a length-1 source axis), squash "
             "with tanh, and score each position by its dot product with v; masked positions must get weight "
             "0; the context is the weighted sum of the encoder states over the source axis",
    )


def local_causal_mask(size: int, window: int) -> torch.Tensor:
    """(size, size) bool: query t may read key s when t - window < s <= t (itself and window - 1 before)."""
    if size < 1 or window < 1:
        raise ValueError(f"size and window must be positive, got size={size}, window={window}")
    causal = attention.causal_mask(size)
    too_far = attention.causal_mask(size).tril(-window)  # s <= t - window
    return causal & ~too_far


@guards(local_causal_mask)
def check_local_causal_mask(student: Callable) -> ExerciseResult:
    """``student(T, window)`` must return the (T, T) bool sliding-window causal mask."""
    name = "sliding-window causal mask"
    hint = ("query t may read key s when s is not in the future and at most window - 1 positions back; "
            "build the two conditions from the position indices (or from triangles) and combine them; the "
            "result must hold booleans")
    cases = [(1, 1), (5, 1), (5, 2), (6, 3), (4, 4), (4, 10)]  # window 1: only itself; window >= T: causal
    result = check_function(student, local_causal_mask, cases, name=name, hint=hint)
    if not result:
        return result
    dtype = getattr(student(4, 2), "dtype", None)
    if dtype != torch.bool:
        return check_true(False, name=name, passed="", hint=hint,
                          failed=f"the values are right but the dtype is {dtype}, not torch.bool")
    return result


def alibi_bias(size: int, slope: float) -> torch.Tensor:
    """(size, size) float: -slope · (t - s) for keys s <= t, -inf for later keys (Press et al., 2022)."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    positions = torch.arange(size)
    distance = (positions[:, None] - positions[None, :]).to(torch.get_default_dtype())  # (T, S): t - s
    return (-slope * distance).masked_fill(distance < 0, float("-inf"))


def biased_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d_k) + bias) V and the weights; ``bias`` broadcasts to (..., T, S)."""
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1]) + bias  # (..., T, S)
    weights = torch.softmax(scores, dim=-1)
    return weights @ value, weights


def _alibi_attention_cases(bias_fn: Callable) -> list[tuple]:
    g = torch.Generator().manual_seed(12)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return [
        (randn(4, 8), randn(4, 8), randn(4, 3), bias_fn(4, 0.5).double()),  # one sequence
        (randn(2, 3, 5, 4), randn(2, 3, 5, 4), randn(2, 3, 5, 2), bias_fn(5, 1.0).double()),  # (B, H, T, D)
        (randn(2, 6, 16), randn(2, 6, 16), randn(2, 6, 4), bias_fn(6, 0.0).double()),  # slope 0: causal only
    ]


@guards(alibi_bias, biased_attention)
def check_alibi_attention(bias_fn: Callable, attention_fn: Callable) -> ExerciseResult:
    """``bias_fn(T, slope)`` must return ALiBi's (T, T) bias; ``attention_fn(query, key, value, bias)`` must
    return ``(output, weights)`` of softmax(Q K^T / sqrt(d_k) + bias) V."""
    bias_hint = ("the bias depends only on the distance t - s between query and key: minus slope times that "
                 "distance for keys at or before the query, minus infinity for later keys")
    result = check_function(bias_fn, alibi_bias, [(1, 0.5), (4, 0.5), (6, 0.25), (3, 2.0)], name="ALiBi bias",
                            hint=bias_hint)
    if not result:
        return result
    return check_function(
        attention_fn, biased_attention, _alibi_attention_cases(alibi_bias), name="attention with a bias",
        hint="scaled dot-product attention as in section 5, with the bias added to the scaled scores before the "
             "softmax (a bias of minus infinity gives weight 0); transpose only the last two axes of the keys",
    )

"""Checkers for notebook 05's exercises: scaled dot-product attention, the causal mask, splitting heads.

Each checker compares the student's function with the tested implementation in
``course_utils.attention`` on several inputs and prints one pass/fail line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_utils import attention
from course_utils.exercises import ExerciseResult, check_function, check_true, guards

__all__ = ["check_scaled_dot_product_attention", "check_causal_mask", "check_split_merge_heads"]


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
        hint="scores = Q @ K^T / sqrt(d_k) with d_k = query.shape[-1]; set scores to -inf where mask is False; "
             "softmax over the last axis (the keys); output = weights @ V. Use transpose(-2, -1) so batches work.",
    )


@guards(attention.causal_mask)
def check_causal_mask(student: Callable) -> ExerciseResult:
    """``student(T)`` must return the (T, T) bool mask that is True on and below the diagonal."""
    name = "causal mask"
    hint = "position t may attend to positions 0..t: torch.ones(T, T, dtype=torch.bool).tril()"
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
    hint = ("split: x.view(B, T, H, C // H).transpose(1, 2) — head h gets channels h*D..(h+1)*D-1; "
            "merge: x.transpose(1, 2).reshape(B, T, H * D)")
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

"""Checkers of notebook 05: a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import math

import torch

from course_utils.exercises.attention import (
    check_causal_mask,
    check_scaled_dot_product_attention,
    check_split_merge_heads,
)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _attention(query, key, value, mask=None, scale=True):
    scores = query @ key.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(query.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ value, weights


def test_attention_checker(capsys):
    assert check_scaled_dot_product_attention(_attention)
    assert "PASS" in capsys.readouterr().out
    unscaled = check_scaled_dot_product_attention(lambda q, k, v, mask=None: _attention(q, k, v, mask, scale=False))
    assert not unscaled and "sqrt" in unscaled.hint
    assert not check_scaled_dot_product_attention(lambda q, k, v, mask=None: _attention(q, k, v, None))  # ignores mask
    stub = check_scaled_dot_product_attention(_stub)
    assert not stub and "not attempted" in stub.message
    assert "FAIL" in capsys.readouterr().out


def test_causal_mask_checker():
    assert check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril())
    assert not check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).triu())  # looks at the future
    wrong_dtype = check_causal_mask(lambda T: torch.ones(T, T).tril())
    assert not wrong_dtype and "dtype" in wrong_dtype.message
    assert "not attempted" in check_causal_mask(_stub).message


def test_split_merge_checker():
    def split(x, n_heads):
        B, T, C = x.shape
        return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)

    def merge(x):
        B, H, T, D = x.shape
        return x.transpose(1, 2).reshape(B, T, H * D)

    assert check_split_merge_heads(split, merge)
    # a plain reshape has the right shape but mixes positions and channels
    wrong = check_split_merge_heads(lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), merge)
    assert not wrong and "split heads" in wrong.name
    assert not check_split_merge_heads(split, lambda x: x.reshape(x.shape[0], x.shape[2], -1))
    assert "not attempted" in check_split_merge_heads(_stub, merge).message
    assert "not attempted" in check_split_merge_heads(split, _stub).message

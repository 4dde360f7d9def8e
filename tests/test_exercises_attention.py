"""Attention checkers (notebook 05 and assignments): a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.exercises.attention import (
    alibi_bias,
    biased_attention,
    check_additive_attention,
    check_alibi_attention,
    check_causal_mask,
    check_local_causal_mask,
    check_scaled_dot_product_attention,
    check_split_merge_heads,
    local_causal_mask,
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
    assert not unscaled and "square root" in unscaled.hint
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


def _additive(query, keys, w_query, w_key, v, mask=None):
    scores = torch.tanh((query @ w_query).unsqueeze(1) + keys @ w_key) @ v  # (B, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, -1)
    return torch.einsum("bs,bsd->bd", weights, keys), weights


def test_additive_attention_checker():
    assert check_additive_attention(_additive)
    assert not check_additive_attention(lambda q, k, wq, wk, v, mask=None: _additive(q, k, wq, wk, v))  # no mask
    no_tanh = check_additive_attention(
        lambda q, k, wq, wk, v, mask=None: (lambda w: (torch.einsum("bs,bsd->bd", w, k), w))(
            torch.softmax(((q @ wq).unsqueeze(1) + k @ wk) @ v, -1)))
    assert not no_tanh and "tanh" in no_tanh.hint
    assert "not attempted" in check_additive_attention(_stub).message


def test_local_causal_mask_reference_and_checker():
    mask = local_causal_mask(5, 2)
    t, s = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    assert torch.equal(mask, (s <= t) & (s > t - 2)) and mask.dtype == torch.bool
    assert torch.equal(local_causal_mask(4, 9), torch.ones(4, 4, dtype=torch.bool).tril())  # wide window = causal
    assert torch.equal(local_causal_mask(3, 1), torch.eye(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="positive"):
        local_causal_mask(3, 0)
    assert check_local_causal_mask(lambda T, w: (torch.arange(T)[None] <= torch.arange(T)[:, None])
                                   & (torch.arange(T)[None] > torch.arange(T)[:, None] - w))
    assert not check_local_causal_mask(lambda T, w: torch.ones(T, T, dtype=torch.bool).tril())  # no window
    assert not check_local_causal_mask(lambda T, w: local_causal_mask(T, w).float())  # not bool
    assert "not attempted" in check_local_causal_mask(_stub).message


def test_alibi_reference_against_pytorch_and_checker():
    bias = alibi_bias(4, 0.5)
    assert bias[3, 0] == -1.5 and bias[2, 2] == 0 and bias[0, 1] == float("-inf")
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, 8, generator=g) for _ in range(3))
    output, weights = biased_attention(q, k, v, bias)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=bias))  # PyTorch as oracle
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 4))
    assert float(weights[..., 0, 1:].abs().max()) == 0.0  # the first query reads only itself
    with pytest.raises(ValueError, match="positive"):
        alibi_bias(0, 1.0)

    def student_bias(T, slope):
        d = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).float()
        return torch.where(d >= 0, -slope * d, torch.tensor(float("-inf")))

    def student_attention(q, k, v, b):
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + b, -1)
        return w @ v, w

    assert check_alibi_attention(student_bias, student_attention)
    assert not check_alibi_attention(lambda T, slope: student_bias(T, -slope), student_attention)  # wrong sign
    unscaled = check_alibi_attention(student_bias, lambda q, k, v, b: student_attention(q * math.sqrt(q.shape[-1]), k, v, b))
    assert not unscaled and "attention with a bias" in unscaled.name
    assert "not attempted" in check_alibi_attention(student_bias, _stub).message


def test_hints_point_the_way_without_printing_code():
    import re
    from pathlib import Path

    from course_utils.exercises import attention as checkers

    source = Path(checkers.__file__).read_text()
    hints = re.findall(r'hint\s*=\s*\(?("(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*)', source)
    assert len(hints) >= 7
    for hint in hints:
        assert not re.search(r"torch\.|\.tril\(|\.view\(|\.transpose\(|@|\.reshape\(", hint), hint


def test_new_checkers_guard_their_references():
    from course_utils.exercises.attention import alibi_bias as reference_bias
    from course_utils.rnn_attention import additive_attention

    assert not check_additive_attention(additive_attention)  # a wrapper around the reference scores nothing
    assert not check_local_causal_mask(local_causal_mask)
    assert not check_alibi_attention(reference_bias, biased_attention)

"""Bahdanau's additive attention and the small RNN encoder-decoder that uses it."""

from __future__ import annotations

import pytest
import torch

from course_utils.rnn_attention import (
    AdditiveAttention,
    RNNEncoderDecoder,
    RNNSeq2SeqOutput,
    additive_attention,
)


def _loop_reference(query, keys, w_query, w_key, v, mask=None):
    """The formula written one score at a time: e_j = v . tanh(W s + U h_j)."""
    B, S, _ = keys.shape
    contexts, weights = [], []
    for b in range(B):
        scores = torch.stack([v @ torch.tanh(query[b] @ w_query + keys[b, j] @ w_key) for j in range(S)])
        if mask is not None:
            scores = torch.where(mask[b], scores, torch.tensor(float("-inf"), dtype=scores.dtype))
        alpha = torch.softmax(scores, 0)
        weights.append(alpha)
        contexts.append(alpha @ keys[b])
    return torch.stack(contexts), torch.stack(weights)


def test_additive_attention_matches_the_formula_written_as_a_loop():
    g = torch.Generator().manual_seed(0)
    query, keys = torch.randn(3, 5, generator=g, dtype=torch.float64), torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    w_query, w_key, v = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((5, 7), (6, 7), (7,)))
    mask = torch.tensor([[True, True, False, True], [True, False, False, False], [True] * 4])
    for m in (None, mask):
        context, weights = additive_attention(query, keys, w_query, w_key, v, m)
        expected_context, expected_weights = _loop_reference(query, keys, w_query, w_key, v, m)
        assert context.shape == (3, 6) and weights.shape == (3, 4)
        torch.testing.assert_close(context, expected_context)
        torch.testing.assert_close(weights, expected_weights)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64))
    assert float(weights[1, 1:].abs().max()) == 0.0  # masked keys get exactly zero weight


def test_a_row_with_nothing_to_read_gets_zeros_not_nan():
    query, keys = torch.randn(2, 3), torch.randn(2, 4, 3)
    w, v = torch.randn(3, 5), torch.randn(5)
    mask = torch.tensor([[False] * 4, [True, False, True, False]])
    context, weights = additive_attention(query, keys, w, w, v, mask)
    assert not torch.isnan(context).any() and not torch.isnan(weights).any()
    assert float(context[0].abs().max()) == 0.0 and float(weights[0].abs().max()) == 0.0


@pytest.mark.parametrize("args, message", [
    (((2, 3), (2, 4)), "query must be"),
    (((2, 3), (3, 4, 3)), "same B"),
])
def test_bad_shapes_are_named(args, message):
    query, keys = torch.randn(*args[0]), torch.randn(*args[1])
    with pytest.raises(ValueError, match=message):
        additive_attention(query, keys, torch.randn(3, 5), torch.randn(3, 5), torch.randn(5))


def test_bad_parameters_and_masks_are_named():
    query, keys = torch.randn(2, 3), torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="w_query must be"):
        additive_attention(query, keys, torch.randn(4, 5), torch.randn(3, 5), torch.randn(5))
    with pytest.raises(ValueError, match="attention width"):
        additive_attention(query, keys, torch.randn(3, 5), torch.randn(3, 5), torch.randn(6))
    with pytest.raises(ValueError, match="mask must be a bool"):
        additive_attention(query, keys, torch.randn(3, 5), torch.randn(3, 5), torch.randn(5), torch.ones(2, 4))


def test_module_uses_its_parameters_as_w_u_and_v():
    torch.manual_seed(0)
    layer = AdditiveAttention(5, 6, 7)
    query, keys = torch.randn(2, 5), torch.randn(2, 3, 6)
    context, weights = layer(query, keys)
    expected = additive_attention(query, keys, layer.query_proj.weight.T, layer.key_proj.weight.T, layer.v)
    torch.testing.assert_close(context, expected[0])
    torch.testing.assert_close(weights, expected[1])


def test_encoder_decoder_shapes_padding_and_greedy():
    torch.manual_seed(0)
    model = RNNEncoderDecoder(9, embedding_size=8, hidden_size=12, attention_size=10).eval()
    source = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 2]])  # the first row is padded
    target_in = torch.tensor([[1, 5, 4], [1, 2, 8]])
    with torch.no_grad():
        out = model(source, target_in)
    assert isinstance(out, RNNSeq2SeqOutput)
    assert out.logits.shape == (2, 3, 9) and out.weights.shape == (2, 3, 4)
    assert float(out.weights[0, :, 3].abs().max()) == 0.0  # padding is never read
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(2, 3))
    decoded = model.greedy(source, 3)
    assert decoded.logits.shape == (2, 3, 9)
    # greedy decoding feeds back its own argmax: teacher forcing on that prefix gives the same logits
    prefix = torch.cat([torch.ones(2, 1, dtype=torch.long), decoded.logits.argmax(-1)[:, :-1]], 1)
    with torch.no_grad():
        torch.testing.assert_close(model(source, prefix).logits, decoded.logits)
    with pytest.raises(ValueError, match="same B"):
        model(source, target_in[:1])
    with pytest.raises(ValueError, match="length must be positive"):
        model.greedy(source, 0)
    with pytest.raises(ValueError, match="positive"):
        RNNEncoderDecoder(0)

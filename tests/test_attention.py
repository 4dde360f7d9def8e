"""Tests for course_utils.attention: PyTorch is the oracle (float64, torch.testing.assert_close)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from course_utils.attention import (
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    attention_entropy,
    causal_mask,
    combine_masks,
    explore_attention,
    fast_scaled_dot_product_attention,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_table,
    split_heads,
)

DOUBLE = torch.float64
ATTENTION_PATHS = [scaled_dot_product_attention, fast_scaled_dot_product_attention]


def _qkv(*batch, T=5, S=7, D=4, Dv=3, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=DOUBLE).requires_grad_(requires_grad)  # noqa: E731
    return make(*batch, T, D), make(*batch, S, D), make(*batch, S, Dv)


def _random_mask(*shape, seed=0, keep_rows=True):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(*shape, generator=g) > 0.4
    if keep_rows:  # make sure every query can see at least one key
        mask[..., 0] = True
    return mask


def _mha_pair(d_model=8, n_heads=2, *, bias=True, seed=0):
    torch.manual_seed(seed)
    ours = MultiHeadAttention(d_model, n_heads, bias=bias).to(DOUBLE)
    torch.nn.init.normal_(ours.in_proj_weight, std=0.5)
    if bias:  # non-zero biases, so the test notices if they are dropped
        torch.nn.init.normal_(ours.in_proj_bias, std=0.1)
        torch.nn.init.normal_(ours.out_proj.bias, std=0.1)
    return ours, ours.to_torch()


# ------------------------------------------------------------------ scaled dot-product vs PyTorch


@pytest.mark.parametrize("attention", ATTENTION_PATHS)
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_attention_matches_torch_without_mask(attention, batch):
    q, k, v = _qkv(*batch)
    assert_close(attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize("attention", ATTENTION_PATHS)
@pytest.mark.parametrize("mask_shape", [(5, 7), (2, 3, 5, 7), (2, 1, 1, 7), (2, 1, 5, 7)])
def test_attention_matches_torch_with_bool_mask(attention, mask_shape):
    q, k, v = _qkv(2, 3)
    mask = _random_mask(*mask_shape)
    assert_close(attention(q, k, v, mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


@pytest.mark.parametrize("attention", ATTENTION_PATHS)
@pytest.mark.parametrize("T,S", [(6, 6), (4, 6)])
def test_attention_matches_torch_causal(attention, T, S):
    q, k, v = _qkv(2, 3, T=T, S=S)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(attention(q, k, v, is_causal=True), expected)
    assert_close(attention(q, k, v, causal_mask(T, key_size=S)), expected)


def test_explicit_weights_match_the_formula():
    q, k, v = _qkv(2)
    mask = _random_mask(5, 7)
    output, weights = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    scores = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf"))
    assert_close(weights, torch.softmax(scores, -1))
    assert_close(output, weights @ v)
    assert torch.all(weights[..., ~mask] == 0)


@pytest.mark.parametrize("attention", ATTENTION_PATHS)
def test_fully_masked_rows_give_zeros_and_finite_gradients(attention):
    q, k, v = _qkv(2, requires_grad=True)
    mask = _random_mask(5, 7)
    mask[1] = False  # query 1 may attend to nothing
    output = attention(q, k, v, mask)
    assert torch.isfinite(output).all()
    assert torch.all(output[:, 1] == 0)
    # the other rows are unaffected by the empty one
    rows = [0, 2, 3, 4]
    assert_close(output[:, rows], F.scaled_dot_product_attention(q[:, rows], k, v, attn_mask=mask[rows]))
    output.sum().backward()
    for tensor in (q, k, v):
        assert torch.isfinite(tensor.grad).all()
    assert torch.all(q.grad[:, 1] == 0)


def test_fully_masked_rows_weights_are_zero():
    q, k, v = _qkv()
    _, weights = scaled_dot_product_attention(q, k, v, torch.zeros(5, 7, dtype=torch.bool), return_weights=True)
    assert torch.all(weights == 0)


def test_fast_and_explicit_paths_agree_with_everything_combined():
    q, k, v = _qkv(2, 3, T=6, S=6)
    mask = combine_masks(padding_mask(torch.tensor([6, 3])), _random_mask(6, 6, keep_rows=False))
    assert_close(
        fast_scaled_dot_product_attention(q, k, v, mask, is_causal=True),
        scaled_dot_product_attention(q, k, v, mask, is_causal=True),
    )


@pytest.mark.parametrize("attention", ATTENTION_PATHS)
def test_dropout_only_while_training(attention):
    q, k, v = _qkv(2, T=16, S=16)
    base = attention(q, k, v)
    assert_close(attention(q, k, v, dropout_p=0.5, training=False), base)
    torch.manual_seed(0)
    dropped = attention(q, k, v, dropout_p=0.5, training=True)
    assert not torch.allclose(dropped, base)
    assert torch.isfinite(dropped).all()


def test_explicit_dropout_keeps_weights_undropped_and_rescales():
    q, k, v = _qkv(T=40, S=40)
    torch.manual_seed(0)
    output, weights = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=True, return_weights=True)
    assert_close(weights.sum(-1), torch.ones(40, dtype=DOUBLE))  # the returned weights are before dropout
    ones = torch.ones(40, 1, dtype=DOUBLE)
    torch.manual_seed(1)
    mean_row = scaled_dot_product_attention(q, k, ones, dropout_p=0.5, training=True).mean()
    assert abs(float(mean_row) - 1.0) < 0.15  # inverted dropout keeps the expected sum at one


# ------------------------------------------------------------------ gradients


def test_gradcheck_explicit_attention_with_mask():
    q, k, v = _qkv(2, T=3, S=4, D=3, Dv=2, requires_grad=True)
    mask = _random_mask(3, 4)
    assert torch.autograd.gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask), (q, k, v))


def test_gradcheck_fast_attention_causal():
    q, k, v = _qkv(2, T=4, S=4, D=3, Dv=2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: fast_scaled_dot_product_attention(a, b, c, is_causal=True), (q, k, v), fast_mode=True)


def test_gradcheck_multi_head_attention_parameters_and_inputs():
    ours, _ = _mha_pair(d_model=4, n_heads=2)
    x = torch.randn(1, 3, 4, dtype=DOUBLE, requires_grad=True)

    def functional(inputs, weight, bias):
        # rebuild through torch.func so gradcheck sees the parameters as inputs
        params = dict(ours.named_parameters())
        params["in_proj_weight"], params["in_proj_bias"] = weight, bias
        return torch.func.functional_call(ours, params, (inputs,), {"mask": causal_mask(3)}).output

    weight = ours.in_proj_weight.detach().clone().requires_grad_(True)
    bias = ours.in_proj_bias.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(functional, (x, weight, bias), fast_mode=True)


def test_gradients_match_torch_multi_head_attention():
    ours, theirs = _mha_pair()
    x = torch.randn(2, 5, 8, dtype=DOUBLE)
    mask = causal_mask(5)
    ours(x, mask=mask).output.square().sum().backward()
    theirs(x, x, x, attn_mask=~mask, need_weights=False)[0].square().sum().backward()
    assert_close(ours.in_proj_weight.grad, theirs.in_proj_weight.grad)
    assert_close(ours.in_proj_bias.grad, theirs.in_proj_bias.grad)
    assert_close(ours.out_proj.weight.grad, theirs.out_proj.weight.grad)


# ------------------------------------------------------------------ multi-head attention vs nn.MultiheadAttention


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_self_attention_matches_torch(fast, bias):
    ours, theirs = _mha_pair(bias=bias)
    ours.fast = fast
    x = torch.randn(3, 5, 8, dtype=DOUBLE)
    result = ours(x, need_weights=True)
    output, weights = result.output, result.weights
    expected, expected_weights = theirs(x, x, x, need_weights=True, average_attn_weights=False)
    assert_close(output, expected)
    assert_close(weights, expected_weights)
    assert ours(x).weights is None
    assert_close(ours(x).output, expected)


@pytest.mark.parametrize("fast", [True, False])
def test_mha_causal_and_padding_masks_match_torch(fast):
    ours, theirs = _mha_pair()
    ours.fast = fast
    x = torch.randn(2, 6, 8, dtype=DOUBLE)
    # causal: our True = may attend, torch's attn_mask True = masked out
    assert_close(ours(x, mask=causal_mask(6)).output, theirs(x, x, x, attn_mask=~causal_mask(6))[0])
    assert_close(ours(x, is_causal=True).output, theirs(x, x, x, attn_mask=~causal_mask(6))[0])
    # padding: torch's key_padding_mask (B, S) True = padding
    keep = padding_mask(torch.tensor([6, 4]))
    assert_close(ours(x, mask=keep).output, theirs(x, x, x, key_padding_mask=~keep[:, 0, 0])[0])
    # both at once, and a per-example (B, T, S) mask
    both = combine_masks(keep, causal_mask(6))
    expected = theirs(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=~keep[:, 0, 0])[0]
    assert_close(ours(x, mask=both).output, expected)
    assert_close(ours(x, mask=both[:, 0]).output, expected)


def test_mha_per_head_mask_matches_torch_3d_attn_mask():
    ours, theirs = _mha_pair()
    x = torch.randn(2, 5, 8, dtype=DOUBLE)
    mask = _random_mask(2, 2, 5, 5)  # (B, H, T, S)
    expected = theirs(x, x, x, attn_mask=~mask.reshape(4, 5, 5))[0]  # torch wants (B*H, T, S)
    assert_close(ours(x, mask=mask).output, expected)


@pytest.mark.parametrize("fast", [True, False])
def test_mha_cross_attention_matches_torch(fast):
    ours, theirs = _mha_pair()
    ours.fast = fast
    decoder = torch.randn(2, 4, 8, dtype=DOUBLE)
    encoder = torch.randn(2, 7, 8, dtype=DOUBLE)
    keep = padding_mask(torch.tensor([7, 5]))
    result = ours(decoder, encoder, mask=keep, need_weights=True)
    output, weights = result.output, result.weights
    expected, expected_weights = theirs(decoder, encoder, encoder, key_padding_mask=~keep[:, 0, 0],
                                        average_attn_weights=False)
    assert output.shape == (2, 4, 8) and weights.shape == (2, 2, 4, 7)
    assert_close(output, expected)
    assert_close(weights, expected_weights)
    # distinct key and value tensors
    values = torch.randn(2, 7, 8, dtype=DOUBLE)
    assert_close(ours(decoder, encoder, values).output, theirs(decoder, encoder, values)[0])


def test_mha_load_from_torch_and_state_dict_layout():
    torch.manual_seed(1)
    theirs = nn.MultiheadAttention(8, 4, batch_first=True, dtype=DOUBLE)
    nn.init.normal_(theirs.in_proj_bias)
    ours = MultiHeadAttention(8, 4).to(DOUBLE).load_from_torch(theirs)
    x = torch.randn(2, 3, 8, dtype=DOUBLE)
    assert_close(ours(x).output, theirs(x, x, x)[0])
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    fresh = MultiHeadAttention(8, 4).to(DOUBLE)
    fresh.load_state_dict(theirs.state_dict())  # the same keys, so state dicts load directly
    assert_close(fresh(x).output, ours(x).output)
    with pytest.raises(ValueError, match="num_heads=4"):
        MultiHeadAttention(8, 2).load_from_torch(theirs)
    with pytest.raises(TypeError):
        ours.load_from_torch(nn.Linear(8, 8))


def test_mha_initialisation_like_torch():
    layer = MultiHeadAttention(64, 4)
    bound = math.sqrt(6 / (64 + 3 * 64))  # Xavier-uniform bound for a (3C, C) matrix
    assert float(layer.in_proj_weight.detach().abs().max()) <= bound
    assert torch.all(layer.in_proj_bias == 0) and torch.all(layer.out_proj.bias == 0)
    assert layer.to_torch().batch_first


def test_mha_dropout_train_versus_eval():
    torch.manual_seed(0)
    layer = MultiHeadAttention(16, 4, dropout=0.5).to(DOUBLE)
    x = torch.randn(2, 10, 16, dtype=DOUBLE)
    layer.eval()
    assert_close(layer(x).output, layer(x).output)
    evaluated = layer(x).output
    layer.train()
    assert not torch.allclose(layer(x).output, evaluated)


def test_self_attention_without_positions_is_permutation_equivariant():
    ours, _ = _mha_pair()
    x = torch.randn(1, 6, 8, dtype=DOUBLE)
    permutation = torch.tensor([3, 0, 5, 1, 4, 2])
    assert_close(ours(x[:, permutation]).output, ours(x).output[:, permutation])
    # with positions added, the same reordering changes the outputs
    positions = SinusoidalPositionalEncoding(8, max_len=6).to(DOUBLE)
    shuffled = ours(positions(x[:, permutation])).output
    assert not torch.allclose(shuffled, ours(positions(x)).output[:, permutation])


# ------------------------------------------------------------------ heads and masks


def test_split_and_merge_heads():
    x = torch.arange(2 * 3 * 8, dtype=DOUBLE).reshape(2, 3, 8)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    assert_close(heads[1, 2, 0], x[1, 0, 4:6])  # head h holds channels h*D ... (h+1)*D - 1
    assert_close(merge_heads(heads), x)
    with pytest.raises(ValueError, match="not divisible"):
        split_heads(x, 3)
    with pytest.raises(ValueError):
        merge_heads(torch.zeros(3, 4))


def test_causal_mask():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(2, key_size=3).shape == (2, 3)
    assert causal_mask(2, "cpu").device.type == "cpu"
    assert causal_mask(4).dtype == torch.bool
    with pytest.raises(ValueError):
        causal_mask(0)


def test_padding_mask_from_lengths_and_keep_mask():
    mask = padding_mask(torch.tensor([3, 1]), max_len=4)
    assert mask.shape == (2, 1, 1, 4)
    assert mask[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False]]
    assert padding_mask([2, 3]).shape == (2, 1, 1, 3)
    keep = torch.tensor([[True, False], [True, True]])
    assert torch.equal(padding_mask(keep)[:, 0, 0], keep)
    with pytest.raises(ValueError, match="longer than max_len"):
        padding_mask([5], max_len=3)
    with pytest.raises(ValueError):
        padding_mask(torch.tensor([1.5]))


def test_combine_masks():
    combined = combine_masks(padding_mask([2, 3]), None, causal_mask(3))
    assert combined.shape == (2, 1, 3, 3)
    assert combined[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert combine_masks(None, None) is None
    with pytest.raises(ValueError, match="do not broadcast"):
        combine_masks(causal_mask(3), causal_mask(4))
    with pytest.raises(TypeError):
        combine_masks(torch.ones(3, 3))


# ------------------------------------------------------------------ positional encodings


def test_sinusoidal_table_matches_the_formula():
    for d_model in (6, 7):
        table = sinusoidal_table(20, d_model)
        assert table.shape == (20, d_model)
        for pos in (0, 1, 13):
            for j in range(d_model):
                i2 = j - j % 2  # 2i
                angle = pos / 10000 ** (i2 / d_model)
                expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
                assert abs(float(table[pos, j]) - expected) < 1e-6


def test_sinusoidal_table_in_float32_arithmetic_rounds_only_slightly():
    exact = sinusoidal_table(64, 128)
    single = sinusoidal_table(64, 128, compute_dtype=torch.float32)
    assert single.dtype == exact.dtype and not torch.equal(single, exact)  # float32 angles round differently
    torch.testing.assert_close(single, exact, atol=1e-5, rtol=0)


def test_sinusoidal_relative_positions_are_rotations():
    """PE(pos + k) is PE(pos) rotated pairwise by an angle that depends only on k (Vaswani §3.5)."""
    table = sinusoidal_table(50, 8).to(DOUBLE)
    k = 5
    frequencies = 1 / 10000 ** (torch.arange(0, 8, 2, dtype=DOUBLE) / 8)
    cos, sin = torch.cos(k * frequencies), torch.sin(k * frequencies)
    s, c = table[:-k, 0::2], table[:-k, 1::2]
    assert_close(table[k:, 0::2], s * cos + c * sin, atol=1e-6, rtol=1e-5)
    assert_close(table[k:, 1::2], c * cos - s * sin, atol=1e-6, rtol=1e-5)


def test_positional_modules_add_their_table():
    x = torch.randn(2, 5, 6)
    sinusoidal = SinusoidalPositionalEncoding(6, max_len=10)
    assert_close(sinusoidal(x), x + sinusoidal_table(10, 6)[:5])
    assert_close(sinusoidal(x[:, :2], offset=3), x[:, :2] + sinusoidal_table(10, 6)[3:5])
    assert "table" not in sinusoidal.state_dict()  # recomputed, never saved
    learned = LearnedPositionalEmbedding(6, max_len=10)
    assert_close(learned(x), x + learned.embedding.weight[:5])
    learned(x).sum().backward()
    assert learned.embedding.weight.grad[:5].abs().sum() > 0
    assert torch.all(learned.embedding.weight.grad[5:] == 0)


@pytest.mark.parametrize("module", [SinusoidalPositionalEncoding(8, max_len=10), LearnedPositionalEmbedding(8, 10)])
def test_positions_longer_than_table_raise(module):
    with pytest.raises(ValueError, match=r"length 11.*max_len=10"):
        module(torch.zeros(1, 11, 8))
    with pytest.raises(ValueError, match="d_model=8"):
        module(torch.zeros(1, 3, 4))


# ------------------------------------------------------------------ bad input


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by n_heads=3"):
        MultiHeadAttention(10, 3)
    layer = MultiHeadAttention(8, 2)
    x = torch.zeros(2, 5, 8)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\).*\(2, 2, 5, 5\)"):
        layer(x, mask=torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        layer(x, mask=torch.ones(5, 5))
    with pytest.raises(ValueError, match="d_model=8"):
        layer(torch.zeros(2, 5, 6))
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=r"mask of shape \(5, 6\)"):
        scaled_dot_product_attention(q, k, v, torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="same feature size"):
        scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="same length"):
        fast_scaled_dot_product_attention(q, k, v[:3])
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    with pytest.raises(ValueError):
        sinusoidal_table(0, 4)


# ------------------------------------------------------------------ properties (hypothesis)

shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 5))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), scale=st.floats(0.1, 30.0))
def test_attention_rows_sum_to_one(shape, seed, scale):
    B, T, S, D = shape
    q, k, v = _qkv(B, T=T, S=S, D=D, Dv=2, seed=seed)
    mask = _random_mask(B, T, S, seed=seed, keep_rows=False)
    _, weights = scaled_dot_product_attention(q * scale, k, v, mask, return_weights=True)
    sums = weights.sum(-1)
    has_key = mask.any(-1)
    assert torch.isfinite(weights).all()
    assert_close(sums[has_key], torch.ones_like(sums[has_key]))
    assert torch.all(sums[~has_key] == 0)
    assert torch.all(weights >= 0) and torch.all(weights[~mask] == 0)


def _causal_model(d_model, n_heads, vocab, seed):
    torch.manual_seed(seed)
    return nn.ModuleDict(dict(
        embed=nn.Embedding(vocab, d_model), positions=SinusoidalPositionalEncoding(d_model, max_len=16),
        attention=MultiHeadAttention(d_model, n_heads),
    )).to(DOUBLE)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(2, 10), t=st.integers(0, 9), heads=st.sampled_from([1, 2, 4]), seed=st.integers(0, 1000),
       fast=st.booleans())
def test_causal_output_at_t_ignores_later_tokens(T, t, heads, seed, fast):
    t = t % (T - 1)  # a position with at least one later token
    model = _causal_model(8, heads, vocab=20, seed=seed)
    model["attention"].fast = fast
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(20, (2, T), generator=g)
    changed = tokens.clone()
    changed[:, t + 1:] = (tokens[:, t + 1:] + torch.randint(1, 20, (2, T - t - 1), generator=g)) % 20

    def run(ids):
        x = model["positions"](model["embed"](ids))
        return model["attention"](x, mask=causal_mask(T)).output

    before, after = run(tokens), run(changed)
    assert_close(after[:, : t + 1], before[:, : t + 1])
    assert not torch.allclose(after[:, t + 1:], before[:, t + 1:])  # later positions do see the change


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), causal=st.booleans())
def test_fast_path_equals_explicit_path(shape, seed, causal):
    B, T, S, D = shape
    q, k, v = _qkv(B, T=T, S=S, D=D, Dv=3, seed=seed)
    mask = _random_mask(T, S, seed=seed, keep_rows=False)
    assert_close(fast_scaled_dot_product_attention(q, k, v, mask, is_causal=causal),
                 scaled_dot_product_attention(q, k, v, mask, is_causal=causal))


def test_attention_entropy():
    uniform = torch.full((3, 4), 0.25, dtype=DOUBLE)
    assert_close(attention_entropy(uniform), torch.full((3,), math.log(4), dtype=DOUBLE))
    one_hot = torch.eye(4, dtype=DOUBLE)
    assert_close(attention_entropy(one_hot), torch.zeros(4, dtype=DOUBLE))


def test_explore_attention_draws_one_panel_per_head():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = explore_attention("the dog saw the cat", n_heads=3, d_model=12, causal=True)
    titled = [ax for ax in figure.axes if ax.get_title()]
    assert len(titled) == 3 and "causal" in titled[0].get_title()
    assert [label.get_text() for label in titled[0].get_xticklabels()] == ["the", "dog", "saw", "the", "cat"]
    plt.close(figure)
    with pytest.raises(ValueError, match="not divisible"):
        explore_attention("a b", n_heads=3, d_model=8)

"""fast_dropout / FastDropout: the same statistics as nn.Dropout, reproducible, clear errors."""

import math

import pytest
import torch
from torch import nn

from course_utils.dropout import LEVELS, FastDropout, fast_dropout


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_drop_share_and_scale_match_the_rounded_probability(p):
    torch.manual_seed(0)
    n = 400_000
    y = fast_dropout(torch.ones(n), p)
    cut = round(p * LEVELS)
    share = float((y == 0).float().mean())
    se = math.sqrt(p * (1 - p) / n)
    assert abs(share - cut / LEVELS) < 5 * se  # the drop share is the rounded p, within 5 standard errors
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, LEVELS / (LEVELS - cut)))  # exact inverse scale


def test_expectation_is_preserved_like_nn_dropout():
    torch.manual_seed(1)
    x = torch.randn(200, 1000)
    ours, reference = fast_dropout(x, 0.1), nn.Dropout(0.1).train()(x)
    # the mean of x * mask * scale over many elements: both estimate x's mean, with the same spread
    assert abs(float((ours - x).mean())) < 0.01
    assert abs(float((reference - x).mean())) < 0.01
    assert float(ours.std()) == pytest.approx(float(reference.std()), rel=0.02)


def test_every_one_of_the_15_bits_is_used():
    # u >= cut for cuts that test the high and the low bits: the shares follow cut / LEVELS
    torch.manual_seed(2)
    n = 200_000
    for cut in (1, 2, 16384, 24576, 32767):
        p = cut / LEVELS
        share = float((fast_dropout(torch.ones(n), p) == 0).float().mean())
        assert abs(share - p) < 5 * math.sqrt(max(p * (1 - p), 1 / n) / n) + 1e-5, cut


def test_masks_are_independent_across_positions_of_one_word():
    torch.manual_seed(3)
    y = fast_dropout(torch.ones(4 * 100_000), 0.5).view(-1, 4) == 0  # the four 16-bit pieces of one word
    both = float((y[:, 0] & y[:, 3]).float().mean())
    assert abs(both - 0.25) < 0.01


def test_identity_when_evaluating_or_p_zero_and_reproducible_with_the_seed():
    x = torch.randn(3, 5)
    assert fast_dropout(x, 0.3, training=False) is x
    assert fast_dropout(x, 0.0) is x
    module = FastDropout(0.3).eval()
    assert module(x) is x
    torch.manual_seed(7)
    a = fast_dropout(x, 0.3)
    torch.manual_seed(7)
    assert torch.equal(a, fast_dropout(x, 0.3))
    assert "p=0.3" in repr(FastDropout(0.3))


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(4)
    x = torch.randn(64, 32, requires_grad=True)
    y = fast_dropout(x, 0.2)
    y.sum().backward()
    kept = y.detach() != 0
    scale = LEVELS / (LEVELS - round(0.2 * LEVELS))
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], scale))
    assert torch.all(x.grad[~kept] == 0)


def test_keeps_dtype_and_shape_under_bfloat16():
    x = torch.randn(2, 3, 7, dtype=torch.bfloat16)
    y = fast_dropout(x, 0.1)
    assert y.dtype == torch.bfloat16 and y.shape == x.shape
    assert fast_dropout(torch.empty(0, 4), 0.5).shape == (0, 4)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), "0.1", True])
def test_bad_probability_is_rejected(p):
    with pytest.raises(ValueError, match="dropout probability"):
        fast_dropout(torch.ones(3), p)
    with pytest.raises(ValueError, match="dropout probability"):
        FastDropout(p)

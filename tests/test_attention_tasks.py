"""Notebook 05's demonstration tasks: reversal with additive attention, repeat-the-previous-word, timing
and memory measurement."""

from __future__ import annotations

import pytest
import torch

from course_utils.attention import fast_scaled_dot_product_attention, scaled_dot_product_attention
from course_utils.attention_tasks import (
    BOS_ID,
    TASK_WORDS,
    PreviousWordModel,
    alignment_accuracy,
    allocated_bytes,
    best_seconds,
    previous_word_accuracy,
    previous_word_batch,
    previous_word_loss,
    reversal_accuracy,
    reversal_batch,
    reversal_loss,
    train_previous_word_model,
    train_reverser,
)
from course_utils.rnn_attention import RNNEncoderDecoder


def test_reversal_batch_is_the_source_backwards_with_teacher_forcing_inputs():
    source, target_in, target_out = reversal_batch(4, 5, torch.Generator().manual_seed(0))
    assert source.shape == target_in.shape == target_out.shape == (4, 5)
    assert torch.equal(target_out, source.flip(1))
    assert (target_in[:, 0] == BOS_ID).all() and torch.equal(target_in[:, 1:], target_out[:, :-1])
    assert int(source.min()) >= 2 and int(source.max()) < len(TASK_WORDS) + 2  # 0 and 1 are reserved
    with pytest.raises(ValueError, match="positive"):
        reversal_batch(0, 5, torch.Generator())


def test_reverser_learns_the_task_and_the_mirrored_alignment():
    """A short run (short sequences, few steps) already reverses most held-out rows, attending where it should."""
    model, history = train_reverser(steps=120, batch_size=32, length=4, progress=False, seed=0,
                                    embedding_size=16, hidden_size=32, attention_size=32)
    assert history.losses[-1] < 0.3 * history.losses[0]
    test = reversal_batch(200, 4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert float(reversal_loss(model, test)) < history.losses[0]
    assert reversal_accuracy(model, test[0]) > 0.8
    assert alignment_accuracy(model, test[0]) > 0.8
    torch.manual_seed(0)  # the measurements can fail: an untrained model neither reverses nor aligns
    untrained = RNNEncoderDecoder(len(TASK_WORDS) + 2).eval()
    assert alignment_accuracy(untrained, test[0]) < 0.6 and reversal_accuracy(untrained, test[0]) < 0.05


def test_previous_word_batch_and_model():
    words, targets = previous_word_batch(3, torch.Generator().manual_seed(0), length=7)
    assert words.shape == (3, 7) and torch.equal(targets[:, 1:], words[:, :-1])
    torch.manual_seed(0)
    model = PreviousWordModel("learned", width=16, max_len=7)
    logits, weights = model(words, need_weights=True)
    assert logits.shape == (3, 7, len(TASK_WORDS)) and weights.shape == (3, 1, 7, 7)
    assert float(weights.triu(1).abs().max()) == 0.0  # causal: nobody reads a later word
    assert model(words)[1] is None
    assert previous_word_loss(model, (words, targets)).dim() == 0
    with pytest.raises(ValueError, match="positions must be one of"):
        PreviousWordModel("rotary")


def test_positions_decide_whether_the_previous_word_can_be_found():
    test_words, test_targets = previous_word_batch(300, torch.Generator().manual_seed(5))
    accuracy = {}
    for kind in ("none", "learned"):
        model, _ = train_previous_word_model(kind, steps=150, progress=False)
        accuracy[kind] = previous_word_accuracy(model, test_words, test_targets)
    assert accuracy["learned"] > 0.9 > 0.6 > accuracy["none"]


def test_best_seconds_takes_the_fastest_call():
    calls = []
    assert best_seconds(lambda: calls.append(1), repeats=3) >= 0.0
    assert len(calls) == 3
    with pytest.raises(ValueError, match="repeats"):
        best_seconds(print, repeats=0)


def test_allocated_bytes_sees_the_quadratic_weights_of_explicit_attention():
    small, large = torch.randn(1, 2, 128, 8), torch.randn(1, 2, 256, 8)
    explicit = [allocated_bytes(scaled_dot_product_attention, q, q, q) for q in (small, large)]
    fused = [allocated_bytes(fast_scaled_dot_product_attention, q, q, q) for q in (small, large)]
    # at least the (B, H, T, T) float32 weights are allocated, and doubling T quadruples them
    assert explicit[0] >= 2 * 128 * 128 * 4
    assert 3.5 < explicit[1] / explicit[0] < 4.5
    assert fused[1] < explicit[1] / 4
    assert allocated_bytes(lambda: torch.empty(1000, dtype=torch.float64)) >= 8000

"""The ladder's rungs: counts by hand, smoothing sums to one, neural rungs never see the token they predict."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from course_utils.ngram import (
    LSTMLM,
    BigramLM,
    FixedWindowLM,
    UnigramLM,
    lm_loss,
    perplexity,
    position_losses,
    random_windows,
    token_log_probs,
    windows,
)

STREAM = np.array([0, 1, 2, 0, 1, 3, 0, 1, 2, 2])


def test_unigram_by_hand():
    lm = UnigramLM(5, add_k=1).fit(STREAM)
    assert lm.probabilities.tolist() == pytest.approx([4 / 15, 4 / 15, 4 / 15, 2 / 15, 1 / 15])
    w = torch.tensor([[0, 4, 3]])
    assert lm.perplexity(w) == pytest.approx(math.exp(-(math.log(1 / 15) + math.log(2 / 15)) / 2))


def test_bigram_by_hand_and_sums_to_one():
    lm = BigramLM(5, discount=0.5).fit(STREAM)
    # context 0 is followed by 1 three times: p(1|0) = (3 - .5)/3 + .5·1/3·p_uni(1)
    p_uni = lm.unigram.probabilities
    assert lm.probability(np.array([0]), np.array([1]))[0] == pytest.approx(2.5 / 3 + 0.5 / 3 * p_uni[1])
    # context 1 is followed by 2 (twice) and 3 (once): two types
    assert lm.probability(np.array([1]), np.array([3]))[0] == pytest.approx(0.5 / 3 + 0.5 * 2 / 3 * p_uni[3])
    for context in range(5):  # a proper distribution for every context, seen (0..3) or not (4)
        total = lm.probability(np.full(5, context), np.arange(5)).sum()
        assert total == pytest.approx(1.0)
    assert lm.perplexity(torch.tensor([[0, 1, 2, 0, 1]])) < UnigramLM(5).fit(STREAM).perplexity(torch.tensor([[0, 1, 2, 0, 1]]))


def test_fixed_window_sees_only_the_previous_tokens():
    torch.manual_seed(0)
    lm = FixedWindowLM(7, order=3, embedding_dim=4, hidden=8)
    ids = torch.randint(0, 7, (2, 9))
    logits = lm(ids).logits
    assert logits.shape == (2, 9, 7)
    changed = ids.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 7
    after = lm(changed).logits
    assert_close(after[:, :5], logits[:, :5])  # positions before 5 do not read token 5
    assert not torch.allclose(after[:, 5:8], logits[:, 5:8])  # positions 5, 6, 7 do (order 3)
    assert_close(after[:, 8], logits[:, 8])  # position 8 reads 6, 7, 8 only


def test_lstm_is_causal():
    torch.manual_seed(1)
    lm = LSTMLM(6, embedding_dim=4, hidden=5).eval()
    ids = torch.randint(0, 6, (1, 8))
    changed = ids.clone()
    changed[0, 4] = (changed[0, 4] + 1) % 6
    assert_close(lm(changed).logits[:, :4], lm(ids).logits[:, :4])
    assert not torch.allclose(lm(changed).logits[:, 4:], lm(ids).logits[:, 4:])


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    class Uniform(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, ids):
            from course_utils.ngram import LMOutput

            return LMOutput(torch.zeros(*ids.shape, 11) + self.w)

    ids = torch.randint(0, 11, (4, 6))
    assert perplexity(Uniform(), ids, batch_size=3) == pytest.approx(11.0)
    assert_close(token_log_probs(torch.zeros(1, 3, 11), ids[:1, :3]), torch.full((1, 2), -math.log(11)))
    assert float(lm_loss(torch.zeros(1, 3, 11), ids[:1, :3])) == pytest.approx(math.log(11))


def test_windows_and_random_windows():
    w = windows(np.arange(10), 4)
    assert w.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    batch = random_windows(np.arange(100), 5, 3, np.random.RandomState(0))
    assert batch.shape == (3, 5) and bool((batch[:, 1:] - batch[:, :-1] == 1).all())
    with pytest.raises(ValueError, match="no window"):
        windows(np.arange(3), 4)
    with pytest.raises(ValueError, match="not longer"):
        random_windows(np.arange(5), 5, 1, np.random.RandomState(0))


def test_errors():
    with pytest.raises(ValueError, match="discount"):
        BigramLM(3, discount=1.0)
    with pytest.raises(ValueError, match="0..2"):
        UnigramLM(3).fit([0, 5])
    with pytest.raises(RuntimeError, match="fit"):
        UnigramLM(3).perplexity(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="0..6"):
        FixedWindowLM(7)(torch.tensor([[7]]))
    with pytest.raises(ValueError, match="no tokens"):
        UnigramLM(3).fit([])


def test_position_losses_average_to_the_perplexity_and_see_context():
    torch.manual_seed(0)
    lm = LSTMLM(7, embedding_dim=4, hidden=6).eval()
    ids = torch.randint(0, 7, (5, 9))
    losses = position_losses(lm, ids, batch_size=2)
    assert losses.shape == (8,)
    assert math.exp(losses.mean()) == pytest.approx(perplexity(lm, ids))
    expected = -token_log_probs(lm(ids).logits, ids).mean(0)  # one batch: the same numbers
    assert losses == pytest.approx(expected.detach().double().numpy(), abs=1e-5)
    with pytest.raises(ValueError, match="T >= 2"):
        position_losses(lm, ids[:, :1])

"""Tests for course_utils.elmo_training: the n-gram baselines against a computation by hand, training lowers
the biLM's loss and its perplexity equals exp of the model's own loss, and the softmax-bias initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from elmo_stand_ins import SENTENCES, tiny_setup  # shared tiny model (tests/ is on sys.path)

from course_utils import elmo, elmo_training


def test_ngram_baselines_match_a_direct_computation():
    train_tokens = ["a b a c a b".split(), "b a".split()]
    test_tokens = ["a b c".split()]
    chars, words = elmo.build_vocabularies(train_tokens, vocab_size=4, char_min_count=1)  # <unk> a b c
    train, test = (elmo.encode_corpus(t, chars, words) for t in (train_tokens, test_tokens))
    result = elmo_training.ngram_perplexities(train, test, window=10, discount=0.5)
    counts = {"<unk>": 0, "a": 4, "b": 3, "c": 1}
    uni = {w: (c + 1) / (8 + 4) for w, c in counts.items()}
    assert result["unigram"] == pytest.approx((uni["a"] * uni["b"] * uni["c"]) ** (-1 / 3))
    # Forward pairs of the test text: <bos>→a, a→b, b→c. Training contexts: <bos> twice (followed by a and
    # by b), a three times (b twice, c once), b twice (a both times).
    p_a = max(1 - 0.5, 0) / 2 + 0.5 * 2 / 2 * uni["a"]
    p_b = max(2 - 0.5, 0) / 3 + 0.5 * 2 / 3 * uni["b"]
    p_c = 0 / 2 + 0.5 * 1 / 2 * uni["c"]  # b is followed twice, only by a
    assert result["bigram_forward"] == pytest.approx((p_a * p_b * p_c) ** (-1 / 3))
    assert set(result) == {"unigram", "bigram_forward", "bigram_backward"}


def test_training_lowers_the_loss_and_perplexity_is_consistent():
    model, chars, words = tiny_setup(hidden_size=16)
    corpus = elmo.encode_corpus(SENTENCES * 4, chars, words)
    before = elmo_training.bilm_perplexity(model, corpus, window=8)
    history = elmo_training.train_bilm(model, corpus, steps=30, window=8, batch_size=4, learning_rate=1e-2, progress=False)
    after = elmo_training.bilm_perplexity(model, corpus, window=8)
    assert history.steps == 30
    assert np.mean(history.losses[-5:]) < np.mean(history.losses[:5])
    assert after["forward"] < before["forward"] and after["backward"] < before["backward"]
    # Perplexity is exp of the mean token cross-entropy: check against the model's own loss.
    batch = elmo.make_batch(corpus, elmo.evaluation_windows(corpus, 8))
    with torch.no_grad():
        forward, backward = model.eval().loss(batch.char_ids, batch.targets, batch.lengths)
    assert after["forward"] == pytest.approx(math.exp(float(forward)), rel=1e-4)
    assert after["backward"] == pytest.approx(math.exp(float(backward)), rel=1e-4)


def test_initialise_softmax_bias_gives_add_one_unigram_log_frequencies():
    model, chars, words = tiny_setup()
    corpus = elmo.encode_corpus(SENTENCES, chars, words)
    elmo_training.initialise_softmax_bias(model, corpus)
    ids = np.concatenate([corpus.type_words[s] for s in corpus.streams])
    counts = np.bincount(ids, minlength=len(words))[: len(words)] + 1.0
    torch.testing.assert_close(torch.softmax(model.softmax.bias.detach(), 0),
                               torch.tensor(counts / counts.sum(), dtype=torch.float32))

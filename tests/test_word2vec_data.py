"""Tests for course_utils.word2vec_data: pairs, CBOW examples, subsampling, the noise distribution and sampler."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from course_utils.word2vec_data import (
    NoiseSampler,
    cbow_examples,
    context_arrays,
    keep_probabilities,
    noise_distribution,
    pair_arrays,
    subsample_mask,
    training_pairs,
)

FOX = "the quick brown fox jumps over the lazy dog".split()


def test_sample_array_draws_from_the_table():
    sampler = NoiseSampler(np.array([0.5, 0.25, 0.25, 0.0]), table_size=1000)
    draws = sampler.sample_array((20_000, 2), np.random.default_rng(0))
    assert draws.shape == (20_000, 2) and np.issubdtype(draws.dtype, np.integer)
    frequencies = np.bincount(draws.reshape(-1), minlength=4) / draws.size
    np.testing.assert_allclose(frequencies, [0.5, 0.25, 0.25, 0.0], atol=0.01)


def test_training_pairs_window_two():
    pairs = training_pairs(FOX, 2)
    assert pairs[:2] == [("the", "quick"), ("the", "brown")]
    assert pairs[2:5] == [("quick", "the"), ("quick", "brown"), ("quick", "fox")]
    assert [p for p in pairs if p[0] == "jumps"] == [("jumps", w) for w in ("brown", "fox", "over", "the")]
    # 2 + 3 + 4·5 + 3 + 2 pairs: ends of the sentence have fewer neighbours
    assert len(pairs) == 2 + 3 + 4 * 5 + 3 + 2


def test_reduced_window_never_exceeds_the_window_and_uses_near_words_more():
    rng = np.random.default_rng(0)
    tokens = list(range(200))
    distances = Counter(abs(a - b) for a, b in training_pairs(tokens, 4, reduced_window=True, rng=rng))
    assert set(distances) == {1, 2, 3, 4}
    # distance d is kept with probability (4 − d + 1)/4: 1 : 0.75 : 0.5 : 0.25
    ratios = [distances[d] / distances[1] for d in (2, 3, 4)]
    assert ratios == pytest.approx([0.75, 0.5, 0.25], abs=0.08)


def test_pair_arrays_match_the_naive_pairs_sentence_by_sentence():
    sentences = [[0, 1, 2, 3, 4, 5], [6, 7], [8], [9, 10, 11]]
    ids = np.concatenate(sentences)
    sentence = np.concatenate([np.full(len(s), i) for i, s in enumerate(sentences)])
    centres, contexts = pair_arrays(ids, sentence, 2, reduced_window=False)
    naive = Counter(p for s in sentences for p in training_pairs(s, 2))
    assert Counter(zip(centres.tolist(), contexts.tolist())) == naive


def test_context_arrays_match_cbow_examples():
    sentences = [[0, 1, 2, 3, 4], [5, 6]]
    ids = np.concatenate(sentences)
    sentence = np.concatenate([np.full(len(s), i) for i, s in enumerate(sentences)])
    contexts, centres = context_arrays(ids, sentence, 2, reduced_window=False)
    naive = [(sorted(ctx), centre) for s in sentences for ctx, centre in cbow_examples(s, 2)]
    ours = [(sorted(int(x) for x in row if x >= 0), int(c)) for row, c in zip(contexts, centres)]
    assert ours == naive
    assert contexts.shape == (7, 4)


def test_pairs_reject_bad_windows():
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="window"):
            training_pairs(FOX, bad)
    with pytest.raises(TypeError):
        training_pairs("the quick fox", 2)


def test_keep_probabilities_follow_the_word2vec_formula():
    counts = np.array([5000, 100, 10, 0])
    keep = keep_probabilities(counts, 1e-2)
    f = 5000 / 5110
    assert keep[0] == pytest.approx((np.sqrt(f / 1e-2) + 1) * 1e-2 / f)
    assert keep[0] < 0.2 and keep[2] == 1.0 and keep[3] == 1.0
    assert (keep_probabilities(counts, 0) == 1).all()
    with pytest.raises(ValueError, match="sample"):
        keep_probabilities(counts, -1)


def test_subsampling_drops_frequent_words_at_the_expected_rate():
    rng = np.random.default_rng(0)
    ids = np.array([0] * 20000 + [1] * 10)
    keep = keep_probabilities(np.array([20000, 10]), 1e-3)
    mask = subsample_mask(ids, keep, rng)
    assert mask[:20000].mean() == pytest.approx(keep[0], abs=0.01)
    assert mask[20000:].all()


def test_noise_distribution_is_unigram_to_the_three_quarters_and_sampler_matches_it():
    counts = np.array([1000, 100, 10, 1])
    probabilities = noise_distribution(counts)
    expected = counts**0.75 / (counts**0.75).sum()
    assert probabilities == pytest.approx(expected)
    assert probabilities[0] < counts[0] / counts.sum()  # flattened: frequent words less likely than raw
    samples = NoiseSampler(probabilities).sample((200_000,), torch.Generator().manual_seed(0))
    frequencies = np.bincount(samples.numpy(), minlength=4) / len(samples)
    assert frequencies == pytest.approx(expected, abs=0.005)
    with pytest.raises(ValueError):
        noise_distribution(np.array([0, 0]))



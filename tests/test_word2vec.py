"""Tests for course_utils.word2vec: pairs, subsampling, noise, both models, both losses, the fast trainer."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from course_utils.tokenization import Vocabulary
from course_utils.vectors import WordVectors
from course_utils.word2vec import (
    CBOW,
    NoiseSampler,
    SkipGram,
    Word2VecConfig,
    cbow_examples,
    context_arrays,
    explore_word2vec,
    full_softmax_loss,
    keep_probabilities,
    negative_sampling_gradients,
    negative_sampling_loss,
    noise_distribution,
    pair_arrays,
    subsample_mask,
    time_training_step,
    train_with_autograd,
    train_word2vec,
    training_pairs,
)

FOX = "the quick brown fox jumps over the lazy dog".split()


def _toy_corpus(n_sentences: int = 300, seed: int = 0) -> list[list[str]]:
    """Two topics whose words co-occur only within their own topic."""
    rng = np.random.default_rng(seed)
    topics = [["cat", "dog", "pet", "fur", "paw"], ["car", "road", "wheel", "engine", "drive"]]
    return [list(rng.choice(topics[i % 2], size=8)) for i in range(n_sentences)]


# --- pairs --------------------------------------------------------------------------------------------


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


# --- subsampling and noise ----------------------------------------------------------------------------


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


# --- models and losses --------------------------------------------------------------------------------


def test_skipgram_full_softmax_loss_matches_a_direct_computation():
    torch.manual_seed(0)
    model = SkipGram(7, 3)
    torch.nn.init.normal_(model.output_embeddings.weight)
    centres, contexts = torch.tensor([0, 3, 6]), torch.tensor([1, 1, 5])
    v = model.input_embeddings.weight[centres]  # (B, D)
    u = model.output_embeddings.weight  # (V, D)
    expected = -torch.log(torch.exp(v @ u.T)[torch.arange(3), contexts] / torch.exp(v @ u.T).sum(1)).mean()
    assert model.full_softmax_loss(centres, contexts).item() == pytest.approx(expected.item(), rel=1e-5)
    assert model(centres).shape == (3, 7)


def test_negative_sampling_loss_matches_a_reference_computation():
    torch.manual_seed(1)
    model = SkipGram(9, 4)
    torch.nn.init.normal_(model.output_embeddings.weight)
    centres, contexts = torch.tensor([0, 2]), torch.tensor([1, 8])
    negatives = torch.tensor([[3, 4, 5], [6, 7, 3]])
    loss = model.negative_sampling_loss(centres, contexts, negatives)
    V, U = model.input_embeddings.weight.detach().numpy(), model.output_embeddings.weight.detach().numpy()
    total = 0.0
    for b in range(2):
        v = V[centres[b]]
        total -= np.log(1 / (1 + np.exp(-U[contexts[b]] @ v)))
        for k in negatives[b]:
            total -= np.log(1 / (1 + np.exp(U[k] @ v)))
    assert loss.item() == pytest.approx(total / 2, rel=1e-5)


def test_hand_gradients_match_autograd_and_gradcheck():
    generator = torch.Generator().manual_seed(2)
    hidden, positive = torch.randn(5, 4, generator=generator, dtype=torch.float64), torch.randn(5, 4, generator=generator, dtype=torch.float64)
    negative = torch.randn(5, 3, 4, generator=generator, dtype=torch.float64)
    inputs = [t.clone().requires_grad_(True) for t in (hidden, positive, negative)]
    loss = negative_sampling_loss(*inputs) * 5  # per-example losses summed
    expected = torch.autograd.grad(loss, inputs)
    per_example, *grads = negative_sampling_gradients(hidden, positive, negative)
    assert per_example.sum().item() == pytest.approx(loss.item())
    for mine, reference in zip(grads, expected):
        torch.testing.assert_close(mine, reference)
    assert torch.autograd.gradcheck(negative_sampling_loss, tuple(inputs))


def test_cbow_hidden_is_the_mean_of_context_vectors_ignoring_padding():
    torch.manual_seed(0)
    model = CBOW(6, 3)
    contexts = torch.tensor([[1, 2, -1, -1], [0, 0, 5, 4]])
    table = model.input_embeddings.weight
    torch.testing.assert_close(model.hidden(contexts)[0], table[[1, 2]].mean(0))
    torch.testing.assert_close(model.hidden(contexts)[1], table[[0, 0, 5, 4]].mean(0))
    assert model(contexts).shape == (2, 6)
    assert model.full_softmax_loss(contexts, torch.tensor([3, 1])).item() == pytest.approx(np.log(6), rel=1e-5)
    with pytest.raises(ValueError, match="context"):
        model.hidden(torch.tensor([[-1, -1]]))


def test_loss_shapes_are_validated():
    with pytest.raises(ValueError):
        negative_sampling_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 1, 3))
    with pytest.raises(ValueError):
        full_softmax_loss(torch.zeros(2, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="dim"):
        SkipGram(5, 0)


@pytest.mark.parametrize("objective", ["softmax", "negative"])
def test_autograd_training_lowers_the_loss(objective):
    vocab = Vocabulary.from_corpus(_toy_corpus(60), min_count=1)
    pairs = [p for s in _toy_corpus(60) for p in training_pairs(vocab.encode(s), 2)]
    centres, contexts = map(torch.tensor, zip(*pairs))
    noise = NoiseSampler(noise_distribution(vocab.counts))
    model = SkipGram(len(vocab), 8)
    history = train_with_autograd(model, centres, contexts, objective=objective, noise=noise, epochs=3, lr=0.05)
    assert np.mean(history.losses[-5:]) < 0.8 * history.losses[0]


def test_full_softmax_step_costs_grow_with_the_vocabulary():
    small = time_training_step(300, objective="softmax", batch_size=64, repeats=3)
    large = time_training_step(30_000, objective="softmax", batch_size=64, repeats=3)
    assert large > 3 * small  # 100× more words to score; generous margin for a loaded machine


# --- the fast trainer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_fast_trainer_separates_the_topics(architecture):
    config = Word2VecConfig(architecture=architecture, dim=16, window=3, min_count=1, sample=0, epochs=3,
                            batch_size=128, seed=0)
    result = train_word2vec(_toy_corpus(), config, progress=False)
    vectors = result.vectors
    assert isinstance(vectors, WordVectors) and vectors.dim == 16 and len(result.vocab) == 10
    assert vectors.similarity("cat", "dog") > vectors.similarity("cat", "car") + 0.3
    assert {w for w, _ in vectors.most_similar("engine", topn=4)} == {"car", "road", "wheel", "drive"}
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
    assert result.words_per_second > 0 and result.examples > 0


def test_fast_trainer_is_reproducible_and_threads_work():
    config = Word2VecConfig(dim=8, window=2, min_count=1, epochs=1, batch_size=64, seed=3)
    first = train_word2vec(_toy_corpus(50), config, progress=False).vectors.matrix
    second = train_word2vec(_toy_corpus(50), config, progress=False).vectors.matrix
    np.testing.assert_array_equal(first, second)
    threaded = Word2VecConfig(dim=8, window=2, min_count=1, epochs=2, batch_size=64, workers=2)
    result = train_word2vec(_toy_corpus(50), threaded, progress=False)
    assert np.isfinite(result.vectors.matrix).all()


def test_fast_trainer_matches_hand_gradients_on_one_step():
    """One batch of the fast update equals SGD with the hand gradients summed over the batch."""
    from course_utils.word2vec import _update

    generator = torch.Generator().manual_seed(0)
    inputs, outputs = torch.randn(6, 4, generator=generator), torch.randn(6, 4, generator=generator)
    centres, targets = torch.tensor([0, 1, 1]), torch.tensor([[2, 3, 4], [5, 0, 2], [3, 3, 1]])
    new_in, new_out = inputs.clone(), outputs.clone()
    _update(new_in, new_out, centres, targets, lr=0.1)
    _, g_h, g_pos, g_neg = negative_sampling_gradients(inputs[centres], outputs[targets[:, 0]], outputs[targets[:, 1:]])
    expected_in = inputs.index_add(0, centres, -0.1 * g_h)
    expected_out = outputs.index_add(0, targets.reshape(-1), -0.1 * torch.cat([g_pos[:, None], g_neg], 1).reshape(-1, 4))
    torch.testing.assert_close(new_in, expected_in)
    torch.testing.assert_close(new_out, expected_out)


def test_unknown_words_raise_key_error_naming_the_word():
    result = train_word2vec(_toy_corpus(40), Word2VecConfig(dim=4, min_count=1, epochs=1), progress=False)
    with pytest.raises(KeyError, match="zebra"):
        result.vectors.similarity("cat", "zebra")
    with pytest.raises(KeyError, match="unicorn"):
        result.vectors.analogy("cat", "unicorn", "car")


def test_bad_configurations_raise_value_error():
    for field in ("dim", "window", "negatives", "epochs", "batch_size"):
        for bad in (0, -3):
            with pytest.raises(ValueError, match=field):
                Word2VecConfig(**{field: bad})
    with pytest.raises(ValueError, match="architecture"):
        Word2VecConfig(architecture="glove")
    with pytest.raises(ValueError, match="lr"):
        Word2VecConfig(lr=0.0)
    with pytest.raises(ValueError, match="min_count"):
        train_word2vec([["a", "b"], ["c"]], Word2VecConfig(min_count=5), progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_word2vec([[]], Word2VecConfig(min_count=1), progress=False)
    with pytest.raises(TypeError):
        train_word2vec("not tokenised", Word2VecConfig(min_count=1), progress=False)


def test_vectors_export_to_gensim():
    result = train_word2vec(_toy_corpus(40), Word2VecConfig(dim=4, min_count=1, epochs=1), progress=False)
    keyed = result.vectors.to_gensim()
    assert keyed.similarity("cat", "dog") == pytest.approx(result.vectors.similarity("cat", "dog"), abs=1e-5)
    assert F.cosine_similarity(torch.tensor(keyed["cat"]), torch.tensor(result.vectors.vector("cat")), dim=0) > 0.999


def test_shards_cut_at_sentence_starts():
    from course_utils.word2vec import _shards

    sentence = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    shards = _shards(sentence, 2)
    assert [(s.start, s.stop) for s in shards] == [(0, 5), (5, 10)]
    assert sum(s.stop - s.start for s in _shards(np.array([0, 0, 0]), 3)) == 3  # more shards than sentences


def test_explore_word2vec_prints_scores_and_plots(capsys):
    result = explore_word2vec(_toy_corpus(40), dim=8, epochs=1, probes=["cat", "zebra"],
                              groups={"pets": ["cat", "dog", "pet"], "cars": ["car", "road"]},
                              similarity_sets={"toy": [("cat", "dog", 9.0), ("cat", "car", 1.0), ("road", "car", 8.0)]})
    out = capsys.readouterr().out
    assert "toy: Spearman" in out and "cat →" in out and "zebra" not in out
    assert result.vectors.dim == 8

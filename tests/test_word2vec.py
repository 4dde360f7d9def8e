"""Tests for course_utils.word2vec: both models, both losses, the fast trainer and its inner loop."""

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
    epoch_examples,
    full_softmax_loss,
    negative_sampling_gradients,
    negative_sampling_loss,
    noise_distribution,
    sgd_negative_sampling,
    train_many,
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


# --- the fast trainer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_fast_trainer_separates_the_topics(architecture):
    # batch 32: with 10 words a batch of 128 hits every row ~80 times, and CBOW's summed step can diverge
    config = Word2VecConfig(architecture=architecture, dim=16, window=3, min_count=1, sample=0, epochs=3,
                            batch_size=32, seed=0)
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


def _autograd_sgd(model, inputs, targets, lr, batch_size):
    """The oracle: torch.optim.SGD on the negative-sampling loss summed over each batch, sparse embeddings."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for start in range(0, len(inputs), batch_size):
        x, y = inputs[start:start + batch_size], targets[start:start + batch_size]
        optimizer.zero_grad()
        if isinstance(model, SkipGram):
            loss = model.negative_sampling_loss(x[:, 0], y[:, 0], y[:, 1:])
        else:  # word2vec's CBOW rule: every context word receives h's whole gradient (not 1/count of it)
            vectors = model.input_embeddings(x.clamp(min=0)) * (x >= 0).unsqueeze(-1)  # (B, C, D)
            total = vectors.sum(1)
            mean = total / (x >= 0).sum(1, keepdim=True)
            hidden = total - total.detach() + mean.detach()  # value: the mean; gradient: passed on whole
            output = model.output_embeddings
            loss = negative_sampling_loss(hidden, output(y[:, 0]), output(y[:, 1:]))
        (loss * len(y)).backward()
        optimizer.step()


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_fast_sgd_equals_autograd_sgd_on_the_same_batches(architecture):
    """The fast inner loop makes exactly the step of torch.optim.SGD on the summed loss (repeated rows add)."""
    generator = torch.Generator().manual_seed(0)
    if architecture == "skipgram":
        model_class, inputs = SkipGram, torch.randint(12, (50, 1), generator=generator)
    else:
        model_class = CBOW
        inputs = torch.randint(12, (50, 4), generator=generator)
        inputs[::3, 2:] = -1  # padding
    targets = torch.randint(12, (50, 4), generator=generator)  # true word + K = 3 noise words
    torch.manual_seed(0)
    fast, slow = model_class(12, 6), model_class(12, 6, sparse=True)
    with torch.no_grad():
        fast.output_embeddings.weight.normal_(0, 0.3)  # non-zero output vectors: every gradient term counts
        slow.load_state_dict(fast.state_dict())
    losses = sgd_negative_sampling(fast, inputs, targets, lr=0.2, batch_size=16)
    _autograd_sgd(slow, inputs, targets, lr=0.2, batch_size=16)
    assert len(losses) == 4 and all(np.isfinite(losses))
    torch.testing.assert_close(fast.input_embeddings.weight, slow.input_embeddings.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(fast.output_embeddings.weight, slow.output_embeddings.weight, atol=1e-6, rtol=1e-5)
    # the reported loss is the batch mean of the loss before the step
    first = model_class(12, 6)
    with torch.no_grad():
        first.output_embeddings.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        x = inputs[:16, 0] if architecture == "skipgram" else inputs[:16]
        expected = float(first.negative_sampling_loss(x, targets[:16, 0], targets[:16, 1:]))
    assert sgd_negative_sampling(first, inputs[:16], targets[:16], lr=0.1)[0] == pytest.approx(expected, rel=1e-5)


def test_fast_sgd_validates_its_inputs():
    model = SkipGram(5, 3)
    with pytest.raises(ValueError, match="targets"):
        sgd_negative_sampling(model, torch.zeros(4, 1, dtype=torch.long), torch.zeros(4, 1, dtype=torch.long), lr=0.1)
    with pytest.raises(ValueError, match="CBOW"):
        sgd_negative_sampling(model, torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long), lr=0.1)
    with pytest.raises(ValueError, match="0..4"):
        sgd_negative_sampling(model, torch.zeros(4, 1, dtype=torch.long), torch.full((4, 3), 5), lr=0.1)
    with pytest.raises(ValueError, match="positive"):
        sgd_negative_sampling(model, torch.zeros(4, 1, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long), lr=-1.0)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_epoch_examples_are_the_shuffled_pairs_with_noise(architecture):
    sentences = [list(range(i, i + 7)) for i in range(0, 70, 7)]
    ids = np.concatenate(sentences)
    sentence = np.repeat(np.arange(10), 7)
    config = Word2VecConfig(architecture=architecture, window=2, negatives=3, reduced_window=False)
    sampler = NoiseSampler(np.full(70, 1 / 70), table_size=700)
    inputs, targets = epoch_examples(ids, sentence, config, keep=np.ones(70), sampler=sampler,
                                     rng=np.random.default_rng(0))
    assert targets.shape == (len(inputs), 4) and targets.dtype == torch.int64
    if architecture == "skipgram":
        expected = Counter(p for s in sentences for p in training_pairs(s, 2))
        assert inputs.shape[1] == 1
        assert Counter(zip(inputs[:, 0].tolist(), targets[:, 0].tolist())) == expected
    else:
        expected = Counter((tuple(sorted(c)), w) for s in sentences for c, w in cbow_examples(s, 2))
        assert inputs.shape[1] == 4
        got = Counter((tuple(sorted(i for i in row if i >= 0)), w) for row, w in zip(inputs.tolist(), targets[:, 0].tolist()))
        assert got == expected
    assert targets[:, 0].tolist() != sorted(targets[:, 0].tolist())  # shuffled
    assert 0 <= int(targets[:, 1:].min()) and int(targets[:, 1:].max()) < 70
    assert len(set(targets[:, 1:].reshape(-1).tolist())) > 50  # noise is drawn from the whole (uniform) distribution


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




def test_train_many_equals_training_one_by_one():
    corpus = _toy_corpus(60)
    configs = [Word2VecConfig(dim=d, window=2, min_count=1, epochs=1, batch_size=32, seed=d, architecture=a)
               for d, a in ((4, "skipgram"), (6, "cbow"), (5, "skipgram"))]
    threads_before = torch.get_num_threads()
    together = train_many([(corpus, c) for c in configs], threads=2, progress=False)
    assert torch.get_num_threads() == threads_before
    for config, result in zip(configs, together):
        alone = train_word2vec(corpus, config, progress=False)
        assert result.config is config
        np.testing.assert_array_equal(result.vectors.matrix, alone.vectors.matrix)
    with pytest.raises(ValueError, match="threads"):
        train_many([(corpus, configs[0])], threads=0)
    with pytest.raises(TypeError, match="Word2VecConfig"):
        train_many([(corpus, {"dim": 4})])
    with pytest.raises(ValueError, match="no jobs"):
        train_many([])

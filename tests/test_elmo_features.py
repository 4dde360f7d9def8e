"""Tests for course_utils.elmo_features: ELMo's layers as features for word senses and sentence polarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from elmo_stand_ins import SENTENCES, tiny_setup  # shared tiny model (tests/ is on sys.path)
from torch.nn import functional as F

from course_utils import elmo, elmo_features

# --- using the vectors: senses, polarity, probes ----------------------------------------------------

SENSES = ["a1", "a1", "a2", "a2", "a2", "b1", "b1", "b2", "b2"]
WORDS = ["a"] * 5 + ["b"] * 4


def test_nearest_sense_accuracy_with_separable_static_and_chance():
    rng = np.random.RandomState(0)
    centres = {s: rng.randn(6) * 5 for s in set(SENSES)}
    separable = np.stack([centres[s] + 0.1 * rng.randn(6) for s in SENSES])
    assert elmo_features.nearest_sense_accuracy(separable, SENSES, WORDS) == 1.0
    # One static vector per word: every sense ties, which scores exactly chance.
    static = np.stack([np.ones(6) if w == "a" else -np.ones(6) for w in WORDS])
    chance = elmo_features.chance_sense_accuracy(SENSES, WORDS)
    assert chance == pytest.approx(0.5)
    assert elmo_features.nearest_sense_accuracy(static, SENSES, WORDS) == pytest.approx(chance)
    predictions = elmo_features.nearest_sense_predictions(static, SENSES, WORDS)
    assert predictions[0] == ["a1", "a2"]  # only senses of the same word are candidates


def test_nearest_sense_is_leave_one_out():
    # Example 0 alone would be its sense's centroid; leaving it out, it must match its sibling instead.
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.1]])
    senses, words = ["s", "s", "t", "t"], ["w"] * 4
    assert elmo_features.nearest_sense_predictions(vectors, senses, words)[0] == ["t"]
    assert elmo_features.nearest_sense_accuracy(vectors, senses, words) == 0.0


def test_nearest_sense_bad_input():
    with pytest.raises(ValueError, match="lengths differ"):
        elmo_features.nearest_sense_accuracy(np.ones((3, 2)), SENSES, WORDS)
    with pytest.raises(ValueError, match="2-D"):
        elmo_features.nearest_sense_accuracy(np.ones(9), SENSES, WORDS)
    with pytest.raises(ValueError, match="fewer than two"):
        elmo_features.nearest_sense_accuracy(np.ones((2, 2)), ["s", "t"], ["w", "w"])
    with pytest.raises(ValueError, match="NaN"):
        elmo_features.nearest_sense_accuracy(np.full((9, 2), np.nan), SENSES, WORDS)


def test_fit_sense_mix_prefers_the_layer_that_separates_senses():
    rng = np.random.RandomState(0)
    centres = {s: rng.randn(8) for s in set(SENSES)}
    informative = np.stack([centres[s] + 0.2 * rng.randn(8) for s in SENSES])
    features = np.stack([rng.randn(9, 8), informative, rng.randn(9, 8)], axis=1)  # (N, 3, D)
    mix = elmo_features.fit_sense_mix(features, SENSES, WORDS, steps=60)
    weights = mix.weights.detach()
    assert weights.argmax() == 1 and torch.isclose(weights.sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="shape"):
        elmo_features.fit_sense_mix(features[:, 0], SENSES, WORDS)


def test_fit_polarity_mix_prefers_the_informative_layer_and_cross_validation():
    rng = np.random.RandomState(0)
    labels = np.array([0, 1] * 30)
    informative = rng.randn(60, 5) + 2.0 * labels[:, None]
    features = np.stack([rng.randn(60, 5), rng.randn(60, 5), informative], axis=1)
    mix, accuracy = elmo_features.fit_polarity_mix(features, labels, steps=150)
    assert mix.weights.detach().argmax() == 2 and accuracy > 0.9
    assert elmo_features.cross_validated_accuracy(features[:, 2], labels) > 0.9
    assert elmo_features.cross_validated_accuracy(features[:, 0], labels) < 0.8
    with pytest.raises(ValueError, match="labels"):
        elmo_features.fit_polarity_mix(features, labels[:-1])
    with pytest.raises(ValueError, match="one label each"):
        elmo_features.cross_validated_accuracy(features[:, 0], labels[:-1])


def test_token_and_sentence_vectors_and_static_averages():
    model, chars, words = tiny_setup()
    pretrained = elmo.PretrainedElmo(model, chars, words)
    vectors = elmo_features.token_vectors(pretrained, SENTENCES[:2], [1, 4])
    full = pretrained.embed(SENTENCES[:2])
    assert vectors.shape == (2, 3, 16)
    np.testing.assert_allclose(vectors[1], full[1][:, 4], atol=1e-6)
    sentences = elmo_features.sentence_vectors(pretrained, SENTENCES[:2])
    np.testing.assert_allclose(sentences[0], full[0].mean(axis=1), atol=1e-6)
    with pytest.raises(IndexError, match="outside"):
        elmo_features.token_vectors(pretrained, SENTENCES[:1], [99])
    from course_utils.vectors import WordVectors

    static = WordVectors(["bank", "river"], np.array([[1.0, 0.0], [0.0, 3.0]]))
    averaged = elmo_features.average_static_vectors(static, [["the", "bank", "river"], ["nothing"]])
    np.testing.assert_allclose(averaged, [[0.5, 1.5], [0.0, 0.0]])


def test_train_small_bilm_and_the_widget_function(capsys):
    token_lists = [s * 3 for s in SENTENCES]
    seen = []
    model, history = elmo_features.train_small_bilm(1, 32, 6, token_lists=token_lists, on_step=lambda s, v: seen.append(s))
    assert history.steps == 6 and seen == list(range(1, 7))
    assert model.config.num_layers == 1 and model.config.hidden_size == 64
    with pytest.raises(ValueError, match="layers"):
        elmo_features.train_small_bilm(0, 32, 5, token_lists=token_lists)


def test_leave_one_out_scores_match_a_naive_loop():
    torch.manual_seed(0)
    vectors = torch.randn(7, 4, dtype=torch.float64)
    sense_of = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    own = F.one_hot(sense_of, 3).to(torch.float64)
    scores = elmo_features._leave_one_out_scores(vectors, sense_of, own)
    for i in range(7):
        for k in range(3):
            members = [j for j in range(7) if sense_of[j] == k and j != i]
            centroid = vectors[members].mean(0)
            assert scores[i, k].item() == pytest.approx(-((vectors[i] - centroid) ** 2).sum().item())


def test_retrain_demo_draws_and_reports(capsys, monkeypatch):
    calls = []
    real = elmo_features.train_small_bilm

    def small(layers, hidden_size, steps, **kwargs):
        calls.append((layers, hidden_size, steps))
        return real(layers, hidden_size, steps, token_lists=[s * 3 for s in SENTENCES], **kwargs)

    monkeypatch.setattr(elmo_features, "train_small_bilm", small)
    assert elmo_features.retrain_demo(1, 32, 4, plot_every=2) is None
    assert calls == [(1, 32, 4)]
    assert "4 steps" in capsys.readouterr().out


def test_polysemy_examples_keep_words_with_two_well_attested_senses():
    examples = elmo_features.polysemy_examples(["bank", "plant"], min_examples=2)
    for word in ("bank", "plant"):
        senses = [e.synset for w, e in examples if w == word]
        assert len(set(senses)) >= 2 and all(senses.count(s) >= 2 for s in set(senses))
        assert all(e.tokens[e.position].startswith(word[:3]) for w, e in examples if w == word)
    with pytest.raises(ValueError, match="two senses"):
        elmo_features.polysemy_examples(["zebra"], min_examples=50)

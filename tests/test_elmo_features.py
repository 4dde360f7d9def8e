"""Tests for course_utils.elmo_features: ELMo's layers as features (contextuality, senses, part of speech)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from elmo_stand_ins import SENTENCES, tiny_setup  # noqa: E402  (shared tiny model; tests/ is on sys.path)

from course_utils import elmo, elmo_features  # noqa: E402

SENSES = ["a1", "a1", "a2", "a2", "a2", "b1", "b1", "b2", "b2"]
WORDS = ["a"] * 5 + ["b"] * 4


def _naive_predictions(vectors, senses, words):
    """The definition, written as plainly as possible: the oracle for the vectorised version."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    predictions = []
    for i in range(len(unit)):
        scores = {}
        for sense in dict.fromkeys(s for s, w in zip(senses, words) if w == words[i]):
            members = [j for j, s in enumerate(senses) if s == sense and j != i and words[j] == words[i]]
            if members:
                centroid = unit[members].mean(axis=0)
                scores[sense] = unit[i] @ centroid / np.linalg.norm(centroid)
        best = max(scores.values())
        predictions.append(sorted(s for s, v in scores.items() if v >= best - 1e-9))
    return predictions


# --- nearest-sense classification and its baselines --------------------------------------------------


def test_nearest_sense_matches_the_naive_definition():
    rng = np.random.RandomState(1)
    senses = [f"{w}{rng.randint(3)}" for w in "abcd" for _ in range(7)]
    words = [s[0] for s in senses]
    vectors = rng.randn(len(senses), 5)
    fast = [sorted(p) for p in elmo_features.nearest_sense_predictions(vectors, senses, words)]
    assert fast == _naive_predictions(vectors, senses, words)
    credit = elmo_features.nearest_sense_credit(vectors, senses, words)
    assert credit.shape == (len(senses),) and set(np.unique(credit)) <= {0.0, 0.5, 1 / 3, 1.0}
    assert elmo_features.nearest_sense_accuracy(vectors, senses, words) == pytest.approx(credit.mean())


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
    assert sorted(predictions[0]) == ["a1", "a2"]  # only senses of the same word are candidates


def test_float_noise_does_not_break_ties():
    # The same static vector with last-bit noise that happens to follow the senses must still tie.
    # (1, 1e-4) against (1, 0): their cosine differs from 1 by 5e-9, far below the default tolerance.
    static = np.array([[1.0, 1e-4 if s.endswith("1") else 0.0] for s in SENSES])
    assert elmo_features.nearest_sense_accuracy(static, SENSES, WORDS) == pytest.approx(0.5)
    assert elmo_features.nearest_sense_accuracy(static, SENSES, WORDS, tolerance=0.0) != pytest.approx(0.5)


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


def test_most_frequent_sense_and_chance():
    # a: a2 is the most frequent (3 of 5); b: b1 and b2 tie (2 and 2), each right answer counts 1/2.
    assert elmo_features.most_frequent_sense_accuracy(SENSES, WORDS) == pytest.approx((3 + 4 * 0.5) / 9)
    assert elmo_features.chance_sense_accuracy(["x", "y", "y"], ["w", "w", "w"]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one sense per word"):
        elmo_features.most_frequent_sense_accuracy(SENSES, WORDS[:-1])
    with pytest.raises(ValueError, match="one sense per word"):
        elmo_features.chance_sense_accuracy([], [])


# --- contextuality --------------------------------------------------------------------------------


def test_sense_similarity_static_is_one_and_hand_computed_case():
    static = np.stack([np.ones(3) if w == "a" else np.arange(3.0) + 1 for w in WORDS])
    result = elmo_features.sense_similarity(static, SENSES, WORDS)
    assert result.words == ["a", "b"] and list(result.examples) == [5, 4]
    np.testing.assert_allclose(result.same, 1.0)
    np.testing.assert_allclose(result.different, 1.0)
    np.testing.assert_allclose(result.gap, 0.0, atol=1e-12)
    # Two layers; in layer 1 senses s and t point along different axes.
    vectors = np.array([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.1]], [[1.0, 0.0], [0.0, 1.0]]])
    result = elmo_features.sense_similarity(vectors, ["s", "s", "t"], ["w"] * 3)
    same_1 = 1 / np.sqrt(1.01)  # cos((1, 0), (1, 0.1))
    different_1 = np.mean([0.0, 0.1 / np.sqrt(1.01)])  # (1,0)·(0,1) and (1,0.1)·(0,1), normalised
    np.testing.assert_allclose(result.same, [[1.0, same_1]])
    np.testing.assert_allclose(result.different, [[1.0, different_1]])
    assert result.gap[0, 1] > 0


def test_sense_similarity_bad_input():
    with pytest.raises(ValueError, match="two occurrences of one sense"):
        elmo_features.sense_similarity(np.ones((2, 3)), ["s", "t"], ["w", "w"])
    with pytest.raises(ValueError, match="lengths differ"):
        elmo_features.sense_similarity(np.ones((3, 3)), ["s", "t"], ["w", "w"])
    with pytest.raises(ValueError, match="NaN"):
        elmo_features.sense_similarity(np.full((3, 3), np.nan), ["s", "s", "t"], ["w"] * 3)
    with pytest.raises(ValueError, match="shape"):
        elmo_features.sense_similarity(np.ones((3, 1, 1, 2)), ["s", "s", "t"], ["w"] * 3)


def test_bootstrap_interval_covers_the_mean_and_resamples_groups():
    rng = np.random.RandomState(0)
    values = rng.randn(400) + 2.0
    low, high = elmo_features.bootstrap_interval(values)
    assert low < values.mean() < high and high - low < 0.5
    # 20 groups of 20 identical values: the interval is as wide as for 20 independent values.
    groups = np.repeat(np.arange(20), 20)
    clustered = np.repeat(rng.randn(20), 20)
    grouped = elmo_features.bootstrap_interval(clustered, groups)
    naive = elmo_features.bootstrap_interval(clustered)
    assert grouped[1] - grouped[0] > 3 * (naive[1] - naive[0])
    with pytest.raises(ValueError, match="two finite"):
        elmo_features.bootstrap_interval([1.0])
    with pytest.raises(ValueError, match="groups"):
        elmo_features.bootstrap_interval(values, groups[:10])


# --- part of speech -------------------------------------------------------------------------------


def test_part_of_speech_and_contrastive_subset():
    assert elmo_features.part_of_speech("bank.n.01") == "noun"
    assert elmo_features.part_of_speech("adept.s.01") == "adjective"
    assert elmo_features.part_of_speech("run.v.01") == "verb"
    with pytest.raises(ValueError, match="synset name"):
        elmo_features.part_of_speech("bank")
    labels = ["noun", "noun", "verb", "verb", "noun", "noun", "noun", "verb"]
    groups = ["run", "run", "run", "run", "cat", "cat", "cat", "walk"]
    # cat is only a noun, and walk's one verb example has no partner: only run is kept.
    assert elmo_features.contrastive_subset(labels, groups).tolist() == [0, 1, 2, 3]
    assert elmo_features.contrastive_subset(labels, groups, min_examples=3).tolist() == []
    with pytest.raises(ValueError, match="groups"):
        elmo_features.contrastive_subset(labels, groups[:-1])


# --- learned mixes and probes ---------------------------------------------------------------------


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
    with pytest.raises(ValueError, match="another label"):
        elmo_features.fit_sense_mix(features[:3], ["s", "s", "t"], ["w"] * 3)


def test_leave_one_out_grams_give_the_mixed_distances():
    torch.manual_seed(0)
    features = torch.randn(9, 3, 4, dtype=torch.float64)
    labels = ["x", "x", "y", "y", "y", "x", "x", "z", "z"]
    words = ["p"] * 5 + ["q"] * 4  # the label x occurs under both words: classes are (word, label)
    grams, candidate, target = elmo_features._leave_one_out_grams(features, labels, words)
    mix = elmo.ScalarMix(3, initial_weights=[0.3, -0.2, 1.0], gamma=1.7).double()
    s = mix.weights.detach()
    distances = mix.gamma.detach() ** 2 * torch.einsum("j,nkjl,l->nk", s, grams, s)
    mixed = mix(features.transpose(0, 1)).detach()  # (N, D)
    for i in range(9):
        names = list(dict.fromkeys(labels[j] for j in range(9) if words[j] == words[i]))
        assert names[target[i]] == labels[i]
        for k, name in enumerate(names):
            members = [j for j in range(9) if words[j] == words[i] and labels[j] == name and j != i]
            assert bool(candidate[i, k]) == bool(members)
            if members:
                expected = ((mixed[i] - mixed[members].mean(0)) ** 2).sum()
                assert distances[i, k].item() == pytest.approx(expected.item())


def test_cross_validated_accuracy_finds_the_informative_features():
    rng = np.random.RandomState(0)
    labels = np.array([0, 1] * 30)
    informative = rng.randn(60, 5) + 2.0 * labels[:, None]
    assert elmo_features.cross_validated_accuracy(informative, labels) > 0.9
    assert elmo_features.cross_validated_accuracy(rng.randn(60, 5), labels) < 0.8
    with pytest.raises(ValueError, match="one label each"):
        elmo_features.cross_validated_accuracy(informative, labels[:-1])


# --- vectors, examples, the widget ----------------------------------------------------------------


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


def test_layer_similarity_and_its_widget(capsys):
    model, chars, words = tiny_setup()
    pretrained = elmo.PretrainedElmo(model, chars, words)
    a, b = " ".join(SENTENCES[0]), " ".join(SENTENCES[1])
    cosines = elmo_features.layer_similarity(pretrained, a, b, "Bank")
    vectors = elmo_features.token_vectors(pretrained, SENTENCES[:2], [1, 4])
    expected = [float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)) for u, v in zip(vectors[0], vectors[1])]
    np.testing.assert_allclose(cosines, expected, atol=1e-6)
    assert cosines[0] == pytest.approx(1.0, abs=1e-6)  # layer 0 sees only the spelling
    assert abs(cosines[1] - 1) > 1e-5  # the LSTM layers see the sentence
    with pytest.raises(ValueError, match="does not occur in sentence B"):
        elmo_features.layer_similarity(pretrained, a, "the plant grows", "bank")
    with pytest.raises(ValueError, match="single token"):
        elmo_features.layer_similarity(pretrained, a, b, "the bank")
    reference = elmo_features.sense_similarity(np.stack([vectors[0], vectors[0], vectors[1]]), ["s", "s", "t"],
                                               ["w"] * 3)
    _, ax = plt.subplots()
    assert elmo_features.show_layer_similarity(pretrained, a, b, "bank", reference=reference, ax=ax) is None
    assert len(ax.patches) == 3 and len(ax.lines) == 3 and ax.get_title() and ax.get_ylabel()
    assert "layer 2: cosine" in capsys.readouterr().out
    plt.close("all")


def test_polysemy_examples_keep_words_with_two_well_attested_senses():
    examples = elmo_features.polysemy_examples(["bank", "plant"], min_examples=2)
    for word in ("bank", "plant"):
        senses = [e.synset for w, e in examples if w == word]
        assert len(set(senses)) >= 2 and all(senses.count(s) >= 2 for s in set(senses))
        assert all(e.tokens[e.position].startswith(word[:3]) for w, e in examples if w == word)
    same_form = elmo_features.polysemy_examples(["play", "qwxz"], same_form=True, skip_unknown=True)
    assert same_form and all(e.tokens[e.position] == "play" for _, e in same_form)
    with pytest.raises(KeyError):
        elmo_features.polysemy_examples(["qwxz"])
    with pytest.raises(ValueError, match="two senses"):
        elmo_features.polysemy_examples(["zebra"], min_examples=50)

"""Tests for course_utils.word2vec_evaluation: analogies question by question, the analogy widget, explore_word2vec."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.vectors import WordVectors, evaluate_analogies
from course_utils.word2vec_evaluation import (
    analogy_accuracy_table,
    analogy_outcomes,
    explore_word2vec,
    show_analogy,
    time_training_step,
)


def _toy_corpus(n_sentences: int = 300, seed: int = 0) -> list[list[str]]:
    """Two topics whose words co-occur only within their own topic."""
    rng = np.random.default_rng(seed)
    topics = [["cat", "dog", "pet", "fur", "paw"], ["car", "road", "wheel", "engine", "drive"]]
    return [list(rng.choice(topics[i % 2], size=8)) for i in range(n_sentences)]


def _random_vectors(seed: int = 0) -> WordVectors:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(40)]
    return WordVectors(words, rng.normal(size=(40, 5)))


def test_analogy_outcomes_agree_with_evaluate_analogies():
    """The vectorised answers match the one-question-at-a-time evaluator (the oracle), section by section."""
    vectors = _random_vectors()
    rng = np.random.default_rng(1)
    sections = {name: [tuple(f"w{i}" for i in rng.choice(50, size=4, replace=False)) for _ in range(60)]
                for name in ("first", "second")}
    # make some questions answerable: d placed at b − a + c
    matrix = vectors.matrix.copy()
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix[3] = unit[1] - unit[0] + unit[2]
    vectors = WordVectors(vectors.words, matrix)
    sections["first"].append(("w0", "w1", "w2", "w3"))
    for restrict in (None, 30):
        outcomes = analogy_outcomes(vectors, sections, restrict_vocab=restrict)
        score = evaluate_analogies(vectors, sections, restrict_vocab=restrict)
        for name in sections:
            mine = [o for o in outcomes if o.section == name]
            assert (sum(o.correct for o in mine), len(mine)) == score.sections[name]
        for o in outcomes[:20]:
            assert o.answer == vectors.subset(vectors.words[:restrict or 40]).analogy(o.a, o.b, o.c)[0][0]
    assert any(o.correct and (o.a, o.b, o.c) == ("w0", "w1", "w2") for o in analogy_outcomes(vectors, sections))


def test_analogy_accuracy_table_counts_and_compares_with_chance():
    vectors = _random_vectors()
    matrix = vectors.matrix.copy()
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix[3] = unit[1] - unit[0] + unit[2]
    vectors = WordVectors(vectors.words, matrix)
    sections = {"works": [("w0", "w1", "w2", "w3")], "fails": [("w0", "w1", "w2", "w9")], "unseen": [("x", "y", "z", "q")]}
    table = analogy_accuracy_table(analogy_outcomes(vectors, sections), candidates=40)
    assert [row["section"] for row in table] == ["works", "fails"]  # best first; uncovered sections absent
    assert table[0]["accuracy"] == 1.0 and table[0]["times_chance"] == pytest.approx(37.0)
    assert table[1]["correct"] == 0 and table[1]["covered"] == 1
    with pytest.raises(ValueError, match="candidates"):
        analogy_accuracy_table([], candidates=3)
    with pytest.raises(ValueError, match="four words"):
        analogy_outcomes(vectors, {"bad": [("w0", "w1", "w2")]})
    with pytest.raises(ValueError, match="no analogy"):
        analogy_outcomes(vectors, {})


def test_show_analogy_prints_answers_or_the_missing_word(capsys):
    vectors = _random_vectors()
    answers = show_analogy(vectors, "W0", "w1", "w2", topn=3)
    out = capsys.readouterr().out
    assert answers == vectors.analogy("w0", "w1", "w2", topn=3)
    assert "w0 : w1 :: w2 : ?" in out and "1. " in out and "frequency rank" in out
    assert show_analogy(vectors, "w0", "zebra", "w2") == []
    assert "'zebra'" in capsys.readouterr().out


def test_explore_word2vec_prints_scores_and_plots(capsys):
    result = explore_word2vec(_toy_corpus(40), dim=8, epochs=1, probes=["cat", "zebra"],
                              groups={"pets": ["cat", "dog", "pet"], "cars": ["car", "road"]},
                              similarity_sets={"toy": [("cat", "dog", 9.0), ("cat", "car", 1.0), ("road", "car", 8.0)]})
    out = capsys.readouterr().out
    assert "toy: Spearman" in out and "cat →" in out and "zebra" not in out
    assert result.vectors.dim == 8


def test_full_softmax_step_costs_grow_with_the_vocabulary():
    small = time_training_step(300, objective="softmax", batch_size=64, repeats=3)
    large = time_training_step(30_000, objective="softmax", batch_size=64, repeats=3)
    assert large > 3 * small  # 100× more words to score; generous margin for a loaded machine

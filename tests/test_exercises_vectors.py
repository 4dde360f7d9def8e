"""Tests for the notebook-02 checkers: a right answer passes, a wrong one fails, a stub is 'not attempted'."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.exercises import vectors as checks


def _cooccurrence(sentences, words, window):
    index = {w: i for i, w in enumerate(words)}
    counts = np.zeros((len(words), len(words)))
    for sentence in sentences:
        for t, word in enumerate(sentence):
            for u in range(max(0, t - window), min(len(sentence), t + window + 1)):
                if u != t and word in index and sentence[u] in index:
                    counts[index[word], index[sentence[u]]] += 1
    return counts


def _ppmi(counts):
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / total**2
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.where(counts > 0, np.log(counts / total / expected), 0.0)
    return np.maximum(pmi, 0.0)


def _neighbours(matrix, words, word, k):
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = unit @ unit[words.index(word)]
    scores[words.index(word)] = -np.inf
    return [words[i] for i in np.argsort(-scores)[:k]]


def _stub(*_args):
    raise NotImplementedError()


def test_right_answers_pass(capsys):
    assert checks.check_cooccurrence_counts(_cooccurrence)
    assert checks.check_ppmi(_ppmi)
    assert checks.check_nearest_neighbours(_neighbours)
    assert capsys.readouterr().out.count("PASS") == 3


def test_wrong_answers_fail_with_a_hint(capsys):
    # drops out-of-vocabulary words before windowing, so distances shrink
    def squeezed(sentences, words, window):
        return _cooccurrence([[w for w in s if w in words] for s in sentences], words, window)

    assert not checks.check_cooccurrence_counts(squeezed)
    # treats the corpus as one long sentence, so windows cross sentence boundaries
    assert not checks.check_cooccurrence_counts(lambda s, w, n: _cooccurrence([sum(s, [])], w, n))
    # forgets to clip negative PMI
    def pmi_not_clipped(counts):
        total = counts.sum()
        expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / total**2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(counts > 0, np.log(counts / total / expected), 0.0)

    assert not checks.check_ppmi(pmi_not_clipped)
    # lets log(0) and 0/0 through: NaN for a word that never occurs
    def unmasked(counts):
        total = counts.sum()
        return np.maximum(np.log(counts * total / (counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True))), 0)

    with np.errstate(all="ignore"):
        assert not checks.check_ppmi(unmasked)
    # ranks by dot product instead of cosine, and keeps the word itself
    assert not checks.check_nearest_neighbours(
        lambda m, w, word, k: [w[i] for i in np.argsort(-(m @ m[w.index(word)]))[:k]])
    out = capsys.readouterr().out
    assert out.count("FAIL") == 5 and out.count("Hint:") == 5


def test_stubs_are_reported_as_not_attempted(capsys):
    for checker in (checks.check_cooccurrence_counts, checks.check_ppmi, checks.check_nearest_neighbours):
        result = checker(_stub)
        assert not result
        assert "not attempted" in result.message


def test_left_context_counts_plus_transpose_is_the_symmetric_matrix():
    """The reference is checked against course_utils.vectors.cooccurrence_matrix as an oracle."""
    from course_utils.vectors import cooccurrence_matrix

    for sentences, words, window in checks._COOCCURRENCE_CASES:
        left = checks.left_context_counts(sentences, words, window)
        symmetric = cooccurrence_matrix(sentences, words, window).toarray()
        np.testing.assert_array_equal(left + left.T, symmetric)
    left = checks.left_context_counts([["a", "b", "c"]], ["a", "b", "c"], 1)
    assert left.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]  # b sees a on its left; a sees nothing
    with pytest.raises(ValueError, match="window"):
        checks.left_context_counts([["a"]], ["a"], 0)


def _left(sentences, words, window):
    index = {w: i for i, w in enumerate(words)}
    counts = np.zeros((len(words), len(words)))
    for sentence in sentences:
        for t, word in enumerate(sentence):
            for u in range(max(0, t - window), t):
                if word in index and sentence[u] in index:
                    counts[index[word], index[sentence[u]]] += 1
    return counts


def test_left_context_checker():
    assert checks.check_left_context_counts(_left)
    right_context = checks.check_left_context_counts(lambda s, w, n: _left(s, w, n).T)
    assert not right_context
    assert not checks.check_left_context_counts(_cooccurrence)  # both sides
    assert "not attempted" in checks.check_left_context_counts(_stub).message


def _ranks(values):
    values = np.asarray(values, dtype=float)
    order = values.argsort()
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # ties share the mean of their ranks
        ranks[values == value] = ranks[values == value].mean()
    return ranks


def test_spearman_checker():
    assert checks.check_spearman(lambda x, y: float(np.corrcoef(_ranks(x), _ranks(y))[0, 1]))

    def no_tie_handling(x, y):
        return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])

    assert not checks.check_spearman(no_tie_handling)
    assert not checks.check_spearman(lambda x, y: float(np.corrcoef(x, y)[0, 1]))  # Pearson on values
    assert "not attempted" in checks.check_spearman(_stub).message


def test_hints_point_the_way_without_printing_code():
    import re
    from pathlib import Path

    source = Path(checks.__file__).read_text()
    hints = re.findall(r'hint\s*=\s*\(?("(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*)', source)
    assert len(hints) == 5
    for hint in hints:
        assert not re.search(r"np\.|\[[a-z_]+\]|@|\.sum\(|argsort", hint), hint


def test_new_checkers_guard_their_references():
    from scipy.stats import spearmanr

    assert not checks.check_left_context_counts(lambda s, w, n: checks.left_context_counts(s, w, n))
    assert not checks.check_spearman(lambda x, y: float(spearmanr(x, y).statistic))

"""Tests for the notebook-02 checkers: a right answer passes, a wrong one fails, a stub is 'not attempted'."""

from __future__ import annotations

import numpy as np

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

"""Checkers for the exercises of notebook 02 (one-hot versus dense vectors): each compares the student's
function with a tested reference (:mod:`course_utils.vectors`, SciPy, or one defined below whose test uses
:func:`course_utils.vectors.cooccurrence_matrix` as the oracle) on several inputs and prints a pass/fail
line with a hint that points the way without giving the code.

Notebook 02 asks for left-context counts, Spearman's rank correlation and cosine nearest neighbours; the
co-occurrence and PPMI checkers serve assignments built on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import spearmanr

from course_utils import vectors
from course_utils.exercises import ExerciseResult, check_function, guards

__all__ = [
    "left_context_counts",
    "check_left_context_counts",
    "check_spearman",
    "check_cooccurrence_counts",
    "check_ppmi",
    "check_nearest_neighbours",
]

# The classic example (window 1), a wider window, a word repeated inside its own window, words outside
# the vocabulary that still take up positions, and sentences the window must not cross.
_COOCCURRENCE_CASES = [
    ([["i", "like", "deep", "learning"], ["i", "like", "nlp"], ["i", "enjoy", "flying"]],
     ["i", "like", "enjoy", "deep", "learning", "nlp", "flying"], 1),
    ([["i", "like", "deep", "learning"], ["i", "like", "nlp"], ["i", "enjoy", "flying"]],
     ["i", "like", "enjoy", "deep", "learning", "nlp", "flying"], 2),
    ([["the", "cat", "saw", "the", "dog"]], ["the", "cat", "dog", "saw"], 3),
    ([["a", "rare", "b", "a"], ["b", "c"]], ["a", "b", "c"], 2),
    ([["x", "y"], ["y", "x", "x"]], ["y", "x"], 5),
]


def _reference_cooccurrence(sentences, words, window) -> np.ndarray:
    return vectors.cooccurrence_matrix(sentences, words, window).toarray()


@guards(vectors.cooccurrence_matrix)
def check_cooccurrence_counts(student: Callable[[list[list[str]], list[str], int], np.ndarray]) -> ExerciseResult:
    """``student(sentences, words, window)`` must return the dense |words| × |words| matrix whose entry
    (i, j) counts how often words[j] occurs within ``window`` positions left or right of words[i]."""
    return check_function(
        student, _reference_cooccurrence, _COOCCURRENCE_CASES, name="co-occurrence counts",
        hint="map each vocabulary word to its row; for every position of every sentence whose word is in the "
             "vocabulary, visit the neighbours up to `window` positions away on both sides (not the word "
             "itself, and never past the sentence's ends) and count each neighbour that is in the vocabulary; "
             "words outside the vocabulary still occupy their positions",
    )


_COUNTS = np.array([[0, 2, 1, 0, 0, 0, 0], [2, 0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 0, 1],
                    [0, 1, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0],
                    [0, 0, 1, 0, 0, 0, 0]], dtype=float)


def _ppmi_cases() -> list[tuple[np.ndarray]]:
    rng = np.random.RandomState(2)
    rectangular = rng.poisson(2.0, size=(5, 8)).astype(float)
    with_zeros = rng.poisson(1.0, size=(6, 6)).astype(float)
    with_zeros[1] = 0  # a word with no contexts: its row must be 0, not NaN
    with_zeros[:, 3] = 0  # a context that never occurs
    return [(_COUNTS,), (np.array([[10.0, 0.0], [0.0, 10.0]]),), (rectangular,), (with_zeros,),
            (np.outer([1.0, 2.0, 3.0], [4.0, 5.0]),)]


def _reference_ppmi(counts) -> np.ndarray:
    return vectors.ppmi(counts).toarray()


@guards(vectors.ppmi)
def check_ppmi(student: Callable[[np.ndarray], np.ndarray]) -> ExerciseResult:
    """``student(counts)`` must return the dense PPMI matrix max(0, log P(i,j) / (P(i) P(j))) of a count
    matrix, with 0 wherever the count is 0 (no NaN, no −∞)."""
    return check_function(
        student, _reference_ppmi, _ppmi_cases(), name="PPMI from a count matrix", atol=1e-9,
        hint="turn the counts into a joint probability and its two marginals (row and column sums, shaped so "
             "that they broadcast against the matrix); take the log-ratio only where a count is positive, "
             "leave every other cell at 0, and clip negative values to 0",
    )


def _neighbour_cases() -> list[tuple]:
    rng = np.random.RandomState(5)
    words = [f"w{i}" for i in range(12)]
    matrix = rng.normal(size=(12, 5))
    # the same directions at very different lengths: cosine must ignore the length
    scaled = matrix * rng.uniform(0.1, 50.0, size=(12, 1))
    return [(matrix, words, "w0", 3), (matrix, words, "w7", 1), (scaled, words, "w3", 5),
            (scaled, words, "w11", 11)]


def _reference_neighbours(matrix, words: Sequence[str], word: str, k: int) -> list[str]:
    return [other for other, _ in vectors.WordVectors(words, matrix).most_similar(word, topn=k)]


@guards(vectors.WordVectors.most_similar)
def check_nearest_neighbours(student: Callable[[np.ndarray, list[str], str, int], list[str]]) -> ExerciseResult:
    """``student(matrix, words, word, k)`` must return the ``k`` words whose rows have the highest cosine
    similarity with ``word``'s row, most similar first, ``word`` itself excluded."""
    return check_function(
        student, _reference_neighbours, _neighbour_cases(), name="cosine nearest neighbours",
        hint="scale every row to length 1, so that a dot product of two rows is their cosine; score every "
             "word against the query word this way, exclude the query word itself, and return the k words "
             "with the highest scores, best first",
    )


# --------------------------------------------------------------------------------------------------
# Notebook 02: left-context counts and Spearman's rank correlation
# --------------------------------------------------------------------------------------------------


def left_context_counts(sentences: Sequence[Sequence[str]], words: Sequence[str], window: int) -> np.ndarray:
    """Dense (|words|, |words|) counts: entry (i, j) counts occurrences of words[j] within ``window``
    positions to the LEFT of an occurrence of words[i] (the only context a left-to-right language model
    sees). Out-of-vocabulary words keep their positions; windows do not cross sentences. Its sum with its
    transpose is the symmetric :func:`course_utils.vectors.cooccurrence_matrix`."""
    if window < 1:
        raise ValueError(f"window must be a positive integer, got {window}")
    index = {word: i for i, word in enumerate(words)}
    counts = np.zeros((len(words), len(words)))
    for sentence in sentences:
        ids = [index.get(token, -1) for token in sentence]
        for t, i in enumerate(ids):
            for j in ids[max(0, t - window):t]:
                if i >= 0 and j >= 0:
                    counts[i, j] += 1
    return counts


@guards(left_context_counts)
def check_left_context_counts(student: Callable[[list[list[str]], list[str], int], np.ndarray]) -> ExerciseResult:
    """``student(sentences, words, window)`` must return the dense left-context counts of
    :func:`left_context_counts`."""
    return check_function(
        student, left_context_counts, _COOCCURRENCE_CASES, name="left-context counts",
        hint="map each vocabulary word to its row; for every position of every sentence whose word is in the "
             "vocabulary, visit only the positions before it, at most `window` back and never before the "
             "sentence starts, and count each of those words that is in the vocabulary in that row; words "
             "outside the vocabulary still occupy their positions",
    )


def _spearman_cases() -> list[tuple]:
    rng = np.random.RandomState(7)
    x = rng.normal(size=30)
    return [
        (np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 40.0])),  # same order: 1
        (np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 2.0, 1.0])),  # reversed: -1
        (x, x ** 3 + 0.5 * rng.normal(size=30)),  # monotone relation plus noise
        (np.array([1.0, 2.0, 2.0, 3.0, 5.0, 5.0]), np.array([3.0, 1.0, 2.0, 2.0, 6.0, 4.0])),  # ties in both
        (rng.randint(0, 4, size=25).astype(float), rng.normal(size=25)),  # many ties
    ]


def _reference_spearman(x, y) -> float:
    return float(spearmanr(x, y).statistic)


@guards(spearmanr)  # SciPy's is the reference; the exercise is to write it
def check_spearman(student: Callable[[np.ndarray, np.ndarray], float]) -> ExerciseResult:
    """``student(x, y)`` must return Spearman's rank correlation of two equally long arrays, with tied
    values given the average of their ranks (as ``scipy.stats.spearmanr``)."""
    return check_function(
        student, _reference_spearman, _spearman_cases(), name="Spearman's rank correlation", atol=1e-9,
        hint="replace each array by the ranks of its values (1 for the smallest); values that are tied share "
             "the average of the ranks they occupy; then compute the ordinary (Pearson) correlation of the "
             "two rank arrays",
    )

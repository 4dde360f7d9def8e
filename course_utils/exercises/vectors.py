"""Checkers for the exercises of notebook 02 (one-hot versus dense vectors): each compares the student's
function with the tested reference in :mod:`course_utils.vectors` on several inputs and prints a pass/fail
line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from course_utils import vectors
from course_utils.exercises import ExerciseResult, check_function, guards

__all__ = ["check_cooccurrence_counts", "check_ppmi", "check_nearest_neighbours"]

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
        hint="for each sentence and each position t whose word is in the vocabulary, look at positions "
             "t-window..t+window (skip t itself and positions outside the sentence) and add 1 at "
             "[index[word_t], index[word_u]] when word_u is in the vocabulary; out-of-vocabulary words "
             "still occupy their positions",
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
        hint="P(i,j) = counts / counts.sum(); P(i) = row sums / total (shape (V, 1)); P(j) = column sums "
             "/ total (shape (1, C)); compute log(P(i,j) / (P(i) P(j))) only where counts > 0 (np.where "
             "or a mask, inside np.errstate(divide='ignore')), set the rest to 0, then clip at 0",
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
        hint="normalise every row to length 1 (divide by np.linalg.norm(matrix, axis=1, keepdims=True)); "
             "the cosines are then unit @ unit[index]; set the word's own score to -inf, and take the k "
             "largest with np.argsort(-scores)[:k]",
    )

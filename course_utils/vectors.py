"""Word vectors: looking them up, comparing them, and scoring them against human judgements.

Whatever produced them (counts + PPMI + SVD in notebook 02, word2vec in 03, ELMo in 04), word vectors
are compared by cosine similarity, cos(u, v) = u·v / (‖u‖‖v‖). :class:`WordVectors` holds a vocabulary
and its matrix and answers nearest-neighbour, similarity and analogy queries (3CosAdd:
argmax_d cos(d, b − a + c), Mikolov et al. 2013). :func:`evaluate_similarity` scores vectors by the
Spearman correlation between cosine similarities and human ratings (WordSim-353, SimLex-999);
:func:`evaluate_analogies` by accuracy on the Google analogy questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "WordVectors",
    "SimilarityScore",
    "AnalogyScore",
    "evaluate_similarity",
    "evaluate_analogies",
]


class WordVectors:
    """A vocabulary and one row vector per word, with cosine queries (like gensim's KeyedVectors)."""

    def __init__(self, words: Sequence[str], matrix) -> None:
        matrix = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=np.float32)
        words = list(words)
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D (words × dimensions), got shape {matrix.shape}")
        if len(words) != matrix.shape[0]:
            raise ValueError(f"{len(words)} words but the matrix has {matrix.shape[0]} rows")
        if not words:
            raise ValueError("WordVectors needs at least one word")
        if len(set(words)) != len(words):
            raise ValueError("the word list contains duplicates")
        if not np.all(np.isfinite(matrix)):
            raise ValueError("the matrix contains NaN or infinite values")
        self.words = words
        self.matrix = matrix
        self.index = {word: i for i, word in enumerate(words)}
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._unit = matrix / np.maximum(norms, 1e-12)

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words × {self.dim} dimensions)"

    def _row(self, word: str) -> int:
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words)") from None

    def vector(self, word: str) -> np.ndarray:
        """The vector of ``word``; KeyError naming the word when it is unknown."""
        return self.matrix[self._row(word)]

    def similarity(self, first: str, second: str) -> float:
        """Cosine similarity of two words."""
        return float(self._unit[self._row(first)] @ self._unit[self._row(second)])

    def _nearest(self, query: np.ndarray, topn: int, exclude: Iterable[str]) -> list[tuple[str, float]]:
        if topn < 1:
            raise ValueError(f"topn must be at least 1, got {topn}")
        norm = np.linalg.norm(query)
        if norm == 0 or not np.isfinite(norm):
            raise ValueError("the query vector is zero or not finite; cosine similarity is undefined")
        scores = self._unit @ (query / norm)
        excluded = {self.index[w] for w in exclude if w in self.index}
        if excluded:
            scores[list(excluded)] = -np.inf
        count = min(topn, len(self.words) - len(excluded))
        best = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")][:count]
        return [(self.words[i], float(scores[i])) for i in best]

    def most_similar(self, word_or_vector, topn: int = 10) -> list[tuple[str, float]]:
        """The ``topn`` nearest words by cosine to a word (itself excluded) or to a vector."""
        if isinstance(word_or_vector, str):
            return self._nearest(self._unit[self._row(word_or_vector)], topn, [word_or_vector])
        query = np.asarray(word_or_vector, dtype=np.float32)
        if query.shape != (self.dim,):
            raise ValueError(f"query vector has shape {query.shape}, expected ({self.dim},)")
        return self._nearest(query, topn, [])

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """a is to b as c is to ?: the words nearest to b − a + c (unit vectors), a, b, c excluded.

        ``analogy("man", "king", "woman")`` → ideally ``[("queen", ...)]``.
        """
        query = self._unit[self._row(b)] - self._unit[self._row(a)] + self._unit[self._row(c)]
        return self._nearest(query, topn, [a, b, c])

    def subset(self, words: Iterable[str]) -> WordVectors:
        """A new WordVectors with only ``words`` (in that order)."""
        words = list(words)
        return WordVectors(words, self.matrix[[self._row(w) for w in words]])

    def to_gensim(self):
        """The same vectors as a gensim ``KeyedVectors`` (to use gensim's own evaluators)."""
        from gensim.models import KeyedVectors

        keyed = KeyedVectors(vector_size=self.dim, count=len(self.words), dtype=np.float32)
        keyed.add_vectors(self.words, self.matrix)
        return keyed


@dataclass(frozen=True)
class SimilarityScore:
    """Spearman correlation on the pairs whose two words both have vectors."""

    spearman: float
    covered: int
    total: int

    @property
    def coverage(self) -> float:
        return self.covered / self.total

    def __str__(self) -> str:
        return f"Spearman {self.spearman:.3f} on {self.covered}/{self.total} pairs"


def evaluate_similarity(vectors: WordVectors, pairs: Sequence[tuple[str, str, float]]) -> SimilarityScore:
    """Spearman's ρ between cosine similarities and human scores, over the covered pairs.

    Pairs with a word that has no vector are skipped (as gensim's ``evaluate_word_pairs`` does by
    default); how many were covered is reported. Raises ValueError when fewer than 3 pairs are covered.
    """
    from scipy.stats import spearmanr

    if not pairs:
        raise ValueError("no word pairs given")
    model, human = [], []
    for first, second, score in pairs:
        if first in vectors and second in vectors:
            model.append(vectors.similarity(first, second))
            human.append(score)
    if len(model) < 3:
        raise ValueError(f"only {len(model)} of {len(pairs)} pairs have both words in the vocabulary")
    rho = spearmanr(model, human).statistic
    return SimilarityScore(float(rho), len(model), len(pairs))


@dataclass(frozen=True)
class AnalogyScore:
    """Accuracy on the analogy questions whose four words all have vectors."""

    accuracy: float
    correct: int
    covered: int
    total: int
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (correct, covered)

    def __str__(self) -> str:
        return f"accuracy {self.accuracy:.3f} ({self.correct}/{self.covered} covered of {self.total})"


def evaluate_analogies(
    vectors: WordVectors,
    sections: Mapping[str, Sequence[tuple[str, str, str, str]]],
    *,
    restrict_vocab: int | None = None,
) -> AnalogyScore:
    """3CosAdd accuracy: a question a:b :: c:d is right when d is the nearest word to b − a + c.

    Only questions whose four words are among the first ``restrict_vocab`` words (all when None) count,
    and candidates come from those words too — the convention of gensim's ``evaluate_word_analogies``.
    """
    if not sections:
        raise ValueError("no analogy sections given")
    if restrict_vocab is not None and restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be at least 1, got {restrict_vocab}")
    allowed = vectors if restrict_vocab is None else vectors.subset(vectors.words[:restrict_vocab])
    correct = covered = total = 0
    per_section: dict[str, tuple[int, int]] = {}
    for name, questions in sections.items():
        good = seen = 0
        for question in questions:
            total += 1
            if len(question) != 4:
                raise ValueError(f"analogy question {question!r} in {name!r} does not have four words")
            if not all(word in allowed for word in question):
                continue
            a, b, c, d = question
            seen += 1
            good += allowed.analogy(a, b, c, topn=1)[0][0] == d
        per_section[name] = (good, seen)
        correct += good
        covered += seen
    accuracy = correct / covered if covered else 0.0
    return AnalogyScore(accuracy, correct, covered, total, per_section)

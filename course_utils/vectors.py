"""Word vectors: from one-hot symbols to dense count-based vectors, and how to compare and score them.

**One-hot.** A word treated as a discrete symbol is a vector with a single 1 at its vocabulary index,
as long as the vocabulary. Any two distinct one-hot vectors are orthogonal: cosine 0 and Euclidean
distance √2, so "hotel" is exactly as far from "motel" as from "banana" (:func:`one_hot`).

**Counts.** The distributional hypothesis — "you shall know a word by the company it keeps" (Firth,
1957) — represents a word by the contexts it occurs in (:func:`concordance` shows them). With a window
of ±w positions the co-occurrence matrix is X[i, j] = Σ_t [w_t = i] Σ_{0<|d|≤w} [w_{t+d} = j]
(:func:`cooccurrence_matrix`, symmetric). Raw counts are dominated by frequent words ("the", "of"), so
they are reweighted by positive pointwise mutual information (:func:`ppmi`, Church & Hanks 1990):

    PPMI(i, j) = max(0, log P(i, j) / (P(i) P_α(j))),   P(i, j) = X_ij / Σ X,   P(i) = Σ_j X_ij / Σ X,
    P_α(j) = (Σ_i X_ij)^α / Σ_k (Σ_i X_ik)^α            (α = 1: plain PMI; α = 0.75: Levy et al. 2015).

Truncated SVD then compresses the long sparse rows into a few hundred dense dimensions,
PPMI ≈ U_d Σ_d V_dᵀ, and keeps W = U_d Σ_d^p as word vectors (:func:`truncated_svd`; p = 0.5 by
default, as Levy, Goldberg & Dagan (2015) "Improving distributional similarity with lessons learned
from word embeddings" found p ∈ {0, 0.5} better than the textbook p = 1). :func:`count_vectors` runs the
whole pipeline on a corpus.

**Comparing and scoring.** Whatever produced them (counts + PPMI + SVD in notebook 02, word2vec in 03,
ELMo in 04), word vectors are compared by cosine similarity, cos(u, v) = u·v / (‖u‖‖v‖).
:class:`WordVectors` holds a vocabulary and its matrix and answers nearest-neighbour, similarity and
analogy queries (3CosAdd: argmax_d cos(d, b − a + c), Mikolov et al. 2013). :func:`evaluate_similarity`
scores vectors by the Spearman correlation between cosine similarities and human ratings (WordSim-353,
SimLex-999); :func:`evaluate_analogies` by accuracy on the Google analogy questions.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse

from course_utils.tokenization import Vocabulary

__all__ = [
    "unit_rows",
    "cosine_similarity_matrix",
    "WordVectors",
    "SimilarityScore",
    "AnalogyScore",
    "evaluate_similarity",
    "evaluate_analogies",
    "one_hot",
    "concordance",
    "cooccurrence_matrix",
    "ppmi",
    "truncated_svd",
    "top_contexts",
    "count_vectors",
    "describe_vectors",
    "show_count_vectors",
]


def unit_rows(matrix) -> np.ndarray:
    """Each row divided by its Euclidean length, so dot products of rows are cosines.

    An all-zero row stays zero (its cosine with anything is 0) instead of becoming NaN.
    """
    matrix = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D matrix (items × dimensions), got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("the matrix contains NaN or infinite values")
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def cosine_similarity_matrix(matrix) -> np.ndarray:
    """All pairwise cosine similarities of the rows: (N, D) → (N, N)."""
    unit = unit_rows(matrix)
    return unit @ unit.T


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
        self._unit = unit_rows(matrix).astype(np.float32)

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

        # count=0: a positive count would pre-allocate that many empty (None) keys before ours
        keyed = KeyedVectors(vector_size=self.dim, count=0, dtype=np.float32)
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


# ---------------------------------------------------------------------------------------------------
# From symbols to counts: one-hot vectors, concordances, co-occurrence, PPMI, truncated SVD
# ---------------------------------------------------------------------------------------------------


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def one_hot(indices: int | Sequence[int], vocab_size: int) -> np.ndarray:
    """One-hot vectors: row k has a single 1.0 at column ``indices[k]``; shape (len(indices), vocab_size).

    A single integer gives one vector of shape (vocab_size,). ``one_hot([0, 2], 3)`` →
    ``[[1, 0, 0], [0, 0, 1]]``. Raises ValueError for an index outside ``0 .. vocab_size - 1``.
    """
    vocab_size = _positive_int(vocab_size, "vocab_size")
    single = isinstance(indices, numbers.Integral) and not isinstance(indices, bool)
    ids = np.atleast_1d(np.asarray(indices))
    if ids.ndim != 1:
        raise ValueError(f"indices must be an integer or a 1-D sequence of integers, got shape {ids.shape}")
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got {ids.dtype}")
    bad = ids[(ids < 0) | (ids >= vocab_size)] if ids.size else ids
    if bad.size:
        raise ValueError(f"index {int(bad[0])} is outside the vocabulary (0..{vocab_size - 1})")
    vectors = np.zeros((ids.size, vocab_size))
    vectors[np.arange(ids.size), ids.astype(np.int64)] = 1.0
    return vectors[0] if single else vectors


def _check_corpus(sentences) -> list[Sequence[str]]:
    if isinstance(sentences, str):
        raise TypeError("expected a corpus as a list of tokenised sentences (lists of words), got a string")
    corpus = list(sentences)
    for sentence in corpus:
        if isinstance(sentence, str):
            raise TypeError("expected tokenised sentences (lists of words), got a string inside the corpus")
    if not any(len(sentence) for sentence in corpus):
        raise ValueError("the corpus is empty: no sentence has any token")
    return corpus


def concordance(corpus: Iterable[Sequence[str]], word: str, width: int = 6, limit: int | None = 10) -> list[str]:
    """Key-word-in-context lines: each occurrence of ``word`` with ``width`` tokens on either side.

    The left contexts are right-aligned so the occurrences line up in one column, as in a printed
    concordance. At most ``limit`` lines (all when None), in corpus order; contexts stop at sentence
    boundaries. Raises KeyError naming the word when it never occurs.
    """
    corpus = _check_corpus(corpus)
    width = _positive_int(width, "width")
    if limit is not None:
        limit = _positive_int(limit, "limit")
    hits: list[tuple[str, str]] = []
    for sentence in corpus:
        for position, token in enumerate(sentence):
            if token == word:
                left = " ".join(sentence[max(0, position - width) : position])
                right = " ".join(sentence[position + 1 : position + 1 + width])
                hits.append((left, right))
                if limit is not None and len(hits) == limit:
                    break
        if limit is not None and len(hits) == limit:
            break
    if not hits:
        raise KeyError(f"word {word!r} does not occur in the corpus")
    indent = max(len(left) for left, _ in hits)
    return [f"{left:>{indent}}  {word}  {right}".rstrip() for left, right in hits]


def _word_index(vocab) -> tuple[list[str], dict[str, int]]:
    """Words and word → row index from a Vocabulary (anything with ``.words``) or a sequence of words."""
    if isinstance(vocab, str):
        raise TypeError("vocab must be a Vocabulary or a sequence of words, got a string")
    words = list(vocab.words) if hasattr(vocab, "words") else list(vocab)
    if not words:
        raise ValueError("the vocabulary is empty")
    index = {word: i for i, word in enumerate(words)}
    if len(index) != len(words):
        raise ValueError("the vocabulary contains duplicate words")
    return words, index


def cooccurrence_matrix(
    sentences: Iterable[Sequence[str]],
    vocab,
    window: int,
    *,
    weighting: str = "count",
) -> sparse.csr_matrix:
    """Symmetric word–context co-occurrence counts within ±``window`` positions, as a sparse CSR matrix.

    X[i, j] sums, over every occurrence of word i, the occurrences of word j at distance 1..window to
    its left or right (so X is symmetric, and a word repeated within the window co-occurs with itself).
    ``weighting="count"`` adds 1 per pair (the default); ``"harmonic"`` adds 1/distance, as GloVe does.
    Rows and columns follow ``vocab`` (a :class:`~course_utils.tokenization.Vocabulary` or a list of words).
    Words outside the vocabulary keep their positions (distances are measured in the original text) but
    are not counted; windows never cross sentence boundaries.
    """
    corpus = _check_corpus(sentences)
    window = _positive_int(window, "window")
    if weighting not in ("count", "harmonic"):
        raise ValueError(f"unknown weighting {weighting!r}; use 'count' or 'harmonic'")
    words, index = _word_index(vocab)
    # One long id array with `window` padding slots (-1) between sentences, so that shifting it by
    # d = 1..window pairs every token with its right neighbour at distance d, never across sentences.
    pieces = []
    padding = np.full(window, -1, dtype=np.int64)
    for sentence in corpus:
        pieces.append(np.fromiter((index.get(token, -1) for token in sentence), dtype=np.int64, count=len(sentence)))
        pieces.append(padding)
    ids = np.concatenate(pieces)
    rows, cols, values = [], [], []
    for distance in range(1, window + 1):
        left, right = ids[:-distance], ids[distance:]
        keep = (left >= 0) & (right >= 0)
        left, right = left[keep], right[keep]
        weight = 1.0 if weighting == "count" else 1.0 / distance
        rows += [left, right]  # both directions: j right of i, and i left of j
        cols += [right, left]
        values.append(np.full(2 * len(left), weight))
    size = len(words)
    matrix = sparse.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    ).tocsr()  # duplicates are summed
    matrix.sort_indices()
    return matrix


def _as_nonnegative_matrix(counts, name: str = "counts") -> sparse.csr_matrix:
    if sparse.issparse(counts):
        matrix = sparse.csr_matrix(counts, dtype=np.float64)
    else:
        array = np.asarray(counts, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix (words × contexts), got shape {array.shape}")
        matrix = sparse.csr_matrix(array)
    if not np.all(np.isfinite(matrix.data)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if matrix.data.size and matrix.data.min() < 0:
        raise ValueError(f"{name} contains negative values; co-occurrence counts are never negative")
    return matrix


def ppmi(counts, *, alpha: float = 1.0) -> sparse.csr_matrix:
    """Positive pointwise mutual information of a word × context count matrix, as a sparse CSR matrix.

    PPMI(i, j) = max(0, log(P(i, j) / (P(i) P_α(j)))) with P_α(j) ∝ (column sum j)^α. ``alpha=1`` (the
    default) is the textbook formula; ``alpha=0.75`` smooths the context distribution, which raises the
    probability of rare contexts and so lowers their inflated PMI (Levy, Goldberg & Dagan 2015). Cells
    with a zero count, and words or contexts that never occur, get 0 (never NaN or −∞).
    """
    matrix = _as_nonnegative_matrix(counts).tocoo()
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    total = matrix.data.sum()
    if total <= 0:
        raise ValueError("the count matrix sums to zero; PPMI needs at least one co-occurrence")
    keep = matrix.data > 0  # explicit zeros would give log(0)
    row, col, data = matrix.row[keep], matrix.col[keep], matrix.data[keep]
    p_word = np.asarray(matrix.sum(axis=1)).ravel() / total
    smoothed = np.asarray(matrix.sum(axis=0)).ravel() ** alpha
    p_context = smoothed / smoothed.sum()
    pmi = np.log(data / total) - np.log(p_word[row]) - np.log(p_context[col])
    positive = pmi > 0
    result = sparse.csr_matrix((pmi[positive], (row[positive], col[positive])), shape=matrix.shape)
    result.sort_indices()
    return result


def truncated_svd(matrix, dim: int, *, power: float = 0.5, seed: int = 0, algorithm: str = "arpack") -> np.ndarray:
    """Dense word vectors W = U_d · Σ_d^power from the rank-``dim`` truncated SVD matrix ≈ U_d Σ_d V_dᵀ.

    ``power=1`` gives the rows of the best rank-d approximation projected on V_d (what sklearn's
    ``TruncatedSVD.fit_transform`` returns); ``power=0`` keeps only the directions U_d; the default 0.5
    splits Σ symmetrically between words and contexts, which Levy et al. (2015) found better for word
    similarity. Columns are ordered by decreasing singular value, so ``W[:, :k]`` is the k-dimensional
    solution. Signs are fixed (the largest entry of each column of U is positive) so results are
    reproducible. ``algorithm="arpack"`` (exact, scipy's ``svds`` with a start vector drawn from
    ``seed``) or ``"randomized"`` (Halko et al. 2011, sklearn's ``randomized_svd``, faster, approximate).
    """
    from scipy.sparse.linalg import svds

    if isinstance(matrix, np.ndarray) or not sparse.issparse(matrix):
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
        finite = np.all(np.isfinite(matrix))
    else:
        matrix = sparse.csr_matrix(matrix, dtype=np.float64)
        finite = np.all(np.isfinite(matrix.data))
    if not finite:
        raise ValueError("matrix contains NaN or infinite values")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an integer, got {dim!r}")
    if not 1 <= dim < min(matrix.shape):
        raise ValueError(f"dim must be between 1 and {min(matrix.shape) - 1} (one less than the smaller side "
                         f"of the {matrix.shape[0]}×{matrix.shape[1]} matrix), got {dim}")
    if not (np.isfinite(power) and power >= 0):
        raise ValueError(f"power must be a finite number ≥ 0, got {power}")
    if algorithm == "arpack":
        from threadpoolctl import threadpool_limits

        start = np.random.RandomState(seed).uniform(-1, 1, min(matrix.shape))
        # ARPACK's time goes into sparse mat-vecs (single-threaded anyway); the small dense BLAS calls
        # between them only pay thread start-up and spin-waiting, which on a busy 2-core machine made
        # the 100-d SVD of notebook 02 about seven times slower in CPU time (10 s instead of 1.4 s).
        with threadpool_limits(limits=1):
            u, s, _ = svds(matrix, k=int(dim), v0=start)
        order = np.argsort(-s, kind="stable")  # svds returns ascending singular values
        u, s = u[:, order], s[order]
    elif algorithm == "randomized":
        from sklearn.utils.extmath import randomized_svd

        u, s, _ = randomized_svd(matrix, int(dim), n_iter=5, random_state=seed, flip_sign=False)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; use 'arpack' or 'randomized'")
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    return u * signs * s**power


def top_contexts(matrix, words: Sequence[str], word: str, topn: int = 10) -> list[tuple[str, float]]:
    """The ``topn`` contexts with the largest value in ``word``'s row (zeros left out), largest first.

    ``matrix`` is a square word × context matrix (counts or PPMI) whose rows and columns follow ``words``.
    """
    topn = _positive_int(topn, "topn")
    words, index = _word_index(words)
    shape = matrix.shape
    if len(shape) != 2 or shape[0] != len(words) or shape[1] != len(words):
        raise ValueError(f"matrix has shape {tuple(shape)} but there are {len(words)} words "
                         f"(expected {len(words)}×{len(words)})")
    if word not in index:
        raise KeyError(f"word {word!r} is not in the vocabulary ({len(words)} words)")
    row = matrix[index[word]]
    row = np.asarray(row.toarray() if sparse.issparse(row) else row, dtype=np.float64).ravel()
    nonzero = np.flatnonzero(row)
    order = nonzero[np.lexsort((nonzero, -row[nonzero]))][:topn]  # by value, ties by column
    return [(words[j], float(row[j])) for j in order]


# A dense V×V matrix of float32 takes 4·V² bytes (twice that inside WordVectors, which keeps unit rows).
_MAX_DENSE_VOCAB = 15_000


def count_vectors(
    sentences: Iterable[Sequence[str]],
    *,
    window: int = 5,
    min_count: int = 5,
    weighting: str = "ppmi",
    dim: int | None = None,
    max_vocab: int | None = None,
    alpha: float = 1.0,
    power: float = 0.5,
    seed: int = 0,
) -> WordVectors:
    """Count-based word vectors: co-occurrence counts → (PPMI) → (truncated SVD), as :class:`WordVectors`.

    The vocabulary keeps words occurring at least ``min_count`` times (at most ``max_vocab`` of them,
    most frequent first); contexts are the same words. ``weighting="raw"`` keeps the counts,
    ``"ppmi"`` applies :func:`ppmi` with ``alpha``. ``dim=None`` keeps the full sparse rows (as a dense
    V × V matrix, so V is capped at 15,000 words), an integer reduces them with :func:`truncated_svd`
    (``power``, ``seed``). Windows are unweighted (see :func:`cooccurrence_matrix`).
    """

    corpus = _check_corpus(sentences)
    window = _positive_int(window, "window")
    if weighting not in ("ppmi", "raw"):
        raise ValueError(f"unknown weighting {weighting!r}; use 'ppmi' or 'raw'")
    if max_vocab is not None:
        max_vocab = _positive_int(max_vocab, "max_vocab")
    vocab = Vocabulary.from_corpus(corpus, min_count=min_count, max_size=max_vocab)
    if dim is not None:
        dim = _positive_int(dim, "dim")
        if dim >= len(vocab):
            raise ValueError(f"dim must be smaller than the vocabulary size ({len(vocab)} words), got {dim}")
    elif len(vocab) > _MAX_DENSE_VOCAB:
        raise ValueError(f"{len(vocab)} words are too many for dense V×V vectors (limit {_MAX_DENSE_VOCAB}); "
                         "raise min_count, set max_vocab or reduce with dim")
    matrix = cooccurrence_matrix(corpus, vocab, window)
    if weighting == "ppmi":
        matrix = ppmi(matrix, alpha=alpha)
    if dim is None:
        dense = matrix.astype(np.float32).toarray()
    else:
        dense = truncated_svd(matrix, dim, power=power, seed=seed).astype(np.float32)
    return WordVectors(vocab.words, dense)


def describe_vectors(
    vectors: WordVectors,
    benchmarks: Mapping[str, Sequence[tuple[str, str, float]]],
    probes: Sequence[str],
    *,
    topn: int = 6,
) -> str:
    """A short text report: the Spearman score on each benchmark, then each probe word's neighbours.

    Probe words missing from the vocabulary are listed as such (not an error), so a report can be made
    for any window or dimension a widget picks.
    """
    topn = _positive_int(topn, "topn")
    lines = [f"{vectors!r}"]
    for name, pairs in benchmarks.items():
        lines.append(f"  {name:<12} {evaluate_similarity(vectors, pairs)}")
    for word in probes:
        if word in vectors:
            neighbours = ", ".join(f"{other} {score:.2f}" for other, score in vectors.most_similar(word, topn))
            lines.append(f"  {word:>12} → {neighbours}")
        else:
            lines.append(f"  {word:>12} → (not in the vocabulary)")
    return "\n".join(lines)


def show_count_vectors(
    sentences: Iterable[Sequence[str]],
    *,
    window: int,
    dim: int,
    min_count: int = 5,
    benchmarks: Mapping[str, Sequence[tuple[str, str, float]]],
    probes: Sequence[str],
    topn: int = 6,
) -> None:
    """Build PPMI+SVD vectors with ``window`` and ``dim``, print the build time and :func:`describe_vectors`.

    The function behind notebook 02's widget (it prints, and returns nothing for the widget to display).
    """
    import time

    start = time.perf_counter()
    built = count_vectors(sentences, window=window, min_count=min_count, weighting="ppmi", dim=dim)
    seconds = time.perf_counter() - start
    print(f"PPMI+SVD, window ±{window}, {dim} dimensions: built in {seconds:.1f} s")
    print(describe_vectors(built, benchmarks, probes, topn=topn))

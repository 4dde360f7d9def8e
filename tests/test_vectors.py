"""Tests for course_utils.vectors: one-hot, concordance, co-occurrence, PPMI, truncated SVD, count vectors,
and the WordVectors queries and evaluations (gensim, sklearn, scipy, nltk and naive loops as oracles)."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sparse
import torch
from gensim.test.utils import datapath
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import data, vectors
from course_utils.tokenization import Vocabulary
from course_utils.vectors import (
    WordVectors,
    concordance,
    cooccurrence_matrix,
    count_vectors,
    describe_vectors,
    evaluate_analogies,
    evaluate_similarity,
    one_hot,
    ppmi,
    top_contexts,
    truncated_svd,
)

# ---------------------------------------------------------------------------------------------------
# Naive oracles, written as literally as the formulas
# ---------------------------------------------------------------------------------------------------


def naive_cooccurrence(sentences, words, window, harmonic=False):
    index = {w: i for i, w in enumerate(words)}
    counts = np.zeros((len(words), len(words)))
    for sentence in sentences:
        for t, centre in enumerate(sentence):
            for d in range(-window, window + 1):
                if d == 0 or not 0 <= t + d < len(sentence):
                    continue
                other = sentence[t + d]
                if centre in index and other in index:
                    counts[index[centre], index[other]] += 1 / abs(d) if harmonic else 1
    return counts


def naive_ppmi(counts, alpha=1.0):
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    column_weights = counts.sum(axis=0) ** alpha
    result = np.zeros_like(counts)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j] > 0:
                p_ij = counts[i, j] / total
                p_i = counts[i].sum() / total
                p_j = column_weights[j] / column_weights.sum()
                result[i, j] = max(0.0, math.log(p_ij / (p_i * p_j)))
    return result


def align_signs(actual, expected):
    """Flip the columns of ``actual`` to match ``expected`` (singular vectors are defined up to sign)."""
    signs = np.sign(np.sum(actual * expected, axis=0))
    signs[signs == 0] = 1
    return actual * signs


def random_vectors(words, dim=16, seed=0):
    return WordVectors(words, np.random.default_rng(seed).normal(size=(len(words), dim)))


# ---------------------------------------------------------------------------------------------------
# WordVectors against gensim's KeyedVectors
# ---------------------------------------------------------------------------------------------------

WORDS = [f"w{i}" for i in range(40)]


def test_most_similar_and_similarity_match_gensim():
    wv = random_vectors(WORDS)
    keyed = wv.to_gensim()
    for word in ("w0", "w7", "w39"):
        ours = wv.most_similar(word, topn=5)
        theirs = keyed.most_similar(word, topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    for first, second in [("w1", "w2"), ("w3", "w3"), ("w10", "w30")]:
        assert wv.similarity(first, second) == pytest.approx(float(keyed.similarity(first, second)), abs=1e-5)
    query = wv.vector("w5") + wv.vector("w6")
    ours = wv.most_similar(query, topn=4)
    theirs = keyed.similar_by_vector(query, topn=4)
    assert [w for w, _ in ours] == [w for w, _ in theirs]


def test_analogy_matches_gensim_3cosadd():
    wv = random_vectors(WORDS, seed=1)
    keyed = wv.to_gensim()
    for a, b, c in [("w0", "w1", "w2"), ("w5", "w9", "w11")]:
        ours = wv.analogy(a, b, c, topn=3)
        theirs = keyed.most_similar(positive=[b, c], negative=[a], topn=3)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_word_vectors_basics_subset_and_torch_input():
    matrix = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    wv = WordVectors(["a", "b", "c", "d"], matrix)
    assert len(wv) == 4 and wv.dim == 3 and "c" in wv and "z" not in wv
    np.testing.assert_array_equal(wv.vector("b"), [3, 4, 5])
    sub = wv.subset(["d", "a"])
    assert sub.words == ["d", "a"]
    np.testing.assert_array_equal(sub.matrix, matrix.numpy()[[3, 0]])
    assert "4 words × 3 dimensions" in repr(wv)


def test_word_vectors_reject_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        WordVectors(["a"], np.zeros(3))
    with pytest.raises(ValueError, match="2 words but the matrix has 3 rows"):
        WordVectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="duplicates"):
        WordVectors(["a", "a"], np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        WordVectors(["a", "b"], np.array([[1.0, np.nan], [1.0, 2.0]]))
    wv = random_vectors(WORDS)
    with pytest.raises(KeyError, match="'unicorn'"):
        wv.vector("unicorn")
    with pytest.raises(KeyError, match="'unicorn'"):
        wv.most_similar("unicorn")
    with pytest.raises(ValueError, match="topn"):
        wv.most_similar("w1", topn=0)
    with pytest.raises(ValueError, match="shape"):
        wv.most_similar(np.ones(3))
    with pytest.raises(ValueError, match="zero"):
        wv.most_similar(np.zeros(wv.dim))


def test_evaluate_similarity_matches_gensim_on_wordsim353():
    pairs = data.wordsim353()
    # A vocabulary that covers some pairs but not all, with vectors that carry a little signal.
    words = sorted({w for first, second, _ in pairs[::2] for w in (first, second)})
    wv = random_vectors(words, dim=8, seed=3)
    ours = evaluate_similarity(wv, pairs)
    _pearson, spearman, oov_percent = wv.to_gensim().evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert 0 < ours.covered < ours.total == len(pairs) == 353
    assert 100 * (1 - ours.coverage) == pytest.approx(oov_percent)


def test_evaluate_similarity_errors():
    wv = random_vectors(WORDS)
    with pytest.raises(ValueError, match="no word pairs"):
        evaluate_similarity(wv, [])
    with pytest.raises(ValueError, match="only 1 of 2 pairs"):
        evaluate_similarity(wv, [("w1", "w2", 3.0), ("w1", "unicorn", 2.0)])


def _planted_analogy_vectors():
    """Capitals = country + a shared offset + noise, so 3CosAdd gets most (not all) questions right."""
    sections = data.google_analogies()
    rng = np.random.default_rng(0)
    countries = sorted({q[1] for q in sections["capital-common-countries"]} | {"france", "germany"})
    capitals = {q[1]: q[0] for q in sections["capital-common-countries"]}
    capitals.update({q[3]: q[2] for q in sections["capital-common-countries"]})
    offset = rng.normal(size=20)
    rows, words = [], []
    for country in countries:
        base = rng.normal(size=20)
        rows += [base, base + offset + rng.normal(scale=0.9, size=20)]
        words += [country, capitals[country]]
    for word in ["boy", "girl", "brother", "sister", "king", "queen"]:  # a second section, random
        rows.append(rng.normal(size=20))
        words.append(word)
    return WordVectors(words, np.array(rows)), sections


@pytest.mark.parametrize("restrict_vocab", [None, 30])
def test_evaluate_analogies_matches_gensim(restrict_vocab):
    wv, sections = _planted_analogy_vectors()
    ours = evaluate_analogies(wv, sections, restrict_vocab=restrict_vocab)
    keyed = wv.to_gensim()
    limit = restrict_vocab if restrict_vocab is not None else len(wv)
    accuracy, theirs = keyed.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=limit)
    assert ours.accuracy == pytest.approx(accuracy)
    assert 0 < ours.correct < ours.covered  # the planted structure works, but not perfectly
    by_name = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in theirs}
    for name, counts in ours.sections.items():
        assert counts == by_name[name]
    assert ours.total == sum(len(q) for q in sections.values())


def test_evaluate_analogies_errors():
    wv = random_vectors(WORDS)
    with pytest.raises(ValueError, match="no analogy sections"):
        evaluate_analogies(wv, {})
    with pytest.raises(ValueError, match="restrict_vocab"):
        evaluate_analogies(wv, {"s": [("w1", "w2", "w3", "w4")]}, restrict_vocab=0)
    with pytest.raises(ValueError, match="four words"):
        evaluate_analogies(wv, {"s": [("w1", "w2", "w3")]})


# ---------------------------------------------------------------------------------------------------
# One-hot vectors
# ---------------------------------------------------------------------------------------------------


def test_one_hot_matches_torch_and_all_pairs_are_equally_far():
    ids = [3, 0, 5, 1]
    ours = one_hot(ids, 7)
    np.testing.assert_array_equal(ours, torch.nn.functional.one_hot(torch.tensor(ids), 7).numpy())
    assert one_hot(2, 4).tolist() == [0.0, 0.0, 1.0, 0.0]
    for u, v in combinations(ours, 2):
        assert u @ v == 0.0  # cosine 0: orthogonal
        assert np.linalg.norm(u - v) == pytest.approx(math.sqrt(2))
    assert one_hot([], 3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(ValueError, match="index 7 is outside the vocabulary"):
        one_hot([1, 7], 5)
    with pytest.raises(ValueError, match="index -1"):
        one_hot([-1], 5)
    with pytest.raises(ValueError, match="vocab_size must be at least 1"):
        one_hot([0], 0)
    with pytest.raises(TypeError, match="integers"):
        one_hot([0.5], 3)
    with pytest.raises(ValueError, match="1-D"):
        one_hot([[0, 1]], 3)


# ---------------------------------------------------------------------------------------------------
# Concordance
# ---------------------------------------------------------------------------------------------------


def test_concordance_matches_nltk_contexts():
    from nltk.text import ConcordanceIndex

    tokens = ("the bank raised rates while the river bank flooded and the bank of england said "
              "nothing about the bank").split()
    lines = concordance([tokens], "bank", width=3, limit=None)
    left_index = ConcordanceIndex(tokens).find_concordance("bank", width=4 * 3)  # width // 4 tokens left
    right_index = ConcordanceIndex(tokens).find_concordance("bank", width=4 * 4)  # nltk: one fewer on the right
    assert len(lines) == len(left_index) == 4
    for line, left, right in zip(lines, left_index, right_index):
        assert line.strip() == f"{' '.join(left.left)}  bank  {' '.join(right.right)}".strip()
    # the occurrences line up in one column, after the longest left context
    column = max(len(" ".join(left.left)) for left in left_index)
    assert all(line[column:].startswith("  bank") for line in lines)


def test_concordance_limit_and_sentence_boundaries():
    corpus = [["a", "b", "key"], ["key", "c"], ["x", "key", "y", "z"]]
    lines = concordance(corpus, "key", width=2, limit=2)
    assert [line.strip() for line in lines] == ["a b  key", "key  c"]
    assert concordance(corpus, "key", width=1, limit=None)[2].strip() == "x  key  y"


def test_concordance_errors():
    with pytest.raises(KeyError, match="'unicorn' does not occur"):
        concordance([["a", "b"]], "unicorn")
    with pytest.raises(ValueError, match="corpus is empty"):
        concordance([], "a")
    with pytest.raises(ValueError, match="width must be at least 1"):
        concordance([["a"]], "a", width=0)
    with pytest.raises(ValueError, match="limit"):
        concordance([["a"]], "a", limit=-1)
    with pytest.raises(TypeError, match="string"):
        concordance("a b c", "a")


# ---------------------------------------------------------------------------------------------------
# Co-occurrence counts
# ---------------------------------------------------------------------------------------------------

corpora = st.lists(st.lists(st.sampled_from(list("abcdefg")), max_size=12), min_size=1, max_size=6).filter(
    lambda corpus: any(corpus))


@settings(max_examples=40, deadline=None)
@given(corpus=corpora, window=st.integers(1, 4), harmonic=st.booleans())
def test_cooccurrence_matches_naive_loops(corpus, window, harmonic):
    words = list("gfedcb")  # "a" is out of the vocabulary: it keeps its position but is not counted
    matrix = cooccurrence_matrix(corpus, words, window, weighting="harmonic" if harmonic else "count")
    assert sparse.isspmatrix_csr(matrix) and matrix.shape == (6, 6)
    expected = naive_cooccurrence(corpus, words, window, harmonic)
    np.testing.assert_allclose(matrix.toarray(), expected)
    np.testing.assert_allclose(matrix.toarray(), matrix.toarray().T)  # symmetric


def test_cooccurrence_small_example_and_vocabulary_input():
    corpus = [s.split() for s in ("i like deep learning", "i like nlp", "i enjoy flying")]
    vocab = Vocabulary.from_corpus(corpus)
    matrix = cooccurrence_matrix(corpus, vocab, window=1).toarray()
    i, like, enjoy, deep = vocab["i"], vocab["like"], vocab["enjoy"], vocab["deep"]
    assert matrix[i, like] == 2 and matrix[i, enjoy] == 1 and matrix[i, deep] == 0 and matrix[like, deep] == 1
    assert matrix.sum() == 2 * (3 + 2 + 2)  # every adjacent pair, in both directions
    # a window of 2 reaches one further, but never into the next sentence
    wide = cooccurrence_matrix(corpus, vocab, window=2).toarray()
    assert wide[i, deep] == 1 and wide[vocab["nlp"], vocab["enjoy"]] == 0


def test_cooccurrence_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        cooccurrence_matrix([[], []], ["a"], 2)
    with pytest.raises(ValueError, match="window must be at least 1"):
        cooccurrence_matrix([["a"]], ["a"], 0)
    with pytest.raises(ValueError, match="window must be at least 1"):
        cooccurrence_matrix([["a"]], ["a"], -3)
    with pytest.raises(TypeError, match="window must be an integer"):
        cooccurrence_matrix([["a"]], ["a"], 1.5)
    with pytest.raises(ValueError, match="duplicate"):
        cooccurrence_matrix([["a"]], ["a", "a"], 1)
    with pytest.raises(ValueError, match="vocabulary is empty"):
        cooccurrence_matrix([["a"]], [], 1)
    with pytest.raises(ValueError, match="weighting"):
        cooccurrence_matrix([["a"]], ["a"], 1, weighting="gaussian")
    with pytest.raises(TypeError, match="string"):
        cooccurrence_matrix(["a b"], ["a"], 1)


# ---------------------------------------------------------------------------------------------------
# PPMI
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 0.75])
def test_ppmi_matches_naive_formula(alpha):
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.5, size=(9, 7)).astype(float)
    counts[2] = 0  # a word that never occurs
    counts[:, 4] = 0  # a context that never occurs
    result = ppmi(counts, alpha=alpha)
    assert sparse.isspmatrix_csr(result)
    np.testing.assert_allclose(result.toarray(), naive_ppmi(counts, alpha), atol=1e-12)
    assert np.all(np.isfinite(result.data)) and result.data.min() > 0
    np.testing.assert_allclose(ppmi(sparse.csr_matrix(counts), alpha=alpha).toarray(), result.toarray())


def test_ppmi_of_independent_counts_is_zero_and_smoothing_lowers_rare_contexts():
    independent = np.outer([1, 2, 3], [4, 5, 6])  # P(i, j) = P(i) P(j): no association at all
    assert ppmi(independent).toarray().max() < 1e-12  # zero up to rounding
    counts = np.array([[10, 1], [10, 0], [10, 0]], dtype=float)  # context 1 is rare
    plain, smoothed = ppmi(counts).toarray(), ppmi(counts, alpha=0.75).toarray()
    assert 0 < smoothed[0, 1] < plain[0, 1]


def test_ppmi_errors():
    with pytest.raises(ValueError, match="negative"):
        ppmi(np.array([[1.0, -1.0], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="NaN"):
        ppmi(np.array([[1.0, np.nan], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="2-D"):
        ppmi(np.ones(4))
    with pytest.raises(ValueError, match="sums to zero"):
        ppmi(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="alpha"):
        ppmi(np.ones((2, 2)), alpha=0)


# ---------------------------------------------------------------------------------------------------
# Truncated SVD
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse_counts():
    rng = np.random.default_rng(0)
    dense = rng.poisson(0.4, size=(60, 50)).astype(float) * rng.integers(1, 5, size=(60, 1))
    return ppmi(dense)


def test_truncated_svd_matches_sklearn_arpack(sparse_counts):
    from sklearn.decomposition import TruncatedSVD

    ours = truncated_svd(sparse_counts, 8, power=1.0, seed=0)
    theirs = TruncatedSVD(n_components=8, algorithm="arpack", random_state=0).fit_transform(sparse_counts)
    np.testing.assert_allclose(align_signs(ours, theirs), theirs, atol=1e-8)


def test_truncated_svd_randomized_matches_sklearn_and_the_exact_solution(sparse_counts):
    from sklearn.decomposition import TruncatedSVD

    ours = truncated_svd(sparse_counts, 6, power=1.0, seed=3, algorithm="randomized")
    reference = TruncatedSVD(n_components=6, algorithm="randomized", n_iter=5, random_state=3).fit(sparse_counts)
    # U has orthonormal columns, so the column norms of U·Σ are the singular values sklearn found
    np.testing.assert_allclose(np.linalg.norm(ours, axis=0), reference.singular_values_, rtol=1e-10)
    # and the approximation is close to the exact SVD on the leading directions
    exact = truncated_svd(sparse_counts, 6, power=1.0)
    np.testing.assert_allclose(align_signs(ours, exact)[:, :2], exact[:, :2], atol=0.05)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_truncated_svd_is_u_times_sigma_to_the_power(sparse_counts, power):
    from scipy.sparse.linalg import svds

    u, s, _ = np.linalg.svd(sparse_counts.toarray(), full_matrices=False)
    ours = truncated_svd(sparse_counts, 5, power=power)
    expected = u[:, :5] * s[:5] ** power
    np.testing.assert_allclose(align_signs(ours, expected), expected, atol=1e-8)
    # scipy's svds gives the same singular values (in ascending order)
    np.testing.assert_allclose(np.sort(svds(sparse_counts, k=5)[1])[::-1], s[:5], rtol=1e-8)
    # signs are fixed: the largest entry of each direction is positive
    directions = ours / np.where(s[:5] ** power == 0, 1, s[:5] ** power)
    assert np.all(directions[np.argmax(np.abs(directions), axis=0), range(5)] > 0)


def test_truncated_svd_prefixes_and_determinism(sparse_counts):
    big = truncated_svd(sparse_counts, 10)
    small = truncated_svd(sparse_counts, 4)
    np.testing.assert_allclose(big[:, :4], small, atol=1e-8)  # columns ordered by singular value
    np.testing.assert_array_equal(truncated_svd(sparse_counts, 10), big)
    dense = truncated_svd(sparse_counts.toarray(), 4)
    np.testing.assert_allclose(dense, small, atol=1e-8)


def test_truncated_svd_errors(sparse_counts):
    with pytest.raises(ValueError, match="dim must be between 1 and 49"):
        truncated_svd(sparse_counts, 0)
    with pytest.raises(ValueError, match="dim must be between 1 and 49"):
        truncated_svd(sparse_counts, -2)
    with pytest.raises(ValueError, match="dim must be between 1 and 49"):
        truncated_svd(sparse_counts, 50)
    with pytest.raises(TypeError, match="dim must be an integer"):
        truncated_svd(sparse_counts, 2.0)
    with pytest.raises(ValueError, match="power"):
        truncated_svd(sparse_counts, 2, power=-1)
    with pytest.raises(ValueError, match="algorithm"):
        truncated_svd(sparse_counts, 2, algorithm="lanczos")
    with pytest.raises(ValueError, match="2-D"):
        truncated_svd(np.ones(5), 1)
    with pytest.raises(ValueError, match="NaN"):
        truncated_svd(np.full((4, 4), np.nan), 1)


# ---------------------------------------------------------------------------------------------------
# Top contexts, count vectors, report
# ---------------------------------------------------------------------------------------------------


def test_top_contexts_matches_sorting_the_row():
    rng = np.random.default_rng(1)
    words = list("abcdef")
    matrix = rng.integers(0, 4, size=(6, 6)).astype(float)
    for form in (matrix, sparse.csr_matrix(matrix)):
        found = top_contexts(form, words, "c", topn=3)
        row = matrix[2]
        expected = sorted(((words[j], row[j]) for j in range(6) if row[j] > 0), key=lambda x: (-x[1], x[0]))[:3]
        assert found == expected
    with pytest.raises(ValueError, match="shape"):
        top_contexts(matrix[:5], words, "a")
    with pytest.raises(KeyError, match="'z'"):
        top_contexts(matrix, words, "z")
    with pytest.raises(ValueError, match="topn"):
        top_contexts(matrix, words, "a", topn=0)


def topic_corpus(repeats=30, seed=0):
    """Animals and vehicles appear with different verbs; the same function words everywhere."""
    rng = np.random.default_rng(seed)
    animals, vehicles = ["cat", "dog", "horse"], ["car", "truck", "bus"]
    animal_verbs, vehicle_verbs = ["eats", "sleeps", "runs", "purrs"], ["drives", "parks", "honks", "brakes"]
    sentences = []
    for _ in range(repeats):
        for nouns, verbs in ((animals, animal_verbs), (vehicles, vehicle_verbs)):
            sentences.append(["the", str(rng.choice(nouns)), str(rng.choice(verbs)), "and", "the",
                              str(rng.choice(nouns)), str(rng.choice(verbs)), "of", "the", "day"])
    return sentences


def test_count_vectors_is_the_pipeline():
    corpus = topic_corpus()
    vocab = Vocabulary.from_corpus(corpus, min_count=5)
    counts = cooccurrence_matrix(corpus, vocab, 2)
    raw = count_vectors(corpus, window=2, min_count=5, weighting="raw")
    assert raw.words == vocab.words
    np.testing.assert_allclose(raw.matrix, counts.toarray())
    weighted = count_vectors(corpus, window=2, min_count=5, weighting="ppmi", alpha=0.75)
    np.testing.assert_allclose(weighted.matrix, ppmi(counts, alpha=0.75).toarray(), rtol=1e-6)
    dense = count_vectors(corpus, window=2, min_count=5, dim=4, power=1.0, seed=2)
    np.testing.assert_allclose(dense.matrix, truncated_svd(ppmi(counts), 4, power=1.0, seed=2), rtol=1e-5, atol=1e-6)
    capped = count_vectors(corpus, window=2, min_count=1, max_vocab=5, weighting="raw")
    assert capped.words == vocab.words[:5]


def test_count_vectors_find_the_topics():
    vectors_ppmi = count_vectors(topic_corpus(), window=2, min_count=5, dim=3)
    for animal in ("cat", "dog"):
        assert vectors_ppmi.similarity(animal, "horse") > vectors_ppmi.similarity(animal, "truck")
    assert vectors_ppmi.most_similar("eats", topn=3)[0][0] in {"sleeps", "runs", "purrs"}


def test_count_vectors_errors(monkeypatch):
    corpus = topic_corpus(repeats=3)
    with pytest.raises(ValueError, match="corpus is empty"):
        count_vectors([])
    with pytest.raises(ValueError, match="window must be at least 1"):
        count_vectors(corpus, window=0, min_count=1)
    with pytest.raises(ValueError, match="dim must be at least 1"):
        count_vectors(corpus, min_count=1, dim=0)
    size = len(Vocabulary.from_corpus(corpus))
    with pytest.raises(ValueError, match=rf"dim must be smaller than the vocabulary size \({size} words\)"):
        count_vectors(corpus, min_count=1, dim=size)
    with pytest.raises(ValueError, match="weighting"):
        count_vectors(corpus, min_count=1, weighting="tfidf")
    with pytest.raises(ValueError, match="min_count"):
        count_vectors(corpus, min_count=0)
    with pytest.raises(ValueError, match="max_vocab must be at least 1"):
        count_vectors(corpus, min_count=1, max_vocab=0)
    monkeypatch.setattr(vectors, "_MAX_DENSE_VOCAB", 10)
    assert size > 10
    with pytest.raises(ValueError, match="too many for dense"):
        count_vectors(corpus, min_count=1)
    assert count_vectors(corpus, min_count=1, dim=2).dim == 2  # reducing is still fine


def test_describe_vectors_reports_scores_and_neighbours():
    wv = count_vectors(topic_corpus(), window=2, min_count=5, dim=3)
    pairs = [("cat", "dog", 9.0), ("cat", "truck", 1.0), ("dog", "horse", 8.5), ("car", "bus", 8.0)]
    report = describe_vectors(wv, {"toy": pairs}, ["cat", "unicorn"], topn=2)
    score = evaluate_similarity(wv, pairs)
    assert f"toy          {score}" in report
    cat_line = next(line for line in report.splitlines() if line.strip().startswith("cat →"))
    assert cat_line.count(",") == 1 and wv.most_similar("cat", 1)[0][0] in cat_line
    assert "unicorn → (not in the vocabulary)" in report
    with pytest.raises(ValueError, match="topn"):
        describe_vectors(wv, {}, ["cat"], topn=0)


def test_show_count_vectors_prints_the_report(capsys):
    pairs = [("cat", "dog", 9.0), ("cat", "truck", 1.0), ("dog", "horse", 8.5), ("car", "bus", 8.0)]
    assert vectors.show_count_vectors(topic_corpus(), window=2, dim=3, min_count=5, benchmarks={"toy": pairs},
                                      probes=["cat"], topn=2) is None
    out = capsys.readouterr().out
    built = count_vectors(topic_corpus(), window=2, min_count=5, dim=3)
    assert "window ±2, 3 dimensions: built in" in out
    assert describe_vectors(built, {"toy": pairs}, ["cat"], topn=2) in out
    with pytest.raises(ValueError, match="dim must be smaller"):
        vectors.show_count_vectors(topic_corpus(), window=2, dim=500, min_count=5, benchmarks={}, probes=[])


def test_unit_rows_and_cosine_similarity_matrix_match_sklearn():
    from sklearn.metrics.pairwise import cosine_similarity

    from course_utils.vectors import cosine_similarity_matrix, unit_rows

    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(6, 4))
    np.testing.assert_allclose(np.linalg.norm(unit_rows(matrix), axis=1), 1.0)
    np.testing.assert_allclose(cosine_similarity_matrix(matrix), cosine_similarity(matrix), atol=1e-12)
    with_zero = np.vstack([matrix, np.zeros(4)])
    assert not np.isnan(cosine_similarity_matrix(with_zero)).any()
    np.testing.assert_allclose(cosine_similarity_matrix(with_zero)[-1], 0.0)
    with pytest.raises(ValueError, match="2-D"):
        unit_rows(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        cosine_similarity_matrix(np.array([[np.nan, 1.0], [1.0, 0.0]]))

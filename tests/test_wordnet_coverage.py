"""Tests for course_utils.wordnet_coverage, with nltk's WordNet itself as the oracle."""

from __future__ import annotations

import pytest
from nltk.corpus import wordnet as wn

from course_utils import wordnet_coverage as W


def test_lookup_form_and_has_synset():
    assert W.lookup_form("Australia's") == "australia"
    assert W.lookup_form("it's") == "it's"  # a contraction of a function word is left whole
    assert W.lookup_form("dogs'") == "dogs"
    assert W.lookup_form("australia's", strip_possessive=False) == "australia's"
    assert W.has_synset("dogs") and W.has_synset("ran") and W.has_synset("Australia's")
    assert not W.has_synset("the") and not W.has_synset("qantas") and not W.has_synset("1999")
    assert not W.has_synset("australia's", strip_possessive=False)
    with pytest.raises(ValueError, match="empty"):
        W.has_synset("")
    with pytest.raises(TypeError):
        W.lookup_form(42)  # type: ignore[arg-type]


def test_coverage_counts_types_and_tokens_against_wn_synsets():
    corpus = [["the", "dogs", "barked", "at", "the", "qantas", "plane"], ["australia's", "the"]]
    result = W.coverage(corpus)
    tokens = [t for doc in corpus for t in doc]
    oracle_missing = {t for t in set(tokens) if not wn.synsets(t.removesuffix("'s"))}
    assert {w for w, _ in result.missing} == oracle_missing == {"the", "qantas"}
    assert result.n_types == len(set(tokens)) and result.n_tokens == len(tokens)
    assert result.missing[0] == ("the", 3)  # most frequent first
    assert result.missing_types == 2 and result.missing_tokens == 4
    assert result.type_share_missing == pytest.approx(2 / 7)
    assert result.token_share_missing == pytest.approx(4 / 9)
    plain = W.coverage(corpus, strip_possessive=False)
    assert ("australia's", 1) in plain.missing


def test_coverage_bad_input():
    with pytest.raises(ValueError, match="empty"):
        W.coverage([])
    with pytest.raises(ValueError, match="empty"):
        W.coverage([[], []])
    with pytest.raises(TypeError, match="tokenised"):
        W.coverage(["the dogs barked"])


def test_capitalisation_rates_ignore_sentence_starts():
    documents = ["Qantas flew. The plane left the airport and Qantas said so.", "A dog saw Qantas. Dog food."]
    rates = W.capitalisation_rates(documents)
    assert rates["qantas"] == 1.0
    assert rates["the"] == 0.0  # "The" starts a sentence; inside one, "the" is lower-case
    assert rates["a"] == 1.0  # only ever sentence-initial: measured there
    assert rates["dog"] == 0.0  # "Dog" at a sentence start does not count
    assert rates["food"] == 0.0
    with pytest.raises(ValueError, match="empty"):
        W.capitalisation_rates(["", "  ... "])
    with pytest.raises(TypeError, match="raw strings"):
        W.capitalisation_rates([["already", "tokenised"]])


@pytest.mark.parametrize("word, kind", [
    ("the", "function word"), ("1999", "number"), ("5,000", "number"), ("don't", "contraction"),
    ("year-old", "hyphenated compound"), ("qantas", "name or acronym"), ("sharon's", "name or acronym"),
    ("canyoning", W.MISSING_KINDS[-1]),
])
def test_classify_missing(word, kind):
    rates = {"qantas": 1.0, "sharon": 0.9, "canyoning": 0.1}
    assert W.classify_missing(word, rates) == kind
    assert kind in W.MISSING_KINDS


def test_classify_missing_without_rates_and_bad_input():
    assert W.classify_missing("qantas") == W.MISSING_KINDS[-1]  # no capitalisation data: cannot tell
    with pytest.raises(ValueError, match="empty"):
        W.classify_missing("")


def test_missing_by_kind_partitions_the_missing_types():
    corpus = [["the", "qantas", "1999", "don't", "year-old", "canyoning", "dog", "the"]]
    result = W.coverage(corpus)
    grouped = W.missing_by_kind(result, {"qantas": 1.0})
    assert list(grouped) == list(W.MISSING_KINDS)
    assert sorted(w for items in grouped.values() for w, _ in items) == sorted(w for w, _ in result.missing)
    assert grouped["function word"] == [("the", 2)]
    assert grouped["name or acronym"] == [("qantas", 1)]
    with pytest.raises(TypeError, match="Coverage"):
        W.missing_by_kind([("the", 2)])  # type: ignore[arg-type]


def test_polysemy_counts_senses_of_frequent_content_words():
    corpus = [["the", "bank", "said", "the", "bank", "of", "fire", "fire", "fire", "1999", "qwzxv", "qwzxv"]]
    rows = W.polysemy(corpus, top=5)
    assert rows == [("fire", 3, len(wn.synsets("fire"))), ("bank", 2, len(wn.synsets("bank"))),
                    ("said", 1, len(wn.synsets("said")))]
    with_function = W.polysemy(corpus, top=10, content_words_only=False)
    assert ("the", 2, len(wn.synsets("the"))) not in with_function  # "the" has no synset at all
    assert W.polysemy(corpus, top=1) == rows[:1]
    with pytest.raises(ValueError, match="top"):
        W.polysemy(corpus, top=0)
    with pytest.raises(ValueError, match="empty"):
        W.polysemy([[]])

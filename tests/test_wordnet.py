"""Tests for course_utils.wordnet, with nltk's WordNet itself as the oracle."""

from __future__ import annotations

import random

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from nltk.corpus import wordnet as wn
from scipy.stats import spearmanr

from course_utils import wordnet as W

# ----------------------------------------------------------------------------------------- synsets


def test_get_synset_by_name_and_passthrough():
    dog = W.get_synset("dog.n.01")
    assert dog == wn.synset("dog.n.01")
    assert W.get_synset(dog) is dog


@pytest.mark.parametrize("bad, error", [("dog.n.99", KeyError), ("notaword.n.01", KeyError),
                                        ("dog", ValueError), (3, TypeError)])
def test_get_synset_bad_input(bad, error):
    with pytest.raises(error, match="dog|notaword|synset"):
        W.get_synset(bad)


def test_synsets_of_matches_nltk_including_inflections():
    assert W.synsets_of("good") == wn.synsets("good")
    assert W.synsets_of("dogs", "n") == wn.synsets("dogs", "n")
    assert W.synsets_of("dogs", "n")[0].name() == "dog.n.01"
    satellites = W.synsets_of("good", "s")
    assert satellites and all(s.pos() == "s" for s in satellites)
    assert W.synsets_of("good", "a") == wn.synsets("good", "a")  # nltk's "a" includes satellites


def test_synsets_of_bad_input_names_the_problem():
    with pytest.raises(KeyError, match="qwzxv"):
        W.synsets_of("qwzxv")
    with pytest.raises(KeyError, match="panda.*verb"):
        W.synsets_of("panda", "v")
    with pytest.raises(ValueError, match="part of speech"):
        W.synsets_of("dog", "x")
    with pytest.raises(ValueError, match="empty"):
        W.synsets_of("  ")
    with pytest.raises(TypeError):
        W.synsets_of(None)  # type: ignore[arg-type]


def test_senses_and_senses_by_pos_for_good():
    all_senses = W.senses("good")
    assert [s.synset for s in all_senses] == [s.name() for s in wn.synsets("good")]
    first = all_senses[0]
    assert first.definition == wn.synset(first.synset).definition()
    assert first.lemmas == tuple(wn.synset(first.synset).lemma_names())
    grouped = W.senses_by_pos("good")
    assert set(grouped) == {"noun", "adjective", "adjective satellite", "adverb"}
    assert sum(len(v) for v in grouped.values()) == len(all_senses)
    assert len(grouped["noun"]) == len(wn.synsets("good", "n"))
    assert len(grouped["adverb"]) == len(wn.synsets("good", "r"))
    assert [s.synset for s in W.senses("good", "r")] == [s.name() for s in wn.synsets("good", "r")]
    with pytest.raises(KeyError, match="qwzxv"):
        W.senses_by_pos("qwzxv")


# --------------------------------------------------------------------------------------- hypernyms


def test_hypernym_closure_of_panda_matches_nltk():
    closure = W.hypernym_closure("panda.n.01")
    oracle = [s.name() for s in wn.synset("panda.n.01").closure(lambda s: s.hypernyms())]
    assert closure == oracle
    assert closure[0] == "procyonid.n.01" and closure[-1] == "entity.n.01"
    assert "mammal.n.01" in closure
    assert W.hypernym_closure("good.a.01") == []  # adjectives have no hypernyms
    with pytest.raises(KeyError):
        W.hypernym_closure("panda.n.42")


def test_hypernym_paths_are_nltk_paths_reversed():
    for name in ("dog.n.01", "einstein.n.01", "run.v.01"):
        ours = W.hypernym_paths(name)
        oracle = [[s.name() for s in reversed(p)] for p in wn.synset(name).hypernym_paths()]
        assert ours == oracle
        assert all(path[0] == name for path in ours)
    assert len(W.hypernym_paths("dog.n.01")) == 2  # dog is both a canine and a domestic animal
    with pytest.raises(ValueError):
        W.hypernym_paths("dog")


def test_hypernym_chain_follows_first_parent_to_a_root():
    chain = W.hypernym_chain("panda.n.01")
    assert chain[0] == "giant_panda.n.01" and chain[-1] == "entity.n.01"
    for child, parent in zip(chain, chain[1:]):
        synset = wn.synset(child)
        assert parent == (synset.hypernyms() + synset.instance_hypernyms())[0].name()
    assert wn.synset(chain[-1]).hypernyms() == []
    assert W.hypernym_chain("einstein.n.01")[1] == "physicist.n.01"  # via an instance hypernym
    assert W.hypernym_chain("entity.n.01") == ["entity.n.01"]
    with pytest.raises(KeyError):
        W.hypernym_chain("qwzxv.n.01")


# -------------------------------------------------------------------------------------- similarity


@pytest.mark.parametrize("a, b", [("dog.n.01", "cat.n.01"), ("car.n.01", "bicycle.n.01"), ("run.v.01", "walk.v.01")])
def test_synset_similarity_equals_nltk(a, b):
    sa, sb = wn.synset(a), wn.synset(b)
    assert W.synset_similarity(a, b, "path") == pytest.approx(sa.path_similarity(sb))
    assert W.synset_similarity(a, b, "wup") == pytest.approx(sa.wup_similarity(sb))
    assert W.synset_similarity(a, b, "lch") == pytest.approx(sa.lch_similarity(sb))


def test_synset_similarity_bad_input():
    with pytest.raises(ValueError, match="same part of speech"):
        W.synset_similarity("dog.n.01", "run.v.01", "lch")
    with pytest.raises(ValueError, match="adjective"):
        W.synset_similarity("good.a.01", "bad.a.01", "wup")
    with pytest.raises(ValueError, match="adverb"):
        W.synset_similarity("dog.n.01", "well.r.01", "path")
    # nouns and verbs are joined through nltk's simulated root, as nltk does
    assert W.synset_similarity("dog.n.01", "run.v.01", "path") == pytest.approx(
        wn.synset("dog.n.01").path_similarity(wn.synset("run.v.01")))
    with pytest.raises(ValueError, match="measure"):
        W.synset_similarity("dog.n.01", "cat.n.01", "cosine")
    with pytest.raises(KeyError):
        W.synset_similarity("dog.n.01", "cat.n.77")


def test_path_distance_agrees_with_nltk_on_random_pairs():
    rng = random.Random(0)
    nouns = [wn.synset(n) for n in ("dog.n.01", "cat.n.01", "einstein.n.01", "bank.n.01", "idea.n.01",
                                    "water.n.01", "car.n.01", "panda.n.01", "justice.n.01", "tree.n.01")]
    verbs = [wn.synset(v) for v in ("run.v.01", "eat.v.01", "think.v.01", "give.v.01", "bank.v.01", "see.v.01")]
    for pool in (nouns, verbs):
        for _ in range(20):
            a, b = rng.sample(pool, 2)
            assert 1 / (1 + W.path_distance(a, b)) == pytest.approx(a.path_similarity(b))
    assert W.path_distance("dog.n.01", "dog.n.01") == 0
    dog, run = wn.synset("dog.n.01"), wn.synset("run.v.01")
    assert 1 / (1 + W.path_distance(dog, run)) == pytest.approx(dog.path_similarity(run))
    with pytest.raises(KeyError, match="run.v.99"):
        W.path_distance("dog.n.01", "run.v.99")


def test_word_similarity_is_max_over_sense_pairs():
    for measure, method in (("path", "path_similarity"), ("wup", "wup_similarity"), ("lch", "lch_similarity")):
        oracle = max(getattr(a, method)(b) for a in wn.synsets("coast", "n") for b in wn.synsets("shore", "n"))
        assert W.word_similarity("coast", "shore", measure) == pytest.approx(oracle)
    assert W.word_similarity("dog", "cat") > W.word_similarity("dog", "idea")
    with pytest.raises(KeyError, match="qwzxv"):
        W.word_similarity("dog", "qwzxv")
    with pytest.raises(KeyError, match="quickly"):
        W.word_similarity("quickly", "dog", pos="n")
    with pytest.raises(ValueError, match="'n' or 'v'"):
        W.word_similarity("dog", "cat", pos=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'n' or 'v'"):
        W.word_similarity("good", "bad", pos="a")
    run_walk = max(a.path_similarity(b) for a in wn.synsets("run", "v") for b in wn.synsets("walk", "v"))
    assert W.word_similarity("run", "walk", "path", "v") == pytest.approx(run_walk)
    with pytest.raises(ValueError, match="measure"):
        W.word_similarity("dog", "cat", "euclid")


def test_similarity_table_and_matrix():
    rows = W.similarity_table([("dog", "cat"), ("car", "bicycle")])
    assert [(r.first, r.second) for r in rows] == [("dog", "cat"), ("car", "bicycle")]
    assert rows[0].path == pytest.approx(W.word_similarity("dog", "cat", "path"))
    assert rows[0].wup == pytest.approx(W.word_similarity("dog", "cat", "wup"))
    assert rows[1].lch == pytest.approx(W.word_similarity("car", "bicycle", "lch"))
    with pytest.raises(ValueError, match="at least one"):
        W.similarity_table([])
    with pytest.raises(ValueError, match="two words"):
        W.similarity_table([("dog", "cat", "cow")])  # type: ignore[list-item]
    words = ["dog", "cat", "car"]
    matrix = W.similarity_matrix(words, "wup")
    assert matrix.shape == (3, 3)
    assert np.allclose(matrix, matrix.T)
    assert np.allclose(np.diag(matrix), 1.0)
    assert matrix[0, 1] == pytest.approx(W.word_similarity("dog", "cat", "wup"))
    with pytest.raises(ValueError):
        W.similarity_matrix([])
    with pytest.raises(KeyError, match="qwzxv"):
        W.similarity_matrix(["dog", "qwzxv"])


def test_evaluate_pairs_is_spearman_over_covered_pairs():
    pairs = [("dog", "cat", 8.0), ("car", "bicycle", 6.0), ("king", "cabbage", 0.5), ("coast", "shore", 9.0),
             ("dog", "qwzxv", 5.0)]
    result = W.evaluate_pairs(pairs)
    assert (result.covered, result.total) == (4, 5)
    predicted = [W.word_similarity(a, b) for a, b, _ in pairs[:4]]
    assert result.spearman == pytest.approx(spearmanr(predicted, [8.0, 6.0, 0.5, 9.0]).statistic)
    with pytest.raises(ValueError, match="at least one"):
        W.evaluate_pairs([])
    with pytest.raises(ValueError, match="covered"):
        W.evaluate_pairs([("qwzxv", "dog", 1.0), ("dog", "cat", 2.0)])
    with pytest.raises(ValueError, match="word, word, score"):
        W.evaluate_pairs([("dog", "cat")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="all equal"):
        W.evaluate_pairs([("dog", "cat", 1.0), ("car", "bicycle", 1.0), ("king", "cabbage", 1.0)])


# ----------------------------------------------------------------------------- synonyms, contexts


def test_synonyms_by_sense_and_proficient():
    synonyms = W.synonyms_by_sense("good")
    assert list(synonyms) == [s.name() for s in wn.synsets("good")]
    assert "good" not in {l for lemmas in synonyms.values() for l in lemmas}
    assert "proficient" in synonyms["adept.s.01"]
    assert [name for name, lemmas in synonyms.items() if "proficient" in lemmas] == ["adept.s.01"]
    assert W.senses_with_synonym("good", "proficient") == ["adept.s.01"]
    assert W.senses_with_synonym("good", "banana") == []
    with pytest.raises(KeyError, match="qwzxv"):
        W.senses_with_synonym("qwzxv", "good")
    with pytest.raises(KeyError):
        W.synonyms_by_sense("qwzxv")


def test_contexts_and_substitute():
    corpus = [["a", "good", "year", "for", "good", "news"], ["very", "good"]]
    found = W.contexts(corpus, "good", window=1)
    assert found == [(["a"], "good", ["year"]), (["for"], "good", ["news"]), (["very"], "good", [])]
    assert W.contexts(corpus, "good", window=1, limit=2) == found[:2]
    assert W.contexts(corpus, "qwzxv") == []  # a word that never occurs has no contexts
    assert W.substitute(found[1], "proficient") == "for [proficient] news"
    assert W.substitute(found[0], "in_force") == "a [in force] year"
    with pytest.raises(ValueError, match="window"):
        W.contexts(corpus, "good", window=0)
    with pytest.raises(ValueError, match="limit"):
        W.contexts(corpus, "good", limit=0)
    with pytest.raises(ValueError, match="empty"):
        W.contexts([], "good")
    with pytest.raises(TypeError):
        W.contexts(["a good year"], "good")


def test_sense_examples_locate_the_word():
    examples = W.sense_examples("bank")
    assert examples, "WordNet has example sentences for bank"
    names = [s.name() for s in wn.synsets("bank")]
    for example in examples:
        assert example.synset in names
        assert example.sentence in wn.synset(example.synset).examples()
        assert example.tokens[example.position] in {"bank", "banks"}
        assert example.tokens == [t.lower() for t in example.tokens]
    kept = {e.sentence for e in examples}
    assert "he cashed a check at the bank" in kept  # another synset's lemma, but the sentence has "bank"
    assert "She deposits her paycheck every month" not in kept
    # inflections count: "saw" is a form of "see"
    see = W.sense_examples("see", "v")
    assert any(e.tokens[e.position] != "see" for e in see)
    assert all(e.synset.split(".")[1] == "v" for e in see)
    assert {e.synset for e in W.sense_examples("good", "n")} <= {s.name() for s in wn.synsets("good", "n")}
    with pytest.raises(KeyError, match="qwzxv"):
        W.sense_examples("qwzxv")


def test_sense_example_is_frozen():
    example = W.sense_examples("bank")[0]
    with pytest.raises(AttributeError):
        example.position = 3  # type: ignore[misc]


# ----------------------------------------------------------------------------------------- widget


def test_describe_word_lists_senses_and_paths():
    text = W.describe_word("panda")
    assert "giant_panda.n.01" in text and "lesser_panda.n.01" in text
    assert "procyonid → carnivore" in text and "entity" in text
    short = W.describe_word("good", max_senses=1)
    assert "more" in short and "adept.s.01" not in short
    with pytest.raises(ValueError, match="max_senses"):
        W.describe_word("good", max_senses=0)
    with pytest.raises(KeyError, match="qwzxv"):
        W.describe_word("qwzxv")


def test_plot_hypernym_tree_draws_every_node():
    ax = W.plot_hypernym_tree(["panda.n.01", "dog.n.01"])
    labels = {t.get_text() for t in ax.texts}
    expected = {n for s in ("panda.n.01", "dog.n.01") for p in W.hypernym_paths(s) for n in p}
    assert labels == expected
    assert ax.get_title()
    plt.close("all")
    with pytest.raises(ValueError, match="at least one"):
        W.plot_hypernym_tree([])


def test_show_word_prints_and_draws(capsys):
    W.show_word("bank", tree_senses=2)
    printed = capsys.readouterr().out
    assert "depository_financial_institution.n.01" in printed
    assert plt.get_fignums()
    plt.close("all")
    with pytest.raises(KeyError, match="qwzxv"):
        W.show_word("qwzxv")


def test_normalise_word_and_wordnet_corpus():
    from course_utils.wordnet import normalise_word, wordnet_corpus

    assert normalise_word("  Ice Cream ") == "ice_cream"
    with pytest.raises(TypeError, match="string"):
        normalise_word(3)
    with pytest.raises(ValueError, match="empty"):
        normalise_word("   ")
    assert wordnet_corpus().synset("dog.n.01").name() == "dog.n.01"


def test_taxonomy_statistics_match_nltk_and_are_cached(tmp_path, monkeypatch):
    """nltk's own depth computation is the oracle (verbs: small enough to run in a unit test)."""
    from nltk.corpus import wordnet as wn

    from course_utils.wordnet import taxonomy_statistics

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    stats = taxonomy_statistics("v")
    assert stats["synsets"] == len(list(wn.all_synsets("v")))
    saved = dict(wn._max_depth)
    try:
        wn._max_depth.clear()
        assert stats["max_depth"] == wn._compute_max_depth("v", False)
    finally:
        wn._max_depth.clear()
        wn._max_depth.update(saved)
    assert list(tmp_path.glob("wordnet_taxonomy.*.v.json"))
    assert taxonomy_statistics("v") == stats  # read back from the cache
    with pytest.raises(ValueError, match="pos must be"):
        taxonomy_statistics("s")


def test_antonyms_link_lemmas():
    from course_utils.wordnet import antonyms

    assert antonyms("hot")[:1] == ["cold"]
    assert antonyms("increase") and all(isinstance(a, str) for a in antonyms("increase"))
    assert antonyms("dog") == []
    assert len(antonyms("good")) == len(set(antonyms("good")))

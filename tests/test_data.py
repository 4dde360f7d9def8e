
import pytest

from course_utils import data

# --------------------------------------------------------------------------- corpora and evaluation sets


def test_wiki_articles_match_gensims_wikicorpus():
    articles = data.wiki_articles()
    assert len(articles) == 106
    assert sum(len(a.tokens) for a in articles) == 452_944
    assert articles[0].title == "Anarchism" and articles[0].tokens[:3] == ["anarchism", "is", "political"]


def test_wiki_split_is_whole_articles_disjoint_and_reproducible():
    train, heldout = data.wiki_split(0.1, seed=0)
    assert len(train) + len(heldout) == 106 and len(heldout) == 11
    assert not {a.title for a in train} & {a.title for a in heldout}
    assert [a.title for a in data.wiki_split(0.1, seed=0)[1]] == [a.title for a in heldout]
    assert [a.title for a in data.wiki_split(0.1, seed=1)[1]] != [a.title for a in heldout]
    with pytest.raises(ValueError, match="heldout_fraction"):
        data.wiki_split(0)


def test_cache_is_written_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    assert data.cache_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()
    tmp_path = tmp_path / "cache"
    builds = []
    assert data._cached("thing", lambda: builds.append(1) or {"a": [1, 2]}) == {"a": [1, 2]}
    assert data._cached("thing", lambda: builds.append(1) or {"a": [3]}) == {"a": [1, 2]}
    assert builds == [1] and len(list(tmp_path.glob("thing.*.json.gz"))) == 1


def test_small_corpora_and_evaluation_sets():
    assert len(data.lee_documents()) == 300
    assert data.lee_corpus()[0][:3] == ["hundreds", "of", "people"]
    sentences = data.polarity_sentences()
    assert len(sentences) == 200 and sum(s.label for s in sentences) == 100
    assert sentences[0].tokens == ["simplistic", ",", "silly", "and", "tedious", "."] and sentences[0].label == 0
    assert len(data.wordsim353()) == 353 and data.wordsim353()[0] == ("love", "sex", 6.77)
    assert len(data.simlex999()) == 999 and data.simlex999()[0] == ("old", "new", 1.58)
    analogies = data.google_analogies()
    assert len(analogies) == 14 and sum(map(len, analogies.values())) == 19_544
    assert analogies["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")
    assert data.google_analogies(lowercase=False)["capital-common-countries"][0][0] == "Athens"


def test_missing_gensim_file_is_named():
    with pytest.raises(FileNotFoundError, match="no_such_file.txt"):
        data._gensim_path("no_such_file.txt")

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils import data
from course_utils.data import Vocabulary, minibatches, tokenize

SYSTEM_WORDNET = Path("/usr/share/wordnet")


# --------------------------------------------------------------------------- WordNet installation


def test_lexnames_has_the_45_lexicographer_files_in_order():
    lines = data.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"
    assert all(line.split("\t")[2] in "1234" for line in lines)


@pytest.mark.skipif(not Path("/usr/share/man/man5/lexnames.5WN.gz").exists(), reason="WordNet man pages absent")
def test_lexnames_agrees_with_the_wordnet_manual():
    manual = gzip.open("/usr/share/man/man5/lexnames.5WN.gz", "rt").read().splitlines()
    rows = [line.split("\t") for line in manual if line[:2].isdigit() and "\t" in line]
    documented = [(number, name.strip()) for number, name, *_ in rows]
    ours = [tuple(line.split("\t")[:2]) for line in data.lexnames_text().splitlines()]
    assert ours == documented


def _fake_wordnet_source(folder: Path) -> Path:
    for name in data._REQUIRED_WORDNET_FILES:
        (folder / name).write_text("  1 This is a fake header line\n")
    return folder


def test_build_wordnet_corpus_writes_aside_then_renames(tmp_path):
    (tmp_path / "src").mkdir()
    source = _fake_wordnet_source(tmp_path / "src")
    corpus = data.build_wordnet_corpus(source, tmp_path / "nltk_data")
    assert corpus == tmp_path / "nltk_data" / "corpora" / "wordnet"
    assert (corpus / "lexnames").read_text() == data.lexnames_text()
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["wordnet"]  # no staging folder left behind
    # idempotent: building again replaces the folder cleanly
    data.build_wordnet_corpus(source, tmp_path / "nltk_data")
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["wordnet"]


def test_build_wordnet_corpus_rejects_a_folder_that_is_not_wordnet(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a WordNet database: missing data.noun"):
        data.build_wordnet_corpus(tmp_path, tmp_path / "out")


@pytest.mark.skipif(not (SYSTEM_WORDNET / "data.noun").exists(), reason="Debian's wordnet-base is not installed")
def test_corpus_built_from_the_debian_database_reads_like_nltk_wordnet(tmp_path, monkeypatch):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    corpus = data.build_wordnet_corpus(SYSTEM_WORDNET, tmp_path)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path), *nltk.data.path])  # nltk only reads its data paths
    built = WordNetCorpusReader(str(corpus), None)
    panda = [s.name() for s in built.synset("panda.n.01").closure(lambda s: s.hypernyms())]
    assert panda[0] == "procyonid.n.01" and panda[-1] == "entity.n.01"
    assert {s.pos() for s in built.synsets("good")} == {"n", "a", "s", "r"}
    assert built.synset("dog.n.01").lexname() == "noun.animal"


def test_install_wordnet_order_present_download_build_error(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "wordnet_is_installed", lambda thorough=True: calls.append("check") or True)
    assert data.install_wordnet(verbose=False) == "present" and calls == ["check"]

    monkeypatch.setattr(data, "wordnet_is_installed", lambda thorough=True: False)
    monkeypatch.setattr(data, "_try_nltk_download", lambda root, log: False)
    monkeypatch.setattr(data, "_try_apt_install", lambda log: pytest.fail("apt must not run when allow_apt=False"))
    monkeypatch.setattr(data, "_LOCAL_WORDNET_DIRS", ())
    for variable in ("WNSEARCHDIR", "WORDNET_DIR", "WNHOME"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(data.WordNetUnavailable, match="apt-get install wordnet-base wordnet-sense-index"):
        data.install_wordnet(target_root=tmp_path, allow_apt=False, verbose=False)

    source = tmp_path / "db"
    source.mkdir()
    _fake_wordnet_source(source)
    how = data.install_wordnet(target_root=tmp_path / "out", allow_apt=False, local_sources=[source], verbose=False)
    assert how == "built" and (tmp_path / "out" / "corpora" / "wordnet" / "lexnames").is_file()


def test_wordnet_is_installed_in_this_environment():
    # `make test` runs `python -m course_utils.data install` first; nltk must then work as usual.
    assert data.wordnet_is_installed(thorough=False) and data.wordnet_is_installed(thorough=True)
    assert data.wordnet_data_dir() == Path(sys.prefix) / "nltk_data"
    out = subprocess.run([sys.executable, "-m", "course_utils.data", "status"], capture_output=True, text=True)
    assert out.returncode == 0 and "WordNet installed: True" in out.stdout


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


def test_tokenize():
    assert tokenize("Hill Top's 4:00pm fire, well-known!") == ["hill", "top's", "4:00", "pm", "fire", "well-known"]
    assert tokenize("The U.S.", lowercase=False) == ["The", "U", "S"]
    assert tokenize("") == []
    with pytest.raises(TypeError, match="string"):
        tokenize(["not", "text"])


# --------------------------------------------------------------------------- vocabularies and batching


def test_vocabulary_orders_by_frequency_then_alphabet():
    vocab = Vocabulary.from_corpus([["b", "a", "c", "a"], ["c", "d"]], specials=["<unk>"])
    assert vocab.words == ["<unk>", "a", "c", "b", "d"]
    assert vocab.counts.tolist() == [0, 2, 2, 1, 1]
    assert vocab["c"] == 2 and vocab.word(3) == "b" and "d" in vocab and "z" not in vocab and len(vocab) == 5
    assert vocab.encode(["a", "z", "d"]) == [1, 4]
    assert vocab.encode(["a", "z"], unknown="<unk>") == [1, 0]
    assert vocab.decode(np.array([4, 1])) == ["d", "a"]


def test_vocabulary_min_count_and_max_size():
    corpus = [["x"] * 5 + ["y"] * 3 + ["z"]]
    assert Vocabulary.from_corpus(corpus, min_count=3).words == ["x", "y"]
    assert Vocabulary.from_corpus(corpus, max_size=1).words == ["x"]


def test_vocabulary_bad_input():
    with pytest.raises(ValueError, match="empty corpus"):
        Vocabulary.from_corpus([])
    with pytest.raises(ValueError, match="min_count=10"):
        Vocabulary.from_corpus([["a", "b"]], min_count=10)
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary({"a": 1}, min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary({"a": 1}, max_size=0)
    with pytest.raises(TypeError, match="tokenised"):
        Vocabulary.from_corpus(["a sentence"])
    vocab = Vocabulary({"a": 1})
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        vocab["zebra"]
    with pytest.raises(KeyError, match="zebra"):
        vocab.encode(["zebra"], unknown="error")
    with pytest.raises(ValueError, match="unknown="):
        vocab.encode(["a"], unknown="<pad>")
    with pytest.raises(IndexError, match="outside"):
        vocab.word(5)


def test_minibatches_cover_every_item_once():
    batches = list(minibatches(10, 4, seed=0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert [b.tolist() for b in minibatches(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatches(3, 0))
    with pytest.raises(ValueError, match="n_items"):
        list(minibatches(0, 2))

import numpy as np
import pytest

from course_utils.tokenization import Vocabulary, minibatches, tokenize


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

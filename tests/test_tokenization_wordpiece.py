"""WordPiece: trainer, greedy longest-match encoder and decoder, checked against Hugging Face `tokenizers`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.data import lee_documents, wiki_split
from course_utils.tokenization import (
    WORDPIECE_SPECIALS,
    WordPiece,
    normalize_for_wordpiece,
    pre_tokenize,
    train_wordpiece,
)

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """A small training corpus (6 training articles + 150 Lee news stories) and held-out article texts."""
    train, heldout = wiki_split(0.1, seed=0)
    texts = [" ".join(a.tokens) for a in train[:6]] + lee_documents()[:150]
    return texts, [" ".join(a.tokens) for a in heldout[:4]]


@pytest.fixture(scope="module")
def trained(corpus) -> WordPiece:
    return train_wordpiece(corpus[0], 2000)


def _hf_pipeline(model):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers

    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=True, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def test_normalise_and_pre_tokenise_like_bert():
    assert normalize_for_wordpiece("Zürich\tCAFÉ\x00 naïve") == "zurich cafe naive"
    assert pre_tokenize("Hello, world! (It's) 4.5") == ["hello", ",", "world", "!", "(", "it", "'", "s", ")",
                                                         "4", ".", "5"]
    with pytest.raises(TypeError, match="string"):
        normalize_for_wordpiece(3)


def test_greedy_longest_match_first_by_hand():
    wp = WordPiece([*WORDPIECE_SPECIALS, "un", "unaff", "##aff", "##able", "##a", "a", "##ble", "b"])
    assert wp.split_word("unaffable") == ["unaff", "##able"]  # the longest first piece wins
    assert wp.split_word("bable") == ["b", "##able"]
    assert wp.split_word("unx") == ["[UNK]"]  # "##x" is missing: the whole word is unknown
    assert wp.tokenize("Unaffable b") == ["unaff", "##able", "b"]
    assert wp.decode(wp.encode("unaffable b")) == "unaffable b"
    assert WordPiece([*WORDPIECE_SPECIALS, "a", "##a"], max_word_chars=3).split_word("aaaa") == ["[UNK]"]


def test_trainer_vocabulary(trained, corpus):
    assert len(trained) == 2000
    assert trained.vocab[:5] == list(WORDPIECE_SPECIALS)
    alphabet = {ch for text in corpus[0] for word in pre_tokenize(text) for ch in word}
    for ch in alphabet:  # every character seen, word-initial and as a continuation: no [UNK] for known text
        assert ch in trained and "##" + ch in trained
    assert "the" in trained and trained.split_word("the") == ["the"]
    # merges come in order: the first k entries are the vocabulary a training to size k gives
    smaller = train_wordpiece(corpus[0], 600)
    assert smaller.vocab == trained.vocab[:600] == trained.truncated(600).vocab
    # a smaller vocabulary needs more pieces per word
    words = [w for text in corpus[1] for w in pre_tokenize(text)][:3000]
    assert sum(len(smaller.split_word(w)) for w in words) > sum(len(trained.split_word(w)) for w in words)


def test_likelihood_criterion_differs_and_is_deterministic(corpus):
    a = train_wordpiece(corpus[0][:10], 400, criterion="likelihood")
    b = train_wordpiece(corpus[0][:10], 400, criterion="likelihood")
    f = train_wordpiece(corpus[0][:10], 400, criterion="frequency")
    assert a.vocab == b.vocab and a.vocab != f.vocab and len(a) == 400


def test_encoding_equals_tokenizers_with_the_same_vocab_file(trained, corpus, tmp_path):
    from tokenizers import models

    path = trained.save(tmp_path / "vocab.txt")
    assert WordPiece.load(path).vocab == trained.vocab
    oracle = _hf_pipeline(models.WordPiece.from_file(str(path), unk_token="[UNK]", max_input_chars_per_word=100))
    texts = corpus[1] + lee_documents()[-40:] + [
        "Crème brûlée, naïve café — ÉCOLE!", "x" * 101 + " tiny", "tab\there\nnewline", "emoji ☃ and 你好", ""]
    for text in texts:
        assert trained.encode(text) == oracle.encode(text, add_special_tokens=False).ids, text[:60]


def test_share_of_heldout_words_like_the_tokenizers_trainer(trained, corpus):
    from tokenizers import models, trainers

    oracle = _hf_pipeline(models.WordPiece(unk_token="[UNK]"))
    oracle.train_from_iterator(corpus[0], trainers.WordPieceTrainer(
        vocab_size=2000, special_tokens=list(WORDPIECE_SPECIALS), show_progress=False))
    assert oracle.get_vocab_size() == 2000
    shared = len(set(oracle.get_vocab()) & set(trained.vocab)) / 2000
    words = sorted({w for text in corpus[1] for w in pre_tokenize(text)})
    same = sum(trained.split_word(w) == oracle.encode(w, add_special_tokens=False).tokens for w in words)
    share = same / len(words)
    print(f"vocabulary overlap {shared:.3f}; held-out words split identically: {share:.3f} of {len(words)}")
    # Both merge the most frequent pair; only the order of tied pairs differs.
    assert shared > 0.9 and share > 0.9


WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éÉèàüö"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=WORD_CHARS + " ,.;:'()-\t\n", max_size=80))
def test_decode_of_encode_is_the_normalised_text(text):
    wp = _property_vocab()
    ids = wp.encode(text)
    assert wp.unk_id not in ids
    assert wp.decode(ids) == " ".join(pre_tokenize(text))


_VOCAB: list[WordPiece] = []


def _property_vocab() -> WordPiece:
    """A vocabulary trained on text that holds every character the property test draws."""
    if not _VOCAB:
        texts = lee_documents()[:60] + [WORD_CHARS + " , . ; : ' ( ) -"]
        _VOCAB.append(train_wordpiece(texts, 500))
    return _VOCAB[0]


def test_bad_input():
    with pytest.raises(ValueError, match="smaller than the specials"):
        train_wordpiece(["some words here"], 6)
    with pytest.raises(ValueError, match="criterion"):
        train_wordpiece(["a b"], 100, criterion="entropy")
    with pytest.raises(TypeError, match="iterable of texts"):
        train_wordpiece("a single string", 100)
    with pytest.raises(ValueError, match="min_frequency"):
        train_wordpiece(["rare words"], 100, min_frequency=5)
    with pytest.raises(ValueError, match="duplicate"):
        WordPiece([*WORDPIECE_SPECIALS, "a", "a"])
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        WordPiece(["[PAD]", "a"], specials=("[PAD]",))
    wp = WordPiece([*WORDPIECE_SPECIALS, "a"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        wp.decode([99])
    with pytest.raises(KeyError, match="not in the WordPiece vocabulary"):
        wp["zz"]
    with pytest.raises(FileNotFoundError, match="no WordPiece vocabulary"):
        WordPiece.load("/nonexistent/vocab.txt")
    assert wp.decode([wp.cls_id, 5, wp.sep_id], skip_specials=True) == "a"


def test_split_on_punctuation_keeps_case_and_pre_tokenize_builds_on_it():
    from course_utils.tokenization import pre_tokenize, split_on_punctuation

    assert split_on_punctuation("Hello, World!  U.S.-made") == ["Hello", ",", "World", "!", "U", ".", "S", ".", "-", "made"]
    assert split_on_punctuation("") == []
    assert pre_tokenize("Héllo, World!") == ["hello", ",", "world", "!"]
    with pytest.raises(TypeError, match="string"):
        split_on_punctuation(None)

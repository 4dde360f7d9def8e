"""Byte-level BPE: merges by hand on a toy corpus, identical ids to Hugging Face `tokenizers`' BPE with the
same merges and vocabulary on held-out text, and an exact round trip for any string (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.tokenization import (
    END_OF_TEXT,
    ByteLevelBPE,
    bytes_to_unicode,
    pre_tokenize_bytes,
    train_bpe,
)

TOY = ["low low low low low lower lower newest newest newest newest newest newest widest widest widest"]


@pytest.fixture(scope="module")
def wiki_bpe():
    from course_utils.data import wiki_split

    train, heldout = wiki_split()
    texts = [" ".join(article.tokens) for article in train[:30]]
    return train_bpe(texts, 600), [" ".join(article.tokens) for article in heldout[:3]]


def test_byte_table_is_gpt2s():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord("a")] == "a" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert all(not c.isspace() for c in table.values())


def test_pre_tokenization_keeps_leading_spaces():
    assert pre_tokenize_bytes("Hi there, you're 42!") == ["Hi", "Ġthere", ",", "Ġyou", "'re", "Ġ42", "!"]
    assert pre_tokenize_bytes("") == []
    with pytest.raises(TypeError):
        pre_tokenize_bytes(b"bytes")


def test_merges_on_a_toy_corpus_by_hand():
    bpe = train_bpe(TOY, 256 + 1 + 4)
    # words: "low" x1 (no leading space), "Ġlow" x4, "Ġlower" x2, "Ġnewest" x6, "Ġwidest" x3.
    # (e, s) and (s, t) occur 6 + 3 = 9 times, the most; the tie goes to ("e", "s"), which sorts first.
    # Then (es, t) = 9; then (l, o) = (o, w) = 1 + 4 + 2 = 7 beat everything else (Ġn, ne, ew = 6).
    assert bpe.merges == [("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w")]
    assert len(bpe) == 261 and bpe.vocab[-1] == END_OF_TEXT
    assert bpe.tokens(" newest lower") == [" ", "n", "e", "w", "est", " ", "low", "e", "r"]


def test_toy_counts_exactly():
    bpe = train_bpe(["ab ab ab ac"], 256 + 1 + 2, min_frequency=1)
    # "ab" (3) beats "Ġa" (3)? both 3: ties go to the pair that sorts first: ("a", "b") < ("Ġ", "a")
    assert bpe.merges[0] == ("a", "b")
    assert bpe.merges[1] == ("Ġ", "ab")
    assert bpe.encode("ab ab") == [256, 257]


def test_identical_ids_to_hugging_face_tokenizers(wiki_bpe):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers

    bpe, heldout = wiki_bpe
    vocab = {token: i for i, token in enumerate(bpe.vocab)}
    theirs = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in bpe.merges]))
    theirs.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    theirs.decoder = decoders.ByteLevel()
    texts = heldout + ["Zürich's 3 new cafés, naïve résumés — 😀 and 中文!\n\n  tabs\tand  spaces "]
    for text in texts:
        ours = bpe.encode(text)
        assert ours == theirs.encode(text).ids
        assert theirs.decode(ours) == text == bpe.decode(ours)
    assert sum(len(bpe.encode(t)) for t in heldout) < sum(len(t.encode()) for t in heldout) / 2  # it compresses


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_any_string(text):
    bpe = _ROUND_TRIP
    assert bpe.decode(bpe.encode(text)) == text


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["é", "ñ", "😀", "👩‍👩‍👧", "ü", "a", " ", "ß", "中", "\n", "e\u0301"]), max_size=30))
def test_round_trip_accents_and_emoji(pieces):
    text = "".join(pieces)
    assert _ROUND_TRIP.decode(_ROUND_TRIP.encode(text)) == text


_ROUND_TRIP = train_bpe(["héllo wörld 😀😀 naïve café " * 5, "the quick brown fox"], 300)


def test_save_and_restore_and_errors():
    bpe = train_bpe(TOY, 270)
    again = ByteLevelBPE.from_dict(bpe.to_dict())
    assert again.vocab == bpe.vocab and again.encode(TOY[0]) == bpe.encode(TOY[0])
    assert bpe.decode([bpe.eot_id]) == END_OF_TEXT
    with pytest.raises(ValueError, match="outside the vocabulary"):
        bpe.decode([len(bpe)])
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe(TOY, 100)
    with pytest.raises(ValueError, match="earlier merge"):
        ByteLevelBPE([("ab", "c")])
    with pytest.raises(ValueError, match="no text"):
        train_bpe([], 300)
    with pytest.raises(ValueError, match="kind"):
        ByteLevelBPE.from_dict({"kind": "wordpiece"})
    assert bpe.encode("") == []

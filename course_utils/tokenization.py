"""Tokenising text: words, vocabularies and batches; WordPiece (BERT) and byte-level BPE (GPT).

Three levels of "token" appear in the course. Notebooks 01–06 split text into *words*
(:func:`tokenize`) and number them with a :class:`Vocabulary`. BERT splits rare words into *WordPiece*
sub-words ("##" marks a continuation; Wu et al. 2016, Devlin et al. 2019); GPT-2 merges *bytes* into
frequent pairs (byte-level BPE; Sennrich et al. 2016, Radford et al. 2019), so every string has an
encoding. :func:`minibatches` cuts an index range into (shuffled) batches.
"""

from __future__ import annotations

import heapq
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["tokenize", "Vocabulary", "minibatches"]

# ---------------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*|\d+(?:[.,:]\d+)*")


def tokenize(text: str, *, lowercase: bool = True) -> list[str]:
    """Split text into word tokens: letters (with inner apostrophes or hyphens) or numbers.

    Punctuation is dropped. ``tokenize("Hill Top's 4:00pm fire")`` → ``['hill', "top's", '4:00', 'pm', 'fire']``.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a string, got {type(text).__name__}")
    tokens = _TOKEN.findall(text)
    return [token.lower() for token in tokens] if lowercase else tokens



class Vocabulary:
    """Words ↔ integer ids, ordered by descending frequency (ties alphabetically), specials first.

    >>> vocab = Vocabulary.from_corpus([["a", "rose", "is", "a", "rose"]])
    >>> vocab.words, vocab["rose"]
    (['a', 'rose', 'is'], 1)
    """

    def __init__(
        self,
        counts: Mapping[str, int],
        *,
        min_count: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
    ) -> None:
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        kept = sorted(((w, c) for w, c in counts.items() if c >= min_count and w not in specials),
                      key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            kept = kept[: max(0, max_size - len(specials))]
        if not kept:
            raise ValueError(
                f"the vocabulary is empty: no word occurs at least min_count={min_count} times "
                f"(the corpus has {len(counts)} distinct words)"
            )
        self.words: list[str] = list(specials) + [w for w, _ in kept]
        self.counts = np.array([0] * len(specials) + [c for _, c in kept], dtype=np.int64)
        self.specials = tuple(specials)
        self._index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def from_corpus(cls, sentences: Iterable[Sequence[str]], **options) -> Vocabulary:
        """Count the words of tokenised ``sentences`` and keep those passing ``min_count``/``max_size``."""
        counts: Counter[str] = Counter()
        for sentence in sentences:
            if isinstance(sentence, str):
                raise TypeError("from_corpus expects tokenised sentences (lists of words), got a string")
            counts.update(sentence)
        if not counts:
            raise ValueError("cannot build a vocabulary from an empty corpus")
        return cls(counts, **options)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> int:
        try:
            return self._index[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(self)} words)") from None

    def word(self, index: int) -> str:
        """The word with id ``index``."""
        if not 0 <= index < len(self.words):
            raise IndexError(f"id {index} is outside the vocabulary (0..{len(self.words) - 1})")
        return self.words[index]

    def encode(self, tokens: Sequence[str], unknown: str = "skip") -> list[int]:
        """Ids of ``tokens``. Unknown words: ``"skip"`` drops them, ``"error"`` raises KeyError, and any
        special token (e.g. ``"<unk>"``) replaces them."""
        if unknown not in ("skip", "error") and unknown not in self._index:
            raise ValueError(f"unknown={unknown!r} must be 'skip', 'error' or a special token of this vocabulary")
        ids = []
        for token in tokens:
            if token in self._index:
                ids.append(self._index[token])
            elif unknown == "error":
                self[token]  # raises KeyError naming the word
            elif unknown != "skip":
                ids.append(self._index[unknown])
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words for ``ids``."""
        return [self.word(int(i)) for i in ids]

    def __repr__(self) -> str:
        preview = ", ".join(self.words[:5])
        return f"Vocabulary({len(self)} words: {preview}, ...)"


def minibatches(n_items: int, batch_size: int, *, shuffle: bool = True, seed: int | None = 0) -> Iterator[np.ndarray]:
    """Yield index arrays that cover ``range(n_items)`` in batches of ``batch_size`` (last may be short)."""
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = np.random.RandomState(seed).permutation(n_items) if shuffle else np.arange(n_items)
    for start in range(0, n_items, batch_size):
        yield order[start : start + batch_size]


# ---------------------------------------------------------------------------------------------------
# WordPiece (BERT)
# ---------------------------------------------------------------------------------------------------
#
# BERT's tokeniser in three steps. (1) Normalise: drop control characters, turn white space into spaces,
# strip accents (NFD, then drop combining marks), lower-case. (2) Pre-tokenise: split on white space and
# make every punctuation character a word of its own. (3) Split each word greedily into the longest
# vocabulary pieces from the left; a piece inside a word carries the "##" prefix ("playing" → "play",
# "##ing"); a word that cannot be covered becomes [UNK]. Training starts from single characters and
# repeatedly merges the adjacent pair with the best score,
#     frequency (the default; BPE's rule, Sennrich et al. 2016, which `tokenizers`' WordPieceTrainer uses):
#         count(ab)
#     likelihood (the score usually quoted for Google's WordPiece, Schuster & Nakajima 2012):
#         count(ab) / (count(a) · count(b)), which favours pairs of rare symbols
# until the vocabulary has the requested size. Merges are made in order, so the first k entries of a
# trained vocabulary are exactly the vocabulary a training to size k would give.

WORDPIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CONTINUATION = "##"


def _is_punctuation(char: str) -> bool:
    """BERT's rule: ASCII symbols (!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~) and every Unicode P* character."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(char: str) -> bool:
    return any(lo <= ord(char) <= hi for lo, hi in _CJK_RANGES)


def normalize_for_wordpiece(text: str) -> str:
    """Drop control characters, map white space to " ", put spaces around CJK ideographs (each is a
    word), strip accents and lower-case (BERT uncased)."""
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    cleaned = "".join(" " if ch.isspace() else f" {ch} " if _is_cjk(ch) else ch for ch in text
                      if not (ord(ch) in (0, 0xFFFD) or _is_control(ch)))
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", cleaned) if unicodedata.category(ch) != "Mn")
    return stripped.lower()


def split_on_punctuation(text: str) -> list[str]:
    """Split on white space, each punctuation character a word of its own; no normalisation (case kept).

    ``split_on_punctuation("Hello, World!")`` → ``['Hello', ',', 'World', '!']``.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for ch in chunk:
            if _is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


def pre_tokenize(text: str) -> list[str]:
    """Normalise, then split into words on white space, each punctuation character a word of its own."""
    return split_on_punctuation(normalize_for_wordpiece(text))


def _merge_symbols(left: str, right: str) -> str:
    return left + right[len(CONTINUATION):]


def _word_symbols(word: str) -> list[str]:
    return [word[0]] + [CONTINUATION + ch for ch in word[1:]]


def train_wordpiece(texts: Iterable[str], vocab_size: int, *, criterion: str = "frequency", min_frequency: int = 1,
                    specials: Sequence[str] = WORDPIECE_SPECIALS, progress: bool = False) -> WordPiece:
    """Learn a WordPiece vocabulary of ``vocab_size`` entries (specials included) from raw ``texts``.

    The initial vocabulary holds the specials and every character of the words seen at least
    ``min_frequency`` times, both word-initial ("a") and as a continuation ("##a"). Then the adjacent
    pair with the best score (``criterion``: ``"likelihood"`` or ``"frequency"``, see the section
    comment) is merged into a new symbol, until ``vocab_size`` is reached or nothing is left to merge.
    Ties are broken in a fixed order, so training is deterministic. Pair counts are
    updated only in the words a merge touches, which keeps a corpus of ~500k words to seconds.
    """
    from tqdm.auto import tqdm

    if criterion not in ("likelihood", "frequency"):
        raise ValueError(f"criterion must be 'likelihood' or 'frequency', got {criterion!r}")
    if isinstance(texts, str):
        raise TypeError("train_wordpiece expects an iterable of texts, not one string")
    word_counts: Counter[str] = Counter()
    for text in texts:
        word_counts.update(pre_tokenize(text))
    word_counts = Counter({w: c for w, c in word_counts.items() if c >= min_frequency})
    if not word_counts:
        raise ValueError(f"no word occurs at least min_frequency={min_frequency} times: nothing to train on")
    alphabet = sorted({ch for word in word_counts for ch in word})
    vocab = list(specials) + alphabet + [CONTINUATION + ch for ch in alphabet]
    if vocab_size < len(vocab):
        raise ValueError(f"vocab_size={vocab_size} is smaller than the specials plus the alphabet "
                         f"({len(vocab)} entries); ask for at least that many")
    words = sorted(word_counts, key=lambda w: (-word_counts[w], w))  # fixed order for ties
    freqs = [word_counts[w] for w in words]
    splits = [_word_symbols(w) for w in words]
    symbol_counts: Counter[str] = Counter()
    pair_counts: dict[tuple[str, str], int] = {}
    pair_words: dict[tuple[str, str], set[int]] = {}
    for i, symbols in enumerate(splits):
        for s in symbols:
            symbol_counts[s] += freqs[i]
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] = pair_counts.get(pair, 0) + freqs[i]
            pair_words.setdefault(pair, set()).add(i)

    def score(pair: tuple[str, str]) -> float:
        if criterion == "frequency":
            return pair_counts[pair]
        return pair_counts[pair] / (symbol_counts[pair[0]] * symbol_counts[pair[1]])

    # With the frequency criterion a pair's score changes only when its own count does, so a heap with
    # stale entries (skipped when their count is out of date) finds the best pair quickly; the likelihood
    # score also moves when a symbol's count does, so that criterion scans every pair.
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    def best_pair() -> tuple[str, str] | None:
        if criterion == "likelihood":
            return max(pair_counts, key=score) if pair_counts else None
        while heap:
            negative_count, pair = heapq.heappop(heap)
            if pair_counts.get(pair) == -negative_count:
                return pair
        return None

    known = set(vocab)
    bar = tqdm(total=vocab_size - len(vocab), desc="WordPiece merges", disable=not progress, leave=False)
    while len(vocab) < vocab_size and (best := best_pair()) is not None:
        merged = _merge_symbols(*best)
        changed: set[tuple[str, str]] = set()
        for i in pair_words.pop(best):
            symbols, freq = splits[i], freqs[i]
            for pair in zip(symbols, symbols[1:]):  # forget this word's pairs ...
                pair_counts[pair] -= freq
                changed.add(pair)
                if pair_counts[pair] == 0:
                    del pair_counts[pair]
                    pair_words.pop(pair, None)
                elif pair != best:
                    pair_words[pair].discard(i)
            new, k = [], 0
            while k < len(symbols):
                if k + 1 < len(symbols) and (symbols[k], symbols[k + 1]) == best:
                    new.append(merged)
                    symbol_counts[symbols[k]] -= freq
                    symbol_counts[symbols[k + 1]] -= freq
                    symbol_counts[merged] += freq
                    k += 2
                else:
                    new.append(symbols[k])
                    k += 1
            splits[i] = new
            for pair in zip(new, new[1:]):  # ... and count the merged word's pairs
                pair_counts[pair] = pair_counts.get(pair, 0) + freq
                pair_words.setdefault(pair, set()).add(i)
                changed.add(pair)
        pair_counts.pop(best, None)
        if criterion == "frequency":
            for pair in changed:
                if pair in pair_counts:
                    heapq.heappush(heap, (-pair_counts[pair], pair))
        if merged not in known:
            known.add(merged)
            vocab.append(merged)
            bar.update(1)
    bar.close()
    return WordPiece(vocab, specials=specials)


class WordPiece:
    """A WordPiece vocabulary with BERT's encoder (greedy longest match first) and decoder.

    ``vocab`` lists the pieces in id order; word-internal pieces start with "##". ``specials`` must be
    in the vocabulary and include "[UNK]" (the id of words that cannot be covered, and of words longer
    than ``max_word_chars`` characters, as in BERT).
    """

    def __init__(self, vocab: Sequence[str], *, specials: Sequence[str] = WORDPIECE_SPECIALS,
                 max_word_chars: int = 100) -> None:
        vocab = list(vocab)
        if len(set(vocab)) != len(vocab):
            duplicates = sorted({p for p in vocab if vocab.count(p) > 1})[:5]
            raise ValueError(f"the vocabulary has duplicate entries, e.g. {duplicates}")
        for piece in vocab:
            if not isinstance(piece, str) or not piece or any(ch.isspace() for ch in piece):
                raise ValueError(f"vocabulary entries must be non-empty strings without spaces, got {piece!r}")
        missing = [s for s in specials if s not in vocab]
        if missing or "[UNK]" not in specials:
            raise ValueError(f"the specials {list(specials)} must include [UNK] and all be in the vocabulary; "
                             f"missing: {missing or ['[UNK]']}")
        self.vocab = vocab
        self.specials = tuple(specials)
        self.max_word_chars = max_word_chars
        self._index = {piece: i for i, piece in enumerate(vocab)}
        self._cache: dict[str, list[int]] = {}
        self.pad_id, self.unk_id = self._index.get("[PAD]", -1), self._index["[UNK]"]
        self.cls_id, self.sep_id = self._index.get("[CLS]", -1), self._index.get("[SEP]", -1)
        self.mask_id = self._index.get("[MASK]", -1)

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, piece: object) -> bool:
        return piece in self._index

    def __getitem__(self, piece: str) -> int:
        try:
            return self._index[piece]
        except KeyError:
            raise KeyError(f"{piece!r} is not in the WordPiece vocabulary ({len(self)} pieces)") from None

    def truncated(self, size: int) -> WordPiece:
        """The vocabulary of its first ``size`` entries: what training to ``size`` would have given."""
        if not len(self.specials) < size <= len(self):
            raise ValueError(f"size must lie in {len(self.specials) + 1}..{len(self)}, got {size}")
        return WordPiece(self.vocab[:size], specials=self.specials, max_word_chars=self.max_word_chars)

    def split_word(self, word: str) -> list[str]:
        """Greedy longest-match-first pieces of one pre-tokenised word (["[UNK]"] if it cannot be covered)."""
        return [self.vocab[i] for i in self._word_ids(word)]

    def _word_ids(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids: list[int] = []
        start = 0
        while start < len(word) and len(word) <= self.max_word_chars:
            end, piece_id = len(word), None
            while end > start and piece_id is None:  # the longest piece that matches at ``start``
                piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                piece_id = self._index.get(piece)
                end -= 1
            if piece_id is None:  # nothing fits: the whole word is unknown
                break
            ids.append(piece_id)
            start = end + 1
        if start < len(word) or len(word) > self.max_word_chars:
            ids = [self.unk_id]
        self._cache[word] = ids
        return ids

    def tokenize(self, text: str) -> list[str]:
        """Pieces of ``text`` (normalised and pre-tokenised first)."""
        return [self.vocab[i] for i in self.encode(text)]

    def encode(self, text: str) -> list[int]:
        """Piece ids of ``text`` (no [CLS]/[SEP]; see :func:`course_utils.bert.pack_pair`)."""
        return [i for word in pre_tokenize(text) for i in self._word_ids(word)]

    def decode(self, ids: Iterable[int], *, skip_specials: bool = False) -> str:
        """Join pieces back into text: "##" pieces attach to the previous piece, others get a space."""
        out: list[str] = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"id {i} is outside the vocabulary (0..{len(self.vocab) - 1})")
            piece = self.vocab[i]
            if skip_specials and piece in self.specials:
                continue
            if piece.startswith(CONTINUATION) and out:
                out[-1] += piece[len(CONTINUATION):]
            else:
                out.append(piece)
        return " ".join(out)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as BERT's ``vocab.txt``: one piece per line, in id order."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, specials: Sequence[str] = WORDPIECE_SPECIALS) -> WordPiece:
        """Read a ``vocab.txt`` written by :meth:`save` (or by BERT's tools)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no WordPiece vocabulary at {path}")
        return cls(path.read_text(encoding="utf-8").splitlines(), specials=specials)

    def __repr__(self) -> str:
        return f"WordPiece({len(self)} pieces: {', '.join(self.vocab[len(self.specials):len(self.specials) + 5])}, ...)"


__all__ += ["WORDPIECE_SPECIALS", "normalize_for_wordpiece", "pre_tokenize", "split_on_punctuation", "train_wordpiece", "WordPiece"]


# ---------------------------------------------------------------------------------------------------
# Byte-level BPE (GPT)
# ---------------------------------------------------------------------------------------------------

# GPT-2's tokeniser works on the UTF-8 *bytes* of a text, so there is no unknown token: any string is a
# sequence of the 256 byte values. Each byte is shown as one printable character (the printable ASCII
# and Latin-1 bytes as themselves, the rest shifted to code points from 256 on; GPT-2's table), so the
# vocabulary can be written as text. Pre-tokenisation splits the text with GPT-2's pattern into words
# that carry their leading space (" the"), numbers, punctuation runs and spaces; merges never cross
# these boundaries. Training counts the adjacent symbol pairs inside the words and repeatedly merges the
# most frequent pair into a new symbol (Sennrich et al. 2016), until the vocabulary has the requested
# size. Encoding applies the learned merges to each word in the order they were learned (lowest rank
# first), which is what `tokenizers`' BPE model does with the same merges and vocabulary.

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
END_OF_TEXT = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table: printable bytes map to themselves, the other 68 to
    the characters 256, 257, … in byte order (so no byte becomes white space or a control character)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


_BYTE_TO_CHAR = bytes_to_unicode()
_CHAR_TO_BYTE = {char: byte for byte, char in _BYTE_TO_CHAR.items()}
_GPT2_REGEX = None


def pre_tokenize_bytes(text: str) -> list[str]:
    """Split ``text`` with GPT-2's pattern and show each piece's UTF-8 bytes as printable characters.

    ``pre_tokenize_bytes("Hi there!")`` → ``['Hi', 'Ġthere', '!']`` (``Ġ`` is the byte of a space).
    """
    global _GPT2_REGEX
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    if _GPT2_REGEX is None:
        import regex  # installed with nltk; Python's re has no \p{L}

        _GPT2_REGEX = regex.compile(GPT2_PATTERN)
    return ["".join(_BYTE_TO_CHAR[b] for b in piece.encode("utf-8")) for piece in _GPT2_REGEX.findall(text)]


def _apply_merges(symbols: list[str], ranks: Mapping[tuple[str, str], int]) -> list[str]:
    """Merge the adjacent pair with the lowest rank (learned earliest), everywhere, until none is left."""
    while len(symbols) > 1:
        best, best_rank = None, None
        for pair in zip(symbols, symbols[1:]):
            rank = ranks.get(pair)
            if rank is not None and (best_rank is None or rank < best_rank):
                best, best_rank = pair, rank
        if best is None:
            break
        symbols = _merge_pair(symbols, best)
    return symbols


def _merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def train_bpe(texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2,
              specials: Sequence[str] = (END_OF_TEXT,)) -> ByteLevelBPE:
    """Learn byte-level BPE merges from ``texts`` until the vocabulary (256 bytes + merges + specials)
    has ``vocab_size`` entries, or no pair occurs ``min_frequency`` times.

    Ties between equally frequent pairs go to the pair whose symbols sort first, so training is
    deterministic. Pair counts are updated only for the words that contain the merged pair.
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256 + len(specials):
        raise ValueError(f"vocab_size must be an integer >= {256 + len(specials)} (256 bytes + specials), got {vocab_size!r}")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be at least 1, got {min_frequency}")
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(pre_tokenize_bytes(text))
    if not counts:
        raise ValueError("no text to learn merges from")
    words = [list(word) for word in counts]
    frequency = list(counts.values())
    pair_counts: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = {}
    for index, (symbols, c) in enumerate(zip(words, frequency)):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += c
            where.setdefault(pair, set()).add(index)
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    made = set(_BYTE_TO_CHAR.values())
    n_tokens = vocab_size - len(specials)
    while len(made) < n_tokens and heap:
        negative, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative:
            continue  # a stale entry: the count changed after it was pushed
        if -negative < min_frequency:
            break
        merges.append(pair)
        made.add(pair[0] + pair[1])
        changed: set[tuple[str, str]] = set()
        for index in where.pop(pair, ()):
            old = words[index]
            new = _merge_pair(old, pair)
            if len(new) == len(old):
                continue
            c = frequency[index]
            for p in zip(old, old[1:]):
                pair_counts[p] -= c
                changed.add(p)
            for p in zip(new, new[1:]):
                pair_counts[p] += c
                changed.add(p)
                where.setdefault(p, set()).add(index)
            words[index] = new
        for p in changed:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                pair_counts.pop(p, None)
    return ByteLevelBPE(merges, specials=specials)


class ByteLevelBPE:
    """A byte-level BPE tokeniser: ids 0–255 are the bytes, then the tokens the merges make (in merge
    order; a merge whose result already exists adds no id), then the specials.

    ``encode(text)`` → ids and ``decode(ids)`` → text round-trip every string exactly (``decode`` of an
    arbitrary id sequence may cut a multi-byte character; those bytes become U+FFFD). Special tokens are
    never produced by ``encode``: add ``eot_id`` yourself between documents.
    """

    def __init__(self, merges: Sequence[tuple[str, str]], *, specials: Sequence[str] = (END_OF_TEXT,)) -> None:
        self.merges = [tuple(pair) for pair in merges]
        self.vocab: list[str] = [_BYTE_TO_CHAR[b] for b in range(256)]
        self.index = {token: i for i, token in enumerate(self.vocab)}
        for i, pair in enumerate(self.merges):
            if len(pair) != 2 or not all(isinstance(s, str) and s for s in pair):
                raise ValueError(f"merge {i} must be a pair of non-empty strings, got {pair!r}")
            for part in pair:
                if part not in self.index:
                    raise ValueError(f"merge {i} uses {part!r}, which is neither a byte nor made by an earlier merge")
            merged = pair[0] + pair[1]
            if merged not in self.index:  # ("a", "bc") and ("ab", "c") both make "abc": one token
                self.index[merged] = len(self.vocab)
                self.vocab.append(merged)
        self.specials = tuple(specials)
        for token in self.specials:
            if token in self.index:
                raise ValueError(f"special token {token!r} is already a token of the vocabulary")
            self.index[token] = len(self.vocab)
            self.vocab.append(token)
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self._cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def eot_id(self) -> int:
        """Id of ``<|endoftext|>`` (documents are separated by it; generation stops on it)."""
        if END_OF_TEXT not in self.index:
            raise KeyError(f"this tokeniser has no {END_OF_TEXT} token")
        return self.index[END_OF_TEXT]

    def _word_ids(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is None:
            ids = [self.index[s] for s in _apply_merges(list(word), self.ranks)]
            if len(self._cache) < 100_000:
                self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (any string; the empty string gives [])."""
        return [i for word in pre_tokenize_bytes(text) for i in self._word_ids(word)]

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` as readable strings (each token's bytes decoded, spaces kept)."""
        return [self.decode([i]) for i in self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``: the tokens' bytes joined and decoded as UTF-8 (special tokens as their names)."""
        out, pending = [], bytearray()
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"id {i} is outside the vocabulary (0..{len(self.vocab) - 1})")
            token = self.vocab[i]
            if token in self.specials:
                out.append(pending.decode("utf-8", errors="replace"))
                pending = bytearray()
                out.append(token)
            else:
                pending.extend(_CHAR_TO_BYTE[c] for c in token)
        out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)

    def to_dict(self) -> dict:
        """JSON-able form (stored in checkpoint metadata)."""
        return {"kind": "byte_level_bpe", "merges": [list(pair) for pair in self.merges], "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, values: Mapping) -> ByteLevelBPE:
        if values.get("kind") != "byte_level_bpe":
            raise ValueError(f"not a byte-level BPE description (kind={values.get('kind')!r})")
        return cls([tuple(pair) for pair in values["merges"]], specials=tuple(values.get("specials", ())))

    def __repr__(self) -> str:
        return f"ByteLevelBPE({len(self.merges)} merges, {len(self)} tokens)"


__all__ += ["GPT2_PATTERN", "END_OF_TEXT", "bytes_to_unicode", "pre_tokenize_bytes", "train_bpe", "ByteLevelBPE"]

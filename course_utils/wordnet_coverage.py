"""WordNet's limits measured on a corpus: what it lacks, which kinds of words, how ambiguous (notebook 01).

Idea. WordNet (Miller 1995, "WordNet: a lexical database for English", CACM 38(11)) lists only the four
open word classes, and was last extended in 2006: it has no function words, few names, no numbers
beyond small ones, and no later coinages or slang. For a tokenised corpus with vocabulary V, counts
c(w), and missing words M = {w in V : WordNet has no synset for w or an inflection of it}:

* type share missing:  |M| / |V|;
* token share missing: sum_{w in M} c(w) / sum_{w in V} c(w)  (frequent words weigh more).

The missing types are then classified (function word, number, contraction, hyphenated compound, name
or acronym by its capitalisation in raw text, other), and for the words WordNet *does* know,
``polysemy`` counts senses: the frequent words have many, and an entry cannot say which one a sentence
means. Lookups go through :mod:`course_utils.wordnet` (nltk's WordNet 3.0, morphy for inflections).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from course_utils.tokenization import tokenize
from course_utils.wordnet import normalise_word, wordnet_corpus

__all__ = [
    "FUNCTION_WORDS",
    "MISSING_KINDS",
    "Coverage",
    "lookup_form",
    "has_synset",
    "coverage",
    "capitalisation_rates",
    "classify_missing",
    "missing_by_kind",
    "polysemy",
]

# Closed-class English words (determiners, pronouns, prepositions, conjunctions, auxiliaries, modals,
# particles). WordNet covers only the four open classes, so these are missing by design, except where a
# homograph happens to be in it ("in" as inch or Indiana, "he" as helium, "us" as United States).
FUNCTION_WORDS = frozenset(
    """a an the this that these those some any each every either neither no all both half such what which
    whose who whom whoever whatever whichever i me my mine myself you your yours yourself yourselves he him
    his himself she her hers herself it its itself we us our ours ourselves they them their theirs
    themselves one ones oneself someone somebody something anyone anybody anything everyone everybody
    everything nobody nothing none others another other
    of to in on at by for with from into onto upon about above across after against along amid among
    amongst around as before behind below beneath beside besides between beyond despite down during
    except inside like near off out outside over past per since than through throughout till toward
    towards under underneath unlike until up via within without
    and or but nor so yet because although though while whereas whether if unless once when whenever
    where wherever why how then also
    be am is are was were been being have has had having do does did doing done will would shall should
    can could may might must ought cannot
    not there here just very too""".split()
)

MISSING_KINDS = (
    "function word",
    "number",
    "contraction",
    "hyphenated compound",
    "name or acronym",
    "other (jargon, new compounds, slang, typos)",
)
_NUMBER = re.compile(r"^\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s)?$")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)]*\s+")


def lookup_form(token: str, *, strip_possessive: bool = True) -> str:
    """The form looked up in WordNet: lower-cased, with a possessive ``'s`` (or final ``'``) removed.

    "australia's" → "australia"; "it's" and "he's" stay whole (contractions of function words, which
    would otherwise find helium for "he").
    """
    form = normalise_word(token)
    if strip_possessive:
        stripped = _POSSESSIVE.sub("", form)
        if stripped and stripped not in FUNCTION_WORDS:
            form = stripped
    return form


@lru_cache(maxsize=500_000)
def _known(form: str) -> bool:
    return bool(wordnet_corpus().synsets(form))


def has_synset(token: str, *, strip_possessive: bool = True) -> bool:
    """True when WordNet has a synset for ``token`` or one of its inflections ("dogs" → dog, "ran" → run)."""
    return _known(lookup_form(token, strip_possessive=strip_possessive))


@dataclass(frozen=True)
class Coverage:
    """How much of a corpus WordNet knows. ``missing`` lists the unknown types, most frequent first."""

    n_types: int
    n_tokens: int
    missing: list[tuple[str, int]] = field(repr=False)

    @property
    def missing_types(self) -> int:
        return len(self.missing)

    @property
    def missing_tokens(self) -> int:
        return sum(count for _, count in self.missing)

    @property
    def type_share_missing(self) -> float:
        """Share of distinct word types with no synset."""
        return self.missing_types / self.n_types

    @property
    def token_share_missing(self) -> float:
        """Share of running tokens with no synset (frequent words weigh more)."""
        return self.missing_tokens / self.n_tokens


def _count_tokens(corpus: Iterable[Sequence[str]]) -> Counter:
    counts: Counter[str] = Counter()
    for document in corpus:
        if isinstance(document, str):
            raise TypeError("expected a tokenised corpus (a list of token lists), got a string as a document")
        counts.update(document)
    if not counts:
        raise ValueError("the corpus is empty: it has no tokens")
    return counts


def coverage(corpus: Iterable[Sequence[str]], *, strip_possessive: bool = True) -> Coverage:
    """Count the word types and tokens of a tokenised corpus that have no synset in WordNet."""
    counts = _count_tokens(corpus)
    missing = [(word, n) for word, n in counts.items() if not has_synset(word, strip_possessive=strip_possessive)]
    missing.sort(key=lambda item: (-item[1], item[0]))
    return Coverage(len(counts), sum(counts.values()), missing)


def capitalisation_rates(documents: Iterable[str]) -> dict[str, float]:
    """For each lower-cased word of raw ``documents``, the share of its occurrences written capitalised.

    Sentence-initial occurrences are left out (everything is capitalised there) unless a word occurs
    only sentence-initially. A rate near 1 marks a name or an acronym ("Qantas", "HIH").
    """
    inside: Counter[str] = Counter()
    inside_capital: Counter[str] = Counter()
    initial: Counter[str] = Counter()
    initial_capital: Counter[str] = Counter()
    seen_any = False
    for document in documents:
        if not isinstance(document, str):
            raise TypeError(f"documents must be raw strings, got {type(document).__name__}")
        for sentence in _SENTENCE_END.split(document):
            for position, token in enumerate(tokenize(sentence, lowercase=False)):
                seen_any = True
                lower, capital = token.lower(), token[:1].isupper()
                if position == 0:
                    initial[lower] += 1
                    initial_capital[lower] += capital
                else:
                    inside[lower] += 1
                    inside_capital[lower] += capital
    if not seen_any:
        raise ValueError("the documents are empty: no words to measure capitalisation on")
    rates = {word: initial_capital[word] / n for word, n in initial.items()}
    rates.update({word: inside_capital[word] / n for word, n in inside.items()})
    return rates


def classify_missing(word: str, capital_rates: dict[str, float] | None = None) -> str:
    """Say what kind of word WordNet lacks: one of :data:`MISSING_KINDS`.

    Tried in order (after removing a possessive ``'s``): function word, number, contraction (an
    apostrophe left: "don't", "it's"), hyphenated compound, name or acronym (capitalised in at least half
    its occurrences, when ``capital_rates`` from :func:`capitalisation_rates` is given), else other:
    jargon, new compounds, slang, typos, foreign words (and, without capitalisation data, names).
    """
    form = lookup_form(word)  # "sharon's" is classified as "sharon"
    if form in FUNCTION_WORDS:
        return MISSING_KINDS[0]
    if _NUMBER.match(form):
        return MISSING_KINDS[1]
    if "'" in form or "’" in form:
        return MISSING_KINDS[2]
    if "-" in form:
        return MISSING_KINDS[3]
    if capital_rates is not None and capital_rates.get(form, 0.0) >= 0.5:
        return MISSING_KINDS[4]
    return MISSING_KINDS[5]


def missing_by_kind(result: Coverage, capital_rates: dict[str, float] | None = None) -> dict[str, list[tuple[str, int]]]:
    """The missing types of a :class:`Coverage` grouped by :func:`classify_missing`, most frequent first.

    Every kind of :data:`MISSING_KINDS` is a key (possibly with an empty list).
    """
    if not isinstance(result, Coverage):
        raise TypeError(f"missing_by_kind expects a Coverage from coverage(), got {type(result).__name__}")
    grouped: dict[str, list[tuple[str, int]]] = {kind: [] for kind in MISSING_KINDS}
    for word, count in result.missing:
        grouped[classify_missing(word, capital_rates)].append((word, count))
    return grouped


def polysemy(corpus: Iterable[Sequence[str]], top: int = 50, *, content_words_only: bool = True) -> list[tuple[str, int, int]]:
    """The ``top`` most frequent word types that WordNet knows, as (word, corpus count, number of senses).

    Function words and numbers are skipped by default: their "senses" are accidental homographs
    ("in" = inch). Senses are counted over all parts of speech, inflections included ("said" → say).
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    counts = _count_tokens(corpus)
    rows = []
    for word, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        form = lookup_form(word)
        if content_words_only and (form in FUNCTION_WORDS or _NUMBER.match(form)):
            continue
        if _known(form):
            rows.append((word, count, len(wordnet_corpus().synsets(form))))
            if len(rows) == top:
                break
    return rows

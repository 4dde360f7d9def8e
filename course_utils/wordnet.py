"""WordNet: a hand-built thesaurus of word senses, and what it cannot tell us (notebook 01).

Idea. WordNet (Miller 1995, "WordNet: a lexical database for English", CACM 38(11)) groups the senses of
English nouns, verbs, adjectives and adverbs into *synsets* (sets of synonymous lemmas with a gloss) and
links them by relations such as hypernymy ("a panda *is a* procyonid"). Following hypernyms climbs to a
root (``entity.n.01`` for nouns), which gives similarity measures between senses:

* path:            sim(a, b) = 1 / (1 + d(a, b)), with d the shortest is-a path length (in edges);
* Wu–Palmer:       sim(a, b) = 2·depth(lcs) / (depth(a) + depth(b)), lcs the lowest common subsumer
  (Wu & Palmer 1994; nltk counts depths from 1 at the root);
* Leacock–Chodorow: sim(a, b) = −log( (d(a, b) + 1) / (2·D) ), D the depth of the taxonomy of that part
  of speech, so both senses must have the same part of speech (Leacock & Chodorow 1998).

A *word* similarity is the largest similarity over all pairs of its senses (Resnik 1995).

Two limits are shown here: an entry cannot say which of its senses a sentence means (``contexts``,
``sense_examples``), and synonyms fit only some contexts ("proficient" for "good"). How much of a
corpus WordNet lacks, which kinds of words, and how polysemous frequent words are, is measured in
:mod:`course_utils.wordnet_coverage`.

Everything goes through ``nltk.corpus.wordnet`` (WordNet 3.0, installed by ``python -m
course_utils.install``). Unknown words raise ``KeyError`` naming the word.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from course_utils.tokenization import tokenize

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import Synset

__all__ = [
    "taxonomy_statistics",
    "POS_NAMES",
    "wordnet_corpus",
    "normalise_word",
    "Sense",
    "SenseExample",
    "SimilarityRow",
    "get_synset",
    "synsets_of",
    "senses",
    "senses_by_pos",
    "hypernym_closure",
    "hypernym_paths",
    "hypernym_chain",
    "synset_similarity",
    "path_distance",
    "word_similarity",
    "similarity_table",
    "similarity_matrix",
    "PairEvaluation",
    "evaluate_pairs",
    "synonyms_by_sense",
    "senses_with_synonym",
    "antonyms",
    "contexts",
    "substitute",
    "sense_examples",
    "describe_word",
    "plot_hypernym_tree",
    "show_word",
]

# nltk's one-letter parts of speech; "s" is an adjective satellite (an adjective sense defined by its
# similarity to a head adjective, e.g. adept.s.01 is similar to skilled.a.01).
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective satellite", "r": "adverb"}
MEASURES = ("path", "wup", "lch")


def wordnet_corpus():
    """nltk's WordNet corpus reader (imported on first use: nltk is slow to import)."""
    from nltk.corpus import wordnet as wn

    return wn


def taxonomy_statistics(pos: str) -> dict[str, int]:
    """``{"synsets": count, "max_depth": deepest hypernym chain}`` for one part of speech ("n", "v", "a"
    — adjectives including satellites — or "r").

    Computing them visits every synset of that part of speech (seconds for nouns), so the result is cached
    as JSON under :func:`course_utils.data.cache_dir`, keyed by WordNet's version. ``max_depth`` is the
    length of the longest path to a root over hypernyms and instance hypernyms, as nltk's
    ``Synset.max_depth``.
    """
    import json

    from course_utils.data import cache_dir

    if pos not in ("n", "v", "a", "r"):
        raise ValueError(f"pos must be one of 'n', 'v', 'a' (with satellites), 'r'; got {pos!r}")
    wn = wordnet_corpus()
    path = cache_dir() / f"wordnet_taxonomy.{wn.get_version()}.{pos}.json"
    if path.exists():
        return json.loads(path.read_text())
    depth: dict[str, int] = {}
    synsets = list(wn.all_synsets(pos))
    for synset in synsets:  # longest path with memory: a synset's depth is 1 + the deepest of its parents
        stack = [synset]
        while stack:
            top = stack[-1]
            parents = top.hypernyms() + top.instance_hypernyms()
            unknown = [parent for parent in parents if parent.name() not in depth]
            if unknown:
                stack.extend(unknown)
                continue
            stack.pop()
            depth[top.name()] = 1 + max(depth[parent.name()] for parent in parents) if parents else 0
    statistics = {"synsets": len(synsets), "max_depth": max((depth[s.name()] for s in synsets), default=0)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(statistics))
    temporary.replace(path)
    return statistics


def _prime_taxonomy_depth(pos: str) -> None:
    """Give nltk the taxonomy depth that Leacock–Chodorow needs from the cache, so that nltk does not walk
    every synset again in each new process (nltk keeps it in ``_max_depth``, keyed by (pos, simulated root),
    adding 1 for the simulated root)."""
    wn = wordnet_corpus()
    depth = taxonomy_statistics(pos)["max_depth"]
    wn._max_depth.setdefault((pos, False), depth)
    wn._max_depth.setdefault((pos, True), depth + 1)


def normalise_word(word: object) -> str:
    """A WordNet lemma form of ``word``: stripped, lower-case, spaces as underscores.

    Raises TypeError for a non-string and ValueError for an empty word.
    """
    if not isinstance(word, str):
        raise TypeError(f"a word must be a string, got {type(word).__name__}")
    cleaned = word.strip().lower().replace(" ", "_")
    if not cleaned:
        raise ValueError("the word is empty")
    return cleaned


def _check_pos(pos: str | None) -> str | None:
    if pos is not None and pos not in POS_NAMES:
        raise ValueError(f"unknown part of speech {pos!r}; use one of {sorted(POS_NAMES)} or None")
    return pos


def get_synset(synset: str | Synset) -> Synset:
    """The nltk ``Synset`` for a name such as ``"panda.n.01"`` (a Synset is returned as it is).

    Raises ``KeyError`` naming the synset when WordNet has no such sense.
    """
    from nltk.corpus.reader.wordnet import Synset, WordNetError

    if isinstance(synset, Synset):
        return synset
    if not isinstance(synset, str):
        raise TypeError(f"expected a synset name like 'dog.n.01' or a Synset, got {type(synset).__name__}")
    if not re.fullmatch(r".+\.[nvasr]\.\d+", synset.strip()):
        raise ValueError(f"{synset!r} is not a synset name of the form lemma.pos.nn (e.g. 'dog.n.01')")
    try:
        return wordnet_corpus().synset(synset.strip())
    except (WordNetError, ValueError, KeyError):
        raise KeyError(f"WordNet has no synset {synset!r}") from None


def synsets_of(word: str, pos: str | None = None) -> list[Synset]:
    """All synsets of ``word`` (any inflection, found with WordNet's morphy), optionally of one POS.

    ``pos`` is one of ``n v a s r`` (``"a"`` includes adjective satellites, as in nltk). Raises
    ``KeyError`` naming the word when it has no synset (of that part of speech).
    """
    cleaned = normalise_word(word)
    _check_pos(pos)
    found = wordnet_corpus().synsets(cleaned, pos="a" if pos == "s" else pos)
    if pos == "s":
        found = [s for s in found if s.pos() == "s"]
    if not found:
        where = f" as a {POS_NAMES[pos]}" if pos else ""
        raise KeyError(f"WordNet has no synset for {word!r}{where}")
    return found


@dataclass(frozen=True)
class Sense:
    """One synset of a word: its name, part of speech, lemmas, gloss and example sentences."""

    synset: str
    pos: str
    lemmas: tuple[str, ...]
    definition: str
    examples: tuple[str, ...]


def _sense(synset: Synset) -> Sense:
    return Sense(synset.name(), POS_NAMES[synset.pos()], tuple(synset.lemma_names()),
                 synset.definition(), tuple(synset.examples()))


def senses(word: str, pos: str | None = None) -> list[Sense]:
    """The senses of ``word`` in WordNet's order (most frequent first within each part of speech)."""
    return [_sense(s) for s in synsets_of(word, pos)]


def senses_by_pos(word: str) -> dict[str, list[Sense]]:
    """The senses of ``word`` grouped by part-of-speech name ("noun", "adjective satellite", ...)."""
    grouped: dict[str, list[Sense]] = {}
    for sense in senses(word):
        grouped.setdefault(sense.pos, []).append(sense)
    return grouped


def _parents(synset: Synset) -> list[Synset]:
    # Instances ("einstein.n.01" is an instance of physicist) have instance hypernyms instead.
    return synset.hypernyms() + synset.instance_hypernyms()


def hypernym_closure(synset: str | Synset) -> list[str]:
    """Every ancestor of ``synset`` by (instance) hypernymy, nearest first, as nltk's ``closure`` lists them."""
    start = get_synset(synset)
    return [s.name() for s in start.closure(_parents)]


def hypernym_paths(synset: str | Synset) -> list[list[str]]:
    """Every is-a path from ``synset`` up to a root: ``[[synset, parent, ..., root], ...]``."""
    start = get_synset(synset)
    return [[s.name() for s in reversed(path)] for path in start.hypernym_paths()]


def hypernym_chain(synset: str | Synset) -> list[str]:
    """The path from ``synset`` to its root that always follows the first listed (instance) hypernym."""
    current = get_synset(synset)
    chain = [current.name()]
    while parents := _parents(current):
        current = parents[0]
        chain.append(current.name())
    return chain


@lru_cache(maxsize=200_000)
def _ancestor_distances(name: str) -> dict[str, int]:
    """Shortest number of is-a edges from synset ``name`` to each of its ancestors (itself at 0)."""
    distances: dict[str, int] = {}
    queue = deque([(wordnet_corpus().synset(name), 0)])
    while queue:
        synset, depth = queue.popleft()
        if synset.name() in distances:
            continue
        distances[synset.name()] = depth
        queue.extend((parent, depth + 1) for parent in _parents(synset))
    return distances


def path_distance(first: str | Synset, second: str | Synset) -> int:
    """Length in edges of the shortest is-a path between two synsets, through a common ancestor.

    Nouns share one root (``entity.n.01``). Verbs have many separate trees; as nltk does, a synset that
    is not a noun is joined to the others through a simulated root one edge above its highest ancestor.
    Ancestor distances are cached, so many comparisons are fast (nltk recomputes them on every call).
    """
    a, b = get_synset(first), get_synset(second)
    if a == b:
        return 0
    da, db = _ancestor_distances(a.name()), _ancestor_distances(b.name())
    common = da.keys() & db.keys()
    if common:
        return min(da[s] + db[s] for s in common)
    if a.pos() != "n" or b.pos() != "n":
        return (max(da.values()) + 1) + (max(db.values()) + 1)
    raise ValueError(f"no is-a path links {a.name()} and {b.name()}")  # pragma: no cover - one noun root


def synset_similarity(first: str | Synset, second: str | Synset, measure: str = "path") -> float:
    """Similarity of two synsets by ``measure``: ``"path"``, ``"wup"`` (Wu–Palmer) or ``"lch"``.

    Only nouns and verbs have an is-a hierarchy: for an adjective or adverb sense nltk would still return
    a number (through a simulated root), which means nothing, so this raises ``ValueError`` instead.
    Leacock–Chodorow also needs both senses to have the same part of speech.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown similarity measure {measure!r}; use one of {MEASURES}")
    a, b = get_synset(first), get_synset(second)
    for synset in (a, b):
        if synset.pos() not in ("n", "v"):
            raise ValueError(f"{synset.name()} is an {POS_NAMES[synset.pos()]}: only nouns and verbs have "
                             "hypernyms, so is-a similarity is undefined")
    if measure == "lch" and a.pos() != b.pos():
        raise ValueError(f"Leacock–Chodorow needs the same part of speech: {a.name()} vs {b.name()}")
    if measure == "lch":
        _prime_taxonomy_depth(a.pos())
    value = {"path": a.path_similarity, "wup": a.wup_similarity, "lch": a.lch_similarity}[measure](b)
    if value is None or not math.isfinite(value):  # pragma: no cover - nltk joins trees by a fake root
        raise ValueError(f"{measure} similarity is undefined for {a.name()} and {b.name()} (no is-a path)")
    return float(value)


def word_similarity(first: str, second: str, measure: str = "path", pos: str = "n") -> float:
    """The largest ``measure`` similarity over all pairs of senses of two words with part of speech ``pos``.

    Raises ``KeyError`` naming a word without senses of that part of speech, and ``ValueError`` when no
    pair of senses is connected.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown similarity measure {measure!r}; use one of {MEASURES}")
    if _check_pos(pos) not in ("n", "v"):
        raise ValueError(f"word_similarity needs pos 'n' or 'v' (only they have hypernyms), got {pos!r}")
    senses_a, senses_b = synsets_of(first, pos), synsets_of(second, pos)
    best = None
    for a in senses_a:
        for b in senses_b:
            if measure == "path":
                value = 1.0 / (1.0 + path_distance(a, b))
            else:
                try:
                    value = synset_similarity(a, b, measure)
                except ValueError:
                    value = None
            if value is not None and (best is None or value > best):
                best = value
    if best is None:
        raise ValueError(f"no {measure} similarity between any senses of {first!r} and {second!r}")
    return best


@dataclass(frozen=True)
class SimilarityRow:
    """Word-pair similarities by each measure (the maximum over sense pairs, measured separately)."""

    first: str
    second: str
    path: float
    wup: float
    lch: float


def similarity_table(pairs: Sequence[tuple[str, str]], pos: str = "n") -> list[SimilarityRow]:
    """Path, Wu–Palmer and Leacock–Chodorow similarity for each word pair (same part of speech ``pos``)."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("similarity_table needs at least one word pair")
    rows = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"each pair must hold two words, got {pair!r}")
        first, second = pair
        rows.append(SimilarityRow(first, second, *(word_similarity(first, second, m, pos) for m in MEASURES)))
    return rows


def similarity_matrix(words: Sequence[str], measure: str = "path", pos: str = "n") -> np.ndarray:
    """The (len(words), len(words)) matrix of word similarities, e.g. for ``plotting.plot_heatmap``."""
    words = list(words)
    if not words:
        raise ValueError("similarity_matrix needs at least one word")
    matrix = np.empty((len(words), len(words)))
    for i, first in enumerate(words):
        for j in range(i, len(words)):
            matrix[i, j] = matrix[j, i] = word_similarity(first, words[j], measure, pos)
    return matrix


@dataclass(frozen=True)
class PairEvaluation:
    """Spearman correlation of WordNet similarities with human scores over the pairs WordNet covers."""

    spearman: float
    covered: int
    total: int


def evaluate_pairs(pairs: Sequence[tuple[str, str, float]], measure: str = "path", pos: str = "n") -> PairEvaluation:
    """Correlate ``word_similarity`` with human judgements (WordSim-353, SimLex-999 from ``course_utils.data``).

    Pairs with a word that has no sense of part of speech ``pos`` are skipped and counted as uncovered.
    """
    from scipy.stats import spearmanr

    pairs = list(pairs)
    if not pairs:
        raise ValueError("evaluate_pairs needs at least one (word, word, score) triple")
    predicted, human = [], []
    for triple in pairs:
        if len(triple) != 3:
            raise ValueError(f"each pair must be (word, word, score), got {triple!r}")
        first, second, score = triple
        try:
            predicted.append(word_similarity(first, second, measure, pos))
        except (KeyError, ValueError):
            continue
        human.append(float(score))
    if len(predicted) < 3:
        raise ValueError(f"only {len(predicted)} of {len(pairs)} pairs are covered; need at least 3 to correlate")
    if len(set(predicted)) == 1 or len(set(human)) == 1:
        raise ValueError("the similarities or the human scores are all equal: the correlation is undefined")
    return PairEvaluation(float(spearmanr(predicted, human).statistic), len(predicted), len(pairs))


# ---------------------------------------------------------------------------------------------------
# Synonyms and contexts
# ---------------------------------------------------------------------------------------------------


def synonyms_by_sense(word: str, pos: str | None = None) -> dict[str, tuple[str, ...]]:
    """For each sense of ``word``, the other lemmas of its synset (its synonyms *in that sense*)."""
    target = normalise_word(word)
    result = {}
    for synset in synsets_of(word, pos):
        result[synset.name()] = tuple(l for l in synset.lemma_names() if l.lower() != target)
    return result


def senses_with_synonym(word: str, synonym: str) -> list[str]:
    """The synsets of ``word`` that also list ``synonym`` as a lemma (empty when they share none)."""
    other = normalise_word(synonym)
    return [s.name() for s in synsets_of(word) if other in {l.lower() for l in s.lemma_names()}]


def antonyms(word: str) -> list[str]:
    """Words WordNet lists as opposites of ``word``: the antonyms of the lemmas spelled ``word`` in each of
    its synsets, unique, in WordNet's order (antonymy links lemmas, not synsets: *hot* ↔ *cold*)."""
    name = normalise_word(word)
    found: list[str] = []
    for synset in synsets_of(word):
        for lemma in synset.lemmas():
            if lemma.name().lower() == name:
                found += [a.name() for a in lemma.antonyms() if a.name() not in found]
    return found


def contexts(corpus: Iterable[Sequence[str]], word: str, window: int = 4, limit: int | None = None) -> list[tuple[list[str], str, list[str]]]:
    """Concordance: every occurrence of ``word`` as (left context, word, right context) of ``window`` tokens."""
    target = normalise_word(word)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 or None, got {limit}")
    found = []
    any_tokens = False
    for document in corpus:
        if isinstance(document, str):
            raise TypeError("expected a tokenised corpus (a list of token lists), got a string as a document")
        any_tokens = any_tokens or bool(document)
        for i, token in enumerate(document):
            if token == target:
                found.append((list(document[max(0, i - window) : i]), token, list(document[i + 1 : i + 1 + window])))
                if limit is not None and len(found) == limit:
                    return found
    if not any_tokens:
        raise ValueError("the corpus is empty: it has no tokens")
    return found


def substitute(context: tuple[Sequence[str], str, Sequence[str]], replacement: str) -> str:
    """One concordance line with the word replaced by ``replacement`` in brackets: ``"a [proficient] year"``."""
    left, _, right = context
    replacement = normalise_word(replacement).replace("_", " ")
    return " ".join([*left, f"[{replacement}]", *right])


@dataclass(frozen=True)
class SenseExample:
    """A WordNet example sentence for one sense, with the target word located in its tokens.

    ``tokens`` come from :func:`course_utils.tokenization.tokenize` (lower-case); ``tokens[position]`` is the
    first occurrence of the word or of one of its inflections.
    """

    synset: str
    definition: str
    sentence: str
    tokens: list[str]
    position: int


def _base_forms(token: str) -> set[str]:
    wn = wordnet_corpus()
    forms = {token}
    for pos in ("n", "v", "a", "r"):
        forms.update(wn._morphy(token, pos))  # all analyses: "saw" → saw, see
    return forms


def sense_examples(word: str, pos: str | None = None) -> list[SenseExample]:
    """WordNet's example sentences, per sense of ``word``, that actually contain the word (or an inflection).

    Examples that show another lemma of the synset ("he cashed a check at the bank" belongs to
    depository_financial_institution.n.01 and contains "bank", so it is kept; "She deposits her
    paycheck" for a sense of "bank" is not) are dropped. Order: WordNet's sense order, then example order.
    """
    target = normalise_word(word)
    found = []
    for synset in synsets_of(word, pos):
        for sentence in synset.examples():
            tokens = tokenize(sentence)
            position = next((i for i, t in enumerate(tokens) if target in _base_forms(t)), None)
            if position is not None:
                found.append(SenseExample(synset.name(), synset.definition(), sentence, tokens, position))
    return found


# ---------------------------------------------------------------------------------------------------
# The "type a word" widget
# ---------------------------------------------------------------------------------------------------


def describe_word(word: str, max_senses: int = 6) -> str:
    """A text report of a word's senses by part of speech, with lemmas, gloss and one hypernym path."""
    if max_senses < 1:
        raise ValueError(f"max_senses must be at least 1, got {max_senses}")
    lines = []
    for pos_name, group in senses_by_pos(word).items():
        lines.append(f"{pos_name} ({len(group)} sense{'s' * (len(group) != 1)})")
        for sense in group[:max_senses]:
            lines.append(f"  {sense.synset:<28} {', '.join(sense.lemmas)}")
            lines.append(f"      {sense.definition}")
            path = hypernym_paths(sense.synset)[0]
            if len(path) > 1:
                lines.append("      is a: " + " → ".join(name.split(".")[0] for name in path[1:]))
        if len(group) > max_senses:
            lines.append(f"  ... and {len(group) - max_senses} more")
    return "\n".join(lines)


def plot_hypernym_tree(synsets: Sequence[str | Synset], *, ax=None, title: str | None = None):
    """Draw the hypernym paths of ``synsets`` as a tree: the root on top, the given senses at the bottom."""
    import matplotlib.pyplot as plt

    synsets = [get_synset(s).name() for s in synsets]
    if not synsets:
        raise ValueError("plot_hypernym_tree needs at least one synset")
    depth: dict[str, int] = {}
    edges: set[tuple[str, str]] = set()
    for name in synsets:
        for path in hypernym_paths(name):
            top_down = list(reversed(path))
            for level, node in enumerate(top_down):
                depth[node] = max(depth.get(node, level), level)  # below every parent
            edges.update(zip(top_down, top_down[1:]))
    layers: dict[int, list[str]] = {}
    for node in sorted(depth, key=lambda n: (depth[n], n)):
        layers.setdefault(depth[node], []).append(node)
    parents: dict[str, list[str]] = {}
    for parent, child in edges:
        parents.setdefault(child, []).append(parent)
    position: dict[str, tuple[float, float]] = {}
    for level in sorted(layers):
        # place each node under the mean position of its parents, so that fewer edges cross
        def under_parents(node: str) -> tuple[float, str]:
            placed = [position[p][0] for p in parents.get(node, []) if p in position]
            return (sum(placed) / len(placed) if placed else 0.0, node)

        nodes = sorted(layers[level], key=under_parents)
        for k, node in enumerate(nodes):
            position[node] = (k - (len(nodes) - 1) / 2, -level)
    if ax is None:
        width = max(len(nodes) for nodes in layers.values())
        _, ax = plt.subplots(figsize=(min(3 + 2.2 * width, 14), 0.45 * len(layers) + 1))
    for parent, child in edges:
        (x0, y0), (x1, y1) = position[parent], position[child]
        ax.plot([x0, x1], [y0, y1], color="0.6", lw=1, zorder=1)
    for node, (x, y) in position.items():
        style = dict(boxstyle="round,pad=0.2", fc="#ffe9a8" if node in synsets else "#e8eef7", ec="0.5")
        ax.text(x, y, node, ha="center", va="center", fontsize=7, bbox=style, zorder=2)
    xs = [x for x, _ in position.values()]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(-max(layers) - 0.7, 0.7)
    ax.set_axis_off()
    ax.set_title(title or "Hypernym paths (root at the top)")
    return ax


def show_word(word: str, max_senses: int = 6, tree_senses: int = 3) -> None:
    """Widget body: print a word's senses and hypernym paths, and draw the tree of its first noun/verb senses."""
    print(describe_word(word, max_senses))
    with_hypernyms = [s for s in synsets_of(word) if _parents(s)][:tree_senses]
    if tree_senses > 0 and with_hypernyms:
        plot_hypernym_tree(with_hypernyms, title=f"Hypernym paths of the first senses of {word!r}")

"""Course data: the corpora and evaluation sets that ship inside gensim.

Nothing here downloads. Parsed corpora are cached under ``data/cache/`` (git-ignored) so every notebook
after the first loads them in a fraction of a second. WordNet's installation lives in
:mod:`course_utils.install`; tokenising and vocabularies in :mod:`course_utils.tokenization`.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils.tokenization import tokenize

__all__ = [
    "cache_dir",
    "Article",
    "wiki_articles",
    "wiki_split",
    "lee_documents",
    "lee_corpus",
    "LabelledSentence",
    "polarity_sentences",
    "wordsim353",
    "simlex999",
    "google_analogies",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
_CACHE_VERSION = 1

# ---------------------------------------------------------------------------------------------------
# Cached corpora and evaluation sets from inside gensim
# ---------------------------------------------------------------------------------------------------

WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def cache_dir() -> Path:
    """Where parsed corpora are cached: $COURSE_CACHE_DIR, else ``data/cache`` in the repository."""
    folder = Path(os.environ.get("COURSE_CACHE_DIR") or REPO_ROOT / "data" / "cache")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _gensim_path(name: str) -> Path:
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.is_file():
        raise FileNotFoundError(f"{name} is missing from the installed gensim test data ({path})")
    return path


def _cached(name: str, build):
    """Load ``name`` from the JSON cache, or build it, store it (atomically) and return it."""
    path = cache_dir() / f"{name}.v{_CACHE_VERSION}.json.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    value = build()
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        json.dump(value, handle)
    os.replace(tmp, path)
    return value


@dataclass(frozen=True)
class Article:
    """One Wikipedia article as gensim's WikiCorpus tokenises it (lower-case, no digits or punctuation)."""

    title: str
    tokens: list[str]


def wiki_articles() -> list[Article]:
    """The ~106 Wikipedia articles (~450k tokens) of gensim's test dump, parsed by WikiCorpus and cached."""

    def build():
        from gensim.corpora.wikicorpus import WikiCorpus

        corpus = WikiCorpus(str(_gensim_path(WIKI_FILE)), dictionary={}, processes=1)
        corpus.metadata = True
        return [{"title": title, "tokens": tokens} for tokens, (_pageid, title) in corpus.get_texts()]

    return [Article(item["title"], item["tokens"]) for item in _cached("wiki_articles", build)]


def wiki_split(heldout_fraction: float = 0.1, seed: int = 0) -> tuple[list[Article], list[Article]]:
    """Split the Wikipedia articles into (train, held-out) by whole articles, reproducibly.

    Language models are evaluated on the held-out articles, which share no text with training.
    """
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be between 0 and 1, got {heldout_fraction}")
    articles = wiki_articles()
    order = np.random.RandomState(seed).permutation(len(articles))
    n_heldout = max(1, int(round(heldout_fraction * len(articles))))
    heldout = set(order[:n_heldout].tolist())
    train = [a for i, a in enumerate(articles) if i not in heldout]
    test = [a for i, a in enumerate(articles) if i in heldout]
    return train, test


def lee_documents() -> list[str]:
    """The Lee news corpus (``lee_background.cor``): 300 short news stories, raw text, one per item."""
    text = _gensim_path("lee_background.cor").read_text(encoding="latin-1")
    return [line.strip() for line in text.splitlines() if line.strip()]


def lee_corpus() -> list[list[str]]:
    """The Lee news stories tokenised with :func:`tokenize` (numbers and names kept)."""
    return [tokenize(document) for document in lee_documents()]


@dataclass(frozen=True)
class LabelledSentence:
    """A movie-review sentence from Pang & Lee with its polarity: label 1 = positive, 0 = negative."""

    text: str
    tokens: list[str]
    label: int


def polarity_sentences() -> list[LabelledSentence]:
    """The 200 labelled movie-review sentences of ``pang_lee_polarity.cor`` (already tokenised)."""
    sentences = []
    for line in _gensim_path("pang_lee_polarity.cor").read_text(encoding="cp1252", errors="replace").splitlines():
        if not line.strip():
            continue
        tag, _, text = line.partition(" ")
        if tag not in ("__label__pos", "__label__neg"):
            raise ValueError(f"unexpected label {tag!r} in pang_lee_polarity.cor")
        text = text.strip()
        sentences.append(LabelledSentence(text, text.split(), 1 if tag == "__label__pos" else 0))
    return sentences


def _word_pairs(name: str) -> list[tuple[str, str, float]]:
    pairs = []
    for line in _gensim_path(name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        first, second, score = line.split("\t")[:3]
        pairs.append((first.lower(), second.lower(), float(score)))
    return pairs


def wordsim353() -> list[tuple[str, str, float]]:
    """WordSim-353 as (word, word, mean human relatedness 0–10), lower-cased."""
    return _word_pairs("wordsim353.tsv")


def simlex999() -> list[tuple[str, str, float]]:
    """SimLex-999 as (word, word, mean human similarity 0–10), lower-cased."""
    return _word_pairs("simlex999.txt")


def google_analogies(lowercase: bool = True) -> dict[str, list[tuple[str, str, str, str]]]:
    """The Google analogy questions by section: a is to b as c is to d (``athens greece baghdad iraq``)."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in _gensim_path("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip():
            words = line.lower().split() if lowercase else line.split()
            sections[current].append(tuple(words))  # type: ignore[index]
    return sections

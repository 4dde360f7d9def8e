"""Course data: WordNet for nltk, the corpora and evaluation sets that ship inside gensim, vocabularies.

Nothing here downloads at run time except ``nltk.download`` during installation, which fails fast
offline and is followed by a build from a local WordNet 3.0 database. Parsed corpora are cached under
``data/cache/`` (git-ignored) so every notebook after the first loads them in a fraction of a second.

Run ``python -m course_utils.data install`` once (both ``make lab`` and ``make test`` do) and
``python -m course_utils.data status`` to see what is where.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "WordNetUnavailable",
    "lexnames_text",
    "wordnet_data_dir",
    "wordnet_is_installed",
    "install_wordnet",
    "build_wordnet_corpus",
    "cache_dir",
    "tokenize",
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
    "Vocabulary",
    "minibatches",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
_CACHE_VERSION = 1

# ---------------------------------------------------------------------------------------------------
# WordNet for nltk
# ---------------------------------------------------------------------------------------------------

# The 45 lexicographer files of WordNet 3.0 (number, name, syntactic category 1=noun 2=verb 3=adj
# 4=adv), as documented in lexnames(5WN). nltk reads them from a `lexnames` file that Debian's
# wordnet packages do not ship, so we write it.
_LEXNAMES = (
    ["adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact"]
    + ["noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event"]
    + ["noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object"]
    + ["noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process"]
    + ["noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time"]
    + ["verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition"]
    + ["verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion"]
    + ["verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl"]
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_REQUIRED_WORDNET_FILES = [f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")]
_REQUIRED_WORDNET_FILES += [f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")]
_OPTIONAL_WORDNET_FILES = ["index.sense", "cntlist.rev", "cntlist", "sentidx.vrb", "sents.vrb", "frames.vrb"]
_DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")
_LOCAL_WORDNET_DIRS = ("/usr/share/wordnet", "/usr/local/share/wordnet", "/usr/local/WordNet-3.0/dict",
                       "/opt/homebrew/share/wordnet", "/usr/local/opt/wordnet/dict")


class WordNetUnavailable(RuntimeError):
    """WordNet could not be found, downloaded or built; the message names the commands that fix it."""


def lexnames_text() -> str:
    """The content of nltk's ``lexnames`` file for WordNet 3.0."""
    lines = []
    for number, name in enumerate(_LEXNAMES):
        lines.append(f"{number:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}")
    return "\n".join(lines) + "\n"


def wordnet_data_dir() -> Path:
    """The nltk data directory inside the active environment (``<sys.prefix>/nltk_data``).

    It is on nltk's default search path, so ``from nltk.corpus import wordnet`` finds what we put there
    without any environment variable.
    """
    return Path(sys.prefix) / "nltk_data"


def wordnet_is_installed(thorough: bool = True) -> bool:
    """Whether nltk can use WordNet in this environment.

    ``thorough`` loads it in a fresh interpreter and looks up ``dog.n.01`` (a few seconds); otherwise
    only nltk's data search is asked whether ``corpora/wordnet`` with its ``lexnames`` file exists.
    """
    if not thorough:
        try:
            import nltk

            nltk.data.find("corpora/wordnet/lexnames")
            return True
        except LookupError:
            return False
    code = "from nltk.corpus import wordnet as wn; wn.synset('dog.n.01')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.returncode == 0


def _find_local_wordnet(extra: Sequence[str | os.PathLike] = ()) -> Path | None:
    candidates = [*extra]
    for variable in ("WNSEARCHDIR", "WORDNET_DIR"):
        if os.environ.get(variable):
            candidates.append(os.environ[variable])
    if os.environ.get("WNHOME"):
        candidates.append(Path(os.environ["WNHOME"]) / "dict")
    candidates += list(_LOCAL_WORDNET_DIRS)
    for candidate in candidates:
        folder = Path(candidate)
        if all((folder / name).is_file() for name in _REQUIRED_WORDNET_FILES):
            return folder
    return None


def build_wordnet_corpus(source: str | os.PathLike, target_root: str | os.PathLike) -> Path:
    """Build nltk's ``corpora/wordnet`` folder under ``target_root`` from a WordNet 3.0 database.

    ``source`` must hold the ``data.*``, ``index.*`` and ``*.exc`` files (as Debian's ``wordnet-base``
    installs them in /usr/share/wordnet). The folder is written aside and renamed into place, so an
    interrupted build never leaves a half-written corpus. Returns the corpus folder.
    """
    source = Path(source)
    missing = [name for name in _REQUIRED_WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{source} is not a WordNet database: missing {', '.join(missing)}")
    corpora = Path(target_root) / "corpora"
    corpora.mkdir(parents=True, exist_ok=True)
    final = corpora / "wordnet"
    staging = corpora / f".wordnet-building-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        for name in _REQUIRED_WORDNET_FILES + _OPTIONAL_WORDNET_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, staging / name)
        (staging / "lexnames").write_text(lexnames_text())
        (staging / "README").write_text(
            f"Built by course_utils.data from the WordNet 3.0 database in {source}.\n"
            "WordNet 3.0 (c) 2006 Princeton University; see its licence in the source package.\n"
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _try_nltk_download(target_root: Path, log) -> bool:
    try:
        import nltk
    except ImportError:  # pragma: no cover - nltk is a requirement
        return False
    log("trying nltk.download('wordnet') ...")
    try:
        return bool(nltk.download("wordnet", download_dir=str(target_root), quiet=True, raise_on_error=True))
    except Exception as error:  # offline: URLError, ValueError; fail fast and move on
        log(f"nltk.download failed ({type(error).__name__}); building from a local database instead")
        return False


def _try_apt_install(log) -> bool:
    if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    log(f"installing Debian packages {' '.join(_DEBIAN_PACKAGES)} ...")
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *_DEBIAN_PACKAGES]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(command, capture_output=True, env=environment).returncode == 0:
        return True
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=environment)
    return subprocess.run(command, capture_output=True, env=environment).returncode == 0


def install_wordnet(
    *,
    target_root: str | os.PathLike | None = None,
    allow_download: bool = True,
    allow_apt: bool = True,
    local_sources: Sequence[str | os.PathLike] = (),
    verbose: bool = True,
) -> str:
    """Make ``from nltk.corpus import wordnet as wn`` work in this environment; idempotent.

    Order: already present → ``nltk.download`` (fails fast offline) → build nltk's corpus folder from a
    local WordNet 3.0 database (installing Debian's ``wordnet-base`` and ``wordnet-sense-index`` with
    apt-get when running as root and they are missing) → raise :class:`WordNetUnavailable` naming the
    commands that fix it. Returns how WordNet was obtained: "present", "downloaded" or "built".
    """
    log = print if verbose else (lambda *_: None)
    root = Path(target_root) if target_root is not None else wordnet_data_dir()
    if wordnet_is_installed():
        log("WordNet: already installed")
        return "present"
    if allow_download and _try_nltk_download(root, log) and wordnet_is_installed():
        log(f"WordNet: downloaded into {root}")
        return "downloaded"
    source = _find_local_wordnet(local_sources)
    if source is None and allow_apt and _try_apt_install(log):
        source = _find_local_wordnet(local_sources)
    if source is None:
        raise WordNetUnavailable(
            "WordNet 3.0 is not available and could not be downloaded. Fix it with one of:\n"
            "  sudo apt-get install wordnet-base wordnet-sense-index   # Debian/Ubuntu, then re-run\n"
            "  python -m course_utils.data install\n"
            "or, with network access: python -c \"import nltk; nltk.download('wordnet')\""
        )
    corpus = build_wordnet_corpus(source, root)
    if target_root is None and not wordnet_is_installed():
        raise WordNetUnavailable(f"built {corpus} from {source} but nltk still cannot load WordNet")
    log(f"WordNet: built {corpus} from {source}")
    return "built"


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


_TOKEN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*|\d+(?:[.,:]\d+)*")


def tokenize(text: str, *, lowercase: bool = True) -> list[str]:
    """Split text into word tokens: letters (with inner apostrophes or hyphens) or numbers.

    Punctuation is dropped. ``tokenize("Hill Top's 4:00pm fire")`` → ``['hill', "top's", '4:00', 'pm', 'fire']``.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a string, got {type(text).__name__}")
    tokens = _TOKEN.findall(text)
    return [token.lower() for token in tokens] if lowercase else tokens


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


# ---------------------------------------------------------------------------------------------------
# Vocabularies and batching
# ---------------------------------------------------------------------------------------------------


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
# Command line: python -m course_utils.data install | status
# ---------------------------------------------------------------------------------------------------


def _warm_cache() -> None:
    articles = wiki_articles()
    print(f"corpora: {len(articles)} Wikipedia articles, {sum(len(a.tokens) for a in articles):,} tokens "
          f"(cache in {cache_dir()})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.data", description="Install or inspect course data.")
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install", help="install WordNet for nltk and build the corpus cache")
    install.add_argument("--no-download", action="store_true", help="do not try nltk.download")
    install.add_argument("--no-apt", action="store_true", help="never call apt-get")
    sub.add_parser("status", help="say where WordNet and the cache are")
    args = parser.parse_args(argv)
    if args.command == "install":
        try:
            install_wordnet(allow_download=not args.no_download, allow_apt=not args.no_apt)
        except WordNetUnavailable as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        _warm_cache()
        return 0
    print(f"WordNet installed: {wordnet_is_installed(thorough=False)} (environment data dir: {wordnet_data_dir()})")
    print(f"cache: {cache_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

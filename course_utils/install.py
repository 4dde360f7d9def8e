"""Installing the course data: WordNet 3.0 for nltk, and warming the corpus cache.

``python -m course_utils.install`` (both ``make lab`` and ``make test`` run it) tries, in order:
WordNet already present → ``nltk.download`` (fails fast offline) → build nltk's ``corpora/wordnet``
from a local WordNet 3.0 database (Debian's ``wordnet-base`` + ``wordnet-sense-index``, installed with
apt-get when root and missing) → a clear error naming the commands. ``python -m course_utils.install
status`` says where everything is. Then it parses the corpora once into ``data/cache/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from course_utils.data import cache_dir, wiki_articles

__all__ = [
    "WordNetUnavailable",
    "lexnames_text",
    "wordnet_data_dir",
    "wordnet_is_installed",
    "install_wordnet",
    "build_wordnet_corpus",
    "main",
]


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
            f"Built by course_utils.install from the WordNet 3.0 database in {source}.\n"
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
            "  python -m course_utils.install\n"
            "or, with network access: python -c \"import nltk; nltk.download('wordnet')\""
        )
    corpus = build_wordnet_corpus(source, root)
    if target_root is None and not wordnet_is_installed():
        raise WordNetUnavailable(f"built {corpus} from {source} but nltk still cannot load WordNet")
    log(f"WordNet: built {corpus} from {source}")
    return "built"


# ---------------------------------------------------------------------------------------------------
# Command line: python -m course_utils.install [install | status]
# ---------------------------------------------------------------------------------------------------


def _warm_cache() -> None:
    articles = wiki_articles()
    print(f"corpora: {len(articles)} Wikipedia articles, {sum(len(a.tokens) for a in articles):,} tokens "
          f"(cache in {cache_dir()})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.install",
                                     description="Install or inspect the course data (WordNet, corpus cache).")
    parser.add_argument("command", nargs="?", choices=("install", "status"), default="install",
                        help="install (default): WordNet for nltk and the corpus cache; status: say where they are")
    parser.add_argument("--no-download", action="store_true", help="do not try nltk.download")
    parser.add_argument("--no-apt", action="store_true", help="never call apt-get")
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

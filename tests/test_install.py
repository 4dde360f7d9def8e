import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import install

SYSTEM_WORDNET = Path("/usr/share/wordnet")


# --------------------------------------------------------------------------- WordNet installation


def test_lexnames_has_the_45_lexicographer_files_in_order():
    lines = install.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"
    assert all(line.split("\t")[2] in "1234" for line in lines)


@pytest.mark.skipif(not Path("/usr/share/man/man5/lexnames.5WN.gz").exists(), reason="WordNet man pages absent")
def test_lexnames_agrees_with_the_wordnet_manual():
    manual = gzip.open("/usr/share/man/man5/lexnames.5WN.gz", "rt").read().splitlines()
    rows = [line.split("\t") for line in manual if line[:2].isdigit() and "\t" in line]
    documented = [(number, name.strip()) for number, name, *_ in rows]
    ours = [tuple(line.split("\t")[:2]) for line in install.lexnames_text().splitlines()]
    assert ours == documented


def _fake_wordnet_source(folder: Path) -> Path:
    for name in install._REQUIRED_WORDNET_FILES:
        (folder / name).write_text("  1 This is a fake header line\n")
    return folder


def test_build_wordnet_corpus_writes_aside_then_renames(tmp_path):
    (tmp_path / "src").mkdir()
    source = _fake_wordnet_source(tmp_path / "src")
    corpus = install.build_wordnet_corpus(source, tmp_path / "nltk_data")
    assert corpus == tmp_path / "nltk_data" / "corpora" / "wordnet"
    assert (corpus / "lexnames").read_text() == install.lexnames_text()
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["wordnet"]  # no staging folder left behind
    # idempotent: building again replaces the folder cleanly
    install.build_wordnet_corpus(source, tmp_path / "nltk_data")
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["wordnet"]


def test_build_wordnet_corpus_rejects_a_folder_that_is_not_wordnet(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a WordNet database: missing data.noun"):
        install.build_wordnet_corpus(tmp_path, tmp_path / "out")


@pytest.mark.skipif(not (SYSTEM_WORDNET / "install.noun").exists(), reason="Debian's wordnet-base is not installed")
def test_corpus_built_from_the_debian_database_reads_like_nltk_wordnet(tmp_path, monkeypatch):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    corpus = install.build_wordnet_corpus(SYSTEM_WORDNET, tmp_path)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path), *nltk.install.path])  # nltk only reads its data paths
    built = WordNetCorpusReader(str(corpus), None)
    panda = [s.name() for s in built.synset("panda.n.01").closure(lambda s: s.hypernyms())]
    assert panda[0] == "procyonid.n.01" and panda[-1] == "entity.n.01"
    assert {s.pos() for s in built.synsets("good")} == {"n", "a", "s", "r"}
    assert built.synset("dog.n.01").lexname() == "noun.animal"


def test_install_wordnet_order_present_download_build_error(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(install, "wordnet_is_installed", lambda thorough=True: calls.append("check") or True)
    assert install.install_wordnet(verbose=False) == "present" and calls == ["check"]

    monkeypatch.setattr(install, "wordnet_is_installed", lambda thorough=True: False)
    monkeypatch.setattr(install, "_try_nltk_download", lambda root, log: False)
    monkeypatch.setattr(install, "_try_apt_install", lambda log: pytest.fail("apt must not run when allow_apt=False"))
    monkeypatch.setattr(install, "_LOCAL_WORDNET_DIRS", ())
    for variable in ("WNSEARCHDIR", "WORDNET_DIR", "WNHOME"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(install.WordNetUnavailable, match="apt-get install wordnet-base wordnet-sense-index"):
        install.install_wordnet(target_root=tmp_path, allow_apt=False, verbose=False)

    source = tmp_path / "db"
    source.mkdir()
    _fake_wordnet_source(source)
    how = install.install_wordnet(target_root=tmp_path / "out", allow_apt=False, local_sources=[source], verbose=False)
    assert how == "built" and (tmp_path / "out" / "corpora" / "wordnet" / "lexnames").is_file()


def test_wordnet_is_installed_in_this_environment():
    # `make test` runs `python -m course_utils.install` first; nltk must then work as usual.
    assert install.wordnet_is_installed(thorough=False) and install.wordnet_is_installed(thorough=True)
    assert install.wordnet_data_dir() == Path(sys.prefix) / "nltk_data"
    out = subprocess.run([sys.executable, "-m", "course_utils.install", "status"], capture_output=True, text=True)
    assert out.returncode == 0 and "WordNet installed: True" in out.stdout



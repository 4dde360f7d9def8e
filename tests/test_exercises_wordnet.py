"""Tests for the notebook-01 checkers: a right answer passes, a wrong one fails, a stub is 'not attempted'."""

from __future__ import annotations

from nltk.corpus import wordnet as wn

from course_utils.exercises import wordnet as checks


def _path_to_root(name: str) -> list[str]:
    synset = wn.synset(name)
    chain = [synset.name()]
    while parents := synset.hypernyms() + synset.instance_hypernyms():
        synset = parents[0]
        chain.append(synset.name())
    return chain


def _share(corpus) -> float:
    tokens = [token for document in corpus for token in document]
    return sum(1 for token in tokens if not wn.synsets(token)) / len(tokens)


def _shared(word: str, synonym: str) -> list[str]:
    return [s.name() for s in wn.synsets(word) if synonym in s.lemma_names()]


def _stub(*_args):
    raise NotImplementedError()


def test_right_answers_pass(capsys):
    assert checks.check_path_to_root(_path_to_root)
    assert checks.check_share_of_tokens_without_synset(_share)
    assert checks.check_shared_senses(_shared)
    assert capsys.readouterr().out.count("PASS") == 3


def test_wrong_answers_fail_with_a_hint(capsys):
    # forgets instance hypernyms: Einstein's chain stops at einstein.n.01
    no_instances = checks.check_path_to_root(lambda name: [s.name() for s in [wn.synset(name)]]
                                             if not wn.synset(name).hypernyms() else _path_to_root(name))
    assert not no_instances
    # counts distinct types instead of tokens
    by_types = checks.check_share_of_tokens_without_synset(
        lambda corpus: (lambda types: sum(1 for t in types if not wn.synsets(t)) / len(types))(
            {t for d in corpus for t in d}))
    assert not by_types
    # returns lemma names instead of synset names
    lemmas = checks.check_shared_senses(lambda w, s: [l for x in wn.synsets(w) for l in x.lemma_names() if l == s])
    assert not lemmas
    out = capsys.readouterr().out
    assert out.count("FAIL") == 3 and out.count("Hint:") == 3


def test_stubs_are_reported_as_not_attempted(capsys):
    for checker in (checks.check_path_to_root, checks.check_share_of_tokens_without_synset, checks.check_shared_senses):
        result = checker(_stub)
        assert not result
        assert "not attempted" in result.message
    assert capsys.readouterr().out.count("not attempted") == 3


def test_a_crashing_answer_is_reported_not_raised():
    result = checks.check_share_of_tokens_without_synset(lambda corpus: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message


def _antonyms(word: str) -> list[str]:
    found = []
    for synset in wn.synsets(word):
        for lemma in synset.lemmas():
            if lemma.name().lower() == word.lower():
                found += [a.name() for a in lemma.antonyms() if a.name() not in found]
    return found


def test_antonym_checker_and_reference():
    from course_utils.wordnet import antonyms

    assert "cold" in antonyms("hot") and "bad" in antonyms("good") and antonyms("dog") == []
    assert antonyms("Hot") == antonyms("hot")
    assert checks.check_antonyms(_antonyms)
    every_lemma = checks.check_antonyms(
        lambda w: list(dict.fromkeys(a.name() for s in wn.synsets(w) for l in s.lemmas() for a in l.antonyms())))
    assert not every_lemma  # antonyms of synonyms are not antonyms of the word
    assert "not attempted" in checks.check_antonyms(_stub).message


def test_hints_point_the_way_without_printing_code():
    import re
    from pathlib import Path

    source = Path(checks.__file__).read_text()
    hints = re.findall(r'hint\s*=\s*\(?("(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*)', source)
    assert len(hints) == 4
    for hint in hints:
        assert not re.search(r"\.name\(|\.hypernyms\(|wn\.|\[0\]|\bnot \w+\(", hint), hint


def test_antonym_checker_guards_the_reference():
    from course_utils.wordnet import antonyms

    assert not checks.check_antonyms(lambda word: antonyms(word))

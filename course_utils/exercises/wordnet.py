"""Checkers for the exercises of notebook 01 (WordNet): each compares the student's function with the
tested reference in :mod:`course_utils.wordnet` or :mod:`course_utils.wordnet_coverage` on several
inputs and prints a pass/fail line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable

from course_utils import wordnet, wordnet_coverage
from course_utils.exercises import ExerciseResult, check_function, guards

__all__ = [
    "check_path_to_root",
    "check_share_of_tokens_without_synset",
    "check_antonyms",
    "check_shared_senses",
]

# Nouns, an instance (Einstein is an instance of physicist), a verb, an adjective without hypernyms,
# and the root itself.
_PATH_CASES = [("panda.n.01",), ("dog.n.01",), ("einstein.n.01",), ("run.v.01",), ("good.a.01",), ("entity.n.01",)]

_TOKEN_CASES = [
    ([["the", "dogs", "barked"]],),  # "dogs" is covered through its lemma; "the" is not in WordNet
    ([["qantas", "flew", "to", "sydney"], ["1999", "was", "a", "year"]],),
    ([["of", "and", "the"]],),  # nothing covered
    ([["the", "dog", "chased", "the", "cat", "up", "the", "tree"]],),  # repeated tokens count every time
    ([["cat", "sat", "mat"], [], ["mat"]],),  # empty documents are allowed; everything covered
    ([["australia's", "canyoning", "year-old", "good"]],),  # possessives are NOT stripped in the exercise
]

_SHARED_CASES = [("good", "proficient"), ("good", "goodness"), ("bank", "depository_financial_institution"),
                 ("good", "banana"), ("run", "operate")]


def _share_without_synset(corpus) -> float:
    return wordnet_coverage.coverage(corpus, strip_possessive=False).token_share_missing


@guards(wordnet.hypernym_chain)
def check_path_to_root(student: Callable[[str], list[str]]) -> ExerciseResult:
    """``student(synset_name)`` must return the chain of synset names from the synset to its root,
    following the first hypernym (or, for instances, the first instance hypernym) at every step."""
    return check_function(
        student, wordnet.hypernym_chain, _PATH_CASES, name="path to the root",
        hint="start from the synset's own name; at every step gather its parents (hypernyms, plus instance "
             "hypernyms for instances), stop when there are none, otherwise move to the first parent and "
             "record its name",
    )


@guards(wordnet_coverage.coverage)
def check_share_of_tokens_without_synset(student: Callable) -> ExerciseResult:
    """``student(corpus)`` must return the share of running tokens (a float in [0, 1]) for which
    ``wn.synsets(token)`` is empty, over a list of token lists."""
    return check_function(
        student, _share_without_synset, _TOKEN_CASES, name="share of tokens without a synset",
        hint="count tokens, not distinct words: every occurrence in every document counts once, a token is "
             "missing when WordNet returns no synset for it, and the share is missing tokens over all tokens",
    )


@guards(wordnet.senses_with_synonym)
def check_shared_senses(student: Callable[[str, str], list[str]]) -> ExerciseResult:
    """``student(word, synonym)`` must return the names of the synsets of ``word`` (in WordNet's order)
    whose lemmas include ``synonym``."""
    return check_function(
        student, wordnet.senses_with_synonym, _SHARED_CASES, name="senses shared with a synonym",
        hint="go through the synsets of the word in WordNet's order and keep the name of each one whose list "
             "of lemma names contains the synonym",
    )


_ANTONYM_CASES = [("hot",), ("good",), ("increase",), ("dog",), ("heavy",), ("Hot",)]


@guards(wordnet.antonyms)
def check_antonyms(student: Callable[[str], list[str]]) -> ExerciseResult:
    """``student(word)`` must return the antonyms WordNet lists for the lemmas spelled ``word``, unique, in
    WordNet's order (as :func:`course_utils.wordnet.antonyms`)."""
    return check_function(
        student, wordnet.antonyms, _ANTONYM_CASES, name="antonyms",
        hint="antonymy links lemmas, not synsets: go through the synsets of the word, and in each only through "
             "the lemmas spelled like the word (compare in lower case); collect the names of their antonyms, "
             "each name once, in the order you meet them",
    )

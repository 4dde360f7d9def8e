"""The RLHF task data: prompts, demonstrations, the split rule and the labeler's rankings, checked by hand."""

from __future__ import annotations

import zlib

import pytest

from course_utils.icl_tasks import decode, encode
from course_utils.rlhf_tasks import (
    STOP,
    STOP_ID,
    TASKS,
    VOCAB_SIZE,
    Labeler,
    Prompt,
    correctness,
    demonstration,
    is_heldout_prompt,
    make_prompts,
    response_content,
)


def test_prompt_symbols_and_demonstrations():
    prompt = Prompt("reverse", ("k", "q", "a"))
    assert prompt.text() == "<bos> reverse : k q a =>"
    assert decode(prompt.ids()) == prompt.symbols()
    assert demonstration(prompt) == ["a", "q", "k", ";"]
    assert demonstration(Prompt("sort", ("k", "q", "a"))) == ["a", "k", "q", ";"]
    assert demonstration(Prompt("copy", ("k", "q"))) == ["k", "q", ";"]
    assert encode([STOP]) == [STOP_ID] and max(prompt.ids()) < VOCAB_SIZE


def test_prompt_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown task"):
        Prompt("count", ("a",))
    with pytest.raises(ValueError, match="letters"):
        Prompt("copy", ())
    with pytest.raises(ValueError, match="letters"):
        Prompt("copy", ("A",))


def test_split_rule_is_crc32_of_the_letters_and_the_splits_are_disjoint():
    train = make_prompts(200, seed=1)
    held = make_prompts(100, heldout=True, seed=1)
    assert all(zlib.crc32("".join(p.letters).encode()) % 4 != 0 for p in train)
    assert all(zlib.crc32("".join(p.letters).encode()) % 4 == 0 for p in held)
    assert not {p.letters for p in train} & {p.letters for p in held}
    assert all(is_heldout_prompt(p) for p in held)
    assert len(set(train)) == 200 and {p.task for p in train} == set(TASKS)
    assert all(2 <= len(p.letters) <= 4 for p in train)
    assert make_prompts(50, seed=1) == train[:50]  # seeded: the same draw
    with pytest.raises(ValueError, match="positive"):
        make_prompts(0)
    with pytest.raises(ValueError, match="tasks"):
        make_prompts(3, tasks=["count"])


def test_correctness_by_hand():
    prompt = Prompt("reverse", ("k", "q", "a"))  # answer a q k
    assert correctness(prompt, ["a", "q", "k", ";"]) == 1.0
    assert correctness(prompt, ["a", "q", "k"]) == 1.0  # the content counts, the stop symbol does not
    assert correctness(prompt, ["a", "x", "k", ";", "z"]) == pytest.approx(2 / 3)
    assert correctness(prompt, ["a", "q", "k", "k", "k", ";"]) == pytest.approx(3 / 5)  # too long
    assert correctness(prompt, [";"]) == 0.0
    assert response_content(["a", ";", "b"]) == ["a"]


def test_labeler_ranks_correctness_first_then_the_secondary_preference():
    prompt = Prompt("sort", ("c", "a", "b"))  # answer a b c
    responses = [["a", "b", "x", ";"], ["a", "b", "c", ";"], ["a", ";"], ["a", "b", ";"]]
    # correctness: 2/3, 1, 1/3, 2/3 -> the exact answer first; [a b x] and [a b] tie on 2/3
    concise = Labeler("concise").rank(prompt, responses)
    detailed = Labeler("detailed").rank(prompt, responses)
    assert concise == [1, 3, 0, 2]
    assert detailed == [1, 0, 3, 2]
    # ids work like symbols, and the gold score is the correctness
    as_ids = [encode(r) for r in responses]
    assert Labeler().rank(prompt, as_ids) == concise
    assert Labeler().score(prompt, as_ids[0]) == pytest.approx(2 / 3)


def test_labeler_breaks_remaining_ties_by_text_and_rejects_bad_input():
    prompt = Prompt("copy", ("a", "b"))
    assert Labeler().rank(prompt, [["z", "y", ";"], ["x", "y", ";"]]) == [1, 0]  # both 0 correct, same length
    with pytest.raises(ValueError, match="K >= 2"):
        Labeler().rank(prompt, [["a", ";"]])
    with pytest.raises(ValueError, match="identical"):
        Labeler().rank(prompt, [["a", ";"], ["a", ";"]])
    with pytest.raises(ValueError, match="secondary"):
        Labeler("longer")


def test_prefers_ignores_the_alphabetical_tie_break():
    prompt = Prompt("copy", ("a", "b"))
    labeler = Labeler("concise")
    assert labeler.prefers(prompt, ["a", "b", ";"], ["a", "c", ";"])  # more correct
    assert not labeler.prefers(prompt, ["a", "c", ";"], ["a", "b", ";"])
    assert labeler.prefers(prompt, ["z", ";"], ["z", "y", "x", ";"])  # both 0, the shorter (concise)
    assert Labeler("detailed").prefers(prompt, ["z", "y", "x", ";"], ["z", ";"])
    tied = (["x", "y", ";"], ["z", "y", ";"])  # both 0, same length: only the alphabet orders them
    assert labeler.rank(prompt, list(tied)) == [0, 1]
    assert not labeler.prefers(prompt, *tied) and not labeler.prefers(prompt, *tied[::-1])

"""Instruction prompts, demonstrations and a rule-based labeler for the RLHF pipeline (notebook 09).

Idea. InstructGPT (Ouyang et al. 2022, "Training language models to follow instructions with human
feedback") needs three kinds of human data: prompts, demonstrations (the response a labeler writes) and
rankings of several sampled responses to one prompt. Here a *labeler* function stands in for the
people. The prompts are zero-shot instructions in the symbol vocabulary of
:mod:`course_utils.icl_tasks`, so its pre-trained in-context model can serve as the base model::

    prompt        <bos> reverse : k q a =>          (task name, 2-4 letters, the arrow)
    demonstration e x c ;                           (the answer, then ";" which ends a response)

The labeler ranks K responses by a key, best first:

1. **correctness** c(y) = (positions where y matches the demonstration) / max(|y|, |demonstration|),
   computed on the response up to its first ";" (1 only for the exact answer, 0 for an empty one);
2. a stated **secondary preference** between equally correct responses: ``"concise"`` (fewer symbols)
   or ``"detailed"`` (more symbols: the labelers' taste for detail suspected behind ChatGPT's verbosity);
3. the response's text in alphabetical order, an arbitrary but fixed rule so that every ranking of
   distinct responses is strict. A pair ordered by this rule alone states no preference
   (:meth:`Labeler.prefers` is False both ways), and :func:`course_utils.rlhf_training.collect_comparisons`
   drops it: no reward model could learn an alphabetical whim from the task, and such pairs (about a
   quarter of the pairs among the SFT model's samples) would only add label noise.

The pipeline only ever sees rankings (:meth:`Labeler.rank`); the gold score (:meth:`Labeler.score`,
the correctness) is for evaluation only.

Split rule. A prompt is held out when ``icl_tasks.is_heldout`` holds for its letters (crc32 of the
letters' text divisible by 4) — the same rule the in-context model's pre-training used, so a held-out
three-letter input was seen by no stage of training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from course_utils.icl_tasks import ARROW, BOS, COLON, LETTERS, SEPARATOR, SYMBOLS, decode, encode, is_heldout

__all__ = [
    "TASKS",
    "STOP",
    "SECONDARY_PREFERENCES",
    "Prompt",
    "demonstration",
    "is_heldout_prompt",
    "make_prompts",
    "response_content",
    "correctness",
    "Labeler",
    "VOCAB_SIZE",
    "STOP_ID",
]

TASKS = ("copy", "reverse", "sort")  # the instructions (task names in the icl_tasks vocabulary)
STOP = SEPARATOR  # ";" ends a response
STOP_ID = encode([STOP])[0]
VOCAB_SIZE = len(SYMBOLS)
SECONDARY_PREFERENCES = ("concise", "detailed")


@dataclass(frozen=True)
class Prompt:
    """An instruction: ``task`` applied to ``letters``."""

    task: str
    letters: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if not self.letters or any(letter not in LETTERS for letter in self.letters):
            raise ValueError(f"letters must be a non-empty tuple of lower-case letters, got {self.letters!r}")

    def symbols(self) -> list[str]:
        """``<bos> task : letters =>``"""
        return [BOS, self.task, COLON, *self.letters, ARROW]

    def ids(self) -> list[int]:
        return encode(self.symbols())

    def text(self) -> str:
        return " ".join(self.symbols())


def demonstration(prompt: Prompt) -> list[str]:
    """The desired response's symbols: the task's answer followed by the stop symbol ``;``."""
    if prompt.task == "copy":
        answer = list(prompt.letters)
    elif prompt.task == "reverse":
        answer = list(prompt.letters[::-1])
    else:
        answer = sorted(prompt.letters)
    return [*answer, STOP]


def is_heldout_prompt(prompt: Prompt) -> bool:
    """The split rule (see the module docstring): depends on the letters only, never on the task."""
    return is_heldout("".join(prompt.letters))


def make_prompts(n: int, *, heldout: bool = False, seed: int = 0, min_letters: int = 2, max_letters: int = 4,
                 tasks: Sequence[str] = TASKS) -> list[Prompt]:
    """``n`` distinct prompts of the requested split (tasks uniform, 2-4 distinct letters), seeded."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 1 <= min_letters <= max_letters <= len(LETTERS):
        raise ValueError(f"need 1 <= min_letters <= max_letters <= {len(LETTERS)}, got {min_letters}, {max_letters}")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got {list(tasks)}")
    rng = np.random.RandomState(seed)
    prompts: list[Prompt] = []
    seen: set[Prompt] = set()
    attempts = 0
    while len(prompts) < n:
        attempts += 1
        if attempts > 100 * n + 1000:
            raise ValueError(f"could not draw {n} distinct prompts of this split; ask for fewer")
        length = rng.randint(min_letters, max_letters + 1)
        letters = tuple(LETTERS[i] for i in rng.choice(len(LETTERS), length, replace=False))
        prompt = Prompt(tasks[rng.randint(len(tasks))], letters)
        if is_heldout_prompt(prompt) == heldout and prompt not in seen:
            seen.add(prompt)
            prompts.append(prompt)
    return prompts


def response_content(response: Sequence[str]) -> list[str]:
    """The symbols before the first ``;`` (all of them when the response never stopped)."""
    response = list(response)
    return response[: response.index(STOP)] if STOP in response else response


def correctness(prompt: Prompt, response: Sequence[str]) -> float:
    """c(y) in [0, 1]: positions matching the demonstration's answer / the longer of the two lengths."""
    target = demonstration(prompt)[:-1]
    content = response_content(response)
    if not content:
        return 0.0
    matches = sum(a == b for a, b in zip(content, target))
    return matches / max(len(content), len(target))


class Labeler:
    """The stand-in for human labelers: ranks responses (correctness, then ``secondary``, then text).

    Responses are symbol lists (as :func:`course_utils.icl_tasks.decode` gives) or id lists.
    """

    def __init__(self, secondary: str = "concise") -> None:
        if secondary not in SECONDARY_PREFERENCES:
            raise ValueError(f"secondary preference must be one of {SECONDARY_PREFERENCES}, got {secondary!r}")
        self.secondary = secondary

    @staticmethod
    def _symbols(response: Sequence) -> list[str]:
        response = list(response)
        if response and not isinstance(response[0], str):
            return decode(response)
        return response

    def score(self, prompt: Prompt, response: Sequence) -> float:
        """The gold score (correctness): for evaluation only, never shown to a training stage."""
        return correctness(prompt, self._symbols(response))

    def _key(self, prompt: Prompt, symbols: list[str]) -> tuple:
        length = len(response_content(symbols))
        secondary = -length if self.secondary == "concise" else length
        # larger is better for the first two; the text breaks remaining ties alphabetically (smaller first)
        return (-correctness(prompt, symbols), -secondary, " ".join(symbols))

    def prefers(self, prompt: Prompt, better: Sequence, worse: Sequence) -> bool:
        """True when ``better`` beats ``worse`` on correctness or on the secondary preference (not merely
        by the alphabetical tie-break)."""
        a, b = self._key(prompt, self._symbols(better)), self._key(prompt, self._symbols(worse))
        return a[:2] < b[:2]

    def rank(self, prompt: Prompt, responses: Sequence[Sequence]) -> list[int]:
        """Indices of ``responses`` best first. Needs K >= 2 distinct responses (deduplicate first:
        identical responses cannot be ordered)."""
        if not isinstance(prompt, Prompt):
            raise TypeError(f"prompt must be a Prompt, got {type(prompt).__name__}")
        symbols = [self._symbols(r) for r in responses]
        if len(symbols) < 2:
            raise ValueError(f"a ranking needs K >= 2 responses, got {len(symbols)}")
        texts = [" ".join(s) for s in symbols]
        if len(set(texts)) != len(texts):
            raise ValueError("identical responses cannot be ranked against each other; deduplicate them first")
        keys = [self._key(prompt, s) for s in symbols]
        return sorted(range(len(symbols)), key=lambda i: keys[i])

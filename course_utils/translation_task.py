"""A translation-like task generated in code: numbers written in digits → English words.

Notebook 06 trains an encoder-decoder on it. A source sentence is the digits of a whole number from 0
to 999 999, one token per digit; its "translation" is the number in English words, one token per
word, without "and" or hyphens::

    4 0 7 1 2   →   forty thousand seven hundred twelve
    1 9         →   nineteen

Like a real language pair, the mapping has a grammar rather than a word-for-word dictionary: a digit
becomes a different word depending on its place ("4" → "four" / "forty"), the tens digit 1 fuses with
the next one ("1 3" → "thirteen"), zeros disappear, and "hundred"/"thousand" are inserted. The source
vocabulary is the ten digits, the target vocabulary the 29 number words, both behind the same three
specials (``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2).

Train/held-out split: every number from 0 to 99 is in training (the basic words of the language);
of the numbers from 100 on, a fixed pseudo-random 10 % (chosen by an integer hash of the number and
the task's seed, so the split is the same on every machine and needs no stored list) is held out.
Training batches only ever contain training numbers, so held-out *inputs* never appear in training
and exact match on them measures generalisation, not memorisation. Sampling picks the number of
digits uniformly first, so short numbers are not drowned by the 900 000 six-digit ones.

The second half of the module trains a :class:`~course_utils.transformer.EncoderDecoder` on the task:
:func:`train_translation_model` (teacher forcing, label smoothing, warm-up, through ``training.fit``),
:func:`exact_match` on held-out numbers, :func:`translate` (greedy or beam search) and
:func:`compare_layer_norms`. :mod:`course_utils.translation_inspection` looks inside the trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from course_utils.tokenization import Vocabulary
from course_utils.training import choose_device, evaluating, fit, on_device
from course_utils.transformer import (
    EncoderDecoder,
    TransformerConfig,
    beam_search,
    greedy_decode,
    label_smoothed_cross_entropy,
    linear_warmup_schedule,
)

__all__ = [
    "PAD",
    "BOS",
    "EOS",
    "number_to_words",
    "number_to_digits",
    "WORD_KINDS",
    "word_sources",
    "TranslationBatch",
    "NumberTranslationTask",
    "make_model",
    "translation_loss",
    "exact_match",
    "train_translation_model",
    "translate",
    "compare_layer_norms",
]

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIALS = (PAD, BOS, EOS)

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
MAX_VALUE = 999_999


def _check_number(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"expected a whole number, got {type(n).__name__} {n!r}")
    if not 0 <= n <= MAX_VALUE:
        raise ValueError(f"numbers must lie in 0..{MAX_VALUE}, got {n}")
    return int(n)


def _below_thousand(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
    if n > 0:
        words.append(_ONES[n])
    return words


def number_to_words(n: int) -> list[str]:
    """English words for ``n`` in 0..999 999 (e.g. 40712 → forty thousand seven hundred twelve)."""
    n = _check_number(n)
    if n == 0:
        return ["zero"]
    words = []
    if n >= 1000:
        words += _below_thousand(n // 1000) + ["thousand"]
    return words + _below_thousand(n % 1000)


WORD_KINDS = ("hundreds digit", "hundred", "tens", "teen", "ones", "thousand", "</s>")


def _group_sources(value: int, positions: list[int]) -> list[tuple[str, str, tuple[int, ...]]]:
    """Words of a group below 1000 whose digits sit at ``positions`` (hundreds, tens, ones; fewer if short)."""
    positions = [None] * (3 - len(positions)) + positions  # align to (hundreds, tens, ones)
    hundreds_at, tens_at, ones_at = positions
    out = []
    if value >= 100:
        out += [(_ONES[value // 100], "hundreds digit", (hundreds_at,)), ("hundred", "hundred", (hundreds_at,))]
    rest = value % 100
    if rest >= 20:
        out.append((_TENS[rest // 10], "tens", (tens_at,)))
        if rest % 10:
            out.append((_ONES[rest % 10], "ones", (ones_at,)))
    elif rest >= 10:
        out.append((_ONES[rest], "teen", (tens_at, ones_at)))
    elif rest > 0:
        out.append((_ONES[rest], "ones", (ones_at,)))
    return out


def word_sources(n: int) -> list[tuple[str, str, tuple[int, ...]]]:
    """For every word of ``n``'s translation, then ``</s>``: (word, kind, source positions it comes from).

    Source positions index the digits of ``n`` (0 = first digit; ``</s>`` is at len(digits)). A number
    word comes from its digit, a teen from its tens and ones digits, *hundred* from the hundreds digit,
    *thousand* from the boundary between the thousands group and the last three digits. Kinds are
    :data:`WORD_KINDS`.
    """
    n = _check_number(n)
    length = len(str(n))
    if n == 0:
        words = [("zero", "ones", (0,))]
    elif n < 1000:
        words = _group_sources(n, list(range(length)))
    else:
        words = _group_sources(n // 1000, list(range(length - 3)))
        words.append(("thousand", "thousand", (length - 4, length - 3)))
        words += _group_sources(n % 1000, list(range(length - 3, length)))
    return words + [(EOS, "</s>", (length,))]


def number_to_digits(n: int) -> list[str]:
    """The source sentence: one token per digit (e.g. 407 → ['4', '0', '7'])."""
    return list(str(_check_number(n)))


@dataclass
class TranslationBatch:
    """Padded id tensors for teacher forcing.

    ``source`` (B, S) ends with ``</s>``; ``target_in`` (B, T) starts with ``<s>`` and ``target_out``
    (B, T) is the same sentence shifted left (ending with ``</s>``): position t of the decoder reads
    ``target_in[:, :t+1]`` and must predict ``target_out[:, t]``. Padding is id 0 everywhere.
    """

    source: torch.Tensor
    target_in: torch.Tensor
    target_out: torch.Tensor
    numbers: list[int] = field(default_factory=list)

    def to(self, device: str | torch.device) -> TranslationBatch:
        return TranslationBatch(self.source.to(device), self.target_in.to(device), self.target_out.to(device),
                                self.numbers)

    def __len__(self) -> int:
        return self.source.shape[0]


def _mix(x: int) -> int:
    """SplitMix64 finaliser: a well-spread, platform-independent integer hash."""
    mask = (1 << 64) - 1
    x = (x + 0x9E3779B97F4A7C15) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


class NumberTranslationTask:
    """Vocabularies, the deterministic split, sampling and batching for digits → English words.

    Args:
        heldout_fraction: share of the numbers ≥ ``min_heldout`` that are held out, in (0, 1).
        min_heldout: numbers below this are always training data (default 100).
        seed: changes which numbers are held out (and nothing else).
    """

    def __init__(self, heldout_fraction: float = 0.1, *, min_heldout: int = 100, seed: int = 0) -> None:
        if not 0.0 < heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction must lie strictly between 0 and 1, got {heldout_fraction}")
        if not 0 <= min_heldout <= MAX_VALUE:
            raise ValueError(f"min_heldout must lie in 0..{MAX_VALUE}, got {min_heldout}")
        self.heldout_fraction = heldout_fraction
        self.min_heldout = min_heldout
        self.seed = seed
        # Equal counts → specials first, then alphabetical: a fixed, readable id order.
        self.source_vocab = Vocabulary({d: 1 for d in "0123456789"}, specials=SPECIALS)
        target_words = set(_ONES) | {w for w in _TENS if w} | {"hundred", "thousand"}
        self.target_vocab = Vocabulary({w: 1 for w in target_words}, specials=SPECIALS)
        self.pad_id, self.bos_id, self.eos_id = (self.target_vocab[s] for s in SPECIALS)
        self.max_source_len = len(str(MAX_VALUE)) + 1  # digits + </s>
        self.max_target_len = len(number_to_words(777_777)) + 2  # the longest: 9 words, plus <s> and </s>

    # -- the split -------------------------------------------------------------------------------
    def is_heldout(self, n: int) -> bool:
        """True when ``n`` belongs to the held-out split (never used for training)."""
        n = _check_number(n)
        if n < self.min_heldout:
            return False
        return _mix(n * 1_000_003 + self.seed) % 1_000_000 < self.heldout_fraction * 1_000_000

    def sample_numbers(self, count: int, split: str = "train", *, seed: int | None = 0) -> list[int]:
        """``count`` numbers from ``split`` ('train' or 'heldout'): digit count uniform, then value uniform.

        Repeats are possible (sampling with replacement), as with any stream of training sentences.
        """
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        rng = np.random.default_rng(seed)
        want_heldout = split == "heldout"
        shortest = len(str(self.min_heldout)) if want_heldout else 1
        numbers: list[int] = []
        while len(numbers) < count:
            digits = int(rng.integers(shortest, 7))
            low = 0 if digits == 1 else 10 ** (digits - 1)
            n = int(rng.integers(low, 10**digits))
            if self.is_heldout(n) == want_heldout:
                numbers.append(n)
        return numbers

    # -- encoding --------------------------------------------------------------------------------
    def encode_source(self, numbers: Sequence[int]) -> torch.Tensor:
        """(B, S) ids: digits then ``</s>``, right-padded with 0."""
        rows = [self.source_vocab.encode(number_to_digits(n), unknown="error") + [self.eos_id] for n in numbers]
        return _pad(rows, self.pad_id)

    def encode_target(self, numbers: Sequence[int]) -> torch.Tensor:
        """(B, T) ids: ``<s>`` words ``</s>``, right-padded with 0."""
        rows = [[self.bos_id] + self.target_vocab.encode(number_to_words(n), unknown="error") + [self.eos_id]
                for n in numbers]
        return _pad(rows, self.pad_id)

    def parse_source(self, text: str) -> list[int]:
        """Source ids (digits + ``</s>``) for a string of digits typed by a student, e.g. '40712'."""
        cleaned = text.replace(" ", "").replace(",", "").replace("_", "")
        if not cleaned.isdigit():
            raise ValueError(f"type a whole number in digits (e.g. 40712), got {text!r}")
        return self.encode_source([int(cleaned)])[0].tolist()

    def batch(self, numbers: Sequence[int]) -> TranslationBatch:
        """A teacher-forcing batch for ``numbers``."""
        numbers = [_check_number(n) for n in numbers]
        if not numbers:
            raise ValueError("cannot build a batch from no numbers")
        target = self.encode_target(numbers)
        return TranslationBatch(self.encode_source(numbers), target[:, :-1], target[:, 1:], numbers)

    def training_batches(self, n_batches: int, batch_size: int, *, seed: int = 0) -> list[TranslationBatch]:
        """``n_batches`` fresh batches of training numbers (deterministic for a seed)."""
        if n_batches < 1 or batch_size < 1:
            raise ValueError(f"n_batches and batch_size must be at least 1, got {n_batches} and {batch_size}")
        numbers = self.sample_numbers(n_batches * batch_size, "train", seed=seed)
        return [self.batch(numbers[i : i + batch_size]) for i in range(0, len(numbers), batch_size)]

    # -- decoding --------------------------------------------------------------------------------
    def decode_target(self, ids: Iterable[int]) -> str:
        """Words for target ids, skipping ``<s>``/padding and stopping at ``</s>``."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            words.append(self.target_vocab.word(i))
        return " ".join(words)

    def source_tokens(self, ids: Iterable[int]) -> list[str]:
        """Source tokens (digits and ``</s>``) without padding, for heatmap labels."""
        return [self.source_vocab.word(int(i)) for i in ids if int(i) != self.pad_id]


def _pad(rows: list[list[int]], pad_id: int) -> torch.Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


# --------------------------------------------------------------------------------------------------
# Training, evaluating and inspecting a Transformer on the task (notebook 06)
# --------------------------------------------------------------------------------------------------


def make_model(task: NumberTranslationTask, *, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
               d_ff: int | None = None, dropout: float = 0.0, norm_first: bool = True, seed: int = 0,
               ) -> EncoderDecoder:
    """A small encoder-decoder sized for the task (``n_layers`` encoder and decoder blocks each)."""
    config = TransformerConfig(
        src_vocab_size=len(task.source_vocab), tgt_vocab_size=len(task.target_vocab), d_model=d_model,
        n_heads=n_heads, d_ff=d_ff or 2 * d_model, n_encoder_layers=n_layers, n_decoder_layers=n_layers,
        dropout=dropout, norm_first=norm_first, max_len=max(task.max_source_len, task.max_target_len),
        pad_id=task.pad_id, bos_id=task.bos_id, eos_id=task.eos_id,
    )
    torch.manual_seed(seed)
    return EncoderDecoder(config)


def translation_loss(model: EncoderDecoder, batch: TranslationBatch, smoothing: float = 0.1) -> torch.Tensor:
    """Teacher forcing: the decoder reads ``<s> y1 … y(n-1)`` and is scored on ``y1 … yn </s>``."""
    logits = model(batch.source, batch.target_in).logits  # (B, T, V)
    return label_smoothed_cross_entropy(logits, batch.target_out, smoothing, ignore_index=model.config.pad_id)


@torch.no_grad()
def exact_match(model: EncoderDecoder, task: NumberTranslationTask, numbers: Sequence[int], *,
                batch_size: int = 512, device: str | torch.device | None = None) -> float:
    """Share of ``numbers`` whose greedy translation equals the reference word for word.

    ``device``: where to decode (None: :func:`course_utils.training.choose_device`); the model is moved
    back where it was afterwards."""
    if len(numbers) == 0:
        raise ValueError("exact_match needs at least one number")
    correct = 0
    with on_device(model, device) as target, evaluating(model):
        for start in range(0, len(numbers), batch_size):
            chunk = list(numbers[start : start + batch_size])
            decoded = greedy_decode(model, task.encode_source(chunk).to(target), max_len=task.max_target_len).cpu()
            correct += sum(task.decode_target(row) == " ".join(number_to_words(n)) for row, n in zip(decoded, chunk))
    return correct / len(numbers)


def train_translation_model(task: NumberTranslationTask, model: EncoderDecoder, *, steps: int = 500,
                            batch_size: int = 128, lr: float = 3e-3, warmup_steps: int = 100,
                            smoothing: float = 0.1, eval_numbers: Sequence[int] | None = None,
                            eval_every: int = 100, seed: int = 1, progress: bool = True,
                            on_step: Callable[[int, float], None] | None = None,
                            device: str | torch.device | None = None):
    """Adam (β2 = 0.98 as in the paper) with linear warm-up then linear decay, through ``training.fit``.

    Returns the :class:`~course_utils.training.TrainingHistory`; its evaluations are held-out exact
    match when ``eval_numbers`` is given. ``on_step(step, loss)`` runs after every step (for example to
    keep a copy of the weights part-way through training). ``device``: where to train and evaluate (None:
    :func:`course_utils.training.choose_device`); the model is moved back where it was afterwards.
    """

    batches = task.training_batches(steps, batch_size, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
    scheduler = linear_warmup_schedule(optimizer, min(warmup_steps, steps - 1), steps + 1)
    with on_device(model, device) as target:
        eval_fn = (lambda m: exact_match(m, task, eval_numbers, device=target)) if eval_numbers is not None else None
        return fit(model, batches, lambda m, b: translation_loss(m, b, smoothing), optimizer, scheduler=scheduler,
                   grad_clip=1.0, eval_fn=eval_fn, eval_every=eval_every if eval_fn else None, progress=progress,
                   desc="training the translator", on_step=on_step, device=target)


def translate(model: EncoderDecoder, task: NumberTranslationTask, text: str, *, beam_size: int = 1,
              n_best: int = 1, device: str | torch.device | None = None) -> list[tuple[str, float]]:
    """Translate digits typed as text; returns ``n_best`` (sentence, length-normalised log p) pairs
    (decoded on ``device``, as :func:`exact_match`)."""
    with on_device(model, device) as target, evaluating(model):
        source = torch.tensor([task.parse_source(text)], device=target)
        hypotheses = beam_search(model, source, beam_size=beam_size, n_best=n_best, max_len=task.max_target_len)
    return [(task.decode_target(h.tokens), h.score) for h in hypotheses]


def compare_layer_norms(task: NumberTranslationTask, *, steps: int = 160, batch_size: int = 64, lr: float = 1e-2,
                        warmup_steps: int = 60, d_model: int = 64, n_layers: int = 3, seed: int = 0,
                        progress: bool = True, pre_ln_warmup: bool = True,
                        device: str | torch.device | None = None) -> dict[str, list[float]]:
    """Train post-LN and pre-LN models, each with and without linear warm-up, on the same batches.

    Same initial weights per seed, same batches, Adam at a deliberately high peak ``lr``; returns the
    step losses of each run, keyed like "post-LN, no warm-up". ``pre_ln_warmup=False`` skips the pre-LN
    run with warm-up (the one a notebook needs least: pre-LN already trains without it). ``device``: where
    to train (None: :func:`course_utils.training.choose_device`); weights are drawn on the CPU.
    """
    target = choose_device(device)

    batches = task.training_batches(steps, batch_size, seed=seed + 1)
    curves = {}
    for norm_first in (False, True):
        for warm in (0, warmup_steps):
            if norm_first and warm and not pre_ln_warmup:
                continue
            model = make_model(task, d_model=d_model, n_layers=n_layers, norm_first=norm_first, seed=seed)
            optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
            scheduler = linear_warmup_schedule(optimizer, warm) if warm else None
            name = f"{'pre' if norm_first else 'post'}-LN, " + (f"{warm}-step warm-up" if warm else "no warm-up")
            history = fit(model, batches, translation_loss, optimizer, scheduler=scheduler, progress=progress,
                          desc=name, device=target)
            curves[name] = history.losses
    return curves

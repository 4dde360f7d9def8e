"""Small tasks and measurements that show attention at work (notebook 05).

* **Reversal with Bahdanau attention.** A random word sequence must be written backwards. An RNN
  encoder-decoder with additive attention (:mod:`course_utils.rnn_attention`) learns it in seconds, and
  its attention weights should put output step t on source position S-1-t: the alignment is learned,
  never given. :func:`alignment_accuracy` measures how often the largest weight sits there.
* **Repeat the previous word.** The target at position t is the input word at t-1. One causal
  self-attention layer and a linear read-out can solve it only if positions are part of the input
  (Vaswani et al., 2017, sect. 3.5): :class:`PreviousWordModel` with no, sinusoidal or learned positions.
* **The quadratic price.** :func:`best_seconds` times a call (the fastest of several repeats, the
  least disturbed by other programs); :func:`allocated_bytes` counts the bytes PyTorch allocates during
  a call (``torch.profiler`` with ``profile_memory=True``), so the T² memory of explicit attention is
  measured rather than derived from a tensor's size.

Shapes: B batch, T length, C width, V vocabulary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.attention import (
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    causal_mask,
)
from course_utils.rnn_attention import RNNEncoderDecoder
from course_utils.training import TrainingHistory, fit, on_device

__all__ = [
    "TASK_WORDS",
    "PAD_ID",
    "BOS_ID",
    "reversal_batch",
    "reversal_loss",
    "train_reverser",
    "reversal_accuracy",
    "alignment_accuracy",
    "previous_word_batch",
    "PreviousWordModel",
    "previous_word_loss",
    "previous_word_accuracy",
    "train_previous_word_model",
    "best_seconds",
    "allocated_bytes",
]

# A small vocabulary of content words; ids 0 and 1 are reserved for padding and <s> in the reversal task.
TASK_WORDS = ["the", "a", "dog", "cat", "bird", "sees", "chases", "likes", "big", "small",
              "red", "old", "park", "house", "tree", "runs", "sleeps", "and", "with", "near"]
PAD_ID, BOS_ID = 0, 1


def _check_batch_args(n: int, length: int) -> None:
    if n < 1 or length < 1:
        raise ValueError(f"n and length must be positive, got n={n}, length={length}")


# --------------------------------------------------------------------------------------------------
# Reversal with an RNN encoder-decoder and additive attention
# --------------------------------------------------------------------------------------------------


def reversal_batch(n: int, length: int, generator: torch.Generator, vocab_size: int = len(TASK_WORDS)
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` random sequences of ``length`` word ids (2..vocab_size+1; 0 = pad, 1 = <s>) and their reversal.

    Returns ``(source (n, L), target_in (n, L) = <s> + reversed[:-1], target_out (n, L) = reversed)``.
    """
    _check_batch_args(n, length)
    source = torch.randint(2, vocab_size + 2, (n, length), generator=generator)  # (n, L)
    return _teacher_inputs(source)


def reversal_loss(model: RNNEncoderDecoder, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Cross-entropy of the teacher-forced predictions against the reversed sequence."""
    source, target_in, target_out = batch
    logits = model(source, target_in).logits  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target_out.reshape(-1))


def train_reverser(*, steps: int = 300, batch_size: int = 64, length: int = 6, lr: float = 1e-2, seed: int = 0,
                   progress: bool = True, device: str | torch.device | None = None, **sizes: int,
                   ) -> tuple[RNNEncoderDecoder, TrainingHistory]:
    """Train a small :class:`RNNEncoderDecoder` (``sizes``: embedding_size, hidden_size, attention_size)
    to reverse random sequences of ``length`` words with Adam; returns the model (on the CPU) and its history.

    ``device``: where to train (None: :func:`course_utils.training.choose_device`). Weights and batches
    are drawn on the CPU from the seed, so every device starts from the same ones."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = RNNEncoderDecoder(len(TASK_WORDS) + 2, **sizes)
    batches = [reversal_batch(batch_size, length, generator) for _ in range(steps)]
    with on_device(model, device) as target:
        history = fit(model, batches, reversal_loss, torch.optim.Adam(model.parameters(), lr=lr), grad_clip=1.0,
                      progress=progress, desc="training the reverser", device=target)
    return model.eval(), history


@torch.no_grad()
def reversal_accuracy(model: RNNEncoderDecoder, source: Tensor, *, device: str | torch.device | None = None) -> float:
    """Share of ``source`` rows (B, L) whose greedy decoding is exactly the reversed row (run on ``device``;
    None: :func:`course_utils.training.choose_device`)."""
    with on_device(model, device) as target:
        source = source.to(target)
        decoded = model.greedy(source, source.shape[1]).logits.argmax(-1)  # (B, L)
        return float((decoded == source.flip(1)).all(1).float().mean())


@torch.no_grad()
def alignment_accuracy(model: RNNEncoderDecoder, source: Tensor, *, device: str | torch.device | None = None,
                       ) -> float:
    """Share of (sequence, output step t) whose largest attention weight (teacher forcing) falls on the
    source position the output word comes from, S-1-t (run on ``device``, as :func:`reversal_accuracy`)."""
    _, target_in, _ = _teacher_inputs(source)
    with on_device(model, device) as target:
        weights = model(source.to(target), target_in.to(target)).weights.cpu()  # (B, T, S)
    length = source.shape[1]
    mirrored = torch.arange(length - 1, -1, -1)  # output step t copies source position S-1-t
    return float((weights.argmax(-1) == mirrored).float().mean())


def _teacher_inputs(source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    reversed_ = source.flip(1)
    target_in = torch.cat([torch.full((source.shape[0], 1), BOS_ID), reversed_[:, :-1]], 1)
    return source, target_in, reversed_


# --------------------------------------------------------------------------------------------------
# Repeat the previous word: a task that needs positions
# --------------------------------------------------------------------------------------------------


def previous_word_batch(n: int, generator: torch.Generator, length: int = 12) -> tuple[Tensor, Tensor]:
    """``n`` random word sequences (n, length) over :data:`TASK_WORDS` and their targets: the target at
    t is the word at t-1 (position 0 has no previous word and is not scored)."""
    _check_batch_args(n, length)
    words = torch.randint(len(TASK_WORDS), (n, length), generator=generator)  # (n, T)
    return words, words.roll(1, dims=1)


class PreviousWordModel(nn.Module):
    """Embedding (+ positions) → one causal single-head self-attention layer → linear read-out.

    ``positions``: ``"none"``, ``"sinusoidal"`` (fixed table) or ``"learned"`` (one trained vector per place).
    """

    def __init__(self, positions: str, width: int = 32, max_len: int = 12) -> None:
        super().__init__()
        tables = {"none": lambda: nn.Identity(),
                  "sinusoidal": lambda: SinusoidalPositionalEncoding(width, max_len=max_len),
                  "learned": lambda: LearnedPositionalEmbedding(width, max_len=max_len)}
        if positions not in tables:
            raise ValueError(f"positions must be one of {sorted(tables)}, got {positions!r}")
        self.embedding = nn.Embedding(len(TASK_WORDS), width)
        self.positions = tables[positions]()
        self.attention = MultiHeadAttention(width, 1)
        self.readout = nn.Linear(width, len(TASK_WORDS))

    def forward(self, words: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, V) and, when ``need_weights``, the attention weights (B, 1, T, T)."""
        h = self.positions(self.embedding(words))  # (B, T, C)
        attended = self.attention(h, mask=causal_mask(words.shape[1], device=words.device), need_weights=need_weights)
        return self.readout(attended.output), attended.weights


def previous_word_loss(model: PreviousWordModel, batch: tuple[Tensor, Tensor]) -> Tensor:
    """Cross-entropy over positions 1..T-1 (position 0 has no previous word)."""
    words, targets = batch
    logits, _ = model(words)
    return F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), targets[:, 1:].reshape(-1))


@torch.no_grad()
def previous_word_accuracy(model: PreviousWordModel, words: Tensor, targets: Tensor, *,
                           device: str | torch.device | None = None) -> float:
    """Share of scored positions (1..T-1) where the most probable word is the previous word (run on
    ``device``; None: :func:`course_utils.training.choose_device`)."""
    with on_device(model, device) as target:
        logits, _ = model(words.to(target))
        return float((logits[:, 1:].argmax(-1) == targets[:, 1:].to(target)).float().mean())


def train_previous_word_model(positions: str, *, steps: int = 300, batch_size: int = 64, lr: float = 1e-2,
                              seed: int = 0, progress: bool = True, device: str | torch.device | None = None,
                              ) -> tuple[PreviousWordModel, TrainingHistory]:
    """Train a :class:`PreviousWordModel`; the same seed gives every kind of positions the same initial
    word embeddings and attention weights (created in the same order) and the same batches.

    ``device``: where to train (None: :func:`course_utils.training.choose_device`); the model comes back
    on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = PreviousWordModel(positions)
    batches = [previous_word_batch(batch_size, generator) for _ in range(steps)]
    with on_device(model, device) as target:
        history = fit(model, batches, previous_word_loss, torch.optim.Adam(model.parameters(), lr=lr),
                      progress=progress, desc=f"positions: {positions}", device=target)
    return model.eval(), history


# --------------------------------------------------------------------------------------------------
# Measuring time and memory
# --------------------------------------------------------------------------------------------------


def best_seconds(function: Callable, *args, repeats: int = 5) -> float:
    """The fastest of ``repeats`` calls of ``function(*args)``, in seconds."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def allocated_bytes(function: Callable, *args: Sequence) -> int:
    """Bytes that PyTorch allocates on the CPU while ``function(*args)`` runs (every allocation counted
    once, whether or not it is freed before the call returns), measured with ``torch.profiler``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        function(*args)
    return int(sum(max(event.self_cpu_memory_usage, 0) for event in profiler.events()))

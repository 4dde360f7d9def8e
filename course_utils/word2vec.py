"""word2vec: dense word vectors learned by predicting neighbours (skip-gram and CBOW).

Every word w has two vectors: an *input* vector v_w (a row of ``input_embeddings``) and an *output*
vector u_w (a row of ``output_embeddings``). Skip-gram predicts each context word o within ``window``
positions of a centre word c, CBOW predicts c from the mean h of its context's input vectors. Both
maximise the average log-probability of the true predictions, with

    p(o | c) = exp(u_o · v_c) / Σ_{w ∈ V} exp(u_w · v_c)          (full softmax: every step touches all V words)

Negative sampling replaces the softmax by logistic classification of the true pair against K noise
words drawn from the unigram distribution raised to 3/4:

    loss = −log σ(u_o · v_c) − Σ_{k=1..K} log σ(−u_{n_k} · v_c),     n_k ~ P(w) ∝ count(w)^0.75

Frequent words are subsampled: each occurrence of w is kept with probability
(sqrt(f(w)/t) + 1) · t / f(w) (f the relative frequency, t = ``sample``; the formula of the word2vec C
code), and word2vec draws, for every centre word, an effective window uniformly from 1..window, which
weights near neighbours more. Papers: Mikolov et al. 2013, "Efficient Estimation of Word
Representations in Vector Space" (arXiv:1301.3781) and "Distributed Representations of Words and
Phrases and their Compositionality" (NeurIPS 2013).

:func:`train_word2vec` is the fast trainer: vectorised pair generation with NumPy, large batches, and
hand-written SGD updates (gather rows, batched dot products, σ, scatter-add of the scaled gradients:
the update word2vec makes, without autograd's bookkeeping), optionally in several threads updating the
shared tables without locks ("Hogwild", as word2vec and gensim do). The modules :class:`SkipGram` and
:class:`CBOW` with their two losses are the readable, autograd version the notebook teaches with.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils.plotting import plot_projection
from course_utils.tokenization import Vocabulary, minibatches
from course_utils.training import fit, single_thread
from course_utils.vectors import WordVectors, evaluate_similarity

__all__ = [
    "Word2VecConfig",
    "Word2VecResult",
    "training_pairs",
    "cbow_examples",
    "pair_arrays",
    "context_arrays",
    "keep_probabilities",
    "subsample_mask",
    "noise_distribution",
    "NoiseSampler",
    "SkipGram",
    "CBOW",
    "full_softmax_loss",
    "negative_sampling_loss",
    "negative_sampling_gradients",
    "train_word2vec",
    "train_with_autograd",
    "time_training_step",
    "explore_word2vec",
]

ARCHITECTURES = ("skipgram", "cbow")


# ---------------------------------------------------------------------------------------------------
# Training data: pairs, subsampling, noise distribution
# ---------------------------------------------------------------------------------------------------


def _check_window(window: int) -> None:
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")


def training_pairs(
    tokens: Sequence[Hashable],
    window: int,
    *,
    reduced_window: bool = False,
    rng: np.random.Generator | None = None,
) -> list[tuple[Hashable, Hashable]]:
    """Skip-gram (centre, context) pairs of one sentence, centre by centre, contexts left to right.

    ``training_pairs("the quick brown".split(), 1)`` → ``[('the', 'quick'), ('quick', 'the'),
    ('quick', 'brown'), ('brown', 'quick')]``. With ``reduced_window`` every centre uses a window b drawn
    uniformly from 1..window (word2vec's trick: a neighbour at distance d is used with probability
    (window − d + 1) / window).
    """
    _check_window(window)
    if isinstance(tokens, str):
        raise TypeError("training_pairs expects a sequence of tokens, got a string; split it first")
    rng = rng if rng is not None else np.random.default_rng(0)
    pairs = []
    for i, centre in enumerate(tokens):
        b = int(rng.integers(1, window + 1)) if reduced_window else window
        for j in range(max(0, i - b), min(len(tokens), i + b + 1)):
            if j != i:
                pairs.append((centre, tokens[j]))
    return pairs


def cbow_examples(tokens: Sequence[Hashable], window: int) -> list[tuple[list[Hashable], Hashable]]:
    """CBOW examples of one sentence: (context words within ``window``, centre word) per position."""
    _check_window(window)
    if isinstance(tokens, str):
        raise TypeError("cbow_examples expects a sequence of tokens, got a string; split it first")
    examples = []
    for i, centre in enumerate(tokens):
        context = [tokens[j] for j in range(max(0, i - window), min(len(tokens), i + window + 1)) if j != i]
        if context:
            examples.append((context, centre))
    return examples


def _offsets_ok(sentence: np.ndarray, windows: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions i whose neighbour i+d (right) / i−d (left) is in the same sentence and within b_i."""
    same = sentence[:-d] == sentence[d:]
    right = np.nonzero(same & (windows[:-d] >= d))[0]
    left = np.nonzero(same & (windows[d:] >= d))[0] + d
    return right, left


def pair_arrays(
    ids: np.ndarray,
    sentence: np.ndarray,
    window: int,
    *,
    reduced_window: bool = True,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All skip-gram pairs of a flat corpus at once: ``(centres, contexts)`` as two id arrays.

    ``ids`` holds the word ids of all sentences one after another, ``sentence`` the sentence number of
    each position (pairs never cross a sentence boundary). Same pairs as :func:`training_pairs` applied
    sentence by sentence, grouped by offset instead of by centre; vectorised over the corpus.
    """
    _check_window(window)
    ids, sentence = np.asarray(ids), np.asarray(sentence)
    if ids.shape != sentence.shape or ids.ndim != 1:
        raise ValueError(f"ids {ids.shape} and sentence {sentence.shape} must be 1-D arrays of equal length")
    rng = rng if rng is not None else np.random.default_rng(0)
    n = len(ids)
    windows = rng.integers(1, window + 1, n) if reduced_window else np.full(n, window)
    centres, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        right, left = _offsets_ok(sentence, windows, d)
        centres += [ids[right], ids[left]]
        contexts += [ids[right + d], ids[left - d]]
    if not centres:
        return np.zeros(0, dtype=ids.dtype), np.zeros(0, dtype=ids.dtype)
    return np.concatenate(centres), np.concatenate(contexts)


def context_arrays(
    ids: np.ndarray,
    sentence: np.ndarray,
    window: int,
    *,
    reduced_window: bool = True,
    rng: np.random.Generator | None = None,
    pad: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """CBOW examples of a flat corpus: ``(contexts (N, 2·window) padded with ``pad``, centres (N,))``.

    Column 2(d−1) holds the neighbour at distance d on the left, 2(d−1)+1 the one on the right.
    Positions with no context word (one-word sentences) are dropped.
    """
    _check_window(window)
    ids, sentence = np.asarray(ids), np.asarray(sentence)
    if ids.shape != sentence.shape or ids.ndim != 1:
        raise ValueError(f"ids {ids.shape} and sentence {sentence.shape} must be 1-D arrays of equal length")
    rng = rng if rng is not None else np.random.default_rng(0)
    n = len(ids)
    windows = rng.integers(1, window + 1, n) if reduced_window else np.full(n, window)
    contexts = np.full((n, 2 * window), pad, dtype=ids.dtype)
    for d in range(1, min(window, n - 1) + 1):
        right, left = _offsets_ok(sentence, windows, d)
        contexts[left, 2 * (d - 1)] = ids[left - d]
        contexts[right, 2 * (d - 1) + 1] = ids[right + d]
    keep = (contexts != pad).any(axis=1)
    return contexts[keep], ids[keep]


def keep_probabilities(counts, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of every word: min(1, (sqrt(f/t) + 1) · t / f).

    ``counts`` are corpus counts, f = count / total and t = ``sample`` (0 keeps everything). Words with
    f ≤ t are always kept; "the", with f ≈ 5 %, is kept about 16 % of the time when t = 1e-3.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0 or not math.isfinite(sample):
        raise ValueError(f"sample must be a non-negative number, got {sample}")
    if counts.ndim != 1 or len(counts) == 0 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative counts with a positive total")
    if sample == 0:
        return np.ones_like(counts)
    frequency = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(frequency / sample) + 1) * sample / frequency
    return np.where(frequency > 0, np.minimum(keep, 1.0), 1.0)


def subsample_mask(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask over corpus positions: True where the word survives subsampling."""
    ids = np.asarray(ids)
    return rng.random(len(ids)) < keep[ids]


def noise_distribution(counts, power: float = 0.75) -> np.ndarray:
    """P(w) ∝ count(w)^power, the distribution negative samples are drawn from (word2vec: 0.75)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) == 0 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative counts with a positive total")
    if not math.isfinite(power) or power < 0:
        raise ValueError(f"power must be a non-negative number, got {power}")
    weights = np.where(counts > 0, counts**power, 0.0)
    return weights / weights.sum()


class NoiseSampler:
    """Draws noise word ids from a distribution with a look-up table, as word2vec does.

    A table of ``table_size`` ids where word w fills about P(w) · table_size cells (at least one when
    P(w) > 0); a uniform random cell is a sample. Fast (one random integer and one look-up per sample),
    exact up to the rounding of the cell counts.
    """

    def __init__(self, probabilities, *, table_size: int = 2_000_000) -> None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 1 or len(probabilities) == 0 or (probabilities < 0).any():
            raise ValueError("probabilities must be a non-empty 1-D array of non-negative numbers")
        if not np.isclose(probabilities.sum(), 1.0, atol=1e-6):
            raise ValueError(f"probabilities must sum to 1, got {probabilities.sum():.6f}")
        cells = np.round(probabilities * table_size).astype(np.int64)
        cells[(probabilities > 0) & (cells == 0)] = 1
        self.probabilities = probabilities
        self.table = torch.from_numpy(np.repeat(np.arange(len(probabilities)), cells))

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise ids of the given shape (int64)."""
        cells = torch.randint(len(self.table), (math.prod(shape),), generator=generator)
        return self.table.index_select(0, cells).view(shape)


# ---------------------------------------------------------------------------------------------------
# The models and their two objectives (autograd version)
# ---------------------------------------------------------------------------------------------------


def _init_tables(input_embeddings: nn.Embedding, output_embeddings: nn.Embedding) -> None:
    # word2vec: input vectors uniform in ±0.5/D, output vectors zero (so the first scores are all 0)
    dim = input_embeddings.embedding_dim
    nn.init.uniform_(input_embeddings.weight, -0.5 / dim, 0.5 / dim)
    nn.init.zeros_(output_embeddings.weight)


def _check_sizes(vocab_size: int, dim: int) -> None:
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")


class SkipGram(nn.Module):
    """Skip-gram: the centre word's input vector v_c scores every output vector u_o by u_o · v_c."""

    def __init__(self, vocab_size: int, dim: int, *, sparse: bool = False) -> None:
        super().__init__()
        _check_sizes(vocab_size, dim)
        # sparse=True: a look-up's gradient touches only the rows looked up (use torch.optim.SGD/SparseAdam)
        self.input_embeddings = nn.Embedding(vocab_size, dim, sparse=sparse)  # v_w: the word vectors we keep
        self.output_embeddings = nn.Embedding(vocab_size, dim, sparse=sparse)  # u_w: used only to predict
        _init_tables(self.input_embeddings, self.output_embeddings)

    def hidden(self, centres: torch.Tensor) -> torch.Tensor:
        """The vectors that predict: v_c, shape (B, D)."""
        return self.input_embeddings(centres)

    def forward(self, centres: torch.Tensor) -> torch.Tensor:
        """Full-softmax logits u_w · v_c for every word w: (B,) → (B, V)."""
        return self.hidden(centres) @ self.output_embeddings.weight.T

    def full_softmax_loss(self, centres: torch.Tensor, contexts: torch.Tensor) -> torch.Tensor:
        """Mean −log p(o | c) with the softmax over the whole vocabulary."""
        return full_softmax_loss(self(centres), contexts)

    def negative_sampling_loss(self, centres: torch.Tensor, contexts: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Mean negative-sampling loss of (centre, context) pairs against ``negatives`` (B, K)."""
        return negative_sampling_loss(
            self.hidden(centres), self.output_embeddings(contexts), self.output_embeddings(negatives)
        )


class CBOW(nn.Module):
    """Continuous bag of words: the mean h of the context's input vectors predicts the centre word."""

    def __init__(self, vocab_size: int, dim: int, *, sparse: bool = False) -> None:
        super().__init__()
        _check_sizes(vocab_size, dim)
        self.input_embeddings = nn.Embedding(vocab_size, dim, sparse=sparse)
        self.output_embeddings = nn.Embedding(vocab_size, dim, sparse=sparse)
        _init_tables(self.input_embeddings, self.output_embeddings)

    def hidden(self, contexts: torch.Tensor) -> torch.Tensor:
        """h = mean of the input vectors of the context ids, (B, C) → (B, D); negative ids are padding."""
        if contexts.dim() != 2:
            raise ValueError(f"contexts must be (batch, context size), got shape {tuple(contexts.shape)}")
        mask = contexts >= 0  # (B, C)
        if not mask.any(dim=1).all():
            raise ValueError("every CBOW example needs at least one context word")
        vectors = self.input_embeddings(contexts.clamp(min=0)) * mask.unsqueeze(-1)  # (B, C, D)
        return vectors.sum(1) / mask.sum(1, keepdim=True)

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:
        """Full-softmax logits u_w · h for every word w: (B, C) → (B, V)."""
        return self.hidden(contexts) @ self.output_embeddings.weight.T

    def full_softmax_loss(self, contexts: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """Mean −log p(c | context) with the softmax over the whole vocabulary."""
        return full_softmax_loss(self(contexts), centres)

    def negative_sampling_loss(self, contexts: torch.Tensor, centres: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Mean negative-sampling loss of (context, centre) examples against ``negatives`` (B, K)."""
        return negative_sampling_loss(
            self.hidden(contexts), self.output_embeddings(centres), self.output_embeddings(negatives)
        )


def full_softmax_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −log softmax(logits)[target]: logits (B, V), targets (B,)."""
    if logits.dim() != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"logits must be (B, V) and targets (B,), got {tuple(logits.shape)} and {tuple(targets.shape)}")
    return F.cross_entropy(logits, targets)


def negative_sampling_loss(hidden: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −log σ(u_o · h) − Σ_k log σ(−u_k · h).

    Shapes: ``hidden`` (B, D) the predicting vectors, ``positive`` (B, D) the true words' output vectors,
    ``negative`` (B, K, D) the noise words' output vectors. log σ is computed stably (``F.logsigmoid``).
    """
    if hidden.dim() != 2 or positive.shape != hidden.shape:
        raise ValueError(f"hidden and positive must both be (B, D), got {tuple(hidden.shape)} and {tuple(positive.shape)}")
    if negative.dim() != 3 or negative.shape[0] != hidden.shape[0] or negative.shape[2] != hidden.shape[1]:
        raise ValueError(f"negative must be (B, K, D) = ({hidden.shape[0]}, K, {hidden.shape[1]}), got {tuple(negative.shape)}")
    positive_score = (positive * hidden).sum(-1)  # (B,)
    negative_scores = torch.bmm(negative, hidden.unsqueeze(-1)).squeeze(-1)  # (B, K)
    return -(F.logsigmoid(positive_score) + F.logsigmoid(-negative_scores).sum(-1)).mean()


def negative_sampling_gradients(
    hidden: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The per-example loss and its gradients by hand: ``(loss (B,), d/dh, d/du_o, d/du_k)``.

    With s_o = u_o · h and s_k = u_k · h:  ∂loss/∂h = (σ(s_o) − 1) u_o + Σ_k σ(s_k) u_k,
    ∂loss/∂u_o = (σ(s_o) − 1) h,  ∂loss/∂u_k = σ(s_k) h. These are the updates word2vec applies
    (times −learning rate); summed, not averaged, over the batch.
    """
    positive_score = (positive * hidden).sum(-1, keepdim=True)  # (B, 1)
    negative_scores = torch.bmm(negative, hidden.unsqueeze(-1)).squeeze(-1)  # (B, K)
    loss = -(F.logsigmoid(positive_score).squeeze(-1) + F.logsigmoid(-negative_scores).sum(-1))
    positive_error = torch.sigmoid(positive_score) - 1  # (B, 1)
    negative_error = torch.sigmoid(negative_scores)  # (B, K)
    grad_hidden = positive_error * positive + torch.bmm(negative_error.unsqueeze(1), negative).squeeze(1)
    grad_positive = positive_error * hidden
    grad_negative = negative_error.unsqueeze(-1) * hidden.unsqueeze(1)  # (B, K, D)
    return loss, grad_hidden, grad_positive, grad_negative


# ---------------------------------------------------------------------------------------------------
# The fast trainer
# ---------------------------------------------------------------------------------------------------


@dataclass
class Word2VecConfig:
    """Hyperparameters of :func:`train_word2vec` (defaults: word2vec's / gensim's)."""

    architecture: str = "skipgram"  # "skipgram" (centre predicts each context word) or "cbow" (context mean predicts centre)
    dim: int = 100  # D, the length of every word vector
    window: int = 5  # largest distance between centre and context word
    reduced_window: bool = True  # draw each centre's window uniformly from 1..window (word2vec does)
    negatives: int = 5  # K noise words per true example
    min_count: int = 5  # words rarer than this are dropped before training
    sample: float = 1e-3  # subsampling threshold t; 0 keeps every occurrence
    epochs: int = 5  # passes over the corpus
    lr: float | None = None  # starting learning rate; None → 0.025 (skip-gram) or 0.05 (CBOW), as word2vec
    min_lr_fraction: float = 1e-4  # the rate decays linearly to lr · min_lr_fraction at the end
    noise_power: float = 0.75  # exponent of the unigram noise distribution
    batch_size: int = 1024  # examples per update; larger is faster per word but staler
    workers: int = 1  # threads updating the shared tables without locks (Hogwild)
    max_vocab: int | None = None  # keep only the most frequent words (None: all passing min_count)
    seed: int = 0  # seeds subsampling, windows, shuffling, noise and initialisation

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        for name in ("dim", "window", "negatives", "min_count", "epochs", "batch_size", "workers"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.sample) and self.sample >= 0):
            raise ValueError(f"sample must be a non-negative number, got {self.sample}")
        if not 0 < self.min_lr_fraction <= 1:
            raise ValueError(f"min_lr_fraction must be in (0, 1], got {self.min_lr_fraction}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ValueError(f"max_vocab must be positive, got {self.max_vocab}")

    @property
    def start_lr(self) -> float:
        """The learning rate at the first step."""
        if self.lr is not None:
            return self.lr
        return 0.025 if self.architecture == "skipgram" else 0.05


@dataclass
class Word2VecResult:
    """What :func:`train_word2vec` produced and measured."""

    vectors: WordVectors  # the input vectors v_w, one per vocabulary word
    model: SkipGram | CBOW  # both tables, as a PyTorch module
    vocab: Vocabulary  # ids ↔ words, with corpus counts
    config: Word2VecConfig
    losses: list[float] = field(default_factory=list)  # mean loss of every update
    seconds: float = 0.0  # training wall time (after the vocabulary is built)
    words_per_second: float = 0.0  # in-vocabulary corpus words × epochs / seconds
    examples: int = 0  # (centre, context) pairs or CBOW examples trained on, all epochs


def _encode_corpus(sentences: Sequence[Sequence[str]], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    ids, sentence = [], []
    for number, tokens in enumerate(sentences):
        encoded = np.asarray(vocab.encode(tokens), dtype=np.int64)
        ids.append(encoded)
        sentence.append(np.full(len(encoded), number, dtype=np.int64))
    return np.concatenate(ids), np.concatenate(sentence)


def _update(
    input_table: torch.Tensor,
    output_table: torch.Tensor,
    hidden_rows: torch.Tensor,
    targets: torch.Tensor,
    lr: float,
) -> float:
    """One SGD step of negative sampling on a batch; returns the batch's mean loss.

    ``hidden_rows`` (B,) input-table ids (skip-gram) or (B, C) context ids with −1 padding (CBOW);
    ``targets`` (B, 1 + K): the true word, then the noise words.
    """
    batch, width = targets.shape
    dim = input_table.shape[1]
    if hidden_rows.dim() == 1:
        hidden = input_table.index_select(0, hidden_rows)  # (B, D)
    else:
        mask = hidden_rows >= 0  # (B, C)
        rows = hidden_rows[mask]
        vectors = input_table.index_select(0, rows)  # (valid, D)
        counts = mask.sum(1)  # (B,)
        example = torch.repeat_interleave(torch.arange(batch), counts)  # (valid,)
        hidden = torch.zeros(batch, dim).index_add_(0, example, vectors).div_(counts.unsqueeze(1))
    outputs = output_table.index_select(0, targets.reshape(-1)).view(batch, width, dim)  # (B, 1+K, D)
    scores = torch.bmm(hidden.unsqueeze(1), outputs.transpose(1, 2)).squeeze(1)  # (B, 1+K)
    # loss = −log σ(s_0) − Σ log σ(−s_k); its gradient w.r.t. s is σ(s) − label
    signs = torch.ones(width)
    signs[0] = -1.0
    loss = -F.logsigmoid(-scores * signs).sum(1).mean()
    error = torch.sigmoid(scores)
    error[:, 0] -= 1.0
    error.mul_(-lr)  # (B, 1+K): −lr · ∂loss/∂s
    hidden_step = torch.bmm(error.unsqueeze(1), outputs).squeeze(1)  # (B, D)
    output_step = error.unsqueeze(-1) * hidden.unsqueeze(1)  # (B, 1+K, D)
    output_table.index_add_(0, targets.reshape(-1), output_step.view(-1, dim))
    if hidden_rows.dim() == 1:
        input_table.index_add_(0, hidden_rows, hidden_step)
    else:  # word2vec adds h's full step to every context word
        input_table.index_add_(0, rows, hidden_step.index_select(0, example))
    return float(loss)


def _shards(sentence: np.ndarray, parts: int) -> list[slice]:
    """Split corpus positions into ``parts`` contiguous slices of about equal size, at sentence starts."""
    starts = np.flatnonzero(np.r_[True, sentence[1:] != sentence[:-1]])  # first position of each sentence
    cuts = [0]
    for part in range(1, parts):
        first = np.searchsorted(starts, part * len(sentence) / parts)  # first sentence starting past the mark
        cuts.append(max(cuts[-1], int(starts[first]) if first < len(starts) else len(sentence)))
    cuts.append(len(sentence))
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]


def train_word2vec(
    sentences: Sequence[Sequence[str]],
    config: Word2VecConfig | None = None,
    *,
    progress: bool = True,
    on_epoch: Callable[[int, WordVectors], None] | None = None,
) -> Word2VecResult:
    """Train skip-gram or CBOW with negative sampling on tokenised ``sentences``; fast, no autograd.

    Each epoch: subsample frequent words, build all examples with :func:`pair_arrays` /
    :func:`context_arrays`, shuffle them, draw K noise words per example, and apply SGD updates batch
    by batch with the learning rate decaying linearly from ``config.start_lr`` towards zero. With
    ``workers`` > 1 the corpus is cut into that many shards (at sentence boundaries) and one thread per
    shard prepares and trains on it, all updating the shared tables without locks (Hogwild, as word2vec
    does); PyTorch releases Python's lock inside its kernels, so the threads run in parallel.
    ``on_epoch(epoch, vectors)`` is called after every epoch (to follow quality as training goes).

    Raises ValueError for an empty corpus or one whose vocabulary ``min_count`` empties.
    """
    from tqdm.auto import tqdm

    config = config if config is not None else Word2VecConfig()
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError("sentences must be a sequence of tokenised sentences (lists of words)")
    vocab = Vocabulary.from_corpus(sentences, min_count=config.min_count, max_size=config.max_vocab)
    start = time.perf_counter()
    model_class = SkipGram if config.architecture == "skipgram" else CBOW
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = model_class(len(vocab), config.dim)
    input_table = model.input_embeddings.weight.data
    output_table = model.output_embeddings.weight.data
    ids, sentence = _encode_corpus(sentences, vocab)
    if len(ids) < 2:
        raise ValueError("the corpus has fewer than two in-vocabulary words; nothing to predict")
    keep = keep_probabilities(vocab.counts, config.sample)
    sampler = NoiseSampler(noise_distribution(vocab.counts, config.noise_power))
    losses: list[float] = []
    examples = [0] * config.workers
    errors: list[BaseException] = []
    shards = _shards(sentence, config.workers)

    def work(worker: int, epoch: int) -> None:
        """Prepare this worker's shard of the corpus for one epoch, then train on it batch by batch."""
        try:
            rng = np.random.default_rng([config.seed, epoch, worker])
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch * 1009 + worker)
            ids_w, sentence_w = ids[shards[worker]], sentence[shards[worker]]
            kept = subsample_mask(ids_w, keep, rng)
            make = pair_arrays if config.architecture == "skipgram" else context_arrays
            hidden_rows, true_words = make(ids_w[kept], sentence_w[kept], config.window,
                                           reduced_window=config.reduced_window, rng=rng)
            order = torch.from_numpy(rng.permutation(len(true_words)))
            hidden_rows = torch.from_numpy(hidden_rows)[order]
            targets = torch.cat([torch.from_numpy(true_words)[order].unsqueeze(1),
                                 sampler.sample((len(order), config.negatives), generator)], dim=1)  # (N, 1+K)
            n_batches = math.ceil(len(order) / config.batch_size)
            examples[worker] += len(order)
            for b in range(n_batches):
                done = (epoch + b / n_batches) / config.epochs
                lr = config.start_lr * max(config.min_lr_fraction, 1.0 - done)
                rows = slice(b * config.batch_size, (b + 1) * config.batch_size)
                losses.append(_update(input_table, output_table, hidden_rows[rows], targets[rows], lr))
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)

    # Each worker runs single-threaded kernels: the batches are too small for intra-op threads to pay
    # off, and on a busy machine their synchronisation costs more than the work (measured: 10×).
    bar = tqdm(total=config.epochs, desc=f"word2vec {config.architecture}", disable=not progress, leave=False)
    with single_thread():
        try:
            for epoch in range(config.epochs):
                seen = len(losses)
                if config.workers == 1:
                    work(0, epoch)
                else:
                    threads = [threading.Thread(target=work, args=(w, epoch)) for w in range(config.workers)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                if errors:
                    raise errors[0]
                epoch_losses = losses[seen:]
                if not all(math.isfinite(x) for x in epoch_losses):
                    raise FloatingPointError(f"the loss became NaN or infinite in epoch {epoch + 1}; lower lr")
                bar.update(1)
                if epoch_losses:
                    bar.set_postfix(loss=f"{np.mean(epoch_losses):.3f}")
                if on_epoch is not None:
                    on_epoch(epoch, WordVectors(vocab.words, input_table.clone()))
        finally:
            bar.close()
    examples = sum(examples)
    seconds = time.perf_counter() - start
    if examples == 0:
        raise ValueError("no training examples: every sentence is shorter than two in-vocabulary words")
    vectors = WordVectors(vocab.words, input_table.clone())
    return Word2VecResult(vectors, model, vocab, config, losses, seconds, len(ids) * config.epochs / seconds, examples)


# ---------------------------------------------------------------------------------------------------
# The slow, readable path: autograd and the generic training loop
# ---------------------------------------------------------------------------------------------------


def train_with_autograd(
    model: SkipGram | CBOW,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    objective: str = "negative",
    noise: NoiseSampler | None = None,
    negatives: int = 5,
    epochs: int = 1,
    batch_size: int = 256,
    lr: float = 0.01,
    seed: int = 0,
    progress: bool = False,
):
    """Train ``model`` with autograd and :func:`course_utils.training.fit` (Adam); return its history.

    ``inputs``/``targets`` are centres/contexts (skip-gram) or context rows/centres (CBOW).
    ``objective`` is ``"softmax"`` (full softmax) or ``"negative"`` (needs ``noise``).
    """

    if objective not in ("softmax", "negative"):
        raise ValueError(f"objective must be 'softmax' or 'negative', got {objective!r}")
    if objective == "negative" and noise is None:
        raise ValueError("negative sampling needs a NoiseSampler (noise=...)")
    if negatives < 1:
        raise ValueError(f"negatives must be positive, got {negatives}")
    if len(inputs) != len(targets) or len(inputs) == 0:
        raise ValueError(f"inputs ({len(inputs)}) and targets ({len(targets)}) must be non-empty and of equal length")
    generator = torch.Generator().manual_seed(seed)

    def batches():
        return [(inputs[i], targets[i]) for i in map(torch.from_numpy, minibatches(len(inputs), batch_size, seed=seed))]

    def loss_fn(module, batch):
        x, y = batch
        if objective == "softmax":
            return module.full_softmax_loss(x, y)
        return module.negative_sampling_loss(x, y, noise.sample((len(y), negatives), generator))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return fit(model, batches, loss_fn, optimizer, epochs=epochs, progress=progress, desc=f"{objective} objective")


def time_training_step(
    vocab_size: int,
    *,
    objective: str,
    dim: int = 100,
    batch_size: int = 256,
    negatives: int = 5,
    repeats: int = 5,
    seed: int = 0,
) -> float:
    """Median seconds of one autograd training step (forward, backward, SGD) of a skip-gram model, on one core.

    Random ids stand in for data: the cost depends only on the sizes. The embeddings have sparse
    gradients, so a step updates only the rows it used: the full softmax's step grows with
    ``vocab_size`` (it scores, and updates, all V output vectors); negative sampling's touches only
    1 + K output rows per example.
    """
    if objective not in ("softmax", "negative"):
        raise ValueError(f"objective must be 'softmax' or 'negative', got {objective!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be positive, got {repeats}")
    generator = torch.Generator().manual_seed(seed)
    model = SkipGram(vocab_size, dim, sparse=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    noise = NoiseSampler(np.full(vocab_size, 1.0 / vocab_size), table_size=max(vocab_size, 10_000))
    times = []
    with single_thread():  # one core: the cost of the work itself, not of thread scheduling
        for _ in range(repeats + 1):  # the first step warms up
            centres = torch.randint(vocab_size, (batch_size,), generator=generator)
            contexts = torch.randint(vocab_size, (batch_size,), generator=generator)
            begin = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            if objective == "softmax":
                loss = model.full_softmax_loss(centres, contexts)
            else:
                noise_ids = noise.sample((batch_size, negatives), generator)
                loss = model.negative_sampling_loss(centres, contexts, noise_ids)
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - begin)
    return float(np.median(times[1:]))


# ---------------------------------------------------------------------------------------------------
# The notebook's widget
# ---------------------------------------------------------------------------------------------------


def explore_word2vec(
    sentences: Sequence[Sequence[str]],
    *,
    architecture: str = "skipgram",
    dim: int = 50,
    window: int = 5,
    negatives: int = 5,
    epochs: int = 2,
    lr: float | None = None,
    probes: Sequence[str] = (),
    groups: dict[str, Sequence[str]] | None = None,
    similarity_sets: dict[str, Sequence[tuple[str, str, float]]] | None = None,
) -> Word2VecResult:
    """Train a small model with these settings, print its scores and neighbours, plot a PCA of ``groups``.

    The function behind notebook 03's "try it yourself" panel; returns the training result.
    """
    import matplotlib.pyplot as plt


    config = Word2VecConfig(architecture=architecture, dim=dim, window=window, negatives=negatives, epochs=epochs,
                            lr=lr)
    result = train_word2vec(sentences, config, progress=False)
    vectors = result.vectors
    print(f"{architecture}, D={dim}, window={window}, K={negatives}, {epochs} epochs: "
          f"{result.seconds:.1f} s ({result.words_per_second:,.0f} words/s)")
    for name, pairs in (similarity_sets or {}).items():
        print(f"  {name}: {evaluate_similarity(vectors, pairs)}")
    for word in probes:
        if word in vectors:
            print(f"  {word:>10} → " + ", ".join(w for w, _ in vectors.most_similar(word, topn=6)))
    words = [(w, g) for g, members in (groups or {}).items() for w in members if w in vectors]
    if len(words) >= 3:
        _, ax = plt.subplots(figsize=(6, 4.5))
        plot_projection(vectors.subset([w for w, _ in words]).matrix, [w for w, _ in words],
                        groups=[g for _, g in words], method="pca", ax=ax,
                        title=f"PCA of {architecture} vectors (D={dim}, window={window})")
    return result

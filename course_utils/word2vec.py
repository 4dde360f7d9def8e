"""word2vec: dense word vectors learned by predicting neighbours (skip-gram and CBOW).

Every word w has two vectors: an *input* vector v_w (a row of ``input_embeddings``) and an *output*
vector u_w (a row of ``output_embeddings``). Skip-gram predicts each context word o within ``window``
positions of a centre word c, CBOW predicts c from the mean h of its context's input vectors. Both
maximise the average log-probability of the true predictions, with

    p(o | c) = exp(u_o · v_c) / Σ_{w ∈ V} exp(u_w · v_c)          (full softmax: every step touches all V words)

Negative sampling replaces the softmax by logistic classification of the true pair against K noise
words drawn from the unigram distribution raised to 3/4:

    loss = −log σ(u_o · v_c) − Σ_{k=1..K} log σ(−u_{n_k} · v_c),     n_k ~ P(w) ∝ count(w)^0.75

Frequent words are subsampled and the windows randomly shortened (:mod:`course_utils.word2vec_data`).
Papers: Mikolov et al. 2013, "Efficient Estimation of Word Representations in Vector Space"
(arXiv:1301.3781) and "Distributed Representations of Words and Phrases and their Compositionality".

:class:`SkipGram` and :class:`CBOW` with their two losses are the readable, autograd version (train them with
:func:`course_utils.training.fit`). :func:`train_word2vec` is the fast trainer: the same SGD updates,
written by hand on both tables at once (one gather, two batched matrix products, one scatter-add per
batch, into reused buffers), optionally in several threads updating the shared tables without locks
("Hogwild", as word2vec and gensim do).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils.tokenization import Vocabulary, minibatches
from course_utils.training import choose_device, fit, on_device, single_thread
from course_utils.vectors import WordVectors
from course_utils.word2vec_data import (
    NoiseSampler,
    cbow_examples,
    context_arrays,
    keep_probabilities,
    noise_distribution,
    pair_arrays,
    subsample_mask,
    training_pairs,
)

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
    "epoch_examples",
    "sgd_negative_sampling",
    "train_word2vec",
    "train_many",
    "train_with_autograd",
]

ARCHITECTURES = ("skipgram", "cbow")


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


def epoch_examples(
    ids: np.ndarray,
    sentence: np.ndarray,
    config: Word2VecConfig,
    *,
    keep: np.ndarray,
    sampler: NoiseSampler,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch's training examples of a flat corpus, shuffled: ``(inputs (N, C), targets (N, 1 + K))``.

    Subsamples frequent words (``keep``), builds skip-gram pairs (C = 1: the centre) or CBOW examples
    (C = 2·window context ids, −1 padding), shuffles them and draws K noise words per example:
    ``targets[:, 0]`` is the word to predict, ``targets[:, 1:]`` the noise words.
    """
    block, width = _example_block(ids, sentence, config, keep, sampler, rng)
    return block[:, :width], block[:, width:]


def _example_block(ids, sentence, config, keep, sampler, rng) -> tuple[torch.Tensor, int]:
    """:func:`epoch_examples` as one (N, C + 1 + K) int64 block, and C."""
    kept = subsample_mask(ids, keep, rng)
    if config.architecture == "skipgram":
        inputs, true_words = pair_arrays(ids[kept], sentence[kept], config.window,
                                         reduced_window=config.reduced_window, rng=rng)
        inputs = inputs[:, None]
    else:
        inputs, true_words = context_arrays(ids[kept], sentence[kept], config.window,
                                            reduced_window=config.reduced_window, rng=rng)
    n, width = len(true_words), inputs.shape[1]
    order = rng.permutation(n)
    block = torch.empty(n, width + 1 + config.negatives, dtype=torch.int64)
    array = block.numpy()  # shares memory: NumPy fills the block without a copy
    # fancy indexing, then one strided copy: measured 4× faster than np.take(..., out=strided column)
    array[:, :width] = inputs[order] if width > 1 else inputs[order, 0, None]
    array[:, width] = true_words[order]
    array[:, width + 1:] = sampler.sample_array((n, config.negatives), rng)
    return block, width


class _FusedTables:
    """Both embedding tables of a model in one (2V + 1, D) tensor, so one gather and one scatter-add
    serve a whole batch. Rows 0..V−1 are the input vectors, V..2V−1 the output vectors, the last row
    stays zero (CBOW's padding: it is read as a zero vector and only ever receives zero updates). The
    model's two weights become views of it, so the model sees every update."""

    def __init__(self, model: SkipGram | CBOW) -> None:
        vocab_size, dim = model.input_embeddings.weight.shape
        self.vocab_size = vocab_size
        weight = model.input_embeddings.weight.detach()
        self.table = torch.cat([weight, model.output_embeddings.weight.detach(),
                                torch.zeros(1, dim, dtype=weight.dtype, device=weight.device)])
        model.input_embeddings.weight.data = self.table[:vocab_size]
        model.output_embeddings.weight.data = self.table[vocab_size:2 * vocab_size]

    def index(self, block: torch.Tensor, width: int) -> torch.Tensor:
        """Turn a block of examples (``width`` input ids, then targets) into fused-table row numbers, in
        place: input padding → the zero row, targets + V."""
        if width > 1:
            block[:, :width].masked_fill_(block[:, :width] < 0, 2 * self.vocab_size)
        block[:, width:] += self.vocab_size
        return block


class _Workspace:
    """Buffers reused by every batch of one worker: no allocation (and no page faults) per step."""

    def __init__(self, batch_size: int, inputs: int, width: int, dim: int, device: torch.device) -> None:
        self.rows = torch.empty(batch_size, inputs + width, dim, device=device)  # gathered vectors, then their updates
        self.scores = torch.empty(batch_size, 1, width, device=device)
        self.hidden = torch.empty(batch_size, 1, dim, device=device)
        self.hidden_step = torch.empty(batch_size, 1, dim, device=device)
        self.labels = torch.zeros(1, 1, width, device=device)
        self.labels[..., 0] = 1.0  # the true word is column 0
        self.signs = 1.0 - 2.0 * self.labels  # loss = Σ softplus(sign · s): −1 for the true word


def _step(table: torch.Tensor, index: torch.Tensor, inputs: int, padding_row: int, lr: float, work: _Workspace,
          ) -> torch.Tensor:
    """One SGD step of negative sampling on a batch of fused-table rows; returns the batch's summed loss
    as a 0-d tensor (read later, so that an accelerator is not waited for after every batch).

    ``index`` (B, C + 1 + K): C input rows (the centre, or CBOW's context), the true word's output row
    and K noise rows. One gather, two batched matrix products, one scatter-add.
    """
    batch, dim = index.shape[0], table.shape[1]
    flat = index.view(-1)
    rows = work.rows[:batch]
    torch.index_select(table, 0, flat, out=rows.view(-1, dim))  # (B, C + 1 + K, D)
    context, outputs = rows[:, :inputs], rows[:, inputs:]  # (B, C, D), (B, 1 + K, D)
    if inputs == 1:
        hidden = context  # skip-gram: v_c
    else:  # CBOW: h = mean of the context vectors (the padding row is zero)
        present = (index[:, :inputs] != padding_row).unsqueeze(-1).to(table.dtype)  # (B, C, 1)
        hidden = torch.sum(context, 1, keepdim=True, out=work.hidden[:batch]).div_(present.sum(1, keepdim=True))
    scores = torch.bmm(hidden, outputs.transpose(1, 2), out=work.scores[:batch])  # (B, 1, 1 + K): s = u · h
    loss = F.softplus(scores * work.signs).sum()  # −log σ(s_o) − Σ log σ(−s_k) = Σ softplus(±s)
    error = scores.sigmoid_().sub_(work.labels).mul_(-lr)  # −lr · ∂loss/∂s = −lr (σ(s) − label)
    hidden_step = torch.bmm(error, outputs, out=work.hidden_step[:batch])  # (B, 1, D): −lr ∂loss/∂h
    torch.mul(error.transpose(1, 2), hidden, out=outputs)  # (B, 1 + K, D): −lr ∂loss/∂u, over the gathered rows
    if inputs == 1:
        context.copy_(hidden_step)
    else:  # word2vec adds h's full step to every context word (zero for padding)
        torch.mul(hidden_step, present, out=context)
    table.index_add_(0, flat, rows.view(-1, dim))  # repeated rows add up, as in autograd's sparse gradient
    return loss


def _learning_rates(start: float, end: float, steps: int) -> np.ndarray:
    return start + (end - start) * np.arange(steps) / max(steps, 1)


def sgd_negative_sampling(
    model: SkipGram | CBOW,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    lr: float | tuple[float, float],
    batch_size: int = 1024,
    device: str | torch.device | None = None,
) -> list[float]:
    """The fast trainer's inner loop: SGD on negative sampling over ``(inputs, targets)`` in order,
    updating ``model``'s tables in place, without autograd; returns the mean loss of every batch.

    ``inputs`` (N, C) centre ids (C = 1) or CBOW context ids (−1 padding), ``targets`` (N, 1 + K) the
    true word then K noise words, as :func:`epoch_examples` makes them. Each batch applies
    −lr · (the gradient of the loss summed over the batch): the step of ``torch.optim.SGD`` on
    ``model.negative_sampling_loss(...) · B`` with sparse embeddings — for CBOW with word2vec's rule
    that every context word receives h's whole gradient (autograd through the mean would pass on
    1/count of it). ``lr`` is a constant or a (start, end) pair decayed linearly over the batches.
    ``device``: where to train (None: :func:`course_utils.training.choose_device`); the model is moved
    back where it was afterwards.
    """
    if inputs.dim() != 2 or targets.dim() != 2 or len(inputs) != len(targets) or targets.shape[1] < 2:
        raise ValueError(f"inputs must be (N, C) and targets (N, 1 + K) with K ≥ 1, got {tuple(inputs.shape)} "
                         f"and {tuple(targets.shape)}")
    if (inputs.shape[1] == 1) != isinstance(model, SkipGram):
        raise ValueError("skip-gram takes one input id per example (N, 1), CBOW its context ids (N, 2·window)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    start, end = (lr, lr) if isinstance(lr, (int, float)) else lr
    if not (math.isfinite(start) and math.isfinite(end) and start > 0 and end > 0):
        raise ValueError(f"learning rates must be positive numbers, got {lr}")
    vocab_size = model.input_embeddings.num_embeddings
    if len(inputs) and (int(targets.min()) < 0 or int(targets.max()) >= vocab_size or int(inputs.max()) >= vocab_size):
        raise ValueError(f"ids must lie in 0..{vocab_size - 1}")
    with on_device(model, device) as target:
        tables = _FusedTables(model)
        index = tables.index(torch.cat([inputs, targets], dim=1).to(target), inputs.shape[1])
        return _train_rows(tables, index, inputs.shape[1],
                           _learning_rates(start, end, math.ceil(len(index) / batch_size)), batch_size)


def _train_rows(tables: _FusedTables, index: torch.Tensor, inputs: int, lrs: np.ndarray, batch_size: int) -> list[float]:
    """SGD steps over fused-table rows, batch by batch with learning rates ``lrs``, on one thread."""
    work = _Workspace(min(batch_size, len(index)), inputs, index.shape[1] - inputs, tables.table.shape[1],
                      tables.table.device)
    padding_row = 2 * tables.vocab_size
    sums, sizes = [], []
    with torch.no_grad():
        for b, lr in enumerate(lrs):
            batch = index[b * batch_size:(b + 1) * batch_size]
            sums.append(_step(tables.table, batch, inputs, padding_row, float(lr), work))
            sizes.append(len(batch))
    if not sums:
        return []
    return [total / size for total, size in zip(torch.stack(sums).tolist(), sizes)]  # mean loss of each batch


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
    device: str | torch.device | None = None,
) -> Word2VecResult:
    """Train skip-gram or CBOW with negative sampling on tokenised ``sentences``; fast, no autograd.

    Each epoch: :func:`epoch_examples` (subsample, build all examples, shuffle, draw K noise words),
    then the SGD updates of :func:`sgd_negative_sampling` batch by batch, the learning rate decaying
    linearly from ``config.start_lr`` towards zero over all epochs. Both tables live in one tensor, so
    a batch is one gather of all its rows, two batched matrix products (scores, then the gradient for
    the predicting vector), one element-wise product (the output rows' gradients, written over the
    gathered rows) and one scatter-add — all into buffers reused from batch to batch. With ``workers``
    > 1 the corpus is cut into that many shards (at sentence boundaries) and one thread per shard
    prepares and trains on it, all updating the shared tables without locks (Hogwild, as word2vec
    does); PyTorch releases Python's lock inside its kernels, so the threads run in parallel.
    ``on_epoch(epoch, vectors)`` is called after every epoch (to follow quality as training goes).
    ``device``: where the tables live while training (None: :func:`course_utils.training.choose_device`);
    the weights are initialised on the CPU (the same seeded values everywhere) and the returned model and
    vectors are on the CPU.

    Raises ValueError for an empty corpus or one whose vocabulary ``min_count`` empties.
    """
    from tqdm.auto import tqdm

    config = config if config is not None else Word2VecConfig()
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError("sentences must be a sequence of tokenised sentences (lists of words)")
    target = choose_device(device)
    vocab = Vocabulary.from_corpus(sentences, min_count=config.min_count, max_size=config.max_vocab)
    start = time.perf_counter()
    model_class = SkipGram if config.architecture == "skipgram" else CBOW
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = model_class(len(vocab), config.dim)
    tables = _FusedTables(model.to(target))
    ids, sentence = _encode_corpus(sentences, vocab)
    if len(ids) < 2:
        raise ValueError("the corpus has fewer than two in-vocabulary words; nothing to predict")
    keep = keep_probabilities(vocab.counts, config.sample)
    sampler = NoiseSampler(noise_distribution(vocab.counts, config.noise_power))
    losses: list[float] = []
    examples = [0] * config.workers
    errors: list[BaseException] = []
    shards = _shards(sentence, config.workers)

    def rate(fraction_done: float) -> float:
        return config.start_lr * max(config.min_lr_fraction, 1.0 - fraction_done)

    def work(worker: int, epoch: int) -> None:
        """Prepare this worker's shard of the corpus for one epoch, then train on it batch by batch."""
        try:
            rng = np.random.default_rng([config.seed, epoch, worker])
            block, width = _example_block(ids[shards[worker]], sentence[shards[worker]], config, keep, sampler, rng)
            examples[worker] += len(block)
            index = tables.index(block.to(target), width)
            lrs = _learning_rates(rate(epoch / config.epochs), rate((epoch + 1) / config.epochs),
                                  math.ceil(len(index) / config.batch_size))
            losses.extend(_train_rows(tables, index, width, lrs, config.batch_size))
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
                    on_epoch(epoch, WordVectors(vocab.words, model.input_embeddings.weight.detach().clone()))
        finally:
            bar.close()
    model.to("cpu")
    examples = sum(examples)
    seconds = time.perf_counter() - start
    if examples == 0:
        raise ValueError("no training examples: every sentence is shorter than two in-vocabulary words")
    vectors = WordVectors(vocab.words, model.input_embeddings.weight.detach().clone())
    return Word2VecResult(vectors, model, vocab, config, losses, seconds, len(ids) * config.epochs / seconds, examples)


def train_many(
    jobs: Sequence[tuple[Sequence[Sequence[str]], Word2VecConfig]],
    *,
    threads: int = 2,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> list[Word2VecResult]:
    """Train several independent models at once, one per thread; results in the order of ``jobs``.

    Each job is ``(sentences, config)`` and runs exactly as :func:`train_word2vec` would alone (its own
    tables and seeded random streams), so the results do not depend on ``threads`` — only the wall time
    does, and each result's ``seconds`` includes waiting for the other jobs (do not compare them).
    ``device``: as in :func:`train_word2vec`, for every job.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    if threads < 1:
        raise ValueError(f"threads must be positive, got {threads}")
    target = choose_device(device)
    jobs = list(jobs)
    if not jobs:
        raise ValueError("no jobs given")
    for _, config in jobs:
        if not isinstance(config, Word2VecConfig):
            raise TypeError(f"each job is (sentences, Word2VecConfig), got a {type(config).__name__}")
    bar = tqdm(total=len(jobs), desc="word2vec models", disable=not progress, leave=False)

    def run(job):
        result = train_word2vec(job[0], job[1], progress=False, device=target)
        bar.update(1)
        return result

    # one intra-op thread for every job; the outer context restores the caller's count once all are done
    with single_thread(), ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            return list(pool.map(run, jobs))
        finally:
            bar.close()


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
    device: str | torch.device | None = None,
):
    """Train ``model`` with autograd and :func:`course_utils.training.fit` (Adam); return its history.

    ``inputs``/``targets`` are centres/contexts (skip-gram) or context rows/centres (CBOW).
    ``objective`` is ``"softmax"`` (full softmax) or ``"negative"`` (needs ``noise``). ``device``: where
    to train (None: :func:`course_utils.training.choose_device`); the model is moved back afterwards.
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
        # noise is drawn on the CPU from its own generator: the same words on every device
        return module.negative_sampling_loss(x, y, noise.sample((len(y), negatives), generator).to(x.device))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    with on_device(model, device) as target:
        return fit(model, batches, loss_fn, optimizer, epochs=epochs, progress=progress,
                   desc=f"{objective} objective", device=target)

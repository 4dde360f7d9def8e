"""The language-model ladder below GPT: unigram and bigram counts, a fixed-window neural LM, an LSTM LM.

Idea. Every rung estimates p(x_t | x_<t) and is scored the same way: the perplexity
exp(-1/N Σ_t log p(x_t | context)) on held-out windows of token ids, each window predicting its tokens
1..T-1 from what precedes them *inside the window*. The rungs differ in the context they can use:

    unigram        p(x_t)                         add-k smoothed counts
    bigram         p(x_t | x_{t-1})               interpolated absolute discounting (Ney et al. 1994):
                   p(w|v) = max(c(v,w) - d, 0)/c(v) + d·|{w': c(v,w') > 0}|/c(v) · p_uni(w)
    fixed window   p(x_t | x_{t-n}..x_{t-1})      Bengio et al. (2003), "A Neural Probabilistic Language
                   = softmax(W tanh(H [e(x_{t-n}); …; e(x_{t-1})] + b) + c)      Model"
    LSTM           p(x_t | x_<t) through a recurrent state (Mikolov et al. 2010 with LSTM cells,
                   Hochreiter & Schmidhuber 1997); unbounded context, but trained on finite windows
    Transformer    :mod:`course_utils.gpt` — attends to the whole window at once

The shifted next-token loss (:func:`lm_loss`), per-token log-probabilities and :func:`perplexity` are
defined here once and used by every neural rung, GPT included. Every neural model here returns an
object with ``.logits`` (B, T, V) where position t scores the token at t + 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.training import evaluating

__all__ = [
    "lm_loss",
    "token_log_probs",
    "perplexity",
    "position_losses",
    "windows",
    "random_windows",
    "UnigramLM",
    "BigramLM",
    "LMOutput",
    "FixedWindowLM",
    "LSTMLM",
    "save_neural_lm",
    "load_neural_lm",
]


# --------------------------------------------------------------------------------------------------
# The shifted next-token loss and perplexity (every rung)
# --------------------------------------------------------------------------------------------------

_IGNORE = -100  # target id that cross_entropy skips (the position after the last token)


def _check_targets(logits: Tensor, targets: Tensor, loss_mask: Tensor | None) -> None:
    if logits.dim() != 3:
        raise ValueError(f"logits must be (B, T, V), got shape {tuple(logits.shape)}")
    if not isinstance(targets, Tensor) or targets.shape != logits.shape[:2]:
        raise ValueError(f"targets must have shape {tuple(logits.shape[:2])} (B, T), got {tuple(getattr(targets, 'shape', ()))}")
    if logits.shape[1] < 2:
        raise ValueError("a shifted next-token loss needs at least 2 positions per row")
    if loss_mask is not None and (not isinstance(loss_mask, Tensor) or loss_mask.shape != targets.shape):
        raise ValueError(f"loss_mask must have shape {tuple(targets.shape)}, got {tuple(getattr(loss_mask, 'shape', ()))}")


def token_log_probs(logits: Tensor, targets: Tensor) -> Tensor:
    """log p(targets[:, t+1] | ..t) for t = 0..T-2: (B, T, V), (B, T) → (B, T - 1).

    The first token has no prediction (nothing precedes it); the last position's logits predict a token
    that is not there. Sums of these give a sequence's log-probability (what DPO and PPO need).
    """
    _check_targets(logits, targets, None)
    log_probs = logits[:, :-1].log_softmax(-1)  # (B, T-1, V)
    return log_probs.gather(-1, targets[:, 1:, None]).squeeze(-1)


def lm_loss(logits: Tensor, targets: Tensor, loss_mask: Tensor | None = None) -> Tensor:
    """Mean next-token cross-entropy (nats per token) with shifted targets.

    logits (B, T, V) at position t score ``targets[:, t + 1]``. ``loss_mask`` (B, T), aligned with
    ``targets``: True (or 1) where a target token counts; its first column is ignored (no prediction).
    Raises ValueError when the mask selects no token (the mean would be 0/0).
    """
    _check_targets(logits, targets, loss_mask)
    V = logits.shape[-1]
    # Shift the *targets* left (the last position gets the ignored id) instead of slicing the logits:
    # logits[:, :-1] would copy the (B, T-1, V) tensor forward and again in the backward pass.
    shifted = F.pad(targets[:, 1:], (0, 1), value=_IGNORE)  # (B, T): shifted[:, t] = targets[:, t + 1]
    if loss_mask is None:
        return F.cross_entropy(logits.reshape(-1, V), shifted.reshape(-1), ignore_index=_IGNORE)
    nll = F.cross_entropy(logits.reshape(-1, V), shifted.reshape(-1), ignore_index=_IGNORE, reduction="none")
    weight = F.pad(loss_mask[:, 1:].to(nll.dtype), (0, 1)).reshape(-1)  # (B·T,) 0 at the ignored last position
    total = weight.sum()
    if float(total) == 0:
        raise ValueError("loss_mask selects no target token (after dropping the first column)")
    return (nll * weight).sum() / total


@torch.no_grad()
def perplexity(model: nn.Module, ids: Tensor, *, batch_size: int = 32) -> float:
    """exp(mean next-token loss) of a neural LM over the rows of ``ids`` (N, T), in eval mode.

    ``model(batch).logits`` must be (B, T, V); every row is an independent window predicting its
    T - 1 later tokens (every position has N targets, so the mean of :func:`position_losses` is the mean
    over all targets).
    """
    return math.exp(float(position_losses(model, ids, batch_size=batch_size).mean()))


def position_losses(model: nn.Module, ids: Tensor, *, batch_size: int = 32) -> np.ndarray:
    """Mean next-token loss (nats) at each position of the windows ``ids`` (N, T): entry ``t`` is the loss
    of predicting token ``t + 1`` from the ``t + 1`` tokens before it, averaged over the N windows, so the
    result has T - 1 entries and its mean is ``log(perplexity(model, ids))``. It shows how much a model
    gains from a longer context (Kaplan et al. 2020 compare LSTMs and Transformers this way)."""
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.shape[0] == 0 or ids.shape[1] < 2:
        raise ValueError(f"ids must be a non-empty (N, T) tensor of windows with T >= 2, got "
                         f"{tuple(getattr(ids, 'shape', ()))}")
    total = torch.zeros(ids.shape[1] - 1, dtype=torch.float64)
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad():
        for start in range(0, ids.shape[0], batch_size):
            batch = ids[start:start + batch_size].to(device)
            total -= token_log_probs(model(batch).logits.float(), batch).double().sum(0).cpu()
    return (total / ids.shape[0]).numpy()


def windows(ids: Sequence[int] | np.ndarray, length: int) -> Tensor:
    """Non-overlapping windows (N, length) of a token stream; the incomplete tail is dropped."""
    ids = np.asarray(ids, dtype=np.int64)
    if length < 2:
        raise ValueError(f"windows need length >= 2, got {length}")
    n = len(ids) // length
    if n == 0:
        raise ValueError(f"a stream of {len(ids)} tokens holds no window of {length}")
    return torch.from_numpy(ids[: n * length].reshape(n, length).copy())


def random_windows(ids: np.ndarray, length: int, batch_size: int, rng: np.random.RandomState) -> Tensor:
    """A training batch (batch_size, length) of windows starting at random offsets of the stream."""
    if len(ids) <= length:
        raise ValueError(f"the stream of {len(ids)} tokens is not longer than a window of {length}")
    starts = rng.randint(0, len(ids) - length, batch_size)
    return torch.from_numpy(np.stack([ids[s:s + length] for s in starts]).astype(np.int64))


# --------------------------------------------------------------------------------------------------
# Count-based rungs
# --------------------------------------------------------------------------------------------------


def _stream(ids) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if ids.size == 0:
        raise ValueError("no tokens to count")
    return ids


class UnigramLM:
    """p(w) = (c(w) + k) / (N + k·V): add-k smoothed token frequencies."""

    def __init__(self, vocab_size: int, *, add_k: float = 1.0) -> None:
        if vocab_size < 1 or add_k <= 0:
            raise ValueError(f"need vocab_size >= 1 and add_k > 0, got {vocab_size}, {add_k}")
        self.vocab_size, self.add_k = vocab_size, add_k
        self.probabilities: np.ndarray | None = None

    def fit(self, ids) -> UnigramLM:
        ids = _stream(ids)
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}")
        counts = np.bincount(ids, minlength=self.vocab_size).astype(float)
        self.probabilities = (counts + self.add_k) / (counts.sum() + self.add_k * self.vocab_size)
        return self

    def window_log_probs(self, windows_: Tensor) -> np.ndarray:
        """(N, T) windows → (N, T-1) log p of tokens 1..T-1 (the same targets the neural rungs score)."""
        if self.probabilities is None:
            raise RuntimeError("call fit() first")
        w = np.asarray(windows_)
        return np.log(self.probabilities[w[:, 1:]])

    def perplexity(self, windows_: Tensor) -> float:
        return float(np.exp(-self.window_log_probs(windows_).mean()))


class BigramLM:
    """Interpolated absolute discounting with a unigram fallback (see the module docstring)."""

    def __init__(self, vocab_size: int, *, discount: float = 0.75) -> None:
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.vocab_size, self.discount = vocab_size, discount
        self.unigram = UnigramLM(vocab_size)

    def fit(self, ids) -> BigramLM:
        ids = _stream(ids)
        self.unigram.fit(ids)
        V = self.vocab_size
        keys = ids[:-1] * V + ids[1:]
        self.pairs, self.pair_counts = np.unique(keys, return_counts=True)
        self.context_counts = np.bincount(self.pairs // V, weights=self.pair_counts, minlength=V)
        self.context_types = np.bincount(self.pairs // V, minlength=V)
        return self

    def probability(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """p(current | previous), elementwise over arrays of ids."""
        previous, current = np.asarray(previous), np.asarray(current)
        query = previous * self.vocab_size + current
        where = np.clip(np.searchsorted(self.pairs, query), 0, len(self.pairs) - 1)
        pair = np.where(self.pairs[where] == query, self.pair_counts[where], 0).astype(float)
        c_v = self.context_counts[previous]
        seen = c_v > 0
        safe = np.where(seen, c_v, 1.0)
        p_uni = self.unigram.probabilities[current]
        d = self.discount
        return np.where(seen, np.maximum(pair - d, 0) / safe + d * self.context_types[previous] / safe * p_uni, p_uni)

    def window_log_probs(self, windows_: Tensor) -> np.ndarray:
        w = np.asarray(windows_)
        return np.log(self.probability(w[:, :-1], w[:, 1:]))

    def perplexity(self, windows_: Tensor) -> float:
        return float(np.exp(-self.window_log_probs(windows_).mean()))


# --------------------------------------------------------------------------------------------------
# Neural rungs
# --------------------------------------------------------------------------------------------------


@dataclass
class LMOutput:
    """``logits`` (B, T, V): position t scores the token at t + 1 (as :class:`course_utils.gpt.GPTOutput`)."""

    logits: Tensor


def _check_ids(ids: Tensor, vocab_size: int) -> None:
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.long or ids.numel() == 0:
        raise ValueError(f"ids must be a non-empty (B, T) long tensor, got {getattr(ids, 'dtype', type(ids))} "
                         f"of shape {tuple(getattr(ids, 'shape', ()))}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")


class FixedWindowLM(nn.Module):
    """Bengio et al. (2003): the previous ``order`` tokens' embeddings, concatenated → tanh → softmax.

    Positions before the window's start read a padding embedding (id ``vocab_size``), so position t
    sees tokens t-order+1..t of its window, never the one it predicts.
    """

    def __init__(self, vocab_size: int, *, order: int = 5, embedding_dim: int = 64, hidden: int = 256) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("order", order), ("embedding_dim", embedding_dim),
                            ("hidden", hidden)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.vocab_size, self.order = vocab_size, order
        self.embedding = nn.Embedding(vocab_size + 1, embedding_dim)  # + the padding id
        self.hidden = nn.Linear(order * embedding_dim, hidden)
        self.output = nn.Linear(hidden, vocab_size)

    def forward(self, ids: Tensor) -> LMOutput:
        _check_ids(ids, self.vocab_size)
        B, T = ids.shape
        padded = F.pad(ids, (self.order - 1, 0), value=self.vocab_size)  # (B, order - 1 + T)
        context = padded.unfold(1, self.order, 1)  # (B, T, order): tokens t-order+1..t
        x = self.embedding(context).reshape(B, T, -1)  # (B, T, order·E)
        return LMOutput(self.output(torch.tanh(self.hidden(x))))


class LSTMLM(nn.Module):
    """Embedding → ``layers`` LSTM layers → linear: the state after token t scores token t + 1."""

    def __init__(self, vocab_size: int, *, embedding_dim: int = 128, hidden: int = 256, layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if vocab_size < 1 or embedding_dim < 1 or hidden < 1 or layers < 1:
            raise ValueError("vocab_size, embedding_dim, hidden and layers must be >= 1")
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, vocab_size)

    def forward(self, ids: Tensor) -> LMOutput:
        _check_ids(ids, self.vocab_size)
        states, _ = self.lstm(self.dropout(self.embedding(ids)))  # (B, T, hidden)
        return LMOutput(self.output(self.dropout(states)))


# --------------------------------------------------------------------------------------------------
# Checkpoints of the neural rungs
# --------------------------------------------------------------------------------------------------

_ARCHITECTURES = {"fixed_window_lm": FixedWindowLM, "lstm_lm": LSTMLM}


def save_neural_lm(model: FixedWindowLM | LSTMLM, path, *, options: dict, metadata: dict | None = None):
    """Save a fixed-window or LSTM LM (float16) with its constructor ``options`` and ``architecture``."""
    from course_utils.training import save_checkpoint

    names = {cls: name for name, cls in _ARCHITECTURES.items()}
    if type(model) not in names:
        raise TypeError(f"expected a FixedWindowLM or LSTMLM, got {type(model).__name__}")
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    return save_checkpoint(state, path, {**(metadata or {}), "architecture": names[type(model)],
                                         "options": options})


def load_neural_lm(path) -> tuple[FixedWindowLM | LSTMLM, dict]:
    """Rebuild a model saved by :func:`save_neural_lm` (float32, eval mode); returns (model, metadata).

    Raises ValueError for a checkpoint of another architecture."""
    from pathlib import Path

    from course_utils.training import load_checkpoint

    _, metadata = load_checkpoint(None, path)
    architecture = metadata.get("architecture")
    if architecture not in _ARCHITECTURES or "options" not in metadata:
        raise ValueError(f"{Path(path).name} is not a fixed-window or LSTM LM checkpoint (architecture={architecture!r})")
    model = _ARCHITECTURES[architecture](**metadata["options"])
    load_checkpoint(model, path)
    return model.eval(), metadata

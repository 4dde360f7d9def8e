"""Training the ELMo biLM and measuring it: Adam on the mean of the two directions' cross-entropies, the
perplexity of each direction, and unigram / bigram baselines on exactly the same held-out windows.

The model, the characters and the data windows are :mod:`course_utils.elmo`; ``scripts/pretrain_elmo.py``
drives these functions. Perplexity is exp of the mean negative log-likelihood per word,
exp(−(1/N) Σ_k log p(t_k | context)), with the forward context t_1..t_{k−1} or the backward t_{k+1}..t_N.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F

from course_utils.distributed import DistributedContext
from course_utils.elmo import (
    ElmoBatch,
    ElmoBiLM,
    EncodedCorpus,
    evaluation_windows,
    make_batch,
    sample_windows,
)
from course_utils.training import TrainingHistory, evaluating, fit, move_to, on_device

__all__ = ["initialise_softmax_bias", "train_bilm", "bilm_perplexity", "ngram_perplexities"]



def initialise_softmax_bias(model: ElmoBiLM, corpus: EncodedCorpus) -> None:
    """Set the softmax bias to the log of the (add-one) word frequencies of ``corpus``."""
    ids = np.concatenate([corpus.type_words[s] for s in corpus.streams])
    counts = np.bincount(ids[ids >= 0], minlength=model.config.vocab_size)[: model.config.vocab_size] + 1.0
    with torch.no_grad():
        model.softmax.bias.copy_(torch.from_numpy(np.log(counts / counts.sum())).float())


def train_bilm(
    model: ElmoBiLM,
    corpus: EncodedCorpus,
    *,
    steps: int,
    window: int = 48,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    seed: int = 0,
    grad_clip: float = 1.0,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    time_limit: float | None = None,
    device: str | torch.device | None = None,
    distributed: DistributedContext | None = None,
) -> TrainingHistory:
    """Train both LMs (loss = mean of the two cross-entropies) with Adam for ``steps`` batches.

    Windows are re-cut every epoch from a seeded generator; the learning rate decays linearly to 10%.
    ``time_limit`` (seconds) stops early, and the history records how many steps were done.
    ``device``: where to train (None: :func:`course_utils.training.choose_device`); the model is moved
    back where it was afterwards. ``distributed``: as in :func:`course_utils.training.fit` (under torchrun
    every process cuts the same windows and trains on its shard of each batch of ``batch_size`` windows).
    """
    if steps < 1 or window < 1 or batch_size < 1:
        raise ValueError("steps, window and batch_size must all be at least 1")
    rng = np.random.RandomState(seed)
    start = time.perf_counter()

    def batches():
        while True:
            windows = sample_windows(corpus, window, rng)
            if not windows:
                raise ValueError("the corpus has no tokens to train on")
            # Full batches only, except that a corpus with fewer windows than a batch gives one short batch.
            for i in range(0, max(len(windows) - batch_size + 1, 1), batch_size):
                if time_limit is not None and time.perf_counter() - start > time_limit:
                    return
                yield make_batch(corpus, windows[i:i + batch_size])

    def loss_fn(m: ElmoBiLM, batch: ElmoBatch) -> torch.Tensor:
        forward, backward = m.loss(batch.char_ids, batch.targets, batch.lengths)
        return (forward + backward) / 2

    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.1, 1 - 0.9 * s / steps))
    with on_device(model, distributed.device if distributed is not None else device) as target:
        return fit(model, batches, loss_fn, optimizer, max_steps=steps, scheduler=scheduler, grad_clip=grad_clip,
                   progress=progress, desc="biLM", on_step=on_step, device=target, distributed=distributed)


def bilm_perplexity(model: ElmoBiLM, corpus: EncodedCorpus, *, window: int = 48, batch_size: int = 64,
                    device: str | torch.device | None = None) -> dict[str, float]:
    """Perplexity exp(mean NLL per word) of the forward and the backward LM over every token of ``corpus``.

    ``device``: where to run (None: :func:`course_utils.training.choose_device`); the model is moved back
    where it was afterwards."""
    totals = {"forward": 0.0, "backward": 0.0}
    count = 0
    windows = evaluation_windows(corpus, window)
    if not windows:
        raise ValueError("the evaluation corpus is empty")
    with on_device(model, device) as device, evaluating(model):
        for i in range(0, len(windows), batch_size):
            batch = move_to(make_batch(corpus, windows[i:i + batch_size]), device)
            out = model(batch.char_ids, batch.lengths)
            targets = batch.targets.reshape(-1)
            for name, logits in (("forward", out.forward_logits), ("backward", out.backward_logits)):
                totals[name] += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets,
                                                      ignore_index=-100, reduction="sum"))
            count += int((targets != -100).sum())
    return {name: math.exp(total / count) for name, total in totals.items()}


def ngram_perplexities(train: EncodedCorpus, test: EncodedCorpus, *, window: int = 48, discount: float = 0.75,
                       ) -> dict[str, float]:
    """Unigram and bigram baselines on the same held-out windows as :func:`bilm_perplexity`.

    Unigram: add-one smoothed word frequencies. Bigram (forward: p(w_k | w_{k−1}); backward:
    p(w_k | w_{k+1})): interpolated absolute discounting,
    p(w | v) = max(c(v,w) − d, 0)/c(v) + d·|{w': c(v,w') > 0}|/c(v) · p_uni(w), which falls back on the
    unigram for unseen contexts. The first word of a window has context ``<bos>`` (forward) and the last
    ``<eos>`` (backward), exactly as the biLM sees them. Counts come from whole training streams.
    """
    if not 0 < discount < 1:
        raise ValueError(f"discount must be in (0, 1), got {discount}")
    vocab = int(max(train.type_words.max(), test.type_words.max())) + 1
    bos, eos = vocab, vocab + 1  # context ids for the boundaries
    train_ids = [train.type_words[s] for s in train.streams]
    counts = np.bincount(np.concatenate(train_ids), minlength=vocab).astype(float)
    unigram = (counts + 1) / (counts.sum() + vocab)

    def test_pairs(reverse: bool) -> tuple[np.ndarray, np.ndarray]:
        contexts, targets = [], []
        for s, start, length in evaluation_windows(test, window):
            ids = test.type_words[test.streams[s][start:start + length]]
            if reverse:
                contexts.append(np.append(ids[1:], eos))
            else:
                contexts.append(np.insert(ids[:-1], 0, bos))
            targets.append(ids)
        return np.concatenate(contexts), np.concatenate(targets)

    results = {"unigram": float(np.exp(-np.mean(np.log(unigram[test_pairs(False)[1]]))))}
    for name, reverse in (("bigram_forward", False), ("bigram_backward", True)):
        prev, nxt = [], []
        for ids in train_ids:
            context = np.append(ids[1:], eos) if reverse else np.insert(ids[:-1], 0, bos)
            prev.append(context)
            nxt.append(ids)
        keys = np.concatenate(prev) * vocab + np.concatenate(nxt)
        unique, pair_counts = np.unique(keys, return_counts=True)
        context_counts = np.bincount(unique // vocab, weights=pair_counts, minlength=vocab + 2)
        context_types = np.bincount(unique // vocab, minlength=vocab + 2)
        contexts, targets = test_pairs(reverse)
        query = contexts * vocab + targets
        where = np.clip(np.searchsorted(unique, query), 0, len(unique) - 1)
        pair = np.where(unique[where] == query, pair_counts[where], 0).astype(float)
        c_v = context_counts[contexts]
        seen = c_v > 0
        safe = np.where(seen, c_v, 1.0)
        probability = np.where(
            seen,
            np.maximum(pair - discount, 0) / safe + discount * context_types[contexts] / safe * unigram[targets],
            unigram[targets],
        )
        results[name] = float(np.exp(-np.mean(np.log(probability))))
    return results

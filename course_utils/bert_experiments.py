"""Notebook 07's experiments: pre-trained against from-scratch fine-tuning, learning curves, the masking
rule measured, the three attention-mask families, and the functions behind the widgets.

Each comparison trains two copies of the same architecture on the same labelled examples, in the same
order, with the same hyperparameters: one starts from the pre-trained checkpoint, the other from BERT's
random initialisation. Spread comes from repeating a run with other seeds (other labelled subsets and
other batch orders) — the standard error of a mean over ``n`` seeds is ``sd / sqrt(n)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .attention import causal_mask
from .bert import Bert, PretrainedBert, mask_tokens_for_mlm
from .bert_finetune import (
    SequenceClassifier,
    TaskData,
    acceptability_examples,
    encode_sentences,
    fine_tune,
    predict,
)
from .bert_tasks import collate, fill_mask
from .training import evaluating

__all__ = [
    "fresh_bert",
    "accuracy",
    "CurvePoint",
    "learning_curve",
    "acceptability_validation_split",
    "learning_rate_sweep",
    "pseudo_log_likelihoods",
    "plausibility_features",
    "slor_scores",
    "feature_curve",
    "masking_shares",
    "attention_mask_family",
    "explore_masking",
    "explore_fill_mask",
    "explore_fine_tuning",
]


def fresh_bert(pretrained: PretrainedBert, *, from_checkpoint: bool, seed: int = 0) -> Bert:
    """A trainable copy of the pre-trained BERT, or the same architecture freshly initialised (``seed``).

    The global generator is seeded with ``seed`` in both cases, so whatever is initialised next (the task
    head) is the same whatever ran before."""
    torch.manual_seed(seed)
    if from_checkpoint:
        model = copy.deepcopy(pretrained.model)
    else:
        model = Bert(pretrained.config)
    return model.train()


def accuracy(predicted: Sequence, gold: Sequence) -> float:
    """Share of equal items (classes, or (start, end) spans: exact match)."""
    if len(predicted) != len(gold) or not gold:
        raise ValueError(f"need as many predictions as labels (and at least one): {len(predicted)} vs {len(gold)}")
    return float(np.mean([p == g for p, g in zip(predicted, gold)]))


@dataclass
class CurvePoint:
    """Accuracies of one label budget: one value per seed, pre-trained and from scratch."""

    n_examples: int
    pretrained: list[float]
    scratch: list[float]

    @staticmethod
    def _mean_se(values: list[float]) -> tuple[float, float]:
        sd = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        return float(np.mean(values)), sd / math.sqrt(len(values))

    @property
    def difference(self) -> tuple[float, float]:
        """Mean of the per-seed differences (pre-trained − scratch) and its standard error."""
        return self._mean_se([p - s for p, s in zip(self.pretrained, self.scratch)])

    def summary(self) -> str:
        (mp, sp), (ms, ss), (d, sd) = self._mean_se(self.pretrained), self._mean_se(self.scratch), self.difference
        ratio = f"{d / sd:.1f} standard errors" if sd > 0 else "no spread over seeds"
        return (f"{self.n_examples:5d} examples: pre-trained {mp:.1%} ± {sp:.1%}, scratch {ms:.1%} ± {ss:.1%}; "
                f"difference {d:+.1%} ± {sd:.1%} ({ratio})")


def learning_curve(pretrained: PretrainedBert, train: TaskData, test: TaskData, budgets: Sequence[int], *,
                   seeds: Sequence[int] = (0, 1, 2), steps: int = 40, batch_size: int = 16,
                   learning_rate: float = 1e-4, scratch_learning_rate: float | None = None,
                   pooling: str = "cls", n_classes: int = 2, progress: bool = False,
                   device: torch.device | str | None = None,
                   starts: Sequence[str] = ("pretrained", "scratch")) -> list[CurvePoint]:
    """Fine-tune pre-trained and from-scratch sequence classifiers on ``n`` labelled examples for each
    budget and seed; returns test accuracies. Every run makes about ``steps`` optimiser steps (the number
    of epochs is ``ceil(steps · batch_size / n)``), so small budgets are not simply under-trained.
    For each seed, the ``n`` examples are the first ``n`` of one random order, so budgets are nested.
    ``scratch_learning_rate`` (default: ``learning_rate``) lets each start use the rate that suits it —
    a pre-trained encoder is usually fine-tuned with a smaller one; choose both on validation data.
    ``device``: where the models train and predict. ``starts``: which of "pretrained" and "scratch" to
    run (the other list of each point stays empty)."""
    from tqdm.auto import tqdm

    if max(budgets) > len(train):
        raise ValueError(f"a budget of {max(budgets)} examples exceeds the {len(train)} training examples")
    unknown = set(starts) - {"pretrained", "scratch"}
    if unknown or not starts:
        raise ValueError(f"starts must name 'pretrained' and/or 'scratch', got {list(starts)}")
    points = []
    bar = tqdm(total=len(budgets) * len(seeds) * len(set(starts)), desc="learning curve", disable=not progress,
               leave=False)
    for n in budgets:
        point = CurvePoint(n, [], [])
        for seed in seeds:
            order = _budget_subset(len(train), n, seed)
            subset = train.subset(order.tolist())
            epochs = max(1, math.ceil(steps * batch_size / n))
            for from_checkpoint, scores in ((True, point.pretrained), (False, point.scratch)):
                if ("pretrained" if from_checkpoint else "scratch") not in starts:
                    continue
                model = SequenceClassifier(fresh_bert(pretrained, from_checkpoint=from_checkpoint, seed=seed), n_classes,
                                           pooling=pooling)
                lr = learning_rate if from_checkpoint or scratch_learning_rate is None else scratch_learning_rate
                fine_tune(model, subset, epochs=epochs, batch_size=batch_size, learning_rate=lr, seed=seed,
                          pad_id=pretrained.tokenizer.pad_id, device=device)
                scores.append(accuracy(predict(model, test, pad_id=pretrained.tokenizer.pad_id), test.labels))
                bar.update(1)
        points.append(point)
    bar.close()
    return points


def acceptability_validation_split(pretrained: PretrainedBert, sentences: Sequence[Sequence[str]], *,
                                   n_validation: int = 500, seed: int = 0) -> tuple[TaskData, TaskData]:
    """The acceptability examples of ``sentences`` (:func:`~course_utils.bert_finetune.acceptability_examples`,
    ``seed``), encoded and split into (fitting pool, validation set): the last ``n_validation`` examples
    validate. Hyper-parameters are chosen here, never on the test sentences."""
    texts, labels = acceptability_examples(sentences, seed=seed)
    if len(texts) <= n_validation:
        raise ValueError(f"{len(texts)} examples leave nothing to fit beside {n_validation} validation examples")
    data = encode_sentences(pretrained, texts, labels)
    return data.subset(range(len(data) - n_validation)), data.subset(range(len(data) - n_validation, len(data)))


def learning_rate_sweep(pretrained: PretrainedBert, train: TaskData, validation: TaskData, rates: Sequence[float], *,
                        n_examples: int = 64, seeds: Sequence[int] = (0, 1, 2, 3), **curve_options) -> dict:
    """Validation accuracy of pre-trained and from-scratch fine-tuning for each learning rate (both starts
    use the same rate within a row): ``{rate: CurvePoint}``. Pick each start's best rate from it."""
    return {rate: learning_curve(pretrained, train, validation, [n_examples], seeds=seeds, learning_rate=rate,
                                 **curve_options)[0] for rate in rates}


def _budget_subset(n_total: int, n: int, seed: int) -> np.ndarray:
    """The ``n`` training indices of ``seed``: the first ``n`` of one random order (nested budgets)."""
    return np.random.default_rng(1000 + seed).permutation(n_total)[:n]


@torch.no_grad()
def pseudo_log_likelihoods(pretrained: PretrainedBert, data: TaskData, *, batch_size: int = 256,
                           device: torch.device | str | None = None) -> list[np.ndarray]:
    """For each packed input of ``data``: the log-probability the masked LM gives each real piece when
    that piece alone is replaced by ``[MASK]`` (Salazar et al., 2020, "Masked Language Model Scoring").

    One masked copy per piece ([CLS], [SEP] and padding are never masked), run in batches of
    ``batch_size`` copies; returns one float array per input, in input order. A sentence whose words fit
    their context gets high values; a swapped or replaced word should get a low one — if the model
    learned to use context."""
    tok = pretrained.tokenizer
    model = pretrained.model
    device = torch.device(device) if device is not None else next(model.parameters()).device
    specials = {tok[s] for s in tok.specials}
    copies: list[tuple[int, int]] = [(row, t) for row, (ids, _) in enumerate(data.inputs)
                                     for t, i in enumerate(ids) if i not in specials]
    if not copies:
        raise ValueError("no maskable piece in the inputs (only special tokens)")
    scores = [np.zeros(sum(i not in specials for i in ids), dtype=np.float64) for ids, _ in data.inputs]
    filled = [0] * len(data.inputs)
    with evaluating(model):
        for start in range(0, len(copies), batch_size):
            chunk = copies[start:start + batch_size]
            batch = collate([data.inputs[row] for row, _ in chunk], pad_id=tok.pad_id).to(device)
            rows = torch.arange(len(chunk), device=device)
            positions = torch.tensor([t for _, t in chunk], device=device)
            targets = batch.ids[rows, positions].clone()
            ids = batch.ids.clone()
            ids[rows, positions] = tok.mask_id
            where = torch.zeros_like(ids, dtype=torch.bool)
            where[rows, positions] = True
            logits = model(ids, batch.segments, batch.attention_mask, heads="mlm", mlm_positions=where).mlm_logits
            log_probs = logits.float().log_softmax(-1)[rows, targets].cpu().numpy()  # (N,) rows in order
            for (row, _), value in zip(chunk, log_probs):
                scores[row][filled[row]] = value
                filled[row] += 1
    return scores


def plausibility_features(log_likelihoods: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 3) sentence features from :func:`pseudo_log_likelihoods`: the lowest piece log-probability
    (the least plausible piece), the mean, and the sum."""
    if not log_likelihoods or any(len(x) == 0 for x in log_likelihoods):
        raise ValueError("every sentence needs at least one scored piece")
    return np.array([[x.min(), x.mean(), x.sum()] for x in log_likelihoods])


def slor_scores(pretrained: PretrainedBert, data: TaskData, log_likelihoods: Sequence[np.ndarray],
                unigram_probabilities: np.ndarray) -> np.ndarray:
    """One number per input: the SLOR of its pieces (Lau, Clark and Lappin, 2017) with the masked LM's
    pseudo-log-likelihoods, i.e. the mean over the scored pieces of
    ``log p_MLM(piece | the rest) − log p_unigram(piece)``.

    Subtracting the unigram log-probability removes what a piece's mere frequency says: a sentence full of
    rare names scores low under any language model, a corrupted one scores low because a piece does not fit
    its context, and only the second is what acceptability asks about. ``log_likelihoods`` come from
    :func:`pseudo_log_likelihoods` on the same ``data`` (same order, the same pieces: every one that is not
    a special token); ``unigram_probabilities`` has one probability per vocabulary id (for example
    ``course_utils.ngram.UnigramLM(...).fit(corpus_ids).probabilities``; smoothed, so none is zero)."""
    tok = pretrained.tokenizer
    specials = {tok[s] for s in tok.specials}
    unigram_probabilities = np.asarray(unigram_probabilities, dtype=np.float64)
    if unigram_probabilities.ndim != 1 or len(unigram_probabilities) != len(tok):
        raise ValueError(f"need one unigram probability per vocabulary id ({len(tok)}), "
                         f"got shape {unigram_probabilities.shape}")
    if not (unigram_probabilities > 0).all():
        raise ValueError("unigram probabilities must all be positive (smooth the counts)")
    if len(log_likelihoods) != len(data):
        raise ValueError(f"need one log-likelihood array per input: {len(log_likelihoods)} vs {len(data)}")
    scores = np.empty(len(data))
    for row, ((ids, _), values) in enumerate(zip(data.inputs, log_likelihoods)):
        pieces = [i for i in ids if i not in specials]
        if len(pieces) != len(values) or not pieces:
            raise ValueError(f"input {row}: {len(values)} log-likelihoods for {len(pieces)} scored pieces "
                             "(compute them with pseudo_log_likelihoods on the same data)")
        scores[row] = float(np.mean(np.asarray(values) - np.log(unigram_probabilities[pieces])))
    return scores


def feature_curve(train_features: np.ndarray, train_labels: Sequence[int], test_features: np.ndarray,
                  test_labels: Sequence[int], budgets: Sequence[int], *, seeds: Sequence[int] = (0, 1, 2)
                  ) -> list[list[float]]:
    """Test accuracy of a logistic regression (standardised features) trained on the ``n`` examples of
    each budget and seed — the same nested subsets :func:`learning_curve` uses — one list per budget."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if len(train_features) != len(train_labels) or len(test_features) != len(test_labels):
        raise ValueError("need one feature row per label")
    if max(budgets) > len(train_labels):
        raise ValueError(f"a budget of {max(budgets)} examples exceeds the {len(train_labels)} training examples")
    if not np.isfinite(train_features).all() or not np.isfinite(test_features).all():
        raise ValueError("features contain NaN or infinite values")
    curve = []
    for n in budgets:
        accuracies = []
        for seed in seeds:
            subset = _budget_subset(len(train_labels), n, seed)
            if len(set(train_labels[subset].tolist())) < 2:
                raise ValueError(f"the {n} examples of seed {seed} hold one class only")
            classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            classifier.fit(train_features[subset], train_labels[subset])
            accuracies.append(float(classifier.score(test_features, test_labels)))
        curve.append(accuracies)
    return curve


def masking_shares(ids: Tensor, pretrained: PretrainedBert, mask_prob: float = 0.15, seed: int = 0) -> dict:
    """Apply :func:`~course_utils.bert.mask_tokens_for_mlm` once and measure what happened: the share of
    real tokens chosen, and of those the shares replaced by [MASK], by a random token, and kept."""
    tok = pretrained.tokenizer
    specials = [tok[s] for s in tok.specials]
    corrupted, labels = mask_tokens_for_mlm(ids, mask_id=tok.mask_id, vocab_size=len(tok), special_ids=specials,
                                            mask_prob=mask_prob, generator=torch.Generator().manual_seed(seed))
    chosen = labels != -100
    real = ~torch.isin(ids, torch.tensor(specials))
    n_chosen = int(chosen.sum())
    if n_chosen == 0:
        raise ValueError("no token was chosen; use more tokens or a larger mask_prob")
    masked = int((corrupted[chosen] == tok.mask_id).sum())
    kept = int((corrupted[chosen] == ids[chosen]).sum())
    return {"tokens": int(real.sum()), "chosen": n_chosen / int(real.sum()), "mask": masked / n_chosen,
            "random": (n_chosen - masked - kept) / n_chosen, "kept": kept / n_chosen}


def attention_mask_family(source_len: int = 5, target_len: int = 4) -> dict[str, Tensor]:
    """Who may attend to whom (True = may attend) in the three Transformer families:
    encoder-only (BERT: everyone sees everyone), decoder-only (GPT: causal), and encoder–decoder (the
    notebook-06 translator: a bidirectional encoder, a causal decoder, full cross-attention)."""
    return {
        "encoder-only (BERT)": torch.ones(source_len, source_len, dtype=torch.bool),
        "decoder-only (GPT)": causal_mask(source_len),
        "encoder–decoder: decoder self-attention": causal_mask(target_len),
        "encoder–decoder: cross-attention": torch.ones(target_len, source_len, dtype=torch.bool),
    }


# --------------------------------------------------------------------------------------------------
# Widget functions
# --------------------------------------------------------------------------------------------------


def explore_masking(pretrained: PretrainedBert, ids: Tensor, mask_prob: float = 0.15, seed: int = 0) -> dict:
    """Print the realised masking shares for ``mask_prob`` (the mask-probability widget)."""
    shares = masking_shares(ids, pretrained, mask_prob, seed)
    print(f"{shares['tokens']:,} real tokens: {shares['chosen']:.1%} chosen (asked {mask_prob:.0%}); of those "
          f"{shares['mask']:.1%} → [MASK], {shares['random']:.1%} → random token, {shares['kept']:.1%} kept")
    return shares


def explore_fill_mask(pretrained: PretrainedBert, text: str = "the [MASK] of the united states", top_k: int = 5
                      ) -> list[list[tuple[str, float]]]:
    """Print the top-k fillers of every [MASK] in ``text`` (the fill-in widget)."""
    if "[MASK]" not in text:
        print("type a sentence with at least one [MASK]")
        return []
    try:
        results = fill_mask(pretrained, text, top_k)
    except ValueError as error:
        print(error)
        return []
    for k, candidates in enumerate(results, start=1):
        print(f"[MASK] {k}: " + ", ".join(f"{piece} ({p:.1%})" for piece, p in candidates))
    return results


def explore_fine_tuning(pretrained: PretrainedBert, train: TaskData, test: TaskData, *, n_examples: int = 64,
                        learning_rate: float = 1e-4, steps: int = 40, seed: int = 0,
                        scratch_learning_rate: float | None = None, pooling: str = "cls",
                        batch_size: int = 16) -> dict:
    """Fine-tune pre-trained and scratch classifiers on ``n_examples`` and print both test accuracies
    (the fine-tuning widget)."""
    points = learning_curve(pretrained, train, test, [n_examples], seeds=[seed], steps=steps, batch_size=batch_size,
                            learning_rate=learning_rate, scratch_learning_rate=scratch_learning_rate,
                            pooling=pooling)
    result = {"pretrained": points[0].pretrained[0], "scratch": points[0].scratch[0]}
    print(f"{n_examples} labelled examples, lr {learning_rate:g}: pre-trained {result['pretrained']:.1%}, "
          f"from scratch {result['scratch']:.1%} on {len(test)} test sentences")
    return result


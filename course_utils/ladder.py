"""The language-model ladder of notebook 08, read from the shipped checkpoints' metadata.

Idea. Each rung — unigram, bigram, Bengio et al.'s fixed-window MLP, an LSTM, GPT — was scored by
``scripts/pretrain_gpt.py`` on the same held-out windows of the same BPE tokens, and every checkpoint
stores its own measurements (held-out perplexity, parameters, steps, training time). This module turns
those stored measurements into table rows, so a notebook prints the ladder without typing a number:

    perplexity = exp(-1/N Σ_t log p(x_t | x_<t))   over the same N held-out tokens for every rung

The count-based rungs (unigram with add-one smoothing, bigram with interpolated absolute discounting,
:mod:`course_utils.ngram`) are refitted by the script on the training tokens of every run; their
perplexities are read from the checkpoints and must agree between them (same tokens, same windows).
Weight tying (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"): the tied and
the untied GPT checkpoints are the same run except for ``--no-tie-weights``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from course_utils.gpt import checkpoint_path
from course_utils.training import load_checkpoint

__all__ = ["LadderRow", "NEURAL_RUNGS", "checkpoint_metadata", "ladder_rows", "weight_tying_rows"]

NEURAL_RUNGS = ("fixed_window", "lstm", "gpt")  # gpt.CHECKPOINTS names, from the least to the most context

_LABELS = {
    "unigram": "unigram (add-one)",
    "bigram": "bigram (interpolated absolute discounting)",
    "fixed_window": "fixed-window MLP (Bengio et al. 2003)",
    "lstm": "LSTM",
    "gpt": "GPT (tied embeddings)",
    "gpt_untied": "GPT (untied embeddings)",
}


@dataclass
class LadderRow:
    """One rung: what the pre-training script measured and stored (None where it does not apply)."""

    model: str  # a readable name
    checkpoint: str | None  # the gpt.CHECKPOINTS name it was read from (None for the count models)
    heldout_perplexity: float
    parameters: int | None  # trainable parameters (a tied table counted once); None for count models
    steps: int | None  # optimiser steps
    train_seconds: float | None  # wall-clock seconds of training (see the metadata for the load it ran under)
    train_cpu_seconds: float | None  # CPU seconds of the training process (None for checkpoints made before)

    def as_dict(self) -> dict:
        return asdict(self)


def checkpoint_metadata(name: str) -> dict:
    """The metadata stored with the shipped checkpoint ``name`` (a key of ``gpt.CHECKPOINTS``)."""
    _, metadata = load_checkpoint(None, checkpoint_path(name))
    if "metrics" not in metadata:
        raise ValueError(f"checkpoint {name!r} holds no metrics (was it made by scripts/pretrain_gpt.py?)")
    return metadata


def _row(name: str, metrics: dict) -> LadderRow:
    return LadderRow(_LABELS.get(name, name), name, float(metrics["heldout_perplexity"]), int(metrics["parameters"]),
                     int(metrics["steps"]), float(metrics["train_seconds"]),
                     None if metrics.get("train_cpu_seconds") is None else float(metrics["train_cpu_seconds"]))


def ladder_rows(names: Sequence[str] = NEURAL_RUNGS) -> list[LadderRow]:
    """Unigram and bigram, then one row per neural checkpoint in ``names`` (all from stored metrics).

    Raises ValueError when the checkpoints were scored on different held-out tokens (their held-out
    token counts or their unigram / bigram perplexities disagree): then the rows would not be comparable.
    """
    if not names:
        raise ValueError("name at least one neural checkpoint")
    metrics = {name: checkpoint_metadata(name)["metrics"] for name in names}
    for key in ("heldout_tokens", "heldout_perplexity_unigram", "heldout_perplexity_bigram"):
        values = {name: m[key] for name, m in metrics.items()}
        if len(set(values.values())) > 1:
            raise ValueError(f"the checkpoints were not scored on the same held-out tokens ({key}: {values})")
    first = metrics[names[0]]
    rows = [LadderRow(_LABELS["unigram"], None, float(first["heldout_perplexity_unigram"]), None, None, None, None),
            LadderRow(_LABELS["bigram"], None, float(first["heldout_perplexity_bigram"]), None, None, None, None)]
    return rows + [_row(name, metrics[name]) for name in names]


def weight_tying_rows() -> list[LadderRow]:
    """The tied and the untied GPT (``gpt`` and ``gpt_untied``): parameters and held-out perplexity.

    Raises ValueError unless the two were trained with the same command apart from ``--no-tie-weights``
    and ``--output`` (same steps, schedule, seed and data), so the comparison isolates weight tying.
    """
    tied, untied = checkpoint_metadata("gpt"), checkpoint_metadata("gpt_untied")

    def recipe(metadata: dict) -> list[str]:
        words = metadata["command"].split()
        kept, skip = [], False
        for word in words:
            if skip:
                skip = False
            elif word == "--output":
                skip = True
            elif word != "--no-tie-weights":
                kept.append(word)
        return kept

    if recipe(tied) != recipe(untied):
        raise ValueError(f"the tied and untied GPTs were trained differently: {tied['command']!r} vs {untied['command']!r}")
    if tied["config"]["tie_weights"] is not True or untied["config"]["tie_weights"] is not False:
        raise ValueError("checkpoint 'gpt' must have tied and 'gpt_untied' untied embeddings")
    return [_row("gpt", tied["metrics"]), _row("gpt_untied", untied["metrics"])]

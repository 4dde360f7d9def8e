"""The first two stages of InstructGPT on the course's instruction tasks, as ``scripts/train_rlhf.py`` runs them.

Idea. Ouyang et al. (2022) start from a pre-trained language model and (1) fine-tune it on labeler-written
demonstrations (SFT), then (2) sample K responses per prompt from the SFT model, have labelers rank them, and
train a reward model on all K·(K−1)/2 pairs of every ranking with −log σ(r_better − r_worse). Step 3 (PPO)
and its alternatives (best-of-n, DPO) are cheap enough to run live in notebook 09.

Prompts are split three ways and never shared: SFT prompts, reward-model prompts (PPO reuses these, as
the policy's prompts need no labels) and held-out prompts, whose letter strings fail
:func:`course_utils.rlhf_tasks.is_heldout_prompt`'s rule for every training prompt and were seen by no
stage (nor by the base model's pre-training). The held-out prompts serve only for evaluation.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from course_utils.gpt import GPT, checkpoint_path
from course_utils.rlhf_models import (
    READOUTS,
    ResponseBatch,
    RewardModel,
    require_reward_model,
    sample_responses,
)
from course_utils.rlhf_tasks import (
    SECONDARY_PREFERENCES,
    STOP_ID,
    Labeler,
    Prompt,
    is_heldout_prompt,
    make_prompts,
)
from course_utils.rlhf_training import (
    Comparison,
    collect_comparisons,
    labeler_scores,
    pairwise_accuracy,
    train_reward_model,
    train_sft,
)
from course_utils.training import evaluating

__all__ = ["RLHFConfig", "PromptSplit", "split_prompts", "run_sft", "RewardModelRun", "run_reward_model",
           "mean_labeler_score", "STAGES", "rlhf_checkpoint_path", "PromptCentredReward"]

STAGES = ("sft", "rm")  # the shipped checkpoints: rlhf_sft.safetensors, rlhf_rm.safetensors


def rlhf_checkpoint_path(stage: str) -> Path:
    """``data/checkpoints/rlhf_<stage>.safetensors`` (the folder of :func:`course_utils.gpt.checkpoint_path`,
    so ``$COURSE_CHECKPOINT_DIR`` moves it too)."""
    if stage not in STAGES:
        raise KeyError(f"unknown RLHF stage {stage!r}; choose one of {STAGES}")
    return checkpoint_path("icl_2layer").parent / f"rlhf_{stage}.safetensors"


@dataclass
class RLHFConfig:
    """Settings of the SFT and reward-model stages (the defaults made the shipped checkpoints)."""

    seed: int = 0
    sft_prompts: int = 1000  # prompts with demonstrations for step 1
    rm_prompts: int = 6000  # prompts whose K samples the labeler ranks (step 2); PPO reuses them
    heldout_prompts: int = 300  # evaluation only
    secondary: str = "detailed"  # the labeler's secondary preference between equally correct responses
    sft_steps: int = 300
    sft_batch_size: int = 32
    sft_learning_rate: float = 1e-3
    k: int = 8  # responses sampled per prompt for one ranking
    temperature: float = 1.0  # sampling temperature for the comparisons (plain, no top-k/top-p)
    max_new_tokens: int = 8  # the longest response (the demonstrations need at most 5 tokens)
    readout: str = "mean_logprob"  # the reward model's readout (rlhf_models.READOUTS)
    rm_steps: int = 1200  # chosen on a validation split of the rm prompts (data/checkpoints/README.md)
    rm_batch_size: int = 64
    rm_learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("sft_prompts", "rm_prompts", "heldout_prompts", "sft_steps", "sft_batch_size", "rm_steps",
                     "rm_batch_size", "max_new_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.k < 2:
            raise ValueError(f"a ranking needs K >= 2 responses per prompt, got k={self.k}")
        if self.secondary not in SECONDARY_PREFERENCES:
            raise ValueError(f"secondary must be one of {SECONDARY_PREFERENCES}, got {self.secondary!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if not (self.temperature > 0 and self.sft_learning_rate > 0 and self.rm_learning_rate > 0):
            raise ValueError("temperature and learning rates must be > 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PromptSplit:
    """Disjoint prompt sets: ``sft`` (demonstrations), ``rm`` (rankings; PPO's prompts too), ``heldout``."""

    sft: list[Prompt]
    rm: list[Prompt]
    heldout: list[Prompt]


def split_prompts(config: RLHFConfig) -> PromptSplit:
    """Draw the three prompt sets (seeded); training prompts and held-out prompts never share letters."""
    train = make_prompts(config.sft_prompts + config.rm_prompts, seed=config.seed)
    heldout = make_prompts(config.heldout_prompts, heldout=True, seed=config.seed + 1)
    split = PromptSplit(train[:config.sft_prompts], train[config.sft_prompts:], heldout)
    assert not any(is_heldout_prompt(p) for p in train) and all(is_heldout_prompt(p) for p in heldout)
    return split


def run_sft(base: GPT, prompts: list[Prompt], config: RLHFConfig, *, device: torch.device | str | None = None,
            ) -> tuple[GPT, list[float]]:
    """Step 1: a copy of ``base`` fine-tuned on the prompts' demonstrations; returns it and its losses."""
    model = copy.deepcopy(base)
    torch.manual_seed(config.seed)
    losses = train_sft(model, prompts, steps=config.sft_steps, batch_size=config.sft_batch_size,
                       learning_rate=config.sft_learning_rate, seed=config.seed, device=device)
    return model, losses


@dataclass
class RewardModelRun:
    """Step 2's outcome: the reward model, its training losses, the training and held-out comparisons and the
    held-out pairwise accuracy."""

    model: RewardModel
    losses: list[float]
    comparisons: list[Comparison]
    heldout_comparisons: list[Comparison]
    heldout_accuracy: float


def run_reward_model(sft: GPT, split: PromptSplit, config: RLHFConfig, *,
                     device: torch.device | str | None = None) -> RewardModelRun:
    """Step 2: K samples per prompt from ``sft``, ranked by the labeler, all pairs → a reward model whose
    backbone starts as a copy of ``sft``; held-out comparisons come from the held-out prompts the same way."""
    labeler = Labeler(config.secondary)
    kwargs = dict(k=config.k, max_new_tokens=config.max_new_tokens, temperature=config.temperature)
    comparisons = collect_comparisons(sft, split.rm, labeler, seed=config.seed, **kwargs)
    heldout = collect_comparisons(sft, split.heldout, labeler, seed=config.seed + 1, **kwargs)
    if not comparisons or not heldout:
        raise ValueError("the SFT model's samples gave no comparisons (every sample identical?); raise the temperature")
    torch.manual_seed(config.seed)
    model = RewardModel(copy.deepcopy(sft), config.readout)
    losses = train_reward_model(model, comparisons, steps=config.rm_steps, batch_size=config.rm_batch_size,
                                learning_rate=config.rm_learning_rate, seed=config.seed, device=device)
    return RewardModelRun(model, losses, comparisons, heldout, pairwise_accuracy(model, heldout))


def mean_labeler_score(policy: GPT, prompts: list[Prompt], config: RLHFConfig) -> float:
    """The mean gold score of ``policy``'s greedy responses (evaluation only)."""
    scores = labeler_scores(policy, prompts, Labeler(config.secondary), max_new_tokens=config.max_new_tokens)
    return sum(scores) / len(scores)


class PromptCentredReward:
    """Step 3's reward: r(x, y) − r(x, ŷ(x)), the reward model's score minus its score of the reference's
    greedy response ŷ(x) to the same prompt.

    A per-prompt constant leaves the KL-regularised optimum π* ∝ π_ref·exp(r/β) unchanged (it cancels in
    the normalisation), but it removes the spread of scores *between* prompts (a standard deviation of
    about 2 for the shipped reward model), which PPO's advantages would otherwise carry as noise.
    Call it on a :class:`ResponseBatch` whose prompts were all given here.
    """

    def __init__(self, reward_model: RewardModel, reference: GPT, prompts: list[Prompt], *,
                 max_new_tokens: int = 8) -> None:
        self.reward_model = require_reward_model(reward_model)
        ids = [p.ids() for p in prompts]
        greedy = sample_responses(reference, ids, max_new_tokens=max_new_tokens, temperature=0.0,
                                  stop_token=STOP_ID)  # temperature 0: greedy, prompts of equal length together
        with evaluating(reward_model):
            scores = reward_model.score(greedy.to(next(reward_model.parameters()).device))
        self.baselines = {tuple(p): float(s) for p, s in zip(ids, scores)}

    def baseline(self, prompt_ids: list[int] | tuple[int, ...]) -> float:
        key = tuple(prompt_ids)
        if key not in self.baselines:
            raise KeyError(f"no baseline for the prompt {list(key)}: give it to PromptCentredReward first")
        return self.baselines[key]

    def __call__(self, batch: ResponseBatch) -> Tensor:
        device = next(self.reward_model.parameters()).device
        with evaluating(self.reward_model):
            scores = self.reward_model.score(batch.to(device)).float().cpu()
        offsets = torch.tensor([self.baseline(row[:p].tolist()) for row, p in
                                zip(batch.ids.cpu(), batch.prompt_lengths.tolist())])
        return scores - offsets

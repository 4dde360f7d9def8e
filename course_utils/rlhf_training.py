"""RLHF's training loops: the reward model on comparisons, PPO with a KL penalty, and DPO.

Idea. Step 2 of InstructGPT (Ouyang et al. 2022) fits a reward model to comparisons (prompt, better,
worse) with −log σ(r_better − r_worse). Step 3 runs PPO (Schulman et al. 2017): sample responses from
the policy, score them, turn the score and a KL penalty to the frozen SFT model into per-token rewards,
estimate advantages with GAE, then take a few clipped gradient steps on the same samples. DPO (Rafailov
et al. 2023) trains on the comparisons directly, with no sampling and no reward model.

One PPO step::

    y ~ π_old(·|x)  (plain temperature)            scores s = r(x, y)
    R_t = −β·(log π_old − log π_ref)(y_t) (+ s at the last token)
    A, G = GAE(R, V_old);  A ← whiten(A)
    repeat ppo_epochs:  L = L_clip(π) + c_v·L_value(V);  clip ‖∇‖ to max_grad_norm;  AdamW step

Dropout is off throughout (eval mode; gradients still flow): with it on, π would differ from π_old at
the first epoch and the ratio would not start at 1. A loss or gradient that is not finite stops training
with a message instead of writing NaN into the weights. The losses are in :mod:`course_utils.rlhf`, the
models in :mod:`course_utils.rlhf_models`. The last section runs the stages on the course's tasks
(:mod:`course_utils.rlhf_tasks`): SFT on demonstrations, comparisons from the labeler's rankings, and the
labeler's (gold) score of a policy's greedy answers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor

from course_utils.generation import generate
from course_utils.gpt import GPT
from course_utils.icl_tasks import encode
from course_utils.rlhf import (
    check_beta,
    check_clip_range,
    dpo_loss,
    gae,
    kl_penalised_rewards,
    masked_mean,
    pairwise_ranking_loss,
    ppo_policy_loss,
    ppo_value_loss,
    ranking_to_pairs,
    whiten,
)
from course_utils.rlhf_models import (
    PolicyWithValue,
    ResponseBatch,
    RewardModel,
    make_response_batch,
    require_policy,
    require_reward_model,
    response_log_probs,
    sample_responses,
    sequence_log_probs,
    sft_loss,
)
from course_utils.rlhf_tasks import STOP_ID, Labeler, Prompt, demonstration
from course_utils.training import evaluating

__all__ = [
    "Comparison",
    "train_reward_model",
    "pairwise_accuracy",
    "PPOConfig",
    "PPOResult",
    "train_ppo",
    "DPOResult",
    "train_dpo",
    "train_sft",
    "collect_comparisons",
    "labeler_scores",
]


@dataclass(frozen=True)
class Comparison:
    """One labeler comparison: ``prompt`` ids, the ``better`` and the ``worse`` response ids."""

    prompt: tuple[int, ...]
    better: tuple[int, ...]
    worse: tuple[int, ...]


def _pair_batches(comparisons: Sequence[Comparison], indices: Sequence[int], pad_id: int,
                  ) -> tuple[ResponseBatch, ResponseBatch]:
    chosen = make_response_batch([comparisons[i].prompt for i in indices], [comparisons[i].better for i in indices],
                                 pad_id=pad_id)
    rejected = make_response_batch([comparisons[i].prompt for i in indices], [comparisons[i].worse for i in indices],
                                   pad_id=pad_id)
    return chosen, rejected


def _check_finite(loss: Tensor, step: int, what: str) -> None:
    if not torch.isfinite(loss).all():
        raise FloatingPointError(f"{what} step {step}: the loss is {loss.item()} (not finite); training stopped "
                                 "before the weights were changed — lower the learning rate or β, or check the rewards")


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: Tensor, max_grad_norm: float, step: int,
          what: str) -> float:
    _check_finite(loss, step, what)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if not torch.isfinite(norm):
        raise FloatingPointError(f"{what} step {step}: the gradient norm is {norm.item()} (not finite); training "
                                 "stopped before the weights were changed")
    optimizer.step()
    return float(norm)


@contextmanager
def _dropout_off(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode (dropout off) *with* gradients, the previous mode restored afterwards
    (:func:`course_utils.training.evaluating` also turns gradients off, which training cannot use)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _place(model: torch.nn.Module, device: torch.device | str | None) -> torch.device:
    """Move ``model`` to ``device`` when one is given; return the device the model is on."""
    if device is not None:
        model.to(device)
    return next(model.parameters()).device


def _check_positive_int(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def train_reward_model(model: RewardModel, comparisons: Sequence[Comparison], *, steps: int = 200,
                       batch_size: int = 32, learning_rate: float = 1e-3, max_grad_norm: float = 1.0,
                       pad_id: int = 0, seed: int = 0, device: torch.device | str | None = None) -> list[float]:
    """Fit ``model`` to comparisons with the pairwise loss (AdamW, random minibatches); returns the losses.
    ``device``: move the model there first (default: train where it is); batches follow the model."""
    model = require_reward_model(model)
    _check_positive_int(steps=steps, batch_size=batch_size)
    if not comparisons:
        raise ValueError("no comparisons to train on")
    rng = np.random.RandomState(seed)
    device = _place(model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    losses = []
    with _dropout_off(model):  # as for PPO: both scores of a pair come from one function
        for step in range(steps):
            indices = rng.choice(len(comparisons), min(batch_size, len(comparisons)), replace=False)
            chosen, rejected = (b.to(device) for b in _pair_batches(comparisons, indices, pad_id))
            loss = pairwise_ranking_loss(model.score(chosen), model.score(rejected))
            _step(model, optimizer, loss, max_grad_norm, step, "reward model")
            losses.append(loss.item())
    return losses


@torch.no_grad()
def pairwise_accuracy(model: RewardModel, comparisons: Sequence[Comparison], *, pad_id: int = 0,
                      batch_size: int = 256) -> float:
    """Share of comparisons where the reward model scores the better response strictly higher."""
    model = require_reward_model(model)
    if not comparisons:
        raise ValueError("no comparisons to score")
    device = next(model.parameters()).device
    right = 0
    with evaluating(model):
        for start in range(0, len(comparisons), batch_size):
            indices = range(start, min(start + batch_size, len(comparisons)))
            chosen, rejected = (b.to(device) for b in _pair_batches(comparisons, indices, pad_id))
            right += int((model.score(chosen) > model.score(rejected)).sum())
    return right / len(comparisons)


@dataclass
class PPOConfig:
    """PPO's settings (defaults sized for the course's tiny models on a CPU)."""

    steps: int = 50  # rollouts (each followed by ppo_epochs gradient steps)
    batch_size: int = 32  # prompts per rollout
    ppo_epochs: int = 4  # gradient steps on each rollout
    learning_rate: float = 3e-4  # AdamW
    beta: float = 0.1  # KL penalty β (0: none, the reward model is free to be exploited)
    clip_range: float = 0.2  # ε of the probability ratio
    value_clip_range: float = 0.2  # ε_v of the value change
    value_coef: float = 0.5  # c_v
    gamma: float = 1.0  # discount within a response
    lam: float = 0.95  # GAE's λ
    max_grad_norm: float = 1.0
    max_new_tokens: int = 8
    temperature: float = 1.0  # plain sampling, no top-k/top-p (the KL estimate needs π's own distribution)
    whiten_advantages: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        _check_positive_int(steps=self.steps, batch_size=self.batch_size, ppo_epochs=self.ppo_epochs,
                            max_new_tokens=self.max_new_tokens)
        check_beta(self.beta)
        check_clip_range(self.clip_range)
        check_clip_range(self.value_clip_range, "value clip range")
        if not self.learning_rate > 0 or not self.max_grad_norm > 0 or not self.temperature > 0:
            raise ValueError("learning_rate, max_grad_norm and temperature must be > 0")
        if self.value_coef < 0:
            raise ValueError(f"value_coef must be >= 0, got {self.value_coef}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PPOResult:
    """The trained :class:`PolicyWithValue` and one dict per rollout: ``score`` (mean reward-model score),
    ``kl`` (mean Σ_t log π_old − log π_ref per response), ``length`` (mean response tokens),
    ``policy_loss``, ``value_loss``, ``clip_fraction`` (share of ratios outside 1 ± ε in the last epoch)."""

    model: PolicyWithValue
    history: list[dict] = field(default_factory=list)

    def curve(self, key: str) -> list[float]:
        return [row[key] for row in self.history]


Reward = RewardModel | Callable[[ResponseBatch], Tensor]


def _scores(reward: Reward, batch: ResponseBatch) -> Tensor:
    if isinstance(reward, RewardModel):
        with evaluating(reward):
            return reward.score(batch.to(next(reward.parameters()).device)).to(batch.ids.device).float()
    scores = torch.as_tensor(reward(batch), dtype=torch.float32, device=batch.ids.device)
    if scores.shape != (batch.ids.shape[0],):
        raise ValueError(f"the reward must give one score per response ({batch.ids.shape[0]},), got {tuple(scores.shape)}")
    return scores


def train_ppo(policy: GPT | PolicyWithValue, reward: Reward, prompts: Sequence[Sequence[int]],
              config: PPOConfig | None = None, *, reference: GPT | None = None, stop_token: int | None = None,
              on_step: Callable[[int, dict], None] | None = None, device: torch.device | str | None = None,
              ) -> PPOResult:
    """PPO against ``reward`` (a :class:`RewardModel` or a function of a :class:`ResponseBatch` giving (B,)
    scores) with a KL penalty to ``reference`` (default: a frozen copy of the starting policy).

    ``policy`` is trained in place (a GPT gets a fresh zero-initialised value head). ``on_step(step, row)``
    is called after each rollout (progress bars, live plots). ``device``: move the policy, the reference and
    a reward model there first (default: leave them where they are).
    """
    config = config or PPOConfig()
    model = policy if isinstance(policy, PolicyWithValue) else PolicyWithValue(require_policy(policy))
    if isinstance(reward, torch.nn.Module):
        require_reward_model(reward)  # a policy (or any other module) cannot score: a clear error
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("give at least one non-empty prompt")
    reference = copy.deepcopy(model.policy) if reference is None else require_policy(reference)
    reference.eval().requires_grad_(False)
    if device is not None:
        _place(model, device), _place(reference, device)
        if isinstance(reward, torch.nn.Module):
            _place(reward, device)
    # the sampler's generator lives where the policy samples (a CPU generator cannot drive CUDA sampling)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(config.seed)
    rng = np.random.RandomState(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    result = PPOResult(model)
    with _dropout_off(model):
        for step in range(config.steps):
            chosen = rng.choice(len(prompts), config.batch_size, replace=len(prompts) < config.batch_size)
            batch = sample_responses(model.policy, [list(prompts[i]) for i in chosen],
                                     max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                     stop_token=stop_token, generator=generator)
            mask = batch.action_mask()  # (B, T-1)
            with torch.no_grad():
                out = model(batch.ids)
                old_log_probs = response_log_probs(model.policy, batch)
                old_values = out.values[:, :-1] * mask
                ref_log_probs = response_log_probs(reference, batch)
                scores = _scores(reward, batch)
                rewards = kl_penalised_rewards(old_log_probs, ref_log_probs, scores, mask, config.beta)
                advantages, returns = gae(rewards, old_values, mask, gamma=config.gamma, lam=config.lam)
                if config.whiten_advantages:
                    advantages = whiten(advantages, mask)
            for _ in range(config.ppo_epochs):
                out = model(batch.ids)
                log_probs = response_log_probs(model.policy, batch)
                policy_loss = ppo_policy_loss(log_probs, old_log_probs, advantages, mask, config.clip_range)
                value_loss = ppo_value_loss(out.values[:, :-1], old_values, returns, mask, config.value_clip_range)
                _step(model, optimizer, policy_loss + config.value_coef * value_loss, config.max_grad_norm, step, "PPO")
            with torch.no_grad():
                ratio = torch.exp(log_probs.detach() - old_log_probs)
                clipped = masked_mean(((ratio - 1).abs() > config.clip_range).float(), mask)
            row = {"step": step, "score": float(scores.mean()),
                   "kl": float(((old_log_probs - ref_log_probs) * mask).sum(-1).mean()),
                   "length": float(mask.sum(-1).float().mean()), "policy_loss": policy_loss.item(),
                   "value_loss": value_loss.item(), "clip_fraction": float(clipped)}
            if not all(math.isfinite(v) for v in row.values()):
                raise FloatingPointError(f"PPO step {step}: a statistic is not finite ({row}); training stopped")
            result.history.append(row)
            if on_step is not None:
                on_step(step, row)
    return result


@dataclass
class DPOResult:
    """The trained policy GPT and one dict per step: ``loss``, ``margin`` (mean of
    (log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)), ``accuracy`` (share of margins > 0)."""

    model: GPT
    history: list[dict] = field(default_factory=list)

    def curve(self, key: str) -> list[float]:
        return [row[key] for row in self.history]


def train_dpo(policy: GPT, comparisons: Sequence[Comparison], *, beta: float = 0.1, steps: int = 100,
              batch_size: int = 32, learning_rate: float = 3e-4, max_grad_norm: float = 1.0,
              reference: GPT | None = None, pad_id: int = 0, seed: int = 0,
              device: torch.device | str | None = None) -> DPOResult:
    """DPO on comparisons (prompt, chosen = better, rejected = worse), trained in place; ``reference``
    defaults to a frozen copy of the starting policy. ``device``: move both there first."""
    policy = require_policy(policy)
    beta = check_beta(beta, allow_zero=False)
    _check_positive_int(steps=steps, batch_size=batch_size)
    if not comparisons:
        raise ValueError("no comparisons to train on")
    reference = copy.deepcopy(policy) if reference is None else require_policy(reference)
    reference.eval().requires_grad_(False)
    device = _place(policy, device)
    _place(reference, device)
    rng = np.random.RandomState(seed)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=learning_rate, weight_decay=0.0)
    result = DPOResult(policy)
    with _dropout_off(policy):
        for step in range(steps):
            indices = rng.choice(len(comparisons), min(batch_size, len(comparisons)), replace=False)
            chosen, rejected = (b.to(device) for b in _pair_batches(comparisons, indices, pad_id))
            with torch.no_grad():
                ref_chosen, ref_rejected = sequence_log_probs(reference, chosen), sequence_log_probs(reference, rejected)
            pi_chosen, pi_rejected = sequence_log_probs(policy, chosen), sequence_log_probs(policy, rejected)
            loss = dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta)
            _step(policy, optimizer, loss, max_grad_norm, step, "DPO")
            margin = ((pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)).detach()
            result.history.append({"step": step, "loss": loss.item(), "margin": float(margin.mean()),
                                   "accuracy": float((margin > 0).float().mean())})
    return result


# --------------------------------------------------------------------------------------------------
# The stages on the course's instruction tasks
# --------------------------------------------------------------------------------------------------


def _check_prompts(prompts: Sequence[Prompt]) -> None:
    if not prompts or not all(isinstance(p, Prompt) for p in prompts):
        raise ValueError("give a non-empty list of rlhf_tasks.Prompt")


def train_sft(model: GPT, prompts: Sequence[Prompt], *, steps: int = 200, batch_size: int = 32,
              learning_rate: float = 1e-3, max_grad_norm: float = 1.0, seed: int = 0,
              device: torch.device | str | None = None) -> list[float]:
    """Step 1: fine-tune ``model`` in place on prompt → demonstration, loss on the response tokens only.
    ``device``: move the model there first (default: train where it is)."""
    model = require_policy(model)
    _check_prompts(prompts)
    _check_positive_int(steps=steps, batch_size=batch_size)
    demonstrations = [encode(demonstration(p)) for p in prompts]
    rng = np.random.RandomState(seed)
    device = _place(model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    losses = []
    with _dropout_off(model):
        for step in range(steps):
            indices = rng.choice(len(prompts), min(batch_size, len(prompts)), replace=False)
            batch = make_response_batch([prompts[i].ids() for i in indices], [demonstrations[i] for i in indices])
            loss = sft_loss(model, batch.to(device))
            _step(model, optimizer, loss, max_grad_norm, step, "SFT")
            losses.append(loss.item())
    return losses


@torch.no_grad()
def collect_comparisons(policy: GPT, prompts: Sequence[Prompt], labeler: Labeler, *, k: int = 4,
                        max_new_tokens: int = 6, temperature: float = 1.0, seed: int = 0) -> list[Comparison]:
    """Step 2's data: sample ``k`` responses per prompt, let ``labeler`` rank the distinct ones, and turn
    each ranking into all its (better, worse) pairs, keeping those the labeler actually prefers (a pair
    ordered only by its alphabetical tie-break is dropped, see :meth:`Labeler.prefers`). Prompts with fewer
    than 2 distinct samples give none."""
    policy = require_policy(policy)
    _check_prompts(prompts)
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"a ranking needs K >= 2 responses per prompt, got k={k!r}")
    device = next(policy.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    comparisons = []
    for prompt in prompts:
        ids = torch.tensor([prompt.ids()] * k, device=device)
        out = generate(policy, ids, max_new_tokens=max_new_tokens, temperature=temperature, stop_token=STOP_ID,
                       generator=generator)
        distinct = list(dict.fromkeys(tuple(r) for r in out.as_lists()))
        if len(distinct) < 2:
            continue
        ranking = labeler.rank(prompt, distinct)
        comparisons += [Comparison(tuple(prompt.ids()), distinct[b], distinct[w]) for b, w in ranking_to_pairs(ranking)
                        if labeler.prefers(prompt, distinct[b], distinct[w])]
    return comparisons


@torch.no_grad()
def labeler_scores(policy: GPT, prompts: Sequence[Prompt], labeler: Labeler, *, max_new_tokens: int = 6,
                   ) -> list[float]:
    """Evaluation only: the labeler's gold score of the policy's greedy response to each prompt."""
    policy = require_policy(policy)
    _check_prompts(prompts)
    device = next(policy.parameters()).device
    scores = []
    for prompt in prompts:
        out = generate(policy, torch.tensor([prompt.ids()], device=device), max_new_tokens=max_new_tokens,
                       stop_token=STOP_ID)
        scores.append(labeler.score(prompt, out.as_lists()[0]))
    return scores

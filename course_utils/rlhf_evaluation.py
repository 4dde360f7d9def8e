"""Measuring RLHF policies on the course's tasks: sampled statistics, best-of-n against n, and the exact
KL-regularised optimum on a restricted response space (notebook 09).

Idea. Every policy π is judged on the same footing: responses sampled with plain temperature on held-out
prompts, their mean labeler (gold) score, mean reward-model score, mean response length and the KL to the
reference, estimated by the mean of log π(y|x) − log π_ref(y|x) over the samples (Monte Carlo for
KL(π‖π_ref) = E_π[log π − log π_ref]). Best-of-n has no weights of its own; its KL to the reference is
known in closed form (Stiennon et al. 2020; Hilton & Gao): KL = log n − (n − 1)/n.

The oracle for the RL step (Ziebart 2008; Rafailov et al. 2023): over a finite set of responses Y(x),
π*(y|x) ∝ π_ref(y|x)·exp(r(x, y)/β) maximises E_π[r] − β·KL(π‖π_ref). Here Y(x) is the set of distinct
responses among many samples of the reference (:func:`candidate_space`), which holds most of its
probability (the set's mass under π_ref is reported as ``coverage``); :func:`closed_form_curve` traces the
optimum's reward, gold score, KL and length over β without any training — the over-optimisation curve of
Gao et al. (2022), "Scaling laws for reward model overoptimization".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from course_utils.gpt import GPT
from course_utils.rlhf import kl_regularised_optimum
from course_utils.rlhf_models import (
    RewardModel,
    make_response_batch,
    require_policy,
    require_reward_model,
    sample_responses,
    sequence_log_probs,
)
from course_utils.rlhf_tasks import STOP_ID, Labeler, Prompt
from course_utils.training import evaluating

__all__ = ["SampleStats", "sample_stats", "best_of_n_kl", "best_of_n_curve", "CandidateSpace", "candidate_space",
           "closed_form_curve"]


def _check_prompts(prompts: Sequence[Prompt]) -> list[Prompt]:
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, Prompt) for p in prompts):
        raise ValueError("give a non-empty list of rlhf_tasks.Prompt")
    return prompts


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@torch.no_grad()
def _per_response(model: torch.nn.Module, read, prompts: list[list[int]], responses: list[list[int]],
                  batch_size: int) -> Tensor:
    """``read(model, batch)`` for every (prompt, response), in batches on the model's device; one CPU tensor."""
    device = next(model.parameters()).device
    out = []
    with evaluating(model):
        for start in range(0, len(prompts), batch_size):
            batch = make_response_batch(prompts[start:start + batch_size], responses[start:start + batch_size])
            out.append(read(model, batch.to(device)).cpu())
    return torch.cat(out)


def _scores(reward_model: RewardModel, prompts: list[list[int]], responses: list[list[int]],
            batch_size: int = 512) -> Tensor:
    return _per_response(require_reward_model(reward_model), lambda m, b: m.score(b).float(), prompts, responses,
                         batch_size)


def _log_probs(model: GPT, prompts: list[list[int]], responses: list[list[int]], batch_size: int = 512) -> Tensor:
    return _per_response(require_policy(model), lambda m, b: sequence_log_probs(m, b).double(), prompts, responses,
                         batch_size)


@dataclass
class SampleStats:
    """Means over sampled responses: ``labeler`` (gold), ``reward`` (reward model), ``kl`` (nats, Monte Carlo),
    ``length`` (response tokens, ";" included); ``responses`` the samples (prompt-major)."""

    labeler: float
    reward: float
    kl: float
    length: float
    responses: list[list[int]]


def sample_stats(policy: GPT, reference: GPT, reward_model: RewardModel, prompts: Sequence[Prompt],
                 labeler: Labeler, *, samples: int = 4, max_new_tokens: int = 8, seed: int = 0) -> SampleStats:
    """Sample ``samples`` responses per prompt from ``policy`` (temperature 1) and measure them."""
    prompts = _check_prompts(prompts)
    _check_count("samples", samples)
    ids = [p.ids() for p in prompts for _ in range(samples)]
    generator = torch.Generator(device=next(require_policy(policy).parameters()).device).manual_seed(seed)
    batch = sample_responses(policy, ids, max_new_tokens=max_new_tokens, stop_token=STOP_ID, generator=generator)
    responses = batch.responses()
    kl = _log_probs(policy, ids, responses) - _log_probs(reference, ids, responses)
    gold = [labeler.score(p, r) for p, r in zip((p for p in prompts for _ in range(samples)), responses)]
    return SampleStats(float(np.mean(gold)), float(_scores(reward_model, ids, responses).mean()), float(kl.mean()),
                       float(np.mean([len(r) for r in responses])), responses)


def best_of_n_kl(n: int) -> float:
    """KL(best-of-n ‖ π_ref) = log n − (n − 1)/n nats (for distinct samples; an upper bound otherwise)."""
    _check_count("n", n)
    return math.log(n) - (n - 1) / n


def best_of_n_curve(policy: GPT, reward_model: RewardModel, prompts: Sequence[Prompt], labeler: Labeler,
                    ns: Sequence[int] = (1, 2, 4, 8, 16), *, max_new_tokens: int = 8, seed: int = 0) -> list[dict]:
    """Best-of-n for each n in ``ns``: max(ns) samples per prompt are split into max(ns)/n disjoint groups of n,
    the reward model picks one per group; one row per n with the chosen responses' mean ``labeler`` and
    ``reward`` scores, ``length`` and the closed-form ``kl``."""
    prompts = _check_prompts(prompts)
    ns = list(ns)
    for n in ns:
        _check_count("n (best-of-n)", n)
    total = max(ns)
    if any(total % n for n in ns):
        raise ValueError(f"every n must divide the largest one ({total}), got {ns}")
    ids = [p.ids() for p in prompts for _ in range(total)]
    generator = torch.Generator(device=next(require_policy(policy).parameters()).device).manual_seed(seed)
    responses = sample_responses(policy, ids, max_new_tokens=max_new_tokens, stop_token=STOP_ID,
                                 generator=generator).responses()
    rewards = _scores(reward_model, ids, responses).view(len(prompts), total)  # (P, N)
    gold = torch.tensor([labeler.score(prompts[i // total], r) for i, r in enumerate(responses)]).view_as(rewards)
    lengths = torch.tensor([float(len(r)) for r in responses]).view_as(rewards)
    rows = []
    for n in ns:
        shape = (len(prompts), total // n, n)  # (P, G, n): G disjoint groups of n samples per prompt
        best = rewards.view(shape).argmax(-1, keepdim=True)  # (P, G, 1): the first on ties
        picked = {name: float(values.view(shape).gather(-1, best).mean())
                  for name, values in (("labeler", gold), ("reward", rewards), ("length", lengths))}
        rows.append({"n": n, **picked, "kl": best_of_n_kl(n)})
    return rows


@dataclass
class CandidateSpace:
    """Per prompt: the distinct sampled ``responses``, their ``ref_log_probs`` (exact log π_ref, not
    renormalised), reward-model ``rewards``, ``gold`` scores and ``lengths``; ``coverage`` = π_ref mass of
    the set."""

    prompts: list[Prompt]
    responses: list[list[tuple[int, ...]]]
    ref_log_probs: list[Tensor]
    rewards: list[Tensor]
    gold: list[Tensor]
    lengths: list[Tensor]

    @property
    def coverage(self) -> list[float]:
        return [float(lp.exp().sum()) for lp in self.ref_log_probs]


def candidate_space(reference: GPT, reward_model: RewardModel, prompts: Sequence[Prompt], labeler: Labeler, *,
                    samples: int = 64, max_new_tokens: int = 8, temperature: float = 1.0,
                    seed: int = 0) -> CandidateSpace:
    """The restricted response space: the distinct responses among ``samples`` draws from ``reference`` per
    prompt (at ``temperature``; above 1 reaches further into the tail), each scored exactly."""
    prompts = _check_prompts(prompts)
    _check_count("samples", samples)
    ids = [p.ids() for p in prompts for _ in range(samples)]
    generator = torch.Generator(device=next(require_policy(reference).parameters()).device).manual_seed(seed)
    drawn = sample_responses(reference, ids, max_new_tokens=max_new_tokens, temperature=temperature,
                             stop_token=STOP_ID, generator=generator).responses()
    distinct = [list(dict.fromkeys(tuple(r) for r in drawn[i * samples:(i + 1) * samples])) for i in range(len(prompts))]
    flat_prompts = [p.ids() for p, rs in zip(prompts, distinct) for _ in rs]
    flat = [list(r) for rs in distinct for r in rs]
    log_probs, rewards = _log_probs(reference, flat_prompts, flat), _scores(reward_model, flat_prompts, flat)
    space = CandidateSpace(prompts, distinct, [], [], [], [])
    start = 0
    for prompt, rs in zip(prompts, distinct):
        end = start + len(rs)
        space.ref_log_probs.append(log_probs[start:end])
        space.rewards.append(rewards[start:end].double())
        space.gold.append(torch.tensor([labeler.score(prompt, r) for r in rs], dtype=torch.float64))
        space.lengths.append(torch.tensor([float(len(r)) for r in rs], dtype=torch.float64))
        start = end
    return space


def closed_form_curve(space: CandidateSpace, betas: Sequence[float]) -> list[dict]:
    """For each β the optimum π* ∝ π_ref·exp(r/β) on every prompt's candidates (π_ref renormalised over them):
    mean expected ``reward``, ``labeler`` (gold) score, ``length`` and ``kl`` (nats) over the prompts."""
    rows = []
    for beta in betas:
        totals = {"reward": 0.0, "labeler": 0.0, "length": 0.0, "kl": 0.0}
        for ref, reward, gold, length in zip(space.ref_log_probs, space.rewards, space.gold, space.lengths):
            optimum = kl_regularised_optimum(ref, reward, beta)
            probs = optimum.probs.double()
            totals["reward"] += optimum.expected_reward
            totals["kl"] += optimum.kl
            totals["labeler"] += float((probs * gold).sum())
            totals["length"] += float((probs * length).sum())
        rows.append({"beta": float(beta), **{k: v / len(space.prompts) for k, v in totals.items()}})
    return rows

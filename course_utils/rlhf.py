"""RLHF's losses and reinforcement-learning pieces: rankings → pairs, the reward model's pairwise loss,
the KL-penalised reward, GAE, advantage whitening, PPO's clipped losses and DPO's loss.

Idea. InstructGPT (Ouyang et al. 2022) trains a reward model r(x, y) on labelers' rankings of K responses
(every one of the K·(K−1)/2 pairs of a ranking is a comparison), then optimises the policy π with PPO
(Schulman et al. 2017) against r with a KL penalty to the supervised (SFT) model π_ref. DPO (Rafailov
et al. 2023) skips the reward model and the sampling: the KL-regularised optimum
π*(y|x) ∝ π_ref(y|x)·exp(r(x, y)/β) turns the pairwise loss into a loss on π itself.

Formulas (per response token t of a response of length n; masks pick the response tokens)::

    pairwise loss       L_RM = −mean over pairs of log σ(r_better − r_worse)
    per-token reward    R_t = −β·(log π(y_t) − log π_ref(y_t))  (+ r(x, y) at t = n)
    GAE                 δ_t = R_t + γ·V_{t+1} − V_t,   A_t = δ_t + γλ·A_{t+1},   V_{n+1} = 0, returns = A + V
    whitening           A ← (A − mean A) / std A   (only centred when the variance is zero)
    PPO policy loss     ρ = exp(log π − log π_old),   L = −mean min(ρ·A, clip(ρ, 1−ε, 1+ε)·A)
    PPO value loss      V_c = V_old + clip(V − V_old, −ε_v, ε_v),   L = ½·mean max((V − G)², (V_c − G)²)
    DPO loss            L = −mean log σ(β·[(log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)])
    KL-regularised optimum  π*(y|x) = π_ref(y|x)·exp(r(x, y)/β) / Z(x)   (maximises E r − β·KL(π‖π_ref))

Every log σ is ``F.logsigmoid`` so that extreme scores give finite losses. The model pieces (SFT, the
reward model, the policy's value head, best-of-n) are in :mod:`course_utils.rlhf_models`, the training
loops in :mod:`course_utils.rlhf_training`, the prompts and the labeler in :mod:`course_utils.rlhf_tasks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ranking_to_pairs",
    "pairwise_ranking_loss",
    "ranking_loss",
    "kl_penalised_rewards",
    "gae",
    "whiten",
    "masked_mean",
    "ppo_policy_loss",
    "ppo_value_loss",
    "dpo_loss",
    "check_beta",
    "check_clip_range",
    "KLOptimum",
    "kl_regularised_optimum",
]


def check_beta(beta: float, *, allow_zero: bool = True) -> float:
    """β as a float; raises ValueError for a negative, NaN or infinite β (and 0 when not allowed)."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"beta (β) must be a finite number >= 0, got {beta!r}")
    if not allow_zero and beta == 0:
        raise ValueError("beta (β) must be > 0 here (β = 0 makes the loss constant)")
    return float(beta)


def check_clip_range(epsilon: float, name: str = "clip range") -> float:
    """ε as a float; raises ValueError unless it is a finite number > 0."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not math.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"the {name} (ε) must be a finite number > 0, got {epsilon!r}")
    return float(epsilon)


# --------------------------------------------------------------------------------------------------
# Rankings and the reward model's loss
# --------------------------------------------------------------------------------------------------


def ranking_to_pairs(ranking: Sequence, k: int | None = None) -> list[tuple[int, int]]:
    """A strict ranking of K responses (their indices, best first) → all K·(K−1)/2 (better, worse) pairs.

    ``k`` (default: the ranking's length) is the number of responses that must all appear exactly once.
    A tuple or list inside the ranking (``[2, (0, 1)]``) means a tie and is refused: a tie says nothing
    about which is better.
    """
    ranking = list(ranking)
    for item in ranking:
        if isinstance(item, (tuple, list, set)):
            raise ValueError(f"the ranking {ranking} holds a tie {tuple(item)}; rank every response strictly")
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValueError(f"a ranking lists response indices (integers), got {item!r}")
    k = len(ranking) if k is None else k
    if k < 2:
        raise ValueError(f"a ranking needs K >= 2 responses, got K = {k}")
    repeated = sorted({i for i in ranking if ranking.count(i) > 1})
    if repeated:
        raise ValueError(f"the ranking {ranking} repeats response(s) {repeated}")
    outside = sorted(i for i in ranking if not 0 <= i < k)
    if outside:
        raise ValueError(f"the ranking {ranking} names response(s) {outside} outside 0..{k - 1}")
    missing = sorted(set(range(k)) - set(ranking))
    if missing:
        raise ValueError(f"the ranking {ranking} leaves out response(s) {missing} of the K = {k}")
    return [(ranking[a], ranking[b]) for a in range(k) for b in range(a + 1, k)]


def pairwise_ranking_loss(better: Tensor, worse: Tensor) -> Tensor:
    """−mean log σ(r_better − r_worse) over pairs: scores (P,) and (P,) → scalar (finite for any scores)."""
    if better.shape != worse.shape or better.numel() == 0:
        raise ValueError(f"better and worse need the same non-empty shape, got {tuple(better.shape)} and {tuple(worse.shape)}")
    return -F.logsigmoid(better - worse).mean()


def ranking_loss(rewards: Tensor, ranking: Sequence) -> Tensor:
    """InstructGPT's loss for one ranking: rewards (K,) of the K responses, ranking best first → the
    pairwise loss averaged over the K·(K−1)/2 pairs (each ranking counts once, whatever its K)."""
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be (K,), got shape {tuple(rewards.shape)}")
    pairs = torch.tensor(ranking_to_pairs(ranking, rewards.shape[0]), device=rewards.device)  # (P, 2)
    return pairwise_ranking_loss(rewards[pairs[:, 0]], rewards[pairs[:, 1]])


# --------------------------------------------------------------------------------------------------
# PPO's pieces
# --------------------------------------------------------------------------------------------------


def _check_same(mask: Tensor, *tensors: Tensor) -> Tensor:
    for t in tensors:
        if t.shape != mask.shape:
            raise ValueError(f"all per-token tensors need the mask's shape {tuple(mask.shape)}, got {tuple(t.shape)}")
    return mask.to(torch.bool)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` is True; raises ValueError when the mask selects nothing."""
    mask = _check_same(mask, values)
    count = mask.sum()
    if int(count) == 0:
        raise ValueError("the mask selects no token: nothing to average")
    return (values * mask).sum() / count


def kl_penalised_rewards(log_probs: Tensor, ref_log_probs: Tensor, scores: Tensor, mask: Tensor,
                         beta: float) -> Tensor:
    """Per-token rewards (B, N): −β·(log π − log π_ref) on every response token, plus the reward model's
    score (B,) at each row's last response token; 0 off the mask.

    log π − log π_ref of the sampled token is the one-sample estimate of KL(π‖π_ref) at that step (its
    sum over a response estimates the sequence KL when the tokens were sampled from π without top-k/p).
    """
    beta = check_beta(beta)
    mask = _check_same(mask, log_probs, ref_log_probs)
    if scores.shape != (mask.shape[0],):
        raise ValueError(f"scores must be ({mask.shape[0]},), one per response, got {tuple(scores.shape)}")
    if not bool(mask.any(-1).all()):
        raise ValueError("a row of the mask has no response token: where would its score go?")
    rewards = -beta * (log_probs - ref_log_probs) * mask
    positions = torch.arange(mask.shape[1], device=mask.device)
    last = (positions * mask).argmax(-1)  # (B,) index of each row's last response token
    return rewards.index_put((torch.arange(mask.shape[0], device=mask.device), last),
                             scores.to(rewards.dtype), accumulate=True)


def gae(rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float = 1.0, lam: float = 0.95,
        ) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over each row's masked tokens.

    rewards, values, mask (B, N) → (advantages, returns) (B, N), 0 off the mask. The value after a row's
    last masked token is 0 (the episode ends there); a row's tokens must be contiguous.
    """
    mask = _check_same(mask, rewards, values)
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must lie in [0, 1], got {gamma} and {lam}")
    m = mask.to(values.dtype)
    values = values * m
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        following = m[:, t + 1] if t + 1 < values.shape[1] else torch.zeros_like(running)
        next_value = values[:, t + 1] * following if t + 1 < values.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] * m[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running * following) * m[:, t]
        advantages[:, t] = running
    return advantages, (advantages + values) * m


def whiten(values: Tensor, mask: Tensor | None = None, *, eps: float = 1e-8) -> Tensor:
    """(x − mean) / std over the masked entries (all entries without a mask); 0 off the mask.

    When the variance is (numerically) zero the values are only centred — dividing by ~0 would blow the
    advantages up to arbitrary size.
    """
    mask = torch.ones_like(values, dtype=torch.bool) if mask is None else _check_same(mask, values)
    mean = masked_mean(values, mask)
    centred = (values - mean) * mask
    variance = (centred ** 2).sum() / mask.sum()
    if float(variance) <= eps:
        return centred
    return centred * torch.rsqrt(variance + eps)


def ppo_policy_loss(log_probs: Tensor, old_log_probs: Tensor, advantages: Tensor, mask: Tensor,
                    clip_range: float = 0.2) -> Tensor:
    """PPO's clipped surrogate, as a loss to minimise: −mean min(ρ·A, clip(ρ, 1−ε, 1+ε)·A) over the mask."""
    epsilon = check_clip_range(clip_range)
    mask = _check_same(mask, log_probs, old_log_probs, advantages)
    ratio = torch.exp((log_probs - old_log_probs).masked_fill(~mask, 0.0))  # (B, N); 1 off the mask
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - epsilon, 1.0 + epsilon) * advantages
    return -masked_mean(torch.minimum(unclipped, clipped), mask)


def ppo_value_loss(values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor,
                   clip_range: float = 0.2) -> Tensor:
    """½·mean max((V − G)², (V_old + clip(V − V_old, −ε, ε) − G)²) over the mask."""
    epsilon = check_clip_range(clip_range, "value clip range")
    mask = _check_same(mask, values, old_values, returns)
    clipped = old_values + (values - old_values).clamp(-epsilon, epsilon)
    return 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (clipped - returns) ** 2), mask)


def dpo_loss(chosen_log_probs: Tensor, rejected_log_probs: Tensor, ref_chosen_log_probs: Tensor,
             ref_rejected_log_probs: Tensor, beta: float = 0.1) -> Tensor:
    """DPO: −mean log σ(β·[(log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)]) over pairs (P,)."""
    beta = check_beta(beta, allow_zero=False)
    shape = chosen_log_probs.shape
    for t in (rejected_log_probs, ref_chosen_log_probs, ref_rejected_log_probs):
        if t.shape != shape:
            raise ValueError(f"all four log-probabilities need the same shape, got {tuple(shape)} and {tuple(t.shape)}")
    if chosen_log_probs.numel() == 0:
        raise ValueError("no pairs: the log-probabilities are empty")
    margin = (chosen_log_probs - ref_chosen_log_probs) - (rejected_log_probs - ref_rejected_log_probs)
    return -F.logsigmoid(beta * margin).mean()


# --------------------------------------------------------------------------------------------------
# The exact optimum of the KL-regularised objective on a finite set of responses
# --------------------------------------------------------------------------------------------------


@dataclass
class KLOptimum:
    """π* over the given responses: ``probs`` (N,), its expected reward E_π*[r] and KL(π*‖π_ref) in nats."""

    probs: Tensor
    expected_reward: float
    kl: float


def kl_regularised_optimum(ref_log_probs: Tensor, rewards: Tensor, beta: float) -> KLOptimum:
    """The closed-form maximiser of E_π[r] − β·KL(π‖π_ref) over N candidate responses to one prompt.

    ``ref_log_probs`` (N,): log π_ref of each candidate (renormalised over the N, so a restricted set such
    as the reference's top responses is allowed); ``rewards`` (N,). log π* = log π_ref + r/β − log Z.
    """
    beta = check_beta(beta, allow_zero=False)
    if ref_log_probs.dim() != 1 or ref_log_probs.shape != rewards.shape or ref_log_probs.numel() == 0:
        raise ValueError(f"ref_log_probs and rewards must be (N,) with N >= 1, got {tuple(ref_log_probs.shape)} "
                         f"and {tuple(rewards.shape)}")
    if not (torch.isfinite(rewards).all() and (ref_log_probs < float("inf")).all() and not ref_log_probs.isnan().any()):
        raise ValueError("rewards must be finite and log-probabilities must not be NaN or +inf")
    ref = ref_log_probs.double().log_softmax(-1)  # renormalised over the candidates
    optimum = (ref + rewards.double() / beta).log_softmax(-1)  # (N,) log π*
    probs = optimum.exp()
    kept = probs > 0  # 0·log 0 = 0
    kl = (probs[kept] * (optimum[kept] - ref[kept])).sum()
    return KLOptimum(probs.to(rewards.dtype), float((probs * rewards.double()).sum()), float(kl))

"""Checkers for notebook 09's exercises: the pairwise ranking loss, the KL-penalised per-token reward, PPO's
clipped objective and generalised advantage estimation.

Each checker compares the student's function with the tested implementation in :mod:`course_utils.rlhf`
on several inputs (including extreme scores, where a naive log(sigmoid) overflows) and prints one
pass/fail line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_utils import rlhf
from course_utils.exercises import ExerciseResult, check_function, guards

__all__ = ["check_pairwise_ranking_loss", "check_kl_penalised_rewards", "check_ppo_policy_loss", "check_gae"]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _masks() -> list[torch.Tensor]:
    """Right-padded response masks (B, N): rows of different lengths, one of a single token."""
    return [torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool),
            torch.ones(2, 5, dtype=torch.bool)]


@guards(rlhf.pairwise_ranking_loss)
def check_pairwise_ranking_loss(student: Callable) -> ExerciseResult:
    """``student(better (P,), worse (P,))`` returns −mean log σ(r_better − r_worse), finite for any scores."""
    g = _generator(9)
    cases = [(torch.randn(6, generator=g), torch.randn(6, generator=g)),
             (torch.tensor([2.0]), torch.tensor([2.0])),
             (torch.tensor([80.0, -80.0, 0.5]), torch.tensor([-80.0, 80.0, 0.0]))]  # extreme margins
    return check_function(
        student, rlhf.pairwise_ranking_loss, cases, name="pairwise ranking loss",
        hint="the probability that 'better' wins is the sigmoid of the score difference; average minus its log "
             "over the pairs, and use the numerically stable log-sigmoid so a margin of -160 gives 160, not inf")


@guards(rlhf.kl_penalised_rewards)
def check_kl_penalised_rewards(student: Callable) -> ExerciseResult:
    """``student(log_probs, ref_log_probs, scores, mask, beta)`` returns the (B, N) per-token rewards."""
    g = _generator(10)
    cases = []
    for mask, beta in zip(_masks(), (0.1, 0.5)):
        B, N = mask.shape
        cases.append((torch.randn(B, N, generator=g) - 1, torch.randn(B, N, generator=g) - 1,
                      torch.randn(B, generator=g), mask, beta))
    cases.append((*cases[0][:4], 0.0))
    return check_function(
        student, rlhf.kl_penalised_rewards, cases, name="KL-penalised per-token reward",
        hint="every response token gets minus beta times (log pi - log pi_ref) of that token; the reward "
             "model's score is added only at the last response token of each row; tokens off the mask get 0")


@guards(rlhf.ppo_policy_loss)
def check_ppo_policy_loss(student: Callable) -> ExerciseResult:
    """``student(log_probs, old_log_probs, advantages, mask, clip_range)`` returns PPO's clipped loss."""
    g = _generator(11)
    cases = []
    for mask, epsilon in zip(_masks(), (0.2, 0.1)):
        B, N = mask.shape
        old = torch.randn(B, N, generator=g) - 2
        cases.append((old + 0.5 * torch.randn(B, N, generator=g), old, torch.randn(B, N, generator=g), mask, epsilon))
    return check_function(
        student, rlhf.ppo_policy_loss, cases, name="clipped PPO objective",
        hint="the ratio is exp(log pi - log pi_old); take the smaller of ratio*A and clip(ratio, 1-eps, 1+eps)*A "
             "for each token, average over the masked tokens only, and return the negative (a loss to minimise)")


@guards(rlhf.gae)
def check_gae(student: Callable) -> ExerciseResult:
    """``student(rewards, values, mask, gamma, lam)`` returns (advantages, returns), each (B, N)."""
    g = _generator(12)
    cases = []
    for mask, (gamma, lam) in zip(_masks(), ((1.0, 0.95), (0.9, 0.5))):
        B, N = mask.shape
        cases.append({"args": (torch.randn(B, N, generator=g) * mask, torch.randn(B, N, generator=g) * mask, mask),
                      "kwargs": {"gamma": gamma, "lam": lam}})
    return check_function(
        student, rlhf.gae, cases, name="generalised advantage estimation",
        hint="walk each row backwards from its last response token: delta_t = r_t + gamma*V_{t+1} - V_t with the "
             "value after the last token taken as 0, A_t = delta_t + gamma*lam*A_{t+1}; returns are A + V; keep "
             "0 off the mask")

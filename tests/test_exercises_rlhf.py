"""Checkers of notebook 09: a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_utils.exercises.rlhf import (
    check_gae,
    check_kl_penalised_rewards,
    check_pairwise_ranking_loss,
    check_ppo_policy_loss,
)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _pairwise(better, worse):
    return -F.logsigmoid(better - worse).mean()


def _kl_rewards(log_probs, ref_log_probs, scores, mask, beta):
    rewards = -beta * (log_probs - ref_log_probs) * mask
    last = mask.long().sum(-1) - 1
    rewards[torch.arange(mask.shape[0]), last] += scores
    return rewards


def _ppo(log_probs, old_log_probs, advantages, mask, clip_range):
    ratio = torch.exp(log_probs - old_log_probs)
    objective = torch.minimum(ratio * advantages, ratio.clamp(1 - clip_range, 1 + clip_range) * advantages)
    return -(objective * mask).sum() / mask.sum()


def _gae(rewards, values, mask, gamma=1.0, lam=0.95):
    m = mask.float()
    advantages = torch.zeros_like(values)
    for b in range(values.shape[0]):
        running, next_value = 0.0, 0.0
        for t in reversed(range(int(m[b].sum()))):
            delta = rewards[b, t] + gamma * next_value - values[b, t]
            running = delta + gamma * lam * running
            advantages[b, t], next_value = running, values[b, t]
    return advantages, (advantages + values) * m


def test_right_answers_pass():
    assert check_pairwise_ranking_loss(_pairwise)
    assert check_kl_penalised_rewards(_kl_rewards)
    assert check_ppo_policy_loss(_ppo)
    assert check_gae(_gae)


def test_wrong_answers_fail_with_a_hint(capsys):
    naive = check_pairwise_ranking_loss(lambda b, w: -torch.log(torch.sigmoid(b - w)).mean())  # inf at -160
    assert not naive and "log-sigmoid" in naive.hint
    assert not check_kl_penalised_rewards(lambda lp, ref, s, m, beta: _kl_rewards(lp, ref, s, m, beta) * m - 0.0 + (
        beta * (lp - ref) * m))  # sign flipped
    assert not check_ppo_policy_loss(lambda lp, old, a, m, eps: -(torch.exp(lp - old) * a * m).sum() / m.sum())  # no clip
    assert not check_gae(lambda r, v, m, gamma=1.0, lam=0.95: (r * m, (r + v) * m))  # one-step, no bootstrapping
    assert "FAIL" in capsys.readouterr().out


def test_stubs_are_not_attempted():
    for checker in (check_pairwise_ranking_loss, check_kl_penalised_rewards, check_ppo_policy_loss, check_gae):
        result = checker(_stub)
        assert not result and "not attempted" in result.message

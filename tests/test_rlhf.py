"""RLHF's losses against hand computations and their formulas; bad input; no NaN under extreme scores."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from course_utils.rlhf import (
    check_beta,
    check_clip_range,
    dpo_loss,
    gae,
    kl_penalised_rewards,
    kl_regularised_optimum,
    masked_mean,
    pairwise_ranking_loss,
    ppo_policy_loss,
    ppo_value_loss,
    ranking_loss,
    ranking_to_pairs,
    whiten,
)


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_ranking_to_pairs_lists_all_k_choose_2_pairs():
    assert ranking_to_pairs([2, 0, 1]) == [(2, 0), (2, 1), (0, 1)]
    pairs = ranking_to_pairs([3, 1, 4, 0, 2])
    assert len(pairs) == 10 and len(set(pairs)) == 10


@pytest.mark.parametrize("ranking, k, message", [
    ([0], None, "K >= 2"),
    ([], None, "K >= 2"),
    ([0, (1, 2)], None, "tie"),
    ([0, 1, 1], None, "repeats"),
    ([0, 2], 3, "leaves out"),
    ([0, 5], None, "outside"),
    ([0, "a"], None, "integers"),
])
def test_ranking_to_pairs_rejects_bad_rankings(ranking, k, message):
    with pytest.raises(ValueError, match=message):
        ranking_to_pairs(ranking, k)


def test_pairwise_and_ranking_loss_by_hand():
    rewards = torch.tensor([0.5, 2.0, -1.0])
    # ranking 1 > 0 > 2: pairs (1,0), (1,2), (0,2) with differences 1.5, 3.0, 1.5
    expected = -(_log_sigmoid(1.5) + _log_sigmoid(3.0) + _log_sigmoid(1.5)) / 3
    assert ranking_loss(rewards, [1, 0, 2]).item() == pytest.approx(expected, rel=1e-6)
    assert pairwise_ranking_loss(torch.tensor([1.0]), torch.tensor([1.0])).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="same non-empty shape"):
        pairwise_ranking_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="leaves out"):
        ranking_loss(rewards, [1, 0])


def test_losses_stay_finite_under_extreme_scores():
    big = torch.tensor([1e4, -1e4], requires_grad=True)
    loss = pairwise_ranking_loss(big[1:], big[:1])  # the worse one scored far higher
    loss.backward()
    assert loss.item() == pytest.approx(2e4) and torch.isfinite(big.grad).all()
    assert pairwise_ranking_loss(big[:1], big[1:]).item() == 0.0
    lp = torch.tensor([-1e4]), torch.tensor([0.0])
    assert math.isfinite(dpo_loss(lp[0], lp[1], lp[1], lp[1], beta=10.0).item())
    ratio_loss = ppo_policy_loss(torch.tensor([[50.0]]), torch.tensor([[-50.0]]), torch.tensor([[1.0]]),
                                 torch.ones(1, 1, dtype=torch.bool))
    assert ratio_loss.item() == pytest.approx(-1.2)  # clipped at 1 + ε: exp(100) never enters the loss


def test_kl_penalised_rewards_by_hand():
    log_probs = torch.tensor([[0.0, -1.0, -2.0, 0.0], [0.0, -0.5, 0.0, 0.0]])
    ref = torch.tensor([[0.0, -1.5, -1.0, 0.0], [0.0, -0.5, 0.0, 0.0]])
    mask = torch.tensor([[False, True, True, False], [False, True, False, False]])
    rewards = kl_penalised_rewards(log_probs, ref, torch.tensor([2.0, -1.0]), mask, beta=0.1)
    expected = torch.tensor([[0.0, -0.1 * 0.5, -0.1 * -1.0 + 2.0, 0.0], [0.0, 0.0 - 1.0, 0.0, 0.0]])
    assert_close(rewards, expected)
    assert_close(kl_penalised_rewards(log_probs, ref, torch.zeros(2), mask, beta=0.0), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="beta"):
        kl_penalised_rewards(log_probs, ref, torch.zeros(2), mask, beta=-0.1)
    with pytest.raises(ValueError, match="no response token"):
        kl_penalised_rewards(log_probs, ref, torch.zeros(2), mask & False, beta=0.1)
    with pytest.raises(ValueError, match="scores"):
        kl_penalised_rewards(log_probs, ref, torch.zeros(3), mask, beta=0.1)


def test_gae_against_a_hand_worked_example():
    # row 0: a prompt position then three response tokens; row 1: two tokens then padding
    rewards = torch.tensor([[9.0, 0.0, 0.0, 1.0], [0.0, 2.0, 7.0, 7.0]])
    values = torch.tensor([[5.0, 0.5, 0.2, 0.4], [1.0, 1.0, 3.0, 3.0]])
    mask = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    advantages, returns = gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # row 0: δ3 = 1 − 0.4 = 0.6 → A3 = 0.6; δ2 = 0.9·0.4 − 0.2 = 0.16 → A2 = 0.16 + 0.45·0.6 = 0.43;
    #        δ1 = 0.9·0.2 − 0.5 = −0.32 → A1 = −0.32 + 0.45·0.43 = −0.1265
    # row 1: δ1 = 2 − 1 = 1 → A1 = 1 (the episode ends); δ0 = 0.9·1 − 1 = −0.1 → A0 = −0.1 + 0.45·1 = 0.35
    assert_close(advantages, torch.tensor([[0.0, -0.1265, 0.43, 0.6], [0.35, 1.0, 0.0, 0.0]]))
    assert_close(returns, torch.tensor([[0.0, 0.3735, 0.63, 1.0], [1.35, 2.0, 0.0, 0.0]]))
    # γ = λ = 1: the advantage is the sum of the remaining rewards minus the value
    a, _ = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert_close(a[0, 1:], torch.tensor([1 - 0.5, 1 - 0.2, 1 - 0.4]))
    with pytest.raises(ValueError, match="gamma"):
        gae(rewards, values, mask, gamma=1.5)


def test_whiten_and_its_zero_variance_guard():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[True, True, True, False]])
    w = whiten(x, mask)
    assert_close(w, torch.tensor([[-1.0, 0.0, 1.0, 0.0]]) * math.sqrt(3 / 2), atol=1e-6, rtol=1e-6)
    constant = whiten(torch.full((2, 3), 4.0))
    assert_close(constant, torch.zeros(2, 3))  # centred, not divided by ~0
    assert torch.isfinite(whiten(torch.tensor([[7.0]]))).all()
    with pytest.raises(ValueError, match="no token"):
        masked_mean(x, mask & False)


def test_ppo_policy_loss_against_its_formula():
    g = torch.Generator().manual_seed(0)
    log_probs, old = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    advantages = torch.randn(3, 5, generator=g)
    mask = torch.rand(3, 5, generator=g) > 0.3
    ratio = torch.exp(log_probs - old)
    terms = torch.minimum(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages)
    expected = -terms[mask].mean()
    assert_close(ppo_policy_loss(log_probs, old, advantages, mask, 0.2), expected)
    # by hand: ρ = e^0.5 ≈ 1.649 with A = 2 → clipped to 1.2·2; with A = −1 the unclipped −1.649 is kept
    one = torch.ones(1, 1, dtype=torch.bool)
    assert ppo_policy_loss(torch.tensor([[0.5]]), torch.zeros(1, 1), torch.tensor([[2.0]]), one).item() == pytest.approx(-2.4)
    assert ppo_policy_loss(torch.tensor([[0.5]]), torch.zeros(1, 1), torch.tensor([[-1.0]]), one).item() == pytest.approx(math.exp(0.5))
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="clip range"):
            ppo_policy_loss(log_probs, old, advantages, mask, bad)


def test_ppo_value_loss_against_its_formula():
    values, old, returns = torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[0.5, 0.1, 2.5]]), torch.tensor([[2.0, 0.0, 0.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    # clipped values: 0.5 + 0.2 = 0.7, 0.1 − 0.1 = 0.0, 2.5 − 0.2 = 2.3
    # max squares: max(1, 1.69) = 1.69, max(0, 0) = 0, max(4, 5.29) = 5.29
    assert ppo_value_loss(values, old, returns, mask, 0.2).item() == pytest.approx(0.5 * (1.69 + 0 + 5.29) / 3)
    with pytest.raises(ValueError, match="value clip range"):
        ppo_value_loss(values, old, returns, mask, 0)


def test_dpo_loss_against_its_formula():
    chosen, rejected = torch.tensor([-3.0, -1.0]), torch.tensor([-2.0, -4.0])
    ref_chosen, ref_rejected = torch.tensor([-3.5, -1.0]), torch.tensor([-2.0, -3.0])
    # margins: (0.5 − 0) = 0.5 and (0 − (−1)) = 1.0
    expected = -(_log_sigmoid(0.2 * 0.5) + _log_sigmoid(0.2 * 1.0)) / 2
    assert dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.2).item() == pytest.approx(expected, rel=1e-6)
    # at the start (π = π_ref) the loss is log 2 whatever β
    assert dpo_loss(chosen, rejected, chosen, rejected, beta=5.0).item() == pytest.approx(math.log(2))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="beta"):
            dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=bad)
    with pytest.raises(ValueError, match="same shape"):
        dpo_loss(chosen, rejected[:1], ref_chosen, ref_rejected)


def test_parameter_checks():
    assert check_beta(0) == 0.0 and check_clip_range(0.1) == 0.1
    for bad in (-0.01, float("inf"), True):
        with pytest.raises(ValueError, match="beta"):
            check_beta(bad)
    with pytest.raises(ValueError, match="> 0"):
        check_beta(0.0, allow_zero=False)


def test_kl_regularised_optimum_by_hand_and_the_dpo_identity():
    e = math.e
    result = kl_regularised_optimum(torch.log(torch.tensor([0.5, 0.5])), torch.tensor([1.0, 0.0]), beta=1.0)
    p = torch.tensor([e / (e + 1), 1 / (e + 1)])
    assert_close(result.probs, p)
    assert result.expected_reward == pytest.approx(e / (e + 1))
    assert result.kl == pytest.approx(float((p * torch.log(p / 0.5)).sum()))
    # the identity DPO is built on: β·log(π*/π_ref) differences recover reward differences
    ref = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    rewards = torch.tensor([0.2, 1.5, -0.7])
    beta = 0.4
    optimum = kl_regularised_optimum(ref, rewards, beta)
    implied = beta * (optimum.probs.log() - ref)
    assert_close(implied - implied[0], rewards - rewards[0], atol=1e-5, rtol=1e-5)
    # large β stays at the reference (KL → 0); small β concentrates on the best reward
    assert kl_regularised_optimum(ref, rewards, 1e4).kl < 1e-6
    assert kl_regularised_optimum(ref, rewards, 1e-3).expected_reward == pytest.approx(1.5)
    # a restricted candidate set: the reference log-probabilities are renormalised over it
    assert_close(kl_regularised_optimum(ref[:2], rewards[:2], 1e4).probs, torch.tensor([2 / 3, 1 / 3]), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="beta"):
        kl_regularised_optimum(ref, rewards, 0.0)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        kl_regularised_optimum(ref, rewards[:2], 1.0)

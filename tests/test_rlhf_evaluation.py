"""Evaluation helpers of notebook 09 on a tiny GPT: sampled statistics, best-of-n, the closed-form optimum."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.gpt import GPT, GPTConfig
from course_utils.rlhf_evaluation import (
    best_of_n_curve,
    best_of_n_kl,
    candidate_space,
    closed_form_curve,
    sample_stats,
)
from course_utils.rlhf_models import RewardModel
from course_utils.rlhf_tasks import VOCAB_SIZE, Labeler, make_prompts


def _gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=VOCAB_SIZE, context_length=24, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                         dropout=0.0)).eval()


PROMPTS = make_prompts(5, seed=2)


def test_best_of_n_kl_formula():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(4) == pytest.approx(math.log(4) - 0.75)
    with pytest.raises(ValueError, match="n must be"):
        best_of_n_kl(0)


def test_sample_stats_of_the_reference_itself_has_zero_kl():
    policy, rm = _gpt(), RewardModel(_gpt(1))
    stats = sample_stats(policy, policy, rm, PROMPTS, Labeler(), samples=3, max_new_tokens=5)
    assert stats.kl == pytest.approx(0.0, abs=1e-9) and len(stats.responses) == 15
    assert 0 <= stats.labeler <= 1 and 1 <= stats.length <= 5
    other = sample_stats(policy, _gpt(2), rm, PROMPTS, Labeler(), samples=3, max_new_tokens=5)
    assert other.responses == stats.responses  # same seed, same policy: same samples
    assert other.kl > 0  # a Monte Carlo KL estimate to another model (positive here)


def test_best_of_n_curve_rewards_grow_with_n():
    rows = best_of_n_curve(_gpt(), RewardModel(_gpt(1)), PROMPTS, Labeler(), (1, 2, 4), max_new_tokens=5)
    assert [r["n"] for r in rows] == [1, 2, 4]
    rewards = [r["reward"] for r in rows]
    assert rewards[0] <= rewards[1] <= rewards[2]  # the mean of group maxima cannot fall as groups grow
    assert [r["kl"] for r in rows] == [best_of_n_kl(n) for n in (1, 2, 4)]
    with pytest.raises(ValueError, match="divide"):
        best_of_n_curve(_gpt(), RewardModel(_gpt(1)), PROMPTS, Labeler(), (3, 4))
    with pytest.raises(ValueError, match="best-of-n"):
        best_of_n_curve(_gpt(), RewardModel(_gpt(1)), PROMPTS, Labeler(), (0, 4))


def test_closed_form_curve_on_a_candidate_space():
    reference, rm = _gpt(), RewardModel(_gpt(1))
    space = candidate_space(reference, rm, PROMPTS, Labeler(), samples=16, max_new_tokens=4)
    for responses, log_probs in zip(space.responses, space.ref_log_probs):
        assert len(set(responses)) == len(responses) == log_probs.shape[0]
    assert all(0 < c <= 1 + 1e-9 for c in space.coverage)
    rows = closed_form_curve(space, [1e6, 1.0, 0.1, 0.01])
    # β → ∞: π* is π_ref renormalised over the candidates, KL 0
    ref_reward = sum(float((lp.softmax(-1) * r).sum()) for lp, r in zip(space.ref_log_probs, space.rewards)) / 5
    assert rows[0]["kl"] == pytest.approx(0.0, abs=1e-5) and rows[0]["reward"] == pytest.approx(ref_reward, abs=1e-5)
    rewards, kls = [r["reward"] for r in rows], [r["kl"] for r in rows]
    assert rewards == sorted(rewards) and kls == sorted(kls)  # less penalty: more reward, more KL
    best = sum(float(r.max()) for r in space.rewards) / 5
    assert rows[-1]["reward"] <= best + 1e-9

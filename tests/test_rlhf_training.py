"""Short RLHF training runs on a tiny GPT: PPO raises a toy reward, DPO raises the chosen-vs-rejected margin,
the reward model learns a toy preference; NaN guards and bad settings give clear errors."""

from __future__ import annotations

import pytest
import torch

from course_utils.generation import generate
from course_utils.gpt import GPT, GPTConfig
from course_utils.rlhf_models import RewardModel, make_response_batch, sequence_log_probs
from course_utils.rlhf_tasks import STOP_ID, VOCAB_SIZE, Labeler, make_prompts
from course_utils.rlhf_training import (
    Comparison,
    PPOConfig,
    collect_comparisons,
    labeler_scores,
    pairwise_accuracy,
    train_dpo,
    train_ppo,
    train_reward_model,
    train_sft,
)

TARGET = 3  # the toy reward: the share of response tokens equal to this one
PROMPTS = [[1, 2], [4, 5], [6, 7], [2, 1]]


def _gpt(seed: int = 0, layers: int = 1) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=8, context_length=16, d_model=16, n_heads=2, n_layers=layers, d_ff=32,
                         dropout=0.0))


def _toy_reward(batch) -> torch.Tensor:
    return torch.tensor([sum(t == TARGET for t in r) / len(r) for r in batch.responses()])


def test_a_short_ppo_run_raises_the_toy_reward():
    config = PPOConfig(steps=12, batch_size=32, ppo_epochs=4, learning_rate=3e-3, beta=0.01, max_new_tokens=6)
    result = train_ppo(_gpt(), _toy_reward, PROMPTS, config)
    scores, kl = result.curve("score"), result.curve("kl")
    assert len(scores) == 12 and set(result.history[0]) >= {"score", "kl", "length", "clip_fraction"}
    assert scores[0] < 0.3  # about 1/8 by chance at the start
    assert sum(scores[-3:]) / 3 > scores[0] + 0.3
    assert abs(kl[0]) < 1e-5  # the first rollout is sampled from the reference itself
    assert kl[-1] > 0.5  # moving toward the reward costs KL
    # the same run with a strong KL penalty stays near the reference
    held = train_ppo(_gpt(), _toy_reward, PROMPTS, PPOConfig(**{**config.to_dict(), "beta": 1.0}))
    assert sum(held.curve("kl")[-3:]) / 3 < min(0.5, sum(kl[-3:]) / 3 / 5)


def test_ppo_nan_guard_stops_before_the_weights_change():
    gpt = _gpt()
    before = [p.detach().clone() for p in gpt.parameters()]
    with pytest.raises(FloatingPointError, match="PPO step 0.*not finite"):
        train_ppo(gpt, lambda batch: torch.full((batch.ids.shape[0],), float("nan")), PROMPTS,
                  PPOConfig(steps=2, batch_size=4, max_new_tokens=3))
    assert all(torch.equal(a, b) for a, b in zip(before, gpt.parameters()))


def test_ppo_refuses_bad_settings_and_models():
    for field, bad, message in [("beta", -0.1, "beta"), ("clip_range", 0.0, "clip range"),
                                ("value_clip_range", -1.0, "value clip range"), ("steps", 0, "steps")]:
        with pytest.raises(ValueError, match=message):
            PPOConfig(**{field: bad})
    with pytest.raises(TypeError, match="reward model"):
        train_ppo(RewardModel(_gpt()), _toy_reward, PROMPTS, PPOConfig(steps=1))
    with pytest.raises(TypeError, match="not a reward model"):
        train_ppo(_gpt(), _gpt(1), PROMPTS, PPOConfig(steps=1))
    with pytest.raises(ValueError, match="one score per response"):
        train_ppo(_gpt(), lambda batch: torch.zeros(1), PROMPTS, PPOConfig(steps=1, batch_size=4, max_new_tokens=2))


def _comparisons() -> list[Comparison]:
    # the better response holds the target token, the worse one does not
    return [Comparison(tuple(p), (TARGET, TARGET, 0), (5, 6, 0)) for p in PROMPTS] + \
           [Comparison(tuple(p), (TARGET, 2, 0), (4, 4, 0)) for p in PROMPTS]


def test_a_short_dpo_run_raises_the_chosen_vs_rejected_margin():
    policy = _gpt(2)
    comparisons = _comparisons()
    chosen = make_response_batch([c.prompt for c in comparisons], [c.better for c in comparisons])
    rejected = make_response_batch([c.prompt for c in comparisons], [c.worse for c in comparisons])
    with torch.no_grad():
        gap_before = (sequence_log_probs(policy, chosen) - sequence_log_probs(policy, rejected)).mean()
    result = train_dpo(policy, comparisons, beta=0.5, steps=30, batch_size=8, learning_rate=3e-3)
    margins, losses = result.curve("margin"), result.curve("loss")
    assert margins[0] == pytest.approx(0.0, abs=1e-5)  # π = π_ref at the start
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # log 2
    assert margins[-1] > 1.0 and losses[-1] < losses[0] - 0.2
    with torch.no_grad():
        gap_after = (sequence_log_probs(policy, chosen) - sequence_log_probs(policy, rejected)).mean()
    assert gap_after > gap_before + 1.0  # trained in place: the policy itself prefers the chosen responses
    with pytest.raises(ValueError, match="beta"):
        train_dpo(policy, comparisons, beta=0.0, steps=1)
    with pytest.raises(TypeError, match="reward model"):
        train_dpo(RewardModel(_gpt()), comparisons, steps=1)


def test_reward_model_learns_a_toy_preference():
    rm = RewardModel(_gpt(3))
    train = _comparisons()
    held_out = [Comparison((3, 1), (TARGET, 1, 0), (6, 5, 0)), Comparison((7, 6), (2, TARGET, 0), (1, 4, 0))]
    losses = train_reward_model(rm, train, steps=40, batch_size=8, learning_rate=3e-3)
    assert losses[-1] < losses[0] - 0.3
    assert pairwise_accuracy(rm, train) == 1.0
    assert pairwise_accuracy(rm, held_out) == 1.0
    with pytest.raises(TypeError, match="not a reward model"):
        train_reward_model(_gpt(), train, steps=1)
    with pytest.raises(ValueError, match="no comparisons"):
        pairwise_accuracy(rm, [])


# ---- the stages on the course's instruction tasks ----------------------------------------------------------


def _task_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=VOCAB_SIZE, context_length=24, d_model=32, n_heads=2, n_layers=2, d_ff=64,
                         dropout=0.0))


def test_sft_on_demonstrations_lowers_the_response_loss_and_raises_the_labeler_score():
    model = _task_gpt()
    prompts = make_prompts(64, seed=0, tasks=["copy"], min_letters=2, max_letters=2)
    labeler = Labeler()
    before = sum(labeler_scores(model, prompts[:16], labeler)) / 16
    losses = train_sft(model, prompts, steps=60, batch_size=32, learning_rate=3e-3)  # scored on training prompts:
    # a test of the loop, not of generalisation
    after = sum(labeler_scores(model, prompts[:16], labeler)) / 16
    assert losses[-1] < losses[0] / 2
    assert after > before + 0.2
    with pytest.raises(ValueError, match="Prompt"):
        train_sft(model, [[1, 2]], steps=1)


def test_labeler_scores_grade_the_greedy_response():
    model = _task_gpt(1)
    prompt = make_prompts(1, seed=3)[0]
    out = generate(model, [prompt.ids()], max_new_tokens=6, stop_token=STOP_ID)
    assert labeler_scores(model, [prompt], Labeler()) == [Labeler().score(prompt, out.as_lists()[0])]


def test_collect_comparisons_turns_each_ranking_into_all_its_pairs():
    model = _task_gpt(2)
    prompts = make_prompts(6, seed=1)
    labeler = Labeler("concise")
    comparisons = collect_comparisons(model, prompts, labeler, k=4, max_new_tokens=4, seed=0)
    by_prompt: dict = {}
    for c in comparisons:
        by_prompt.setdefault(c.prompt, []).append(c)
    assert by_prompt  # an untrained model's samples differ
    for prompt in prompts:
        pairs = by_prompt.get(tuple(prompt.ids()), [])
        responses = sorted({r for c in pairs for r in (c.better, c.worse)})
        # every pair of the ranking the labeler has a preference on (none resting on the alphabetical rule)
        wanted = {(a, b) for a in responses for b in responses if labeler.prefers(prompt, a, b)}
        assert {(c.better, c.worse) for c in pairs} == wanted and len(pairs) == len(wanted)
        for c in pairs:  # the better one is ranked first by the labeler
            assert labeler.rank(prompt, [c.better, c.worse]) == [0, 1]
    with pytest.raises(ValueError, match="K >= 2"):
        collect_comparisons(model, prompts, labeler, k=1)


def test_training_functions_take_a_device_and_give_the_same_result_on_the_cpu():
    prompts = make_prompts(16, seed=0, tasks=["copy"], min_letters=2, max_letters=2)
    here, there = _task_gpt(5), _task_gpt(5)
    assert train_sft(here, prompts, steps=3, batch_size=8) == train_sft(there, prompts, steps=3, batch_size=8,
                                                                         device="cpu")
    comparisons = [Comparison((1, 2), (3, 4), (5,)), Comparison((2, 1), (3,), (6, 6))]
    rm_here, rm_there = RewardModel(_gpt(1)), RewardModel(_gpt(1))
    assert train_reward_model(rm_here, comparisons, steps=3, batch_size=2) == train_reward_model(
        rm_there, comparisons, steps=3, batch_size=2, device=torch.device("cpu"))
    config = PPOConfig(steps=2, batch_size=4, max_new_tokens=3)
    assert train_ppo(_gpt(2), _toy_reward, PROMPTS, config).history == train_ppo(
        _gpt(2), _toy_reward, PROMPTS, config, device="cpu").history
    assert train_dpo(_gpt(3), comparisons, steps=2, batch_size=2).history == train_dpo(
        _gpt(3), comparisons, steps=2, batch_size=2, device="cpu").history

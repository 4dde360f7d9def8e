"""The SFT and reward-model stages on a tiny GPT: the prompt split keeps held-out prompts out of every
training stage, SFT lowers its loss, the reward model learns from the labeler's rankings."""

from __future__ import annotations

import pytest
import torch

from course_utils.generation import generate
from course_utils.gpt import GPT, GPTConfig
from course_utils.rlhf_models import RewardModel, make_response_batch
from course_utils.rlhf_pipeline import (
    PromptCentredReward,
    RLHFConfig,
    mean_labeler_score,
    rlhf_checkpoint_path,
    run_reward_model,
    run_sft,
    split_prompts,
)
from course_utils.rlhf_tasks import STOP_ID, VOCAB_SIZE, is_heldout_prompt, make_prompts


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=VOCAB_SIZE, context_length=24, d_model=32, n_heads=2, n_layers=2, d_ff=64,
                         dropout=0.0))


SMALL = dict(sft_prompts=64, rm_prompts=24, heldout_prompts=12, sft_steps=40, rm_steps=30, k=4, max_new_tokens=6,
             sft_learning_rate=3e-3)


def test_split_keeps_heldout_prompts_out_of_every_training_stage():
    split = split_prompts(RLHFConfig(**SMALL))
    assert (len(split.sft), len(split.rm), len(split.heldout)) == (64, 24, 12)
    training = set(split.sft) | set(split.rm)
    assert len(training) == 88 and not training & set(split.heldout)
    assert not any(is_heldout_prompt(p) for p in training) and all(is_heldout_prompt(p) for p in split.heldout)
    # not even the letters: a held-out letter string never occurs in a training prompt
    assert not {p.letters for p in training} & {p.letters for p in split.heldout}
    assert split_prompts(RLHFConfig(**SMALL)) == split  # seeded


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="K >= 2"):
        RLHFConfig(k=1)
    with pytest.raises(ValueError, match="secondary"):
        RLHFConfig(secondary="funny")
    with pytest.raises(ValueError, match="readout"):
        RLHFConfig(readout="first")
    with pytest.raises(ValueError, match="rm_steps"):
        RLHFConfig(rm_steps=0)


def test_sft_then_reward_model_on_a_tiny_gpt():
    config = RLHFConfig(**SMALL)
    split = split_prompts(config)
    base = _gpt()
    sft, losses = run_sft(base, split.sft, config)
    assert sft is not base and losses[-1] < losses[0] * 0.7
    assert not torch.equal(sft.token_embedding.weight, base.token_embedding.weight)  # base left as it was
    assert 0.0 <= mean_labeler_score(sft, split.heldout, config) <= 1.0
    run = run_reward_model(sft, split, config)
    assert run.comparisons and run.heldout_comparisons and len(run.losses) == config.rm_steps
    assert {c.prompt for c in run.heldout_comparisons} <= {tuple(p.ids()) for p in split.heldout}
    assert not {c.prompt for c in run.comparisons} & {tuple(p.ids()) for p in split.heldout}
    assert run.model.readout == "mean_logprob" and 0.0 <= run.heldout_accuracy <= 1.0
    assert sum(run.losses[-5:]) / 5 < sum(run.losses[:5]) / 5


def test_checkpoint_paths(monkeypatch, tmp_path):
    assert rlhf_checkpoint_path("sft").name == "rlhf_sft.safetensors"
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    assert rlhf_checkpoint_path("rm") == tmp_path / "rlhf_rm.safetensors"
    with pytest.raises(KeyError, match="stage"):
        rlhf_checkpoint_path("ppo")


def test_prompt_centred_reward_subtracts_the_score_of_the_reference_greedy_answer():
    policy, rm = _gpt(), RewardModel(_gpt()).eval()
    prompts = make_prompts(4, seed=3)
    reward = PromptCentredReward(rm, policy, prompts, max_new_tokens=4)
    greedy = [generate(policy, [p.ids()], max_new_tokens=4, stop_token=STOP_ID).as_lists()[0] for p in prompts]
    batch = make_response_batch([p.ids() for p in prompts], greedy)
    assert torch.allclose(reward(batch), torch.zeros(4), atol=1e-5)  # the greedy answers score 0
    other = make_response_batch([p.ids() for p in prompts], [[5, 6]] * 4)
    with torch.no_grad():
        expected = rm.score(other) - rm.score(batch)
    assert torch.allclose(reward(other), expected, atol=1e-5)
    with pytest.raises(KeyError, match="no baseline"):
        reward(make_response_batch([make_prompts(1, seed=99)[0].ids()], [[5]]))

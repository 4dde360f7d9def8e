"""RLHF's model pieces on a tiny GPT: response masks, SFT's loss and log-probabilities checked by hand,
the reward model's last-token read-out, the value head, best-of-n, and the policy/reward-model guards."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from course_utils.generation import generate
from course_utils.gpt import GPT, GPTConfig, save_gpt
from course_utils.rlhf_models import (
    PolicyWithValue,
    RewardModel,
    best_of_n,
    load_policy,
    load_reward_model,
    make_response_batch,
    require_policy,
    require_reward_model,
    response_log_probs,
    sample_responses,
    save_policy,
    save_reward_model,
    sequence_log_probs,
    sft_loss,
)


def _gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, context_length=24, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                         dropout=0.0)).eval()


def _batch():
    return make_response_batch([[1, 2, 3], [4, 5]], [[6, 7], [8, 9, 10]])


def test_response_batch_layout():
    batch = _batch()
    assert batch.ids.tolist() == [[1, 2, 3, 6, 7], [4, 5, 8, 9, 10]]
    assert batch.response_mask().tolist() == [[False, False, False, True, True], [False, False, True, True, True]]
    assert batch.action_mask().tolist() == [[False, False, True, True], [False, True, True, True]]
    assert batch.responses() == [[6, 7], [8, 9, 10]]
    padded = make_response_batch([[1]], [[2]], pad_id=0)
    assert padded.lengths.tolist() == [2]
    with pytest.raises(ValueError, match="one response per prompt"):
        make_response_batch([[1]], [[2], [3]])
    with pytest.raises(ValueError, match="at least one token"):
        make_response_batch([[1]], [[]])


def test_sft_loss_counts_response_tokens_only():
    model, batch = _gpt(), _batch()
    logits = model(batch.ids).logits
    # response tokens: row 0 positions 3, 4 (predicted at 2, 3); row 1 positions 2, 3, 4 (predicted at 1, 2, 3)
    picks = [(0, 2, 6), (0, 3, 7), (1, 1, 8), (1, 2, 9), (1, 3, 10)]
    expected = torch.stack([F.cross_entropy(logits[b, t], torch.tensor(y)) for b, t, y in picks]).mean()
    assert_close(sft_loss(model, batch), expected)
    manual = torch.zeros(2, 4)
    for b, t, y in picks:
        manual[b, t] = logits[b, t].log_softmax(-1)[y]
    assert_close(response_log_probs(model, batch), manual)
    assert_close(sequence_log_probs(model, batch), manual.sum(-1))


def test_sequence_log_probs_match_what_generate_reports_for_its_samples():
    model = _gpt(1)
    prompt = torch.tensor([[1, 2, 3]] * 4)
    out = generate(model, prompt, max_new_tokens=5, temperature=1.0, generator=torch.Generator().manual_seed(0))
    batch = make_response_batch(prompt.tolist(), out.as_lists())
    assert_close(sequence_log_probs(model, batch), out.log_probs.sum(-1), atol=1e-5, rtol=1e-5)


def test_sample_responses_groups_prompts_of_different_lengths():
    model = _gpt(2)
    prompts = [[1, 2], [3, 4, 5], [6, 7]]
    batch = sample_responses(model, prompts, max_new_tokens=4, temperature=1.0, stop_token=0,
                             generator=torch.Generator().manual_seed(0))
    assert batch.prompt_lengths.tolist() == [2, 3, 2]
    for row, prompt, n in zip(batch.ids.tolist(), prompts, batch.lengths.tolist()):
        assert row[:len(prompt)] == prompt and len(prompt) < n <= len(prompt) + 4
    for response in batch.responses():
        assert 0 not in response[:-1]  # a response stops at its first stop token


def test_reward_model_reads_the_last_real_token():
    backbone = _gpt(3)
    rm = RewardModel(backbone).eval()
    batch = _batch()
    scores = rm.score(batch)
    assert scores.shape == (2,)
    alone = rm(torch.tensor([[1, 2, 3, 6, 7]]))  # row 0 without padding
    assert_close(scores[:1], alone)
    padded = rm(torch.tensor([[1, 2, 3, 6, 7, 0, 0]]), torch.tensor([5]))
    assert_close(padded, alone)  # the padding after the last real token is ignored
    hidden = backbone(torch.tensor([[4, 5, 8, 9, 10]])).hidden[0, -1]
    assert_close(scores[1], rm.head(hidden).squeeze())


def test_reward_model_mean_logprob_readout_matches_its_formula():
    backbone = _gpt(4)
    rm = RewardModel(backbone, "mean_logprob").eval()
    with torch.no_grad():
        rm.log_prob_weight.fill_(0.7)
    batch = _batch()
    scores = rm.score(batch)
    for row, (prompt, response) in enumerate([([1, 2, 3], [6, 7]), ([4, 5], [8, 9, 10])]):
        ids = torch.tensor([prompt + response])
        out = backbone(ids)
        n, p = len(response), len(prompt)
        per_token = rm.head(out.hidden[0, p:]).squeeze(-1).mean()
        log_probs = out.logits[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None]).squeeze(-1)[p - 1:]
        assert_close(scores[row], per_token + 0.7 * log_probs.sum() / n)
    with pytest.raises(ValueError, match="prompt_lengths"):
        rm(batch.ids, batch.lengths)
    with pytest.raises(ValueError, match="readout"):
        RewardModel(_gpt(), "first")


def test_policy_with_value_head():
    gpt = _gpt(4)
    model = PolicyWithValue(gpt)
    ids = torch.tensor([[1, 2, 3]])
    out = model(ids)
    assert_close(out.logits, gpt(ids).logits)
    assert out.values.shape == (1, 3) and bool((out.values == 0).all())  # zero-initialised head
    assert require_policy(model) is gpt


def test_guards_refuse_a_reward_model_as_policy_and_vice_versa(tmp_path):
    gpt = _gpt(5)
    rm = RewardModel(_gpt(6))
    with pytest.raises(TypeError, match="reward model"):
        require_policy(rm)
    with pytest.raises(TypeError, match="reward model"):
        PolicyWithValue(rm)
    with pytest.raises(TypeError, match="reward model"):
        sample_responses(rm, [[1, 2]], max_new_tokens=2)
    with pytest.raises(TypeError, match="not a reward model"):
        require_reward_model(gpt)
    with pytest.raises(TypeError, match="already a reward model"):
        RewardModel(rm)
    rm_path, policy_path = save_reward_model(rm, tmp_path / "rm.safetensors"), save_policy(gpt, tmp_path / "p.safetensors")
    with pytest.raises(ValueError, match="is a reward model checkpoint"):
        load_policy(rm_path)
    with pytest.raises(ValueError, match="not a reward model checkpoint"):
        load_reward_model(policy_path)
    loaded, metadata = load_reward_model(rm_path)
    ids = torch.tensor([[1, 2, 3]])
    assert_close(loaded(ids), rm.eval()(ids))
    assert metadata["architecture"] == "gpt_reward_model"
    policy, _ = load_policy(save_gpt(gpt, tmp_path / "g.safetensors", half=False))
    assert_close(policy(ids).logits, gpt(ids).logits)


def test_best_of_n_keeps_the_highest_scored_sample():
    policy, rm = _gpt(7), RewardModel(_gpt(8)).eval()
    with torch.no_grad():
        rm.head.weight.normal_(0, 1.0)  # spread the scores
    result = best_of_n(policy, rm, [1, 2, 3], 8, max_new_tokens=4, generator=torch.Generator().manual_seed(0))
    assert len(result.responses) == 8 and result.scores.shape == (8,)
    rescored = rm.score(make_response_batch([[1, 2, 3]] * 8, result.responses))
    assert_close(result.scores, rescored)
    assert result.best == int(rescored.argmax()) and result.response == result.responses[result.best]
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n >= 1"):
            best_of_n(policy, rm, [1, 2, 3], bad, max_new_tokens=4)
    with pytest.raises(TypeError, match="not a reward model"):
        best_of_n(policy, policy, [1, 2, 3], 2, max_new_tokens=4)

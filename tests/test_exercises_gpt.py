"""Checkers of notebook 08: a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_utils.exercises.gpt import (
    check_k_shot_prompt,
    check_lm_loss,
    check_top_k_filter,
    check_top_p_filter,
)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _top_k(logits, k):
    if k >= logits.shape[-1]:
        return logits
    kth = logits.sort(-1, descending=True).values[..., k - 1:k]
    return torch.where(logits < kth, torch.full_like(logits, float("-inf")), logits)


def _top_p(logits, p):
    probabilities, order = logits.softmax(-1).sort(-1, descending=True)
    before = probabilities.cumsum(-1) - probabilities
    drop = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, before >= p)
    return logits.masked_fill(drop, float("-inf"))


def _loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def _prompt(examples, description):
    symbols = ["<bos>"] + ([description, ":"] if description else [])
    for e in examples[:-1]:
        symbols += [*e.inputs, "=>", *e.outputs, ";"]
    return symbols + [*examples[-1].inputs, "=>"]


def test_top_k_checker():
    assert check_top_k_filter(_top_k)
    assert not check_top_k_filter(lambda x, k: _top_k(x, k + 1))
    assert not check_top_k_filter(lambda x, k: _top_k(-x, k))  # keeps the smallest
    assert "not attempted" in check_top_k_filter(_stub).message


def test_top_p_checker():
    assert check_top_p_filter(_top_p)
    # keeping tokens while the mass *including* them is below p misses the token that crosses p
    wrong = check_top_p_filter(lambda x, p: _top_p(x, p) if p == 1.0 else x.masked_fill(
        torch.zeros_like(x, dtype=torch.bool).scatter(-1, x.softmax(-1).sort(-1, descending=True)[1],
                                                      x.softmax(-1).sort(-1, descending=True)[0].cumsum(-1) >= p),
        float("-inf")))
    assert not wrong and "mass" in wrong.hint
    assert "not attempted" in check_top_p_filter(_stub).message


def test_lm_loss_checker():
    assert check_lm_loss(_loss)
    unshifted = check_lm_loss(lambda lg, ids: F.cross_entropy(lg.reshape(-1, lg.shape[-1]), ids.reshape(-1)))
    assert not unshifted and "t + 1" in unshifted.hint
    assert "not attempted" in check_lm_loss(_stub).message


def test_k_shot_prompt_checker():
    assert check_k_shot_prompt(_prompt)
    assert not check_k_shot_prompt(lambda ex, d: _prompt(ex, d) + ["x"])  # gives the answer away
    assert not check_k_shot_prompt(lambda ex, d: _prompt(ex, None))  # forgets the description
    assert "not attempted" in check_k_shot_prompt(_stub).message


def test_reference_is_unavailable_inside_a_solution():
    from course_utils.generation import top_k_filter

    result = check_top_k_filter(lambda x, k: top_k_filter(x, k))
    assert not result and "implementation" in result.message

"""Sampling filters (top-k, top-p, temperature), generate()'s stop token, context rule, log-probabilities
and bad-input errors."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from course_utils.generation import (
    generate,
    next_token_probabilities,
    time_per_token,
    top_k_filter,
    top_p_filter,
)
from course_utils.gpt import GPT, GPTConfig


def _model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=29, context_length=24, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                          dropout=0.0)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not ("norm" in name and name.endswith("weight")):
                parameter.normal_(0, 0.3)
    return model


def test_top_k_never_samples_outside_the_k_best():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 40, generator=generator)
    for k in (1, 3, 10):
        probabilities = next_token_probabilities(logits, temperature=1.5, top_k=k)
        best = logits.topk(k, dim=-1).indices
        draws = torch.multinomial(probabilities, 200, replacement=True, generator=generator)  # (50, 200)
        inside = (draws[:, :, None] == best[:, None, :]).any(-1)
        assert bool(inside.all())
        assert int((probabilities > 0).sum(-1).max()) == k
    assert torch.equal(top_k_filter(logits, 40), logits)


def test_top_p_keeps_the_smallest_set_with_mass_at_least_p():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(30, 25, generator=generator) * 2
    for p in (0.1, 0.5, 0.9, 0.99):
        kept = top_p_filter(logits, p) > float("-inf")  # (30, 25)
        probabilities = logits.softmax(-1)
        for row in range(30):
            order = probabilities[row].argsort(descending=True)
            needed = int((probabilities[row][order].cumsum(0) < p).sum()) + 1  # smallest prefix with mass >= p
            expected = torch.zeros(25, dtype=torch.bool)
            expected[order[:needed]] = True
            assert torch.equal(kept[row], expected)
            assert float(probabilities[row][kept[row]].sum()) >= p - 1e-6
            # one token fewer would not reach p
            assert float(probabilities[row][order[: needed - 1]].sum()) < p
    assert torch.equal(top_p_filter(logits, 1.0), logits)


def test_temperature_towards_zero_equals_greedy():
    logits = torch.randn(20, 30, generator=torch.Generator().manual_seed(2))
    cold = next_token_probabilities(logits, temperature=1e-4)
    assert torch.equal(cold.argmax(-1), logits.argmax(-1))
    assert bool((cold.max(-1).values > 0.999).all())
    assert_close(next_token_probabilities(logits, temperature=0), torch.nn.functional.one_hot(logits.argmax(-1), 30).float())
    model = _model()
    prompt = [3, 4, 5]
    greedy = generate(model, prompt, max_new_tokens=10)
    sampled = generate(model, prompt, max_new_tokens=10, temperature=1e-4,
                       generator=torch.Generator().manual_seed(0))
    assert torch.equal(sampled.tokens, greedy.tokens)
    hot = next_token_probabilities(logits, temperature=100.0)
    assert float((hot.max(-1).values - hot.min(-1).values).max()) < 0.01  # nearly uniform


def test_sampled_generation_is_reproducible_and_cache_equal():
    model = _model(1)
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    kwargs = dict(max_new_tokens=12, temperature=1.0, top_k=10, top_p=0.9)
    a = generate(model, prompt, **kwargs, generator=torch.Generator().manual_seed(5))
    b = generate(model, prompt, **kwargs, use_cache=False, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.tokens, b.tokens)
    assert_close(a.log_probs, b.log_probs)
    # log_probs are the model's own (temperature 1, unfiltered) log-probabilities of the chosen tokens
    sequence = a.sequences()
    logits = model(sequence).logits[:, 2:-1].log_softmax(-1)
    assert_close(a.log_probs, logits.gather(-1, a.tokens[:, :, None]).squeeze(-1))


def test_stop_token_ends_a_row_and_pads_with_it():
    model = _model(2)
    free = generate(model, [7, 8], max_new_tokens=15)
    stop = free.tokens[0, 3].item()
    first = free.tokens[0].tolist().index(stop)
    out = generate(model, [7, 8], max_new_tokens=15, stop_token=stop)
    assert out.lengths.tolist() == [first + 1]
    assert out.as_lists() == [free.tokens[0, : first + 1].tolist()]
    assert bool((out.tokens[0, first:] == stop).all())
    assert bool((out.log_probs[0, first + 1:] == 0).all())


def test_long_prompt_is_cut_from_the_left():
    model = _model(3)
    prompt = list(range(1, 29)) + [1, 2]  # 30 tokens, context 24
    out = generate(model, prompt, max_new_tokens=4)
    assert out.dropped == 10 and out.prompt.shape == (1, 20)
    assert out.prompt[0].tolist() == prompt[-20:]
    assert torch.equal(out.tokens, generate(model, prompt[-20:], max_new_tokens=4).tokens)


def test_generation_errors_name_the_problem():
    model = _model()
    with pytest.raises(ValueError, match="top_k"):
        generate(model, [1], temperature=1.0, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, [1], temperature=1.0, top_p=0.0)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, [1], temperature=1.0, top_p=1.5)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, [1], temperature=-0.5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, [1], max_new_tokens=-1)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, [1], max_new_tokens=24)
    with pytest.raises(ValueError, match="empty"):
        generate(model, [])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(model, [1, 29])
    with pytest.raises(ValueError, match="stop_token"):
        generate(model, [1], stop_token=99)
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(torch.zeros(3), -2)
    with pytest.raises(ValueError, match="NaN"):
        next_token_probabilities(torch.tensor([0.0, float("nan")]))
    assert generate(model, [1], max_new_tokens=0).tokens.shape == (1, 0)


def test_time_per_token_is_positive():
    model = _model()
    assert time_per_token(model, 4, 3, use_cache=True, repeats=1) > 0
    with pytest.raises(ValueError):
        time_per_token(model, 0, 3, use_cache=True)


def test_distinct_n_and_repetition_by_hand():
    from course_utils.generation import distinct_n, repetition_rate

    samples = [[1, 2, 1, 2, 1], [3, 4, 5]]
    # bigrams: (1,2) (2,1) (1,2) (2,1) | (3,4) (4,5): 4 distinct of 6
    assert distinct_n(samples, 2) == pytest.approx(4 / 6)
    assert distinct_n(samples, 1) == pytest.approx(5 / 8)
    # 2-grams already seen earlier in the same sample: the 3rd and 4th of the first sample
    assert repetition_rate(samples, 2) == pytest.approx(2 / 6)
    assert repetition_rate([[1, 2, 3, 4]], 2) == 0
    with pytest.raises(ValueError, match="no 5-gram"):
        distinct_n([[1, 2]], 5)


def test_continue_text_decodes_the_continuation():
    from course_utils.generation import continue_text
    from course_utils.tokenization import train_bpe

    tokenizer = train_bpe(["the cat sat on the mat " * 3], 270)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(tokenizer), context_length=24, d_model=16, n_heads=2, n_layers=1,
                          d_ff=16, dropout=0.0))
    text = continue_text(model, tokenizer, "the cat", max_new_tokens=5, temperature=0)
    out = generate(model, tokenizer.encode("the cat"), max_new_tokens=5, stop_token=tokenizer.eot_id)
    assert text == tokenizer.decode(out.as_lists()[0])
    assert isinstance(continue_text(model, tokenizer, "the", top_k=0, top_p=1.0, max_new_tokens=3), str)
    with pytest.raises(ValueError, match="empty"):
        continue_text(model, tokenizer, "")

"""Generating text with a GPT: greedy decoding, temperature, top-k and nucleus (top-p) sampling, a key/value cache.

Idea. A language model gives p(next token | prefix); generation appends one token at a time. *Greedy*
takes the most probable token (repetitive); *sampling* draws from the distribution, reshaped by a
**temperature** τ (softmax(z / τ): τ < 1 sharpens, τ → 0 becomes greedy, τ > 1 flattens), restricted
to the **k** most probable tokens (top-k, Fan et al. 2018) or to the smallest set whose probability
mass reaches **p** (nucleus / top-p, Holtzman et al. 2020, "The Curious Case of Neural Text
Degeneration"). With a **key/value cache** each step runs the model on the new token only: the keys
and values of earlier positions do not change (causal attention), so they are kept instead of being
recomputed, and a step costs O(T) instead of O(T²).

Context rule. The model reads at most ``context_length`` positions and the cache never slides, so a
prompt keeps only its last ``context_length - max_new_tokens`` tokens (its beginning is cut) and prompt
plus generated tokens always fit; ``max_new_tokens`` must be below ``context_length``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from course_utils.gpt import GPT, KeyValueCache
from course_utils.training import evaluating

__all__ = [
    "top_k_filter",
    "top_p_filter",
    "next_token_probabilities",
    "GenerationOutput",
    "generate",
    "time_per_token",
    "distinct_n",
    "repetition_rate",
    "continue_text",
]


def _check_logits(logits: Tensor) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        raise ValueError(f"logits must be a floating-point tensor (..., V), got {getattr(logits, 'dtype', type(logits))}")
    if bool(torch.isnan(logits).any()):
        raise ValueError("logits contain NaN")


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row (..., V), set the others to -inf (ties at the k-th
    value are all kept). ``k >= V`` keeps everything."""
    _check_logits(logits)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be a positive integer, got {k!r}")
    if k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest value
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering: keep the smallest set of most probable tokens whose total probability is >= p.

    Tokens are sorted by probability; a token is kept when the mass of the tokens *before* it is still
    below p, so the most probable token is always kept and p = 1 keeps everything.
    """
    _check_logits(logits)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    if p == 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probabilities = sorted_logits.softmax(-1)
    mass_before = probabilities.cumsum(-1) - probabilities  # (..., V) mass of strictly more probable tokens
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def next_token_probabilities(logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                             top_p: float | None = None) -> Tensor:
    """The distribution generation samples from: softmax(filter(logits) / τ), (..., V) → (..., V).

    ``temperature == 0`` is greedy: all mass on the arg-max (the first one on ties). Top-k is applied
    before top-p, and both after the temperature, as in Hugging Face's sampler.
    """
    _check_logits(logits)
    if not isinstance(temperature, (int, float)) or temperature < 0 or temperature != temperature:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if temperature == 0:
        return torch.zeros_like(logits).scatter_(-1, logits.argmax(-1, keepdim=True), 1.0)
    scaled = logits / temperature
    if top_k is not None:
        scaled = top_k_filter(scaled, top_k)
    if top_p is not None:
        scaled = top_p_filter(scaled, top_p)
    return scaled.softmax(-1)


@dataclass
class GenerationOutput:
    """What :func:`generate` returns.

    ``tokens`` (B, N): the generated ids (after a row stops, it is filled with the stop token).
    ``log_probs`` (B, N): log p(token | prefix) under the model's own distribution (temperature 1, no
    filtering) — what a KL penalty or a likelihood needs; 0 after a row stopped.
    ``lengths`` (B,): generated tokens per row, the stop token included. ``prompt`` (B, P): the prompt
    the model actually read (cut from the left by the context rule). ``dropped``: tokens cut per row.
    """

    tokens: Tensor
    log_probs: Tensor
    lengths: Tensor
    prompt: Tensor
    dropped: int

    def sequences(self) -> Tensor:
        """(B, P + N): prompt followed by the generated tokens."""
        return torch.cat([self.prompt, self.tokens], dim=1)

    def as_lists(self) -> list[list[int]]:
        """Generated ids per row, up to and including the stop token."""
        return [row[:n].tolist() for row, n in zip(self.tokens, self.lengths.tolist())]


def _as_prompt(model: GPT, prompt: Tensor | Sequence[int]) -> Tensor:
    if isinstance(prompt, Tensor):
        ids = prompt if prompt.dim() == 2 else prompt.reshape(1, -1)
    else:
        ids = torch.as_tensor(list(prompt), dtype=torch.long).reshape(1, -1)
    if ids.dtype != torch.long:
        raise ValueError(f"a prompt holds integer token ids, got dtype {ids.dtype}")
    if ids.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token (for example a start-of-text token)")
    device = next(model.parameters()).device
    return ids.to(device)


@torch.no_grad()
def generate(model: GPT, prompt: Tensor | Sequence[int], *, max_new_tokens: int = 20, temperature: float = 0.0,
             top_k: int | None = None, top_p: float | None = None, stop_token: int | None = None,
             use_cache: bool = True, generator: torch.Generator | None = None) -> GenerationOutput:
    """Continue ``prompt`` (a list of ids, or a (B, P) tensor of equal-length prompts) token by token.

    ``temperature`` 0 (the default) is greedy; > 0 samples from :func:`next_token_probabilities` with
    ``top_k`` / ``top_p``. Generation of a row ends after ``stop_token`` or ``max_new_tokens`` tokens.
    ``use_cache=False`` re-reads the whole sequence at every step (slow; the same tokens). The model runs
    in eval mode (dropout off) and its mode is restored afterwards. See the module docstring for how a
    long prompt is cut.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
    context = model.config.context_length
    if max_new_tokens >= context:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for the prompt in the context of "
                         f"{context} tokens; ask for at most {context - 1}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p}")
    if not isinstance(temperature, (int, float)) or temperature < 0 or temperature != temperature:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    vocab = model.config.vocab_size
    if stop_token is not None and not 0 <= stop_token < vocab:
        raise ValueError(f"stop_token {stop_token} is outside the vocabulary 0..{vocab - 1}")
    ids = _as_prompt(model, prompt)
    keep = context - max_new_tokens
    dropped = max(0, ids.shape[1] - keep)
    ids = ids[:, -keep:]  # the context rule: the prompt's beginning is cut
    model.check_ids(ids)
    B = ids.shape[0]
    tokens = torch.full((B, max_new_tokens), stop_token if stop_token is not None else 0, dtype=torch.long,
                        device=ids.device)
    log_probs = torch.zeros(B, max_new_tokens, device=ids.device)
    lengths = torch.full((B,), max_new_tokens, dtype=torch.long, device=ids.device)
    running = torch.ones(B, dtype=torch.bool, device=ids.device)
    with evaluating(model):
        # Storage for every position this call can reach, written in place step by step (no re-copying).
        cache = KeyValueCache.with_capacity(ids.shape[1] + max_new_tokens) if use_cache else None
        sequence, step_input = ids, ids
        for step in range(max_new_tokens):
            if use_cache:
                out = model(step_input, cache=cache, use_cache=True, last_logits_only=True)
                cache = out.cache
            else:
                out = model(sequence, last_logits_only=True)
            logits = out.logits[:, -1].float()  # (B, V) only the last position predicts the next token
            if temperature == 0:
                chosen = logits.argmax(-1)
            else:
                probabilities = next_token_probabilities(logits, temperature=temperature, top_k=top_k, top_p=top_p)
                chosen = torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)  # (B,)
            token_log_prob = logits.log_softmax(-1).gather(-1, chosen[:, None]).squeeze(-1)  # (B,)
            if stop_token is None:  # every row runs to max_new_tokens
                tokens[:, step] = chosen
                log_probs[:, step] = token_log_prob
            else:
                chosen = torch.where(running, chosen, tokens[:, step])
                tokens[:, step] = chosen
                log_probs[:, step] = torch.where(running, token_log_prob, torch.zeros_like(token_log_prob))
                stopped_now = running & (chosen == stop_token)
                lengths[stopped_now] = step + 1
                running &= ~stopped_now
                if not bool(running.any()):
                    break
            step_input = chosen[:, None]
            if not use_cache:
                sequence = torch.cat([sequence, step_input], dim=1)
    return GenerationOutput(tokens, log_probs, lengths, ids, dropped)


def time_per_token(model: GPT, prompt_length: int, new_tokens: int, *, use_cache: bool, repeats: int = 3,
                   vocab_token: int = 0) -> float:
    """Seconds per generated token (best of ``repeats``) for greedy generation after a prompt of
    ``prompt_length`` copies of ``vocab_token``, with or without the cache (for the notebook's plot)."""
    if prompt_length < 1 or new_tokens < 1 or repeats < 1:
        raise ValueError("prompt_length, new_tokens and repeats must be positive")
    prompt = [vocab_token] * prompt_length
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        generate(model, prompt, max_new_tokens=new_tokens, use_cache=use_cache)
        best = min(best, time.perf_counter() - start)
    return best / new_tokens


# --------------------------------------------------------------------------------------------------
# Measuring samples: diversity and repetition
# --------------------------------------------------------------------------------------------------


def distinct_n(samples: Sequence[Sequence[int]], n: int = 2) -> float:
    """Distinct-n (Li et al. 2016): distinct n-grams / all n-grams over all samples (1 = never repeats)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams = [tuple(s[i:i + n]) for s in samples for i in range(len(s) - n + 1)]
    if not grams:
        raise ValueError(f"the samples hold no {n}-gram")
    return len(set(grams)) / len(grams)


def repetition_rate(samples: Sequence[Sequence[int]], n: int = 4) -> float:
    """Share of each sample's n-grams that already occurred earlier in the same sample (degenerate loops),
    averaged over the n-grams of all samples."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    repeated = total = 0
    for s in samples:
        seen = set()
        for i in range(len(s) - n + 1):
            gram = tuple(s[i:i + n])
            repeated += gram in seen
            seen.add(gram)
            total += 1
    if total == 0:
        raise ValueError(f"the samples hold no {n}-gram")
    return repeated / total


def continue_text(model: GPT, tokenizer, prompt: str, *, max_new_tokens: int = 30, temperature: float = 0.8,
                  top_k: int | None = None, top_p: float | None = None, seed: int = 0) -> str:
    """Encode ``prompt`` with ``tokenizer`` (a :class:`course_utils.tokenization.ByteLevelBPE`), generate and
    return the continuation's text (generation stops at ``<|endoftext|>``). ``top_k=0`` or ``top_p=1``
    mean "no filter" here, so a widget's slider can switch them off."""
    ids = tokenizer.encode(prompt)
    if not ids:
        raise ValueError("the prompt is empty: type a few words")
    out = generate(model, ids, max_new_tokens=max_new_tokens, temperature=temperature,
                   top_k=top_k or None, top_p=None if top_p in (None, 1.0) else top_p,
                   stop_token=tokenizer.eot_id, generator=torch.Generator().manual_seed(seed))
    return tokenizer.decode(out.as_lists()[0])

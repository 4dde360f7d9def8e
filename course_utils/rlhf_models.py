"""RLHF's models on top of :mod:`course_utils.gpt`: SFT's loss, the reward model, the policy with a value
head, log-probabilities of responses, sampling a batch of responses, best-of-n, and checkpoint guards.

Idea. Every stage of InstructGPT (Ouyang et al. 2022) reads the same sequences: a prompt followed by a
response. Supervised fine-tuning (SFT) is the next-token loss on the response tokens only (the prompt is
given, not learned). The reward model is the same GPT with its vocabulary projection replaced by a scalar
head read at the last real token: r(x, y) = w·h_L[last] + b (``readout="last"``, InstructGPT's choice), or
``readout="mean_logprob"``: the per-token head averaged over the n response tokens plus a learned multiple
of the mean log-probability the backbone's own LM head gives them,
r(x, y) = (1/n)·Σ_t (w·h_L[t] + b) + α·(1/n)·Σ_t log p_backbone(y_t | x, y_<t). The backbone starts as the
SFT model, which already knows the answers; reading how surprised it is by each token lets a 100k-parameter
model check a response from a few thousand comparisons (exploratory runs with the last-token readout stayed
between 0.63 and 0.72 held-out pairwise accuracy on comparisons of this kind, see data/checkpoints/README.md). PPO's policy keeps the LM head and adds a
value head V(s_t) = w_v·h_L[t] + b_v at every position. Best-of-n (rejection sampling) draws n responses
and keeps the one the reward model scores highest — the simplest use of a reward model, and the baseline
RL must beat.

Alignment used throughout: a batch holds right-padded rows ``prompt + response``; the *action* at
sequence position t + 1 (a response token) is scored by the logits and the value at position t, so the
per-action tensors are (B, T − 1) and :meth:`ResponseBatch.action_mask` is ``response_mask[:, 1:]``.
The losses are in :mod:`course_utils.rlhf`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from course_utils.generation import generate
from course_utils.gpt import GPT, GPTConfig, last_token_states, lm_loss, load_gpt, save_gpt, token_log_probs
from course_utils.training import evaluating, load_checkpoint, save_checkpoint

__all__ = [
    "ResponseBatch",
    "make_response_batch",
    "sample_responses",
    "sft_loss",
    "response_log_probs",
    "sequence_log_probs",
    "RewardModel",
    "PolicyOutput",
    "PolicyWithValue",
    "require_policy",
    "require_reward_model",
    "REWARD_MODEL_ARCHITECTURE",
    "READOUTS",
    "save_reward_model",
    "load_reward_model",
    "load_policy",
    "save_policy",
    "BestOfN",
    "best_of_n",
]

REWARD_MODEL_ARCHITECTURE = "gpt_reward_model"  # a reward model checkpoint's metadata says this


@dataclass
class ResponseBatch:
    """Right-padded rows ``prompt + response``: ``ids`` (B, T), ``prompt_lengths`` (B,), ``lengths`` (B,)
    (prompt + response tokens; the rest is padding)."""

    ids: Tensor
    prompt_lengths: Tensor
    lengths: Tensor

    def response_mask(self) -> Tensor:
        """(B, T) True on response tokens."""
        positions = torch.arange(self.ids.shape[1], device=self.ids.device)[None]  # (1, T)
        return (positions >= self.prompt_lengths[:, None]) & (positions < self.lengths[:, None])

    def action_mask(self) -> Tensor:
        """(B, T − 1) True where the logits/value at position t score a response token at t + 1."""
        return self.response_mask()[:, 1:]

    def responses(self) -> list[list[int]]:
        """The response ids of each row."""
        return [row[p:n].tolist() for row, p, n in zip(self.ids, self.prompt_lengths.tolist(), self.lengths.tolist())]

    def to(self, device: torch.device | str) -> ResponseBatch:
        return ResponseBatch(self.ids.to(device), self.prompt_lengths.to(device), self.lengths.to(device))


def make_response_batch(prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], *,
                        pad_id: int = 0) -> ResponseBatch:
    """Pack prompt and response id lists (one response per prompt) into a right-padded :class:`ResponseBatch`."""
    if len(prompts) != len(responses) or not prompts:
        raise ValueError(f"need one response per prompt and at least one pair, got {len(prompts)} prompts "
                         f"and {len(responses)} responses")
    if any(len(p) == 0 for p in prompts) or any(len(r) == 0 for r in responses):
        raise ValueError("every prompt and every response needs at least one token")
    rows = [list(p) + list(r) for p, r in zip(prompts, responses)]
    ids = torch.full((len(rows), max(map(len, rows))), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
    return ResponseBatch(ids, torch.tensor([len(p) for p in prompts]), torch.tensor([len(r) for r in rows]))


@torch.no_grad()
def sample_responses(policy: GPT, prompts: Sequence[Sequence[int]], *, max_new_tokens: int, temperature: float = 1.0,
                     stop_token: int | None = None, generator: torch.Generator | None = None,
                     pad_id: int = 0) -> ResponseBatch:
    """One sampled response per prompt, with plain temperature (no top-k/top-p: a KL estimate needs the
    policy's own distribution). Prompts of equal length are generated together."""
    policy = require_policy(policy)
    by_length: dict[int, list[int]] = {}
    for i, prompt in enumerate(prompts):
        by_length.setdefault(len(prompt), []).append(i)
    responses: list[list[int]] = [[] for _ in prompts]
    device = next(policy.parameters()).device
    for rows in by_length.values():
        ids = torch.tensor([list(prompts[i]) for i in rows], dtype=torch.long, device=device)
        out = generate(policy, ids, max_new_tokens=max_new_tokens, temperature=temperature, stop_token=stop_token,
                       generator=generator)
        if out.dropped:
            raise ValueError(f"prompts of {ids.shape[1]} tokens do not fit the context with {max_new_tokens} new tokens")
        for i, response in zip(rows, out.as_lists()):
            responses[i] = response
    return make_response_batch(prompts, responses, pad_id=pad_id).to(device)


def sft_loss(model: GPT, batch: ResponseBatch) -> Tensor:
    """Supervised fine-tuning: the mean next-token loss on the response tokens only."""
    model = require_policy(model)
    return lm_loss(model(batch.ids).logits, batch.ids, batch.response_mask())


def response_log_probs(model: GPT, batch: ResponseBatch) -> Tensor:
    """(B, T − 1): log π(response token at t + 1 | ..t) on the action mask, 0 elsewhere."""
    model = require_policy(model)
    return token_log_probs(model(batch.ids).logits, batch.ids) * batch.action_mask()


def sequence_log_probs(model: GPT, batch: ResponseBatch) -> Tensor:
    """(B,): log π(response | prompt), the sum of the response's token log-probabilities."""
    return response_log_probs(model, batch).sum(-1)


READOUTS = ("last", "mean_logprob")


class RewardModel(nn.Module):
    """r(x, y): a GPT backbone and a scalar head read at each row's last real token (``readout="last"``) or
    averaged over the response tokens plus α times their mean log-probability under the backbone
    (``readout="mean_logprob"``; see the module docstring)."""

    kind = "reward model"

    def __init__(self, backbone: GPT, readout: str = "last") -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.readout = readout
        self.log_prob_weight = nn.Parameter(torch.ones(())) if readout == "mean_logprob" else None  # α
        if isinstance(backbone, RewardModel):
            raise TypeError("the backbone is already a reward model; pass its GPT (reward_model.backbone)")
        if not isinstance(backbone, GPT):
            raise TypeError(f"backbone must be a GPT, got {type(backbone).__name__}")
        self.backbone = backbone
        self.head = nn.Linear(backbone.config.d_model, 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: Tensor, lengths: Tensor | None = None, prompt_lengths: Tensor | None = None) -> Tensor:
        """``ids`` (B, T) right-padded after ``lengths`` → scores (B,); the mean_logprob readout needs
        ``prompt_lengths`` (B,) too (the response is ids[prompt_length:length])."""
        out = self.backbone(ids)
        hidden = out.hidden  # (B, T, C)
        if self.readout == "last":
            return self.head(last_token_states(hidden, lengths)).squeeze(-1)
        if lengths is None or prompt_lengths is None:
            raise ValueError("the mean_logprob readout needs lengths and prompt_lengths (use score(batch))")
        if not bool((lengths > prompt_lengths).all()) or not bool((prompt_lengths >= 1).all()):
            raise ValueError("every row needs a prompt and at least one response token for the mean_logprob readout")
        positions = torch.arange(ids.shape[1], device=ids.device)[None]  # (1, T)
        mask = ((positions >= prompt_lengths[:, None]) & (positions < lengths[:, None])).to(hidden.dtype)  # (B, T)
        count = mask.sum(-1)  # (B,) response tokens
        per_token = (self.head(hidden).squeeze(-1) * mask).sum(-1) / count
        log_probs = (token_log_probs(out.logits, ids) * mask[:, 1:]).sum(-1) / count  # (B,) mean log p(y_t)
        return per_token + self.log_prob_weight * log_probs

    def score(self, batch: ResponseBatch) -> Tensor:
        """Scores (B,) of a :class:`ResponseBatch`."""
        return self(batch.ids, batch.lengths, batch.prompt_lengths)


@dataclass
class PolicyOutput:
    """``logits`` (B, T, V) of the policy; ``values`` (B, T): V(state after the tokens up to t)."""

    logits: Tensor
    values: Tensor


class PolicyWithValue(nn.Module):
    """PPO's model: the policy GPT (its LM head acts) and a value head on the same hidden states."""

    kind = "policy"

    def __init__(self, policy: GPT) -> None:
        super().__init__()
        self.policy = require_policy(policy)
        self.value_head = nn.Linear(self.policy.config.d_model, 1)
        nn.init.zeros_(self.value_head.weight)  # V starts at 0: the first advantages are the rewards themselves
        nn.init.zeros_(self.value_head.bias)

    def forward(self, ids: Tensor) -> PolicyOutput:
        out = self.policy(ids)
        return PolicyOutput(out.logits, self.value_head(out.hidden).squeeze(-1))


def require_policy(model: nn.Module) -> GPT:
    """The GPT that generates: a :class:`GPT` itself or a :class:`PolicyWithValue`'s; refuses a reward model."""
    if isinstance(model, RewardModel):
        raise TypeError("this is a reward model (a GPT with a scalar head): it scores responses and cannot be "
                        "used as a policy; use the SFT or policy GPT")
    if isinstance(model, PolicyWithValue):
        return model.policy
    if not isinstance(model, GPT):
        raise TypeError(f"a policy must be a GPT (or PolicyWithValue), got {type(model).__name__}")
    return model


def require_reward_model(model: nn.Module) -> RewardModel:
    """``model`` when it is a :class:`RewardModel`; a policy GPT is refused with a clear message."""
    if isinstance(model, (GPT, PolicyWithValue)):
        raise TypeError("this is a policy (a GPT with a language-model head), not a reward model; wrap a backbone "
                        "in RewardModel and train it on comparisons first")
    if not isinstance(model, RewardModel):
        raise TypeError(f"a reward model must be a RewardModel, got {type(model).__name__}")
    return model


def save_reward_model(model: RewardModel, path: str | Path, *, metadata: dict | None = None) -> Path:
    """Save a reward model (float32) with ``architecture = "gpt_reward_model"`` and its GPT config."""
    model = require_reward_model(model)
    return save_checkpoint(model, path, {**(metadata or {}), "architecture": REWARD_MODEL_ARCHITECTURE,
                                         "readout": model.readout, "config": model.backbone.config.to_dict()})


def load_reward_model(path: str | Path) -> tuple[RewardModel, dict]:
    """Rebuild a :class:`RewardModel` (eval mode); refuses a policy/GPT checkpoint with a clear message."""
    _, metadata = load_checkpoint(None, path)
    architecture = metadata.get("architecture")
    if architecture != REWARD_MODEL_ARCHITECTURE:
        raise ValueError(f"{Path(path).name} is not a reward model checkpoint (its metadata says architecture="
                         f"{architecture!r}); a policy/SFT GPT is loaded with load_policy")
    model = RewardModel(GPT(GPTConfig.from_dict(metadata["config"])), metadata.get("readout", "last"))
    load_checkpoint(model, path)
    return model.eval(), metadata


def load_policy(path: str | Path) -> tuple[GPT, dict]:
    """Load a policy/SFT GPT saved with :func:`course_utils.gpt.save_gpt`; refuses a reward model checkpoint."""
    _, metadata = load_checkpoint(None, path)
    if metadata.get("architecture") == REWARD_MODEL_ARCHITECTURE:
        raise ValueError(f"{Path(path).name} is a reward model checkpoint: it scores responses and cannot be used "
                         "as a policy; load it with load_reward_model")
    return load_gpt(path)


def save_policy(model: GPT | PolicyWithValue, path: str | Path, *, metadata: dict | None = None,
                half: bool = False) -> Path:
    """Save a policy's GPT with :func:`course_utils.gpt.save_gpt` (the value head is not kept); float32 unless
    ``half`` (the reward model was trained on the float32 SFT model's samples)."""
    return save_gpt(require_policy(model), path, metadata=metadata, half=half)


@dataclass
class BestOfN:
    """``responses``: the n sampled response id lists; ``scores`` (n,): their rewards; ``best``: the index
    of the highest score (the first on ties)."""

    responses: list[list[int]]
    scores: Tensor
    best: int

    @property
    def response(self) -> list[int]:
        return self.responses[self.best]


@torch.no_grad()
def best_of_n(policy: GPT, reward_model: RewardModel, prompt: Sequence[int], n: int, *, max_new_tokens: int,
              temperature: float = 1.0, stop_token: int | None = None, generator: torch.Generator | None = None,
              ) -> BestOfN:
    """Sample ``n`` responses to ``prompt`` from ``policy`` and keep the one ``reward_model`` scores highest."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"best-of-n needs n >= 1 samples, got n={n!r}")
    policy, reward_model = require_policy(policy), require_reward_model(reward_model)
    prompt = list(prompt)
    batch = sample_responses(policy, [prompt] * n, max_new_tokens=max_new_tokens, temperature=temperature,
                             stop_token=stop_token, generator=generator)
    with evaluating(reward_model):
        scores = reward_model.score(batch.to(next(reward_model.parameters()).device)).float().cpu()
    return BestOfN(batch.responses(), scores, int(scores.argmax()))

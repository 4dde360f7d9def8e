"""Attention in a recurrent encoder-decoder: Bahdanau's additive score.

Idea. A recurrent encoder turns the source into states h_1..h_S. Instead of squeezing them into its
last state, the decoder *scores* every encoder state against its own previous state s_{t-1} at every
output step, turns the scores into weights with a softmax, and reads the weighted average (the context
c_t) together with the previous output word. The weights are a soft alignment between output and
source positions, learned without any alignment labels.

Formula (Bahdanau, Cho and Bengio, 2015, "Neural Machine Translation by Jointly Learning to Align and
Translate", https://arxiv.org/abs/1409.0473)::

    e_tj  = v^T tanh(W s_{t-1} + U h_j)          (the additive score; W: (D_s, A), U: (D_h, A), v: (A,))
    α_tj  = exp(e_tj) / Σ_j' exp(e_tj')
    c_t   = Σ_j α_tj h_j
    s_t   = GRU([y_{t-1}; c_t], s_{t-1}),   p(y_t | …) = softmax(W_o [s_t; c_t])

Luong, Pham and Manning (2015) replaced the additive score by a dot product s^T h, the form that
self-attention (:mod:`course_utils.attention`) scales by 1/sqrt(d_k). The encoder here is a
bidirectional GRU, as in the paper, so every h_j summarises the whole source around position j.

Shapes: B batch, S source length, T target length, E embedding width, D hidden width, A attention width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["additive_attention", "AdditiveAttention", "RNNSeq2SeqOutput", "RNNEncoderDecoder"]


def additive_attention(query: Tensor, keys: Tensor, w_query: Tensor, w_key: Tensor, v: Tensor,
                       mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Bahdanau's attention for one decoder step: returns ``(context (B, D_h), weights (B, S))``.

    ``query`` (B, D_s) is the decoder state s_{t-1}, ``keys`` (B, S, D_h) the encoder states (they are
    also the values), ``w_query`` (D_s, A), ``w_key`` (D_h, A) and ``v`` (A,) the score's parameters;
    ``mask`` (B, S) bool is True on the source positions that may be read. A row with nothing to read
    gets zero weights and a zero context, never NaN.
    """
    if query.dim() != 2 or keys.dim() != 3 or keys.shape[0] != query.shape[0]:
        raise ValueError(f"query must be (B, D_s) and keys (B, S, D_h) with the same B, got "
                         f"{tuple(query.shape)} and {tuple(keys.shape)}")
    if w_query.shape[0] != query.shape[1] or w_key.shape[0] != keys.shape[2]:
        raise ValueError(f"w_query must be (D_s={query.shape[1]}, A) and w_key (D_h={keys.shape[2]}, A), got "
                         f"{tuple(w_query.shape)} and {tuple(w_key.shape)}")
    if w_query.shape[1] != w_key.shape[1] or v.shape != (w_key.shape[1],):
        raise ValueError(f"w_query, w_key and v must share the attention width A, got {tuple(w_query.shape)}, "
                         f"{tuple(w_key.shape)} and {tuple(v.shape)}")
    scores = torch.tanh((query @ w_query)[:, None, :] + keys @ w_key) @ v  # (B, S)
    if mask is not None:
        if mask.dtype != torch.bool or mask.shape != scores.shape:
            raise ValueError(f"mask must be a bool tensor of shape {tuple(scores.shape)}, got {mask.dtype} "
                             f"{tuple(mask.shape)}")
        scores = scores.masked_fill(~mask, float("-inf"))
        empty = ~mask.any(-1, keepdim=True)  # (B, 1): rows that may read nothing
        scores = scores.masked_fill(empty, 0.0)
    weights = torch.softmax(scores, dim=-1)  # (B, S)
    if mask is not None:
        weights = weights.masked_fill(empty, 0.0)
    context = (weights[:, None, :] @ keys)[:, 0]  # (B, D_h)
    return context, weights


class AdditiveAttention(nn.Module):
    """:func:`additive_attention` with learned W (``query_proj``), U (``key_proj``) and v."""

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_size, attention_size, bias=False)  # W
        self.key_proj = nn.Linear(key_size, attention_size, bias=False)  # U
        self.v = nn.Parameter(torch.empty(attention_size).uniform_(-attention_size ** -0.5, attention_size ** -0.5))

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(context (B, D_h), weights (B, S)) for decoder states (B, D_s) and encoder states (B, S, D_h)."""
        return additive_attention(query, keys, self.query_proj.weight.T, self.key_proj.weight.T, self.v, mask)


@dataclass
class RNNSeq2SeqOutput:
    """What :class:`RNNEncoderDecoder` returns."""

    logits: Tensor  # (B, T, V) next-token scores
    weights: Tensor  # (B, T, S) attention of each output step over the source


class RNNEncoderDecoder(nn.Module):
    """Bahdanau's model, small: bidirectional GRU encoder, GRU decoder reading an additive-attention context.

    Token id 0 is padding and id 1 starts the decoder (``<s>``); sources and targets share one vocabulary.
    """

    def __init__(self, vocab_size: int, embedding_size: int = 32, hidden_size: int = 64, attention_size: int = 64):
        super().__init__()
        if min(vocab_size, embedding_size, hidden_size, attention_size) < 1:
            raise ValueError("vocab_size and every width must be positive")
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.encoder = nn.GRU(embedding_size, hidden_size, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)  # first decoder state from the encoder's ends
        self.attention = AdditiveAttention(hidden_size, 2 * hidden_size, attention_size)
        self.decoder = nn.GRUCell(embedding_size + 2 * hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size + 2 * hidden_size, vocab_size)

    def forward(self, source: Tensor, target_in: Tensor) -> RNNSeq2SeqOutput:
        """Teacher forcing: ``source`` (B, S) and decoder inputs ``target_in`` (B, T) starting with ``<s>``."""
        if source.dim() != 2 or target_in.dim() != 2 or source.shape[0] != target_in.shape[0]:
            raise ValueError(f"source and target_in must be (B, S) and (B, T) with the same B, got "
                             f"{tuple(source.shape)} and {tuple(target_in.shape)}")
        keys, _ = self.encoder(self.embedding(source))  # (B, S, 2D): forward and backward states
        mask = source != 0  # (B, S)
        state = torch.tanh(self.bridge(keys.mean(1)))  # (B, D)
        inputs = self.embedding(target_in)  # (B, T, E)
        logits, weights = [], []
        for t in range(target_in.shape[1]):
            context, alpha = self.attention(state, keys, mask)  # read the source with s_{t-1}
            state = self.decoder(torch.cat([inputs[:, t], context], -1), state)  # s_t
            logits.append(self.output(torch.cat([state, context], -1)))  # (B, V)
            weights.append(alpha)
        return RNNSeq2SeqOutput(torch.stack(logits, 1), torch.stack(weights, 1))

    @torch.no_grad()
    def greedy(self, source: Tensor, length: int) -> RNNSeq2SeqOutput:
        """Decode ``length`` tokens greedily, feeding back each prediction; logits (B, T, V), weights (B, T, S)."""
        if length < 1:
            raise ValueError(f"length must be positive, got {length}")
        prefix = torch.ones(source.shape[0], 1, dtype=torch.long, device=source.device)  # <s>
        for _ in range(length):
            out = self(source, prefix)  # re-reads the prefix: simple, and the sequences here are short
            prefix = torch.cat([prefix, out.logits[:, -1:].argmax(-1)], 1)
        return out

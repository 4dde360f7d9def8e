"""The Transformer: blocks, encoder and decoder stacks, an encoder-decoder model, and how to decode it.

Idea. A Transformer layer is attention plus a position-wise feed-forward network, each wrapped in a
residual connection and layer normalisation. The encoder stacks self-attention layers over the source;
the decoder stacks masked (causal) self-attention over the target prefix, cross-attention whose
queries come from the decoder and whose keys and values are the encoder's output ("memory"), and the
feed-forward network. Trained with teacher forcing; decoded greedily or with beam search.

Formulas (Vaswani et al., 2017, "Attention Is All You Need", https://arxiv.org/abs/1706.03762)::

    FFN(x)  = max(0, x W1 + b1) W2 + b2
    post-LN (the paper):       x = LayerNorm(x + Sublayer(x))
    pre-LN (GPT-2, most LLMs): x = x + Sublayer(LayerNorm(x)), plus one final LayerNorm per stack
    lrate   = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)
    label smoothing: loss = (1 - ε) · (-log p_y) + ε · mean_v(-log p_v)

Pre-LN keeps the residual path an identity, so gradients reach early layers undamped and training
works without warm-up (Xiong et al., 2020, "On Layer Normalization in the Transformer Architecture").
Beam search ranks hypotheses by length-normalised log-probability, log p(y|x) / |y|^α.

Every block takes boolean masks with ``True`` = may attend (see :mod:`course_utils.attention`), and
:meth:`EncoderBlock.load_from_torch` / :meth:`DecoderBlock.load_from_torch` copy the weights of
``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``, which the tests use as oracles.
BERT (an encoder stack) and GPT (a causal stack) reuse these classes. :func:`patchify` shows how the
Vision Transformer (Dosovitskiy et al., 2021) turns an image into the same kind of token sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.attention import (
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    causal_mask,
    combine_masks,
    padding_mask,
)

__all__ = [
    "TransformerConfig",
    "PositionWiseFeedForward",
    "EncoderBlock",
    "DecoderBlock",
    "Encoder",
    "Decoder",
    "TokenEmbedding",
    "BlockOutput",
    "StackOutput",
    "AttentionMaps",
    "Seq2SeqOutput",
    "EncoderDecoder",
    "decoder_self_mask",
    "greedy_step",
    "greedy_decode",
    "sequence_log_probs",
    "Hypothesis",
    "beam_search",
    "label_smoothed_cross_entropy",
    "warmup_schedule",
    "linear_warmup_schedule",
    "patchify",
]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


@dataclass
class TransformerConfig:
    """Sizes and switches of a Transformer (defaults: the paper's base model)."""

    src_vocab_size: int = 0  # source vocabulary V_src (0 for models without an encoder input)
    tgt_vocab_size: int = 0  # target vocabulary V (the output softmax)
    d_model: int = 512  # width C of every token vector
    n_heads: int = 8  # attention heads H per layer (d_model must be divisible by it)
    d_ff: int = 2048  # hidden width of the position-wise feed-forward network
    n_encoder_layers: int = 6  # encoder blocks
    n_decoder_layers: int = 6  # decoder blocks
    dropout: float = 0.1  # on embeddings, attention weights, the FFN hidden layer and each sub-layer output
    activation: str = "relu"  # FFN non-linearity: "relu" (paper) or "gelu" (BERT, GPT)
    norm_first: bool = False  # False: post-LN as in the paper; True: pre-LN as in GPT-2 and later
    layer_norm_eps: float = 1e-5  # LayerNorm's ε (torch's default)
    max_len: int = 512  # longest sequence the positional table covers
    positional: str = "sinusoidal"  # "sinusoidal" (paper) or "learned" (BERT, GPT)
    tie_embeddings: str = "output"  # "none"; "output": target embedding = output projection; "all": also the source
    pad_id: int = 0  # padding token (ignored by masks and the loss)
    ffn_hidden_dropout: bool = True  # dropout on the FFN hidden layer too (BERT and GPT-2: False)
    bos_id: int = 1  # first token fed to the decoder
    eos_id: int = 2  # token that ends a sentence

    def __post_init__(self) -> None:
        for name in ("d_model", "n_heads", "d_ff", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("src_vocab_size", "tgt_vocab_size", "n_encoder_layers", "n_decoder_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.positional not in ("sinusoidal", "learned"):
            raise ValueError(f"positional must be 'sinusoidal' or 'learned', got {self.positional!r}")
        if self.tie_embeddings not in ("none", "output", "all"):
            raise ValueError(f"tie_embeddings must be 'none', 'output' or 'all', got {self.tie_embeddings!r}")
        if self.tie_embeddings == "all" and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(
                "tie_embeddings='all' shares one table between source and target, so the vocabularies must "
                f"have the same size (got {self.src_vocab_size} and {self.tgt_vocab_size})"
            )


class PositionWiseFeedForward(nn.Module):
    """FFN(x) = W2 · dropout(act(W1 x + b1)) + b2, applied to every position separately.

    ``hidden_dropout=False`` leaves the hidden layer undropped, FFN(x) = W2 · act(W1 x + b1) + b2, as BERT
    and GPT-2 do (they drop only the sub-layer's output).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu", *,
                 hidden_dropout: bool = True) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout) if hidden_dropout else nn.Identity()
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, T, C)


@dataclass
class BlockOutput:
    """What an :class:`EncoderBlock` or :class:`DecoderBlock` returns."""

    hidden: Tensor  # (B, T, C)
    self_weights: Tensor | None = None  # (B, H, T, T); only when need_weights
    cross_weights: Tensor | None = None  # (B, H, T, S); decoder blocks only, when need_weights


@dataclass
class StackOutput:
    """What an :class:`Encoder` or :class:`Decoder` stack returns."""

    hidden: Tensor  # (B, T, C), after the final LayerNorm of a pre-LN stack
    self_weights: list[Tensor] | None = None  # one (B, H, T, T) per layer; only when need_weights
    cross_weights: list[Tensor] | None = None  # one (B, H, T, S) per layer; decoder only, when need_weights


def _block_args(config: TransformerConfig) -> dict:
    return dict(d_model=config.d_model, n_heads=config.n_heads, d_ff=config.d_ff, dropout=config.dropout,
                activation=config.activation, norm_first=config.norm_first, layer_norm_eps=config.layer_norm_eps)


class EncoderBlock(nn.Module):
    """Self-attention and FFN, each inside a residual connection with LayerNorm (post- or pre-LN).

    ``forward(x, mask)`` with ``x`` (B, T, C) and a bool ``mask`` (True = may attend) broadcastable to
    (B, H, T, T); returns a :class:`BlockOutput` (``.hidden`` (B, T, C); ``.self_weights`` when
    ``need_weights``).
    A causal ``mask`` turns it into a GPT block.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, dropout: float = 0.0, activation: str = "relu",
                 norm_first: bool = False, layer_norm_eps: float = 1e-5, ffn_hidden_dropout: bool = True) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attention = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.feed_forward = PositionWiseFeedForward(d_model, d_ff, dropout, activation,
                                                    hidden_dropout=ffn_hidden_dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False) -> BlockOutput:
        if self.norm_first:  # x + Sublayer(LayerNorm(x))
            attended = self.self_attention(self.norm1(x), mask=mask, need_weights=need_weights)
            x = x + self.dropout1(attended.output)
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:  # LayerNorm(x + Sublayer(x))
            attended = self.self_attention(x, mask=mask, need_weights=need_weights)
            x = self.norm1(x + self.dropout1(attended.output))
            x = self.norm2(x + self.dropout2(self.feed_forward(x)))
        return BlockOutput(x, attended.weights)

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> EncoderBlock:
        """Copy the weights of a ``nn.TransformerEncoderLayer`` with the same sizes."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"expected nn.TransformerEncoderLayer, got {type(layer).__name__}")
        self.self_attention.load_from_torch(layer.self_attn)
        _copy_ffn_and_norms(self, layer, ("norm1", "norm2"))
        return self


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention to the encoder's memory, and FFN, each with residual + LN.

    ``forward(x, memory, self_mask, memory_mask)``: ``x`` (B, T, C) the target prefix, ``memory``
    (B, S, C); ``self_mask`` broadcastable to (B, H, T, T) (causal), ``memory_mask`` to (B, H, T, S)
    (source padding). Returns a :class:`BlockOutput` (weights only when ``need_weights``).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, dropout: float = 0.0, activation: str = "relu",
                 norm_first: bool = False, layer_norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attention = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.cross_attention = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.feed_forward = PositionWiseFeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, self_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                *, need_weights: bool = False) -> BlockOutput:
        if self.norm_first:
            h = self.norm1(x)
            attended = self.self_attention(h, mask=self_mask, need_weights=need_weights)
            x = x + self.dropout1(attended.output)
            # queries from the decoder, keys and values from the encoder's memory
            crossed = self.cross_attention(self.norm2(x), memory, memory, mask=memory_mask, need_weights=need_weights)
            x = x + self.dropout2(crossed.output)
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            attended = self.self_attention(x, mask=self_mask, need_weights=need_weights)
            x = self.norm1(x + self.dropout1(attended.output))
            crossed = self.cross_attention(x, memory, memory, mask=memory_mask, need_weights=need_weights)
            x = self.norm2(x + self.dropout2(crossed.output))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return BlockOutput(x, attended.weights, crossed.weights)

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> DecoderBlock:
        """Copy the weights of a ``nn.TransformerDecoderLayer`` with the same sizes."""
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise TypeError(f"expected nn.TransformerDecoderLayer, got {type(layer).__name__}")
        self.self_attention.load_from_torch(layer.self_attn)
        self.cross_attention.load_from_torch(layer.multihead_attn)
        _copy_ffn_and_norms(self, layer, ("norm1", "norm2", "norm3"))
        return self


def _copy_ffn_and_norms(ours: nn.Module, theirs: nn.Module, norms: tuple[str, ...]) -> None:
    for name in ("linear1", "linear2"):
        src, dst = getattr(theirs, name), getattr(ours.feed_forward, name)
        if src.weight.shape != dst.weight.shape:
            raise ValueError(f"{name} has shape {tuple(src.weight.shape)} there but {tuple(dst.weight.shape)} here")
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)
    for name in norms:
        getattr(ours, name).weight.copy_(getattr(theirs, name).weight)
        getattr(ours, name).bias.copy_(getattr(theirs, name).bias)


class Encoder(nn.Module):
    """``config.n_encoder_layers`` encoder blocks; pre-LN stacks end with a LayerNorm (as torch's do)."""

    def __init__(self, config: TransformerConfig, n_layers: int | None = None) -> None:
        super().__init__()
        n_layers = config.n_encoder_layers if n_layers is None else n_layers
        self.layers = nn.ModuleList(EncoderBlock(**_block_args(config), ffn_hidden_dropout=config.ffn_hidden_dropout)
                                    for _ in range(n_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm_first else None

    def forward(self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False) -> StackOutput:
        """(B, T, C) → :class:`StackOutput` (``.hidden`` (B, T, C); per-layer weights when ``need_weights``)."""
        weights = []
        for layer in self.layers:
            out = layer(x, mask, need_weights=need_weights)
            x = out.hidden
            weights.append(out.self_weights)
        if self.norm is not None:
            x = self.norm(x)
        return StackOutput(x, weights if need_weights else None)


class Decoder(nn.Module):
    """``config.n_decoder_layers`` decoder blocks; pre-LN stacks end with a LayerNorm."""

    def __init__(self, config: TransformerConfig, n_layers: int | None = None) -> None:
        super().__init__()
        n_layers = config.n_decoder_layers if n_layers is None else n_layers
        self.layers = nn.ModuleList(DecoderBlock(**_block_args(config)) for _ in range(n_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm_first else None

    def forward(self, x: Tensor, memory: Tensor, self_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                *, need_weights: bool = False) -> StackOutput:
        """(B, T, C) → :class:`StackOutput`; per-layer self and cross weights when ``need_weights``."""
        self_weights, cross_weights = [], []
        for layer in self.layers:
            out = layer(x, memory, self_mask, memory_mask, need_weights=need_weights)
            x = out.hidden
            self_weights.append(out.self_weights)
            cross_weights.append(out.cross_weights)
        if self.norm is not None:
            x = self.norm(x)
        if not need_weights:
            return StackOutput(x)
        return StackOutput(x, self_weights, cross_weights)


class TokenEmbedding(nn.Module):
    """Token ids (B, T) → vectors (B, T, C): embedding · sqrt(d_model) + positions, then dropout.

    The table starts with standard deviation d_model^-0.5, so the scaled embeddings have unit variance
    and a tied output projection starts with logits of unit scale.
    """

    def __init__(self, vocab_size: int, config: TransformerConfig) -> None:
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
        self.embedding = nn.Embedding(vocab_size, config.d_model)
        nn.init.normal_(self.embedding.weight, std=config.d_model**-0.5)
        self.scale = math.sqrt(config.d_model)
        self.max_len = config.max_len
        if config.positional == "sinusoidal":
            self.positions = SinusoidalPositionalEncoding(config.d_model, config.max_len, config.dropout)
        else:
            self.positions = LearnedPositionalEmbedding(config.d_model, config.max_len, config.dropout)

    def forward(self, ids: Tensor, offset: int = 0) -> Tensor:
        if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"token ids must be a (B, T) long tensor, got {getattr(ids, 'dtype', type(ids))} "
                             f"of shape {tuple(getattr(ids, 'shape', ()))}")
        if ids.shape[1] + offset > self.max_len:
            raise ValueError(f"a sequence of length {ids.shape[1] + offset} is longer than max_len={self.max_len}")
        vocab = self.embedding.num_embeddings
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
            raise ValueError(f"token ids must lie in 0..{vocab - 1}, got values from {int(ids.min())} to {int(ids.max())}")
        return self.positions(self.embedding(ids) * self.scale, offset)  # (B, T, C)


def decoder_self_mask(target: Tensor, pad_id: int = 0) -> Tensor:
    """(B, 1, T, T) bool mask for the decoder's self-attention: causal AND the key is not padding."""
    if target.dim() != 2:
        raise ValueError(f"target must be (B, T) token ids, got shape {tuple(target.shape)}")
    T = target.shape[1]
    return combine_masks(causal_mask(T, device=target.device)[None, None], padding_mask(target != pad_id))


@dataclass
class AttentionMaps:
    """Attention weights of every layer, each (B, H, T_query, T_key)."""

    encoder: list[Tensor] = field(default_factory=list)  # source ↔ source
    decoder: list[Tensor] = field(default_factory=list)  # target prefix ↔ target prefix (causal)
    cross: list[Tensor] = field(default_factory=list)  # target (queries) → source (keys): the alignment


@dataclass
class Seq2SeqOutput:
    """What :class:`EncoderDecoder` returns."""

    logits: Tensor  # (B, T, V): next-token scores at every target position
    attention: AttentionMaps | None = None  # every layer's weights; only when need_weights


class EncoderDecoder(nn.Module):
    """The paper's model: source embedding → encoder; target embedding → decoder → linear → logits."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.src_vocab_size < 1 or config.tgt_vocab_size < 1:
            raise ValueError("an encoder-decoder needs src_vocab_size and tgt_vocab_size of at least 1")
        if config.n_encoder_layers < 1 or config.n_decoder_layers < 1:
            raise ValueError("an encoder-decoder needs at least one encoder and one decoder layer")
        self.config = config
        self.target_embedding = TokenEmbedding(config.tgt_vocab_size, config)
        self.source_embedding = TokenEmbedding(config.src_vocab_size, config)
        if config.tie_embeddings == "all":  # one table for source, target and output (shared vocabulary)
            self.source_embedding.embedding.weight = self.target_embedding.embedding.weight
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.output = None if config.tie_embeddings != "none" else nn.Linear(config.d_model, config.tgt_vocab_size)

    def source_mask(self, source: Tensor) -> Tensor:
        """(B, 1, 1, S): True on real source tokens, False on padding."""
        return padding_mask(source != self.config.pad_id)

    def run_encoder(self, source: Tensor, *, need_weights: bool = False) -> StackOutput:
        """Source ids (B, S) → the encoder's :class:`StackOutput` (memory in ``.hidden``)."""
        return self.encoder(self.source_embedding(source), self.source_mask(source), need_weights=need_weights)

    def run_decoder(self, target: Tensor, memory: Tensor, source_mask: Tensor | None, *,
                    need_weights: bool = False) -> tuple[Tensor, StackOutput]:
        """Target prefix ids (B, T) and memory (B, S, C) → (logits (B, T, V), the decoder's StackOutput)."""
        if memory.dim() != 3 or memory.shape[0] != target.shape[0]:
            raise ValueError(f"memory must be (B={target.shape[0]}, S, C), got {tuple(memory.shape)}")
        x = self.target_embedding(target)
        stack = self.decoder(x, memory, decoder_self_mask(target, self.config.pad_id), source_mask,
                             need_weights=need_weights)
        if self.output is None:  # tied: the output projection is the target embedding table
            logits = F.linear(stack.hidden, self.target_embedding.embedding.weight)
        else:
            logits = self.output(stack.hidden)
        return logits, stack

    def encode(self, source: Tensor) -> Tensor:
        """Source ids (B, S) → memory (B, S, C)."""
        return self.run_encoder(source).hidden

    def decode(self, target: Tensor, memory: Tensor, source_mask: Tensor | None) -> Tensor:
        """Target prefix ids (B, T) and memory (B, S, C) → next-token logits (B, T, V)."""
        return self.run_decoder(target, memory, source_mask)[0]

    def forward(self, source: Tensor, target: Tensor, *, need_weights: bool = False) -> Seq2SeqOutput:
        """Teacher forcing: a :class:`Seq2SeqOutput` with logits (B, T, V) for every target position
        (``target`` starts with ``<s>``), and every layer's attention weights when ``need_weights``."""
        for name, ids in (("source", source), ("target", target)):
            if not isinstance(ids, Tensor) or ids.dim() != 2:
                raise ValueError(f"{name} must be a (B, length) tensor of ids, got shape {tuple(getattr(ids, 'shape', ()))}")
        if source.shape[0] != target.shape[0]:
            raise ValueError(f"source and target batch sizes differ: {source.shape[0]} and {target.shape[0]}")
        encoded = self.run_encoder(source, need_weights=need_weights)
        logits, decoded = self.run_decoder(target, encoded.hidden, self.source_mask(source), need_weights=need_weights)
        if not need_weights:
            return Seq2SeqOutput(logits)
        return Seq2SeqOutput(logits, AttentionMaps(encoded.self_weights, decoded.self_weights, decoded.cross_weights))


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def _next_log_probs(model: EncoderDecoder, prefix: Tensor, memory: Tensor, source_mask: Tensor | None) -> Tensor:
    """log p(next token | prefix, source) at the last position, (B, V); ``<pad>`` and ``<s>`` are never
    produced (their log-probability is set to -inf; the others keep the model's values)."""
    log_probs = model.decode(prefix, memory, source_mask)[:, -1].log_softmax(-1)  # only the last position
    banned = [model.config.pad_id, model.config.bos_id]
    return log_probs.index_fill(-1, torch.tensor(banned, device=log_probs.device), float("-inf"))


def greedy_step(model: EncoderDecoder, memory: Tensor, source_mask: Tensor | None, prefix: Tensor) -> Tensor:
    """One decoding step: append the most probable next token to each prefix, (B, t) → (B, t + 1).

    The decoder reads the whole prefix (causally masked); only its last position predicts the next
    token. ``<pad>`` and ``<s>`` are never chosen.
    """
    next_token = _next_log_probs(model, prefix, memory, source_mask).argmax(dim=-1, keepdim=True)  # (B, 1)
    return torch.cat([prefix, next_token], dim=1)


def _check_source(model: EncoderDecoder, source: Tensor, max_len: int | None) -> int:
    if not isinstance(source, Tensor) or source.dim() != 2 or source.shape[0] < 1:
        raise ValueError(f"source must be a (B, S) tensor of ids, got shape {tuple(getattr(source, 'shape', ()))}")
    max_len = model.config.max_len if max_len is None else max_len
    if not 2 <= max_len <= model.config.max_len:
        raise ValueError(f"max_len must lie in 2..{model.config.max_len} (the positional table), got {max_len}")
    return max_len


@torch.no_grad()
def greedy_decode(model: EncoderDecoder, source: Tensor, *, max_len: int | None = None) -> Tensor:
    """Decode a batch by always taking the most probable token.

    Returns (B, L) ids starting with ``<s>``; each row ends at its ``</s>`` and is padded after it.
    """
    max_len = _check_source(model, source, max_len)
    cfg = model.config
    memory, source_mask = model.encode(source), model.source_mask(source)
    prefix = torch.full((source.shape[0], 1), cfg.bos_id, dtype=torch.long, device=source.device)
    finished = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
    while prefix.shape[1] < max_len and not bool(finished.all()):
        prefix = greedy_step(model, memory, source_mask, prefix)
        prefix[finished, -1] = cfg.pad_id  # rows already ended only collect padding
        finished |= prefix[:, -1] == cfg.eos_id
    return prefix


@torch.no_grad()
def sequence_log_probs(model: EncoderDecoder, source: Tensor, target: Tensor) -> Tensor:
    """log p(target | source) summed over the tokens after ``<s>`` up to and including ``</s>``, (B,)."""
    if target.dim() != 2 or target.shape[0] != source.shape[0] or target.shape[1] < 2:
        raise ValueError(f"target must be (B={source.shape[0]}, T ≥ 2) ids starting with <s>, got {tuple(target.shape)}")
    log_probs = model(source, target[:, :-1]).logits.log_softmax(-1)  # (B, T-1, V)
    picked = log_probs.gather(-1, target[:, 1:, None]).squeeze(-1)  # (B, T-1)
    keep = target[:, 1:] != model.config.pad_id
    return (picked * keep).sum(-1)


@dataclass
class Hypothesis:
    """A decoded sentence: ``tokens`` after ``<s>`` (ending with ``</s>`` when ``finished``)."""

    tokens: list[int]
    log_prob: float  # sum of the tokens' log-probabilities
    score: float  # log_prob / len(tokens) ** length_penalty
    finished: bool


@torch.no_grad()
def beam_search(model: EncoderDecoder, source: Tensor, *, beam_size: int = 4, max_len: int | None = None,
                length_penalty: float = 1.0, n_best: int = 1) -> list[Hypothesis]:
    """Beam search for one source sentence (1, S) or (S,); returns the ``n_best`` best hypotheses.

    Each step extends every open prefix by every token (never ``<pad>`` or ``<s>``) and keeps the
    ``beam_size - finished`` most probable extensions (by summed log-probability); those ending with
    ``</s>`` are finished, so the beam shrinks until every hypothesis has finished or ``max_len`` is
    reached (open prefixes then compete, marked unfinished). With ``beam_size=1`` this is exactly
    greedy decoding. Hypotheses are ranked by log p / length^``length_penalty``
    (1.0 = mean log-probability per token; 0.0 = raw log p, which favours short outputs).
    """
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive integer, got {beam_size!r}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must lie in 1..beam_size={beam_size}, got {n_best}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be non-negative, got {length_penalty}")
    source = source[None] if source.dim() == 1 else source
    if source.dim() != 2 or source.shape[0] != 1:
        raise ValueError(f"beam_search decodes one sentence: source must be (S,) or (1, S), got {tuple(source.shape)}")
    max_len = _check_source(model, source, max_len)
    cfg = model.config

    def make(tokens: list[int], log_prob: float, finished: bool) -> Hypothesis:
        return Hypothesis(tokens, log_prob, log_prob / len(tokens) ** length_penalty, finished)

    memory, source_mask = model.encode(source), model.source_mask(source)  # (1, S, C), (1, 1, 1, S)
    beams: list[tuple[list[int], float]] = [([cfg.bos_id], 0.0)]
    done: list[Hypothesis] = []
    while beams and len(beams[0][0]) < max_len:
        prefix = torch.tensor([tokens for tokens, _ in beams], dtype=torch.long, device=source.device)  # (k, t)
        k = prefix.shape[0]
        log_probs = _next_log_probs(model, prefix, memory.expand(k, -1, -1), source_mask)  # (k, V)
        totals = torch.tensor([lp for _, lp in beams], dtype=log_probs.dtype, device=log_probs.device)[:, None] + log_probs
        width = beam_size - len(done)  # the beam shrinks as hypotheses finish
        best = totals.flatten().topk(min(width, totals.numel()))
        vocab = log_probs.shape[1]
        candidates = []
        for total, index in zip(best.values.tolist(), best.indices.tolist()):
            if total == float("-inf"):  # <pad> / <s>
                break
            beam, token = divmod(index, vocab)
            tokens = beams[beam][0] + [token]
            if token == cfg.eos_id:
                done.append(make(tokens[1:], total, True))
            else:
                candidates.append((tokens, total))
        beams = candidates
    done += [make(tokens[1:], total, False) for tokens, total in beams if len(tokens) > 1]  # reached max_len
    done.sort(key=lambda h: h.score, reverse=True)
    return done[:n_best]


# --------------------------------------------------------------------------------------------------
# Loss and learning-rate schedules
# --------------------------------------------------------------------------------------------------


def label_smoothed_cross_entropy(logits: Tensor, targets: Tensor, smoothing: float = 0.1,
                                 ignore_index: int = -100) -> Tensor:
    """Mean over non-ignored positions of (1 - ε)·(-log p_y) + ε·mean_v(-log p_v).

    The smoothed target puts 1 - ε + ε/V on the right class and ε/V on every class, exactly as
    ``F.cross_entropy(..., label_smoothing=ε)``. Log-probabilities come from ``log_softmax``, so no
    log of zero is ever taken. ``logits`` (..., V), ``targets`` (...) integer class ids.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must lie in [0, 1), got {smoothing}")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must be targets {tuple(targets.shape)} plus a class dimension")
    if targets.dtype not in (torch.long, torch.int32, torch.int64):
        raise TypeError(f"targets must be integer class ids, got {targets.dtype}")
    keep = targets != ignore_index
    if not bool(keep.any()):
        raise ValueError("every target equals ignore_index: there is nothing to learn from in this batch")
    vocab = logits.shape[-1]
    bad = keep & ((targets < 0) | (targets >= vocab))
    if bool(bad.any()):
        raise ValueError(f"targets must lie in 0..{vocab - 1} (or equal ignore_index={ignore_index})")
    log_probs = logits.log_softmax(dim=-1)  # (..., V), finite even where p underflows to 0
    nll = -log_probs.gather(-1, targets.clamp(0, vocab - 1).unsqueeze(-1)).squeeze(-1)
    uniform = -log_probs.mean(dim=-1)
    loss = (1.0 - smoothing) * nll + smoothing * uniform
    return loss[keep].mean()


def warmup_schedule(optimizer: torch.optim.Optimizer, d_model: int, warmup_steps: int = 4000,
                    ) -> torch.optim.lr_scheduler.LambdaLR:
    """The paper's schedule: lr = base · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5).

    Linear rise for ``warmup_steps`` steps, then decay as 1/sqrt(step); the peak is
    base · (d_model · warmup)^-0.5. Set the optimizer's lr to 1.0 for the paper's exact values.
    ``step`` counts optimizer steps from 1 (call ``scheduler.step()`` after each one).
    """
    if d_model < 1 or warmup_steps < 1:
        raise ValueError(f"d_model and warmup_steps must be positive, got {d_model} and {warmup_steps}")

    def factor(index: int) -> float:
        step = index + 1
        return d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def linear_warmup_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int | None = None,
                           ) -> torch.optim.lr_scheduler.LambdaLR:
    """lr rises linearly from base/warmup to base over ``warmup_steps``, then stays (or, with
    ``total_steps``, falls linearly to zero at ``total_steps``)."""
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be non-negative, got {warmup_steps}")
    if total_steps is not None and total_steps <= warmup_steps:
        raise ValueError(f"total_steps={total_steps} must exceed warmup_steps={warmup_steps}")

    def factor(index: int) -> float:
        step = index + 1
        if step <= warmup_steps:
            return step / warmup_steps
        if total_steps is None:
            return 1.0
        return max(0.0, (total_steps - step) / (total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --------------------------------------------------------------------------------------------------
# Beyond text: the Vision Transformer's tokens
# --------------------------------------------------------------------------------------------------


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut images (B, C, H, W) into non-overlapping patches, each flattened: (B, N, C·P·P).

    N = (H/P)·(W/P) patches in reading order (row by row). The Vision Transformer (Dosovitskiy et al.,
    2021, "An Image is Worth 16x16 Words") projects each patch linearly to d_model and treats the
    sequence exactly like word embeddings (plus position embeddings and a [CLS] token).
    """
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a (B, C, H, W) tensor, got shape {tuple(getattr(images, 'shape', ()))}")
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    B, C, H, W = images.shape
    if H % patch_size or W % patch_size:
        raise ValueError(f"image size {H}x{W} is not divisible by patch_size={patch_size}")
    P = patch_size
    patches = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)  # (B, H/P, W/P, C, P, P)
    return patches.reshape(B, (H // P) * (W // P), C * P * P)

"""Attention: scaled dot-product attention, masks, multi-head attention and positional encodings.

Idea. Every position of a sequence asks a *query*, every position offers a *key* and a *value*; a
position's output is the average of the values, weighted by how well its query matches each key.
Recurrent models pass information along the sequence one step at a time; attention lets every
position read every other in one step, which parallelises over the sequence and shortens the path
between distant words.

Formula (Vaswani et al., 2017, "Attention Is All You Need", https://arxiv.org/abs/1706.03762)::

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V
    MultiHead(X)       = Concat(head_1, ..., head_h) W^O,  head_i = Attention(X W_i^Q, X W_i^K, X W_i^V)
    PE(pos, 2i)        = sin(pos / 10000^(2i / d_model)),  PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model))

Attention in encoder-decoders comes from Bahdanau, Cho and Bengio (2015), "Neural Machine Translation
by Jointly Learning to Align and Translate"; learned position embeddings as in BERT (Devlin et al., 2019).

Conventions (the same as ``torch.nn.functional.scaled_dot_product_attention`` with a boolean mask):
tensors are batch-first, and a boolean ``mask`` is ``True`` where a query *may attend* to a key.
``nn.MultiheadAttention`` uses the opposite convention (``True`` = masked out); the copy helpers and
tests say where the two meet. A query whose keys are all masked out gets an output of zeros (and zero
weights), never NaN.

Shapes: B batch, H heads, T query length, S key length, C model width (d_model), D head width (C / H).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.plotting import plot_heatmap
from course_utils.tokenization import tokenize

__all__ = [
    "AttentionOutput",
    "scaled_dot_product_attention",
    "fast_scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "combine_masks",
    "split_heads",
    "merge_heads",
    "MultiHeadAttention",
    "sinusoidal_table",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "attention_entropy",
    "explore_attention",
]


# --------------------------------------------------------------------------------------------------
# Input checks shared by both attention paths
# --------------------------------------------------------------------------------------------------


def _check_qkv(query: Tensor, key: Tensor, value: Tensor) -> tuple[int, ...]:
    """Validate shapes and return the score shape (..., T, S)."""
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() < 2:
            raise ValueError(f"{name} needs at least 2 dimensions (..., length, features), got shape {tuple(tensor.shape)}")
        if not tensor.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {tensor.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query and key must have the same feature size d_k: query {tuple(query.shape)}, key {tuple(key.shape)}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key and value must have the same length S: key {tuple(key.shape)}, value {tuple(value.shape)}"
        )
    try:
        batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch/head) dimensions do not broadcast: query {tuple(query.shape)}, "
            f"key {tuple(key.shape)}, value {tuple(value.shape)}"
        ) from None
    return (*batch, query.shape[-2], key.shape[-2])


def _check_mask(mask: Tensor | None, score_shape: tuple[int, ...]) -> Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a bool torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}")
    try:
        broadcast = torch.broadcast_shapes(mask.shape, score_shape)
    except RuntimeError:
        broadcast = None
    if broadcast != torch.Size(score_shape):
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores' shape "
            f"{tuple(score_shape)} (..., T queries, S keys)"
        )
    return mask


def _check_dropout(dropout_p: float) -> None:
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")


def _safe_mask(mask: Tensor) -> tuple[Tensor, Tensor | None]:
    """Return (mask with fully masked rows opened up, rows that had no key or None).

    A row with every key masked would be softmax over all -inf, i.e. 0/0 = NaN. Opening such a row up
    gives finite numbers, which the caller then replaces by zeros, so forward and backward stay finite.
    """
    has_key = mask.any(dim=-1, keepdim=True)  # (..., T, 1)
    if bool(has_key.all()):
        return mask, None
    return mask | ~has_key, ~has_key


# --------------------------------------------------------------------------------------------------
# Scaled dot-product attention
# --------------------------------------------------------------------------------------------------


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    dropout_p: float = 0.0,
    training: bool = False,
    return_weights: bool = False,
    is_causal: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V, written out step by step (the teaching path).

    Args:
        query: (..., T, D) one query per output position.
        key: (..., S, D) one key per position that can be attended to.
        value: (..., S, Dv) what each position passes on.
        mask: optional bool tensor broadcastable to (..., T, S); True = may attend.
        dropout_p: probability of dropping an attention weight (only when ``training``).
        training: apply dropout (pass ``module.training``).
        return_weights: also return the attention weights (..., T, S).
        is_causal: additionally forbid attending to later positions (a causal mask over T x S,
            aligned at the top-left as in PyTorch).

    Returns:
        output (..., T, Dv), or ``(output, weights)`` when ``return_weights``. Rows whose keys are all
        masked give zero weights and a zero output. The weights are returned *before* dropout (each
        row sums to one); ``nn.MultiheadAttention`` returns them after dropout while training.
    """
    score_shape = _check_qkv(query, key, value)
    mask = _check_mask(mask, score_shape)
    _check_dropout(dropout_p)
    if is_causal:
        mask = combine_masks(mask, causal_mask(score_shape[-2], query.device, key_size=score_shape[-1]))
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])  # (..., T, S)
    empty_rows = None
    if mask is not None:
        mask, empty_rows = _safe_mask(mask)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # each row sums to one
    if empty_rows is not None:
        weights = weights.masked_fill(empty_rows, 0.0)
    attended = weights
    if training and dropout_p > 0.0:
        attended = F.dropout(weights, p=dropout_p, training=True)
    output = attended @ value  # (..., T, Dv)
    return (output, weights) if return_weights else output


def fast_scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    dropout_p: float = 0.0,
    training: bool = False,
    is_causal: bool = False,
) -> Tensor:
    """The same result as :func:`scaled_dot_product_attention` through PyTorch's fused kernel.

    ``torch.nn.functional.scaled_dot_product_attention`` picks a fused (flash / memory-efficient)
    kernel when it can. Rows whose keys are all masked give zeros here on every backend.
    """
    score_shape = _check_qkv(query, key, value)
    mask = _check_mask(mask, score_shape)
    _check_dropout(dropout_p)
    p = dropout_p if training else 0.0
    if mask is None:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=p, is_causal=is_causal)
    if is_causal:
        mask = combine_masks(mask, causal_mask(score_shape[-2], query.device, key_size=score_shape[-1]))
    mask, empty_rows = _safe_mask(mask)
    output = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=p)
    if empty_rows is not None:
        output = output.masked_fill(empty_rows, 0.0)
    return output


# --------------------------------------------------------------------------------------------------
# Masks (True = may attend)
# --------------------------------------------------------------------------------------------------


def causal_mask(size: int, device: torch.device | str | None = None, *, key_size: int | None = None) -> Tensor:
    """A (T, T) bool mask, True on and below the diagonal: position t may look at positions <= t.

    ``size`` is T; ``key_size`` (S, default T) gives a (T, S) mask aligned at the top-left, as
    ``F.scaled_dot_product_attention(is_causal=True)`` does.
    """
    key_size = size if key_size is None else key_size
    for name, n in (("size", size), ("key_size", key_size)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"causal_mask {name} must be a positive integer, got {n!r}")
    return torch.ones(size, key_size, dtype=torch.bool, device=device).tril()


def padding_mask(lengths_or_bool_keep: Tensor | list[int], max_len: int | None = None) -> Tensor:
    """A (B, 1, 1, S) bool mask, True on real tokens and False on padding.

    Args:
        lengths_or_bool_keep: either a 1-D integer tensor (or list) of sequence lengths, or a (B, S) bool
            tensor that is already True on real tokens.
        max_len: S when lengths are given (default: the longest length).

    The singleton dimensions broadcast over heads (H) and queries (T), so the result can be passed
    straight to :class:`MultiHeadAttention` or combined with :func:`causal_mask`.
    """
    keep = torch.as_tensor(lengths_or_bool_keep)
    if keep.dtype == torch.bool:
        if keep.dim() != 2:
            raise ValueError(f"a bool keep-mask must have shape (B, S), got {tuple(keep.shape)}")
        if max_len is not None and max_len != keep.shape[1]:
            raise ValueError(f"max_len={max_len} does not match the keep-mask's length {keep.shape[1]}")
        return keep[:, None, None, :]
    if keep.is_floating_point() or keep.dim() != 1:
        raise ValueError(
            f"lengths must be a 1-D integer tensor (or a (B, S) bool mask), got dtype {keep.dtype}, shape {tuple(keep.shape)}"
        )
    if keep.numel() == 0:
        raise ValueError("lengths is empty: pass one length per sequence")
    if bool((keep < 0).any()):
        raise ValueError(f"lengths must be non-negative, got {keep.tolist()}")
    longest = int(keep.max())
    max_len = longest if max_len is None else max_len
    if longest > max_len:
        raise ValueError(f"a sequence of length {longest} is longer than max_len={max_len}")
    positions = torch.arange(max_len, device=keep.device)
    return (positions[None, :] < keep[:, None])[:, None, None, :]  # (B, 1, 1, S)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of bool masks with broadcasting; ``None`` entries mean "no restriction".

    Returns ``None`` when every mask is ``None``. Example: ``combine_masks(padding_mask(lengths),
    causal_mask(T))`` has shape (B, 1, T, T).
    """
    result = None
    for mask in masks:
        if mask is None:
            continue
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"combine_masks takes bool tensors or None, got {getattr(mask, 'dtype', type(mask).__name__)}")
        if result is None:
            result = mask
            continue
        try:
            torch.broadcast_shapes(result.shape, mask.shape)
        except RuntimeError:
            raise ValueError(f"masks of shapes {tuple(result.shape)} and {tuple(mask.shape)} do not broadcast") from None
        result = result & mask
    return result


# --------------------------------------------------------------------------------------------------
# Multi-head attention
# --------------------------------------------------------------------------------------------------


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """(..., T, C) -> (..., H, T, D) with D = C / H: each head sees its own slice of the channels."""
    if x.dim() < 2:
        raise ValueError(f"split_heads needs (..., T, C), got shape {tuple(x.shape)}")
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"n_heads must be a positive integer, got {n_heads!r}")
    if x.shape[-1] % n_heads:
        raise ValueError(f"the width {x.shape[-1]} is not divisible by n_heads={n_heads}")
    return x.unflatten(-1, (n_heads, x.shape[-1] // n_heads)).transpose(-3, -2)  # (..., H, T, D)


def merge_heads(x: Tensor) -> Tensor:
    """(..., H, T, D) -> (..., T, H*D): the inverse of :func:`split_heads` (concatenate the heads)."""
    if x.dim() < 3:
        raise ValueError(f"merge_heads needs (..., H, T, D), got shape {tuple(x.shape)}")
    return x.transpose(-3, -2).flatten(-2)  # (..., T, C)


@dataclass
class AttentionOutput:
    """What :class:`MultiHeadAttention` returns, whatever it was asked for."""

    output: Tensor  # (B, T, C): the attended values, projected by W^O
    weights: Tensor | None = None  # (B, H, T, S) softmax weights; only when ``need_weights=True``


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch-first, with the parameter layout of ``nn.MultiheadAttention``.

    ``in_proj_weight`` (3C, C) stacks W^Q, W^K, W^V (as rows, applied as ``x @ W.T``),
    ``in_proj_bias`` (3C) their biases, and ``out_proj`` is W^O. The state dicts of the two classes
    therefore have the same keys and shapes; :meth:`load_from_torch` and :meth:`to_torch` copy weights.

    Args:
        d_model: model width C (must be divisible by ``n_heads``).
        n_heads: number of heads H.
        dropout: dropout on the attention weights while training.
        bias: whether the projections have biases.
        fast: use PyTorch's fused kernel when the weights are not requested.
    """

    def __init__(self, d_model: int, n_heads: int, *, dropout: float = 0.0, bias: bool = True, fast: bool = True) -> None:
        super().__init__()
        for name, n in (("d_model", d_model), ("n_heads", n_heads)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        if d_model % n_heads:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head gets d_model / n_heads channels"
            )
        _check_dropout(dropout)
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.dropout, self.fast = dropout, fast
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise as ``nn.MultiheadAttention`` does: Xavier-uniform projections, zero biases."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}, fast={self.fast}"

    def _project(self, x: Tensor, part: slice) -> Tensor:
        bias = None if self.in_proj_bias is None else self.in_proj_bias[part]
        return F.linear(x, self.in_proj_weight[part], bias)

    def _check_input(self, name: str, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"{name} must have shape (B, length, d_model={self.d_model}), got {tuple(x.shape)}")

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        need_weights: bool = False,
        is_causal: bool = False,
    ) -> AttentionOutput:
        """Attend from ``query`` (B, T, C) to ``key``/``value`` (B, S, C); both default to ``query``.

        ``mask``: bool, True = may attend, of shape (T, S), (B, T, S) or broadcastable to (B, H, T, S)
        (for example :func:`padding_mask`'s (B, 1, 1, S)). ``is_causal`` adds a causal mask.
        Returns an :class:`AttentionOutput`: ``.output`` (B, T, C) and ``.weights`` (B, H, T, S), the
        latter only when ``need_weights`` (else None).
        """
        self._check_input("query", query)
        key = query if key is None else key
        value = key if value is None else value
        self._check_input("key", key)
        self._check_input("value", value)
        B, T, C = query.shape
        S = key.shape[1]
        if key.shape[0] != B or value.shape[:2] != key.shape[:2]:
            raise ValueError(
                f"batch and key lengths disagree: query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        if mask is not None:
            if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
                raise TypeError(f"mask must be a bool tensor (True = may attend), got {getattr(mask, 'dtype', type(mask).__name__)}")
            if mask.dim() == 3:  # (B, T, S): one mask per example, shared by the heads
                mask = mask.unsqueeze(1)
            if mask.dim() not in (2, 4):
                raise ValueError(
                    f"mask of shape {tuple(mask.shape)} must be (T, S), (B, T, S) or 4-D broadcastable to "
                    f"(B, H, T, S) = {(B, self.n_heads, T, S)}"
                )
            _check_mask(mask, (B, self.n_heads, T, S))

        if key is query and value is query:  # self-attention: one matrix product for Q, K and V
            q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # 3 x (B, T, C)
        else:
            q = self._project(query, slice(0, C))
            k = self._project(key, slice(C, 2 * C))
            v = self._project(value, slice(2 * C, 3 * C))
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))  # (B, H, T|S, D)

        weights = None
        if need_weights or not self.fast:
            out, weights = scaled_dot_product_attention(
                q, k, v, mask, dropout_p=self.dropout, training=self.training, return_weights=True, is_causal=is_causal
            )
        else:
            out = fast_scaled_dot_product_attention(
                q, k, v, mask, dropout_p=self.dropout, training=self.training, is_causal=is_causal
            )
        out = self.out_proj(merge_heads(out))  # (B, T, C)
        return AttentionOutput(out, weights if need_weights else None)

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of an ``nn.MultiheadAttention`` of the same size into this module."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected nn.MultiheadAttention, got {type(mha).__name__}")
        if mha.embed_dim != self.d_model or mha.num_heads != self.n_heads:
            raise ValueError(
                f"size mismatch: torch module has embed_dim={mha.embed_dim}, num_heads={mha.num_heads}; "
                f"this one d_model={self.d_model}, n_heads={self.n_heads}"
            )
        if not mha._qkv_same_embed_dim:
            raise ValueError("only nn.MultiheadAttention with kdim = vdim = embed_dim can be copied")
        if (mha.in_proj_bias is None) != (self.in_proj_bias is None):
            raise ValueError("one module has projection biases and the other has not")
        if mha.bias_k is not None:
            raise ValueError("nn.MultiheadAttention with add_bias_kv=True has no counterpart here")
        self.in_proj_weight.copy_(mha.in_proj_weight)
        self.out_proj.weight.copy_(mha.out_proj.weight)
        if self.in_proj_bias is not None:
            self.in_proj_bias.copy_(mha.in_proj_bias)
            self.out_proj.bias.copy_(mha.out_proj.bias)
        return self

    @torch.no_grad()
    def to_torch(self) -> nn.MultiheadAttention:
        """A batch-first ``nn.MultiheadAttention`` with copies of these weights (same device and dtype).

        Remember its masks mean the opposite: pass ``attn_mask=~mask`` (True = masked out there).
        """
        weight = self.in_proj_weight
        mha = nn.MultiheadAttention(
            self.d_model, self.n_heads, dropout=self.dropout, bias=self.in_proj_bias is not None,
            batch_first=True, device=weight.device, dtype=weight.dtype,
        )
        mha.in_proj_weight.copy_(weight)
        mha.out_proj.weight.copy_(self.out_proj.weight)
        if self.in_proj_bias is not None:
            mha.in_proj_bias.copy_(self.in_proj_bias)
            mha.out_proj.bias.copy_(self.out_proj.bias)
        return mha.train(self.training)


# --------------------------------------------------------------------------------------------------
# Positional encodings
# --------------------------------------------------------------------------------------------------


def sinusoidal_table(max_len: int, d_model: int, *, compute_dtype: torch.dtype = torch.float64) -> Tensor:
    """The (max_len, d_model) table PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...).

    Each pair of channels is a clock of wavelength 2π·10000^(2i/d): fast clocks tell neighbours apart,
    slow ones tell far positions apart, and PE(pos + k) is a fixed rotation of PE(pos).

    The paper's d_model is even. An odd ``d_model`` is allowed and follows the same formula: its last
    column is the sine of one more clock, sin(pos / 10000^((d_model-1)/d_model)), without a cosine
    partner, so that one channel is not a rotation pair.

    ``compute_dtype``: the precision of the computation (float64 by default; the result is returned in
    PyTorch's default dtype). float32 rounds the angles differently, by up to about 1e-6.
    """
    for name, n in (("max_len", max_len), ("d_model", d_model)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    position = torch.arange(max_len, dtype=compute_dtype)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=compute_dtype)  # 2i for the even channels
    angle = position / 10000.0 ** (two_i / d_model)  # (max_len, ceil(d/2))
    table = torch.zeros(max_len, d_model, dtype=compute_dtype)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # an odd d_model has one sine more than cosines
    return table.to(torch.get_default_dtype())


def _check_positions(x: Tensor, d_model: int, max_len: int, offset: int) -> int:
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"expected input of shape (B, T, d_model={d_model}), got {tuple(getattr(x, 'shape', ()))}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
    length = x.shape[1]
    if offset + length > max_len:
        raise ValueError(
            f"sequence of length {length}" + (f" at offset {offset}" if offset else "")
            + f" is longer than the positional table's max_len={max_len}"
        )
    return length


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to token embeddings (B, T, C), then applies dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        _check_dropout(dropout)
        self.d_model, self.max_len = d_model, max_len
        self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)  # (max_len, C)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """x + PE[offset : offset + T]; ``offset`` is the first position (for step-by-step decoding)."""
        length = _check_positions(x, self.d_model, self.max_len, offset)
        return self.dropout(x + self.table[offset : offset + length].to(x.dtype))


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position (as BERT and GPT do) to token embeddings (B, T, C)."""

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        for name, n in (("d_model", d_model), ("max_len", max_len)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        _check_dropout(dropout)
        self.d_model, self.max_len = d_model, max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)  # small, as in BERT/GPT, so tokens dominate at first
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """x + P[offset : offset + T] with P the learned (max_len, C) table."""
        length = _check_positions(x, self.d_model, self.max_len, offset)
        return self.dropout(x + self.embedding.weight[offset : offset + length])


# --------------------------------------------------------------------------------------------------
# Small helpers for the notebook
# --------------------------------------------------------------------------------------------------


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy (nats) of each attention row (..., T, S) -> (...,  T): 0 = one key, log S = uniform."""
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))  # 0 log 0 = 0
    return -(weights * logs).sum(-1)


def explore_attention(
    sentence: str = "the black dog chased the cat because it was hungry",
    n_heads: int = 2,
    d_model: int = 16,
    causal: bool = False,
    seed: int = 0,
):
    """Draw the attention weights of each head of a freshly initialised layer over ``sentence``.

    Word vectors come from a seeded random embedding (one vector per distinct word) plus sinusoidal
    positions; the layer is random too, so the pictures show the *mechanics* (shapes, masks, how heads
    differ), not learned linguistics. Returns the (closed) matplotlib figure: a notebook displays it
    once as a cell result or through ``interactive_panel``.
    """
    import matplotlib.pyplot as plt


    tokens = tokenize(sentence)
    if not tokens:
        raise ValueError("the sentence has no words to attend over")
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    generator = torch.Generator().manual_seed(seed)
    vocabulary = {word: i for i, word in enumerate(dict.fromkeys(tokens))}
    table = torch.randn(len(vocabulary), d_model, generator=generator)
    x = table[[vocabulary[w] for w in tokens]][None]  # (1, T, C)
    x = x + sinusoidal_table(len(tokens), d_model)
    torch.manual_seed(seed)
    layer = MultiHeadAttention(d_model, n_heads)
    with torch.no_grad():
        weights = layer(x, need_weights=True, is_causal=causal).weights  # (1, H, T, T)
    columns = min(n_heads, 4)
    rows = math.ceil(n_heads / columns)
    size = min(0.3 * len(tokens) + 1.5, 4.5)  # inches per panel
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= n_heads:
            ax.axis("off")
            continue
        plot_heatmap(weights[0, h], row_labels=tokens, col_labels=tokens, ax=ax, vmin=0, vmax=1,
                     annotate=False, colorbar=False, xlabel="key (attended to)", ylabel="query",
                     title=f"head {h + 1} of {n_heads}" + (" (causal)" if causal else ""))
    figure.suptitle(f"A random layer, d_model={d_model}, {n_heads} head(s): each row sums to 1")
    figure.tight_layout()
    plt.close(figure)  # shown once, through the returned figure (not again by plt.show())
    return figure

"""GPT: a decoder-only Transformer trained to predict the next token, and GPT-1's fine-tuning head.

Idea. A language model factorises the probability of a text left to right,
p(x_1..x_T) = ∏_t p(x_t | x_<t), and is trained to maximise it. GPT computes every factor at once: a
stack of pre-LN Transformer blocks whose self-attention is *causal* (position t reads positions <= t
only), token + learned position embeddings at the bottom, a final LayerNorm and a linear map to the
vocabulary at the top (optionally the transposed token embedding: weight tying, Press & Wolf 2017).

Formulas::

    h_0 = W_e[x] + W_p[0..T-1]
    h_l = h_{l-1} + Attn(LN(h_{l-1}));   h_l = h_l + FFN(LN(h_l))       (pre-LN, as GPT-2)
    p(x_{t+1} | x_<=t) = softmax(LN(h_L)_t W_out^T)
    L_LM  = -1/N Σ_t log p(x_{t+1} | x_<=t)          (targets are the inputs shifted left by one)
    perplexity = exp(L_LM)
    GPT-1 fine-tuning: L_3 = L_task + λ · L_LM, L_task = cross-entropy of a linear head on the last token

Radford et al. (2018) "Improving Language Understanding by Generative Pre-Training" (GPT-1: the
classification head and the auxiliary LM loss); Radford et al. (2019) "Language Models are Unsupervised
Multitask Learners" (GPT-2: pre-LN, the layout whose weights :func:`to_hf_gpt2` copies). Sampling
(greedy, temperature, top-k, top-p) and the key/value cache are in :mod:`course_utils.generation`.

The blocks use :class:`course_utils.attention.MultiHeadAttention`'s parameters and
:func:`course_utils.attention.fast_scaled_dot_product_attention`; a block also accepts the keys and
values of earlier positions (a :class:`KeyValueCache`), so generation feeds one new token per step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.attention import (
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    fast_scaled_dot_product_attention,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_utils.dropout import FastDropout
from course_utils.ngram import lm_loss, perplexity, token_log_probs
from course_utils.training import choose_device, evaluating, load_checkpoint, save_checkpoint
from course_utils.transformer import PositionWiseFeedForward

__all__ = [
    "GPTConfig",
    "KeyValueCache",
    "GPTOutput",
    "GPTBlock",
    "GPT",
    "lm_loss",  # defined in course_utils.ngram (shared by every rung of the ladder), re-exported here
    "token_log_probs",
    "perplexity",
    "last_token_states",
    "GPTClassifier",
    "ClassifierOutput",
    "cross_validate_classifier",
    "save_gpt",
    "load_gpt",
    "to_hf_gpt2",
    "ARCHITECTURE",
    "CHECKPOINTS",
    "checkpoint_path",
]

ARCHITECTURE = "gpt"  # written into every checkpoint's metadata; load_gpt refuses anything else

# The shipped checkpoints of notebook 08 (made by scripts/pretrain_gpt.py and scripts/pretrain_icl.py).
CHECKPOINTS = {
    "gpt": "gpt_wiki.safetensors",  # the corpus GPT, tied embeddings
    "gpt_untied": "gpt_wiki_untied.safetensors",  # the same without weight tying
    "fixed_window": "gpt_ladder_window.safetensors",  # Bengio et al.'s fixed-window LM on the same tokens
    "lstm": "gpt_ladder_lstm.safetensors",  # the LSTM LM on the same tokens
    "icl_2layer": "icl_2layer.safetensors",  # the in-context model
    "icl_1layer": "icl_1layer.safetensors",  # pretrain_icl.py --layers 1 writes here; not shipped (see icl_map_1layer)
    "icl_map_2layer": "icl_map_2layer.safetensors",  # map prompts only, without "=>": the induction probe
    "icl_map_1layer": "icl_map_1layer.safetensors",  # the same run with one layer (the control)
    "icl_map_separator": "icl_map_separator.safetensors",  # the 2-layer run with ";" between the pairs
    "icl_map_gpt2_init": "icl_map_gpt2_init.safetensors",  # the 2-layer run with GPT-2's initialisation
}


def checkpoint_path(name: str) -> Path:
    """Path of a shipped checkpoint by its :data:`CHECKPOINTS` name (``$COURSE_CHECKPOINT_DIR`` overrides
    the folder ``data/checkpoints``)."""
    import os

    if name not in CHECKPOINTS:
        raise KeyError(f"unknown checkpoint {name!r}; choose one of {sorted(CHECKPOINTS)}")
    folder = os.environ.get("COURSE_CHECKPOINT_DIR") or Path(__file__).resolve().parents[1] / "data" / "checkpoints"
    return Path(folder) / CHECKPOINTS[name]


@dataclass
class GPTConfig:
    """Sizes of a GPT (defaults: a small Wikipedia model; GPT-2 small's in brackets).

    The shipped ``gpt_wiki`` checkpoint was trained with d_model 240, n_layers 3, d_ff 960 and dropout 0
    (learning rate 1.5e-3, 500 warm-up steps), chosen on validation articles (its metadata and
    data/checkpoints/README.md record the command).
    """

    vocab_size: int = 2048  # tokens V, the byte-level BPE vocabulary [50257]
    context_length: int = 128  # longest sequence the learned position table covers [1024]
    d_model: int = 128  # width C of every token vector [768]
    n_heads: int = 4  # attention heads H (d_model must be divisible by it) [12]
    n_layers: int = 4  # Transformer blocks L [12]
    d_ff: int = 512  # hidden width of the feed-forward network [3072 = 4·d_model]
    dropout: float = 0.1  # on embeddings, attention weights and each sub-layer's output [0.1]
    tie_weights: bool = True  # output projection = token embedding table (transposed) [True]
    layer_norm_eps: float = 1e-5  # LayerNorm's ε [1e-5]

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "d_model", "n_heads", "n_layers", "d_ff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.tie_weights, bool):
            raise ValueError(f"tie_weights must be True or False, got {self.tie_weights!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> GPTConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {unknown}")
        return cls(**values)


@dataclass
class KeyValueCache:
    """Keys and values of the positions seen so far, one (k, v) pair per layer, each (B, H, S, D).

    A new token's query attends to these plus its own key and value, so a forward pass over only the
    new tokens gives the same outputs as one over the whole sequence. A cache made by
    :meth:`with_capacity` writes new keys and values into storage allocated once for ``capacity``
    positions (``layers`` are views of its filled part), so a generation step copies only the new
    position; otherwise (or when an older cache is extended a second time) they are concatenated.
    Either way a cache object never changes once made.
    """

    layers: list[tuple[Tensor, Tensor]] = field(default_factory=list)
    capacity: int | None = None  # positions the shared storage holds (None: grow by concatenation)
    storage: list[tuple[Tensor, Tensor]] | None = field(default=None, repr=False)  # (B, H, capacity, D) x 2 per layer
    filled: list[int] | None = field(default=None, repr=False)  # [positions written], shared by views of one storage

    @classmethod
    def with_capacity(cls, capacity: int) -> KeyValueCache:
        """An empty cache whose storage (allocated by the first forward pass) holds ``capacity`` positions."""
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        return cls(capacity=capacity)

    @property
    def length(self) -> int:
        """S, the number of positions whose keys and values are stored (0 when empty)."""
        return self.layers[0][0].shape[-2] if self.layers else 0

    def select(self, rows: Tensor) -> KeyValueCache:
        """The cache of a subset (or reordering) of the batch rows (a copy that grows by concatenation)."""
        return KeyValueCache([(k[rows], v[rows]) for k, v in self.layers])

    def append_storage(self, new_positions: int, layers: int, shape: tuple[int, int, int], like: Tensor,
                       ) -> tuple[list[tuple[Tensor, Tensor]], list[int]] | None:
        """(storage, filled) to write ``new_positions`` after these positions in place, or None when the
        cache must grow by concatenation: no capacity, no room left, or a later cache already wrote past
        this one's end. ``shape`` is (B, H, D); the storage is allocated (like ``like``) on first use."""
        S = self.length
        if self.capacity is None or S + new_positions > self.capacity:
            return None
        if self.storage is None:
            if S:  # positions given as plain tensors: nothing to append to
                return None
            B, H, D = shape
            storage = [(like.new_empty(B, H, self.capacity, D), like.new_empty(B, H, self.capacity, D))
                       for _ in range(layers)]
            return storage, [0]
        return (self.storage, self.filled) if self.filled[0] == S else None


@dataclass
class GPTOutput:
    """What :meth:`GPT.forward` returns.

    ``logits`` (B, T, V): scores for the token *after* each position. ``hidden`` (B, T, C): the final
    LayerNorm's output (what a classification or reward head reads). ``loss``: the shifted next-token
    loss when ``targets`` were given. ``attention``: one (B, H, T, S) tensor per layer when
    ``need_weights``. ``cache``: keys and values including these positions when ``use_cache``.
    """

    logits: Tensor
    hidden: Tensor
    loss: Tensor | None = None
    attention: list[Tensor] | None = None
    cache: KeyValueCache | None = None


def _cached_causal_mask(queries: int, keys: int, device: torch.device) -> Tensor:
    """(T, S) bool mask for T new queries after S - T cached positions: query i sees keys <= S - T + i."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(diagonal=keys - queries)


class GPTBlock(nn.Module):
    """Pre-LN block: x + Attn(LN(x)) then x + FFN(LN(x)), with causal self-attention and a cache.

    Parameter names follow :class:`course_utils.transformer.EncoderBlock` (``self_attention``,
    ``feed_forward``, ``norm1``, ``norm2``), the attention keeps ``nn.MultiheadAttention``'s layout.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.norm1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.self_attention = MultiHeadAttention(config.d_model, config.n_heads, dropout=config.dropout)
        self.norm2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.feed_forward = PositionWiseFeedForward(config.d_model, config.d_ff, 0.0, "gelu")
        self.dropout1 = FastDropout(config.dropout)  # nn.Dropout's semantics, a cheaper mask (dropout.py)
        self.dropout2 = FastDropout(config.dropout)

    def attend(self, x: Tensor, past: tuple[Tensor, Tensor] | None, need_weights: bool,
               storage: tuple[Tensor, Tensor] | None = None,
               ) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        """Causal self-attention of (B, T, C) after ``past`` keys/values; returns (out, (k, v), weights).

        ``storage``: (B, H, capacity, D) tensors that already hold ``past`` in their first positions;
        the new keys and values are written after them and (k, v) are views (no concatenation).
        """
        attention = self.self_attention
        q, k, v = F.linear(x, attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)  # 3 x (B, T, C)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))  # (B, H, T, D)
        T = q.shape[-2]
        if storage is not None:
            start = 0 if past is None else past[0].shape[-2]
            storage[0][:, :, start:start + T] = k
            storage[1][:, :, start:start + T] = v
            k, v = storage[0][:, :, :start + T], storage[1][:, :, :start + T]  # (B, H, S, D) views
        elif past is not None:
            k = torch.cat([past[0], k], dim=-2)  # (B, H, S, D)
            v = torch.cat([past[1], v], dim=-2)
        S = k.shape[-2]
        p = attention.dropout if self.training else 0.0
        weights = None
        if need_weights:
            out, weights = scaled_dot_product_attention(q, k, v, _cached_causal_mask(T, S, x.device),
                                                        dropout_p=p, training=self.training, return_weights=True)
        elif T == S:  # no cache: PyTorch's fused kernel with its built-in causal mask (no mask tensor)
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif T == 1:  # one new token after the cache: it may read every position, so no mask at all
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:
            out = fast_scaled_dot_product_attention(q, k, v, _cached_causal_mask(T, S, x.device),
                                                    dropout_p=p, training=self.training)
        return attention.out_proj(merge_heads(out)), (k, v), weights

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, *, need_weights: bool = False,
                storage: tuple[Tensor, Tensor] | None = None,
                ) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        """(B, T, C) → (output (B, T, C), this layer's keys/values (B, H, S, D) x 2, weights or None)."""
        attended, key_value, weights = self.attend(self.norm1(x), past, need_weights, storage)
        x = x + self.dropout1(attended)
        x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        return x, key_value, weights


class GPT(nn.Module):
    """Token + position embeddings → ``n_layers`` :class:`GPTBlock` → LayerNorm → logits over V."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = LearnedPositionalEmbedding(config.d_model, config.context_length)
        self.embedding_dropout = FastDropout(config.dropout)
        self.blocks = nn.ModuleList(GPTBlock(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.lm_head = None if config.tie_weights else nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, and the projections that add to the
        residual stream scaled by 1/sqrt(2L), so the stream's variance does not grow with depth."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, MultiHeadAttention):
                nn.init.normal_(module.in_proj_weight, std=0.02)
                nn.init.zeros_(module.in_proj_bias)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for block in self.blocks:
            nn.init.normal_(block.self_attention.out_proj.weight, std=residual_std)
            nn.init.normal_(block.feed_forward.linear2.weight, std=residual_std)

    def output_weight(self) -> Tensor:
        """(V, C): the token embedding table when tied, else the separate output projection."""
        return self.token_embedding.weight if self.lm_head is None else self.lm_head.weight

    def parameter_count(self, *, include_positions: bool = True) -> int:
        """Distinct trainable parameters (a tied table is counted once)."""
        total = sum(p.numel() for p in self.parameters())
        return total if include_positions else total - self.position_embedding.embedding.weight.numel()

    def check_ids(self, ids: Tensor, offset: int = 0) -> None:
        """Raise a clear error unless ``ids`` is a non-empty (B, T) long tensor of in-vocabulary ids that
        fits the context after ``offset`` cached positions."""
        if not isinstance(ids, Tensor):
            raise TypeError(f"token ids must be a torch.Tensor, got {type(ids).__name__}")
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"token ids must be a (B, T) long tensor, got dtype {ids.dtype} and shape {tuple(ids.shape)}")
        if ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError(f"token ids are empty (shape {tuple(ids.shape)}): give at least one token per row")
        vocab = self.config.vocab_size
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocab:
            bad = low if low < 0 else high
            raise ValueError(f"token id {bad} is outside the vocabulary 0..{vocab - 1}")
        if offset + ids.shape[1] > self.config.context_length:
            raise ValueError(
                f"{ids.shape[1]} tokens" + (f" after {offset} cached ones" if offset else "")
                + f" exceed the context length {self.config.context_length}; cut the input from the left "
                "(generate() does this for prompts)"
            )

    def forward(self, ids: Tensor, *, targets: Tensor | None = None, loss_mask: Tensor | None = None,
                cache: KeyValueCache | None = None, use_cache: bool = False, need_weights: bool = False,
                last_logits_only: bool = False) -> GPTOutput:
        """Run the model on ``ids`` (B, T), after the positions held in ``cache`` (if any).

        ``targets``: (B, T) ids whose *shifted* loss is computed — usually ``ids`` itself: the logits at
        position t are scored against ``targets[:, t + 1]`` (see :func:`lm_loss`; ``loss_mask`` (B, T)
        picks which target tokens count, e.g. only a response's tokens for supervised fine-tuning).
        ``use_cache`` returns the keys and values (those of ``cache`` plus the new ones; see
        :class:`KeyValueCache` for how they are stored). ``last_logits_only``: logits (B, 1, V) of the last
        position only — all that generation needs (no loss then).
        """
        offset = 0 if cache is None else cache.length
        self.check_ids(ids, offset)
        if cache is not None and cache.layers and cache.layers[0][0].shape[0] != ids.shape[0]:
            raise ValueError(f"the cache holds {cache.layers[0][0].shape[0]} rows but ids have {ids.shape[0]}")
        if last_logits_only and targets is not None:
            raise ValueError("a loss needs the logits of every position: do not combine targets with last_logits_only")
        B, T = ids.shape
        c = self.config
        appendable = None
        if use_cache and cache is not None:
            appendable = cache.append_storage(T, c.n_layers, (B, c.n_heads, c.d_model // c.n_heads),
                                              self.token_embedding.weight)
        storage, filled = appendable if appendable is not None else (None, None)
        x = self.embedding_dropout(self.position_embedding(self.token_embedding(ids), offset))  # (B, T, C)
        new_cache, maps = [], []
        for i, block in enumerate(self.blocks):
            past = cache.layers[i] if cache is not None and cache.layers else None
            x, key_value, weights = block(x, past, need_weights=need_weights,
                                          storage=None if storage is None else storage[i])
            new_cache.append(key_value)
            maps.append(weights)
        hidden = self.final_norm(x)
        logits = F.linear(hidden[:, -1:] if last_logits_only else hidden, self.output_weight())  # (B, T or 1, V)
        loss = None if targets is None else lm_loss(logits, targets, loss_mask)
        next_cache = None
        if use_cache:
            if storage is not None:
                filled[0] = offset + T  # later caches of this storage append after these positions
            next_cache = KeyValueCache(new_cache, cache.capacity if storage is not None else None, storage, filled)
        return GPTOutput(logits, hidden, loss, maps if need_weights else None, next_cache)


# --------------------------------------------------------------------------------------------------
# Heads on the last token
# --------------------------------------------------------------------------------------------------


def last_token_states(hidden: Tensor, lengths: Tensor | None = None) -> Tensor:
    """(B, T, C) hidden states → (B, C) at each row's last real token (right padding after ``lengths``)."""
    if hidden.dim() != 3:
        raise ValueError(f"hidden must be (B, T, C), got shape {tuple(hidden.shape)}")
    B, T, _ = hidden.shape
    if lengths is None:
        return hidden[:, -1]
    lengths = torch.as_tensor(lengths, device=hidden.device)
    if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > T).any()):
        raise ValueError(f"lengths must have shape ({B},) with values in 1..{T}, got {lengths.tolist()}")
    return hidden[torch.arange(B, device=hidden.device), lengths.long() - 1]


@dataclass
class ClassifierOutput:
    """``logits`` (B, K) class scores; ``loss`` = task loss + λ · LM loss (None without labels);
    ``task_loss`` and ``lm_loss`` its two parts."""

    logits: Tensor
    loss: Tensor | None = None
    task_loss: Tensor | None = None
    lm_loss: Tensor | None = None


class GPTClassifier(nn.Module):
    """GPT-1's discriminative fine-tuning: P(y | x) = softmax(h_L[last token] W_y), L = L_task + λ·L_LM.

    ``backbone`` is a (pre-trained) :class:`GPT`; ``lm_weight`` is λ (0 turns the auxiliary loss off).
    """

    def __init__(self, backbone: GPT, n_classes: int, *, lm_weight: float = 0.5) -> None:
        super().__init__()
        if not isinstance(backbone, GPT):
            raise TypeError(f"backbone must be a GPT, got {type(backbone).__name__}")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if not lm_weight >= 0 or math.isinf(lm_weight):
            raise ValueError(f"lm_weight (λ) must be a finite number >= 0, got {lm_weight}")
        self.backbone, self.n_classes, self.lm_weight = backbone, n_classes, float(lm_weight)
        self.head = nn.Linear(backbone.config.d_model, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: Tensor, lengths: Tensor | None = None, labels: Tensor | None = None) -> ClassifierOutput:
        """``ids`` (B, T) right-padded after ``lengths``; ``labels`` (B,) in 0..K-1 → :class:`ClassifierOutput`."""
        out = self.backbone(ids)
        logits = self.head(last_token_states(out.hidden, lengths))  # (B, K)
        if labels is None:
            return ClassifierOutput(logits)
        labels = torch.as_tensor(labels, device=logits.device)
        if labels.shape != (ids.shape[0],) or bool((labels < 0).any()) or bool((labels >= self.n_classes).any()):
            raise ValueError(f"labels must have shape ({ids.shape[0]},) with values in 0..{self.n_classes - 1}")
        task = F.cross_entropy(logits, labels.long())
        mask = None
        if lengths is not None:
            mask = torch.arange(ids.shape[1], device=ids.device)[None] < torch.as_tensor(lengths, device=ids.device)[:, None]
        language = lm_loss(out.logits, ids, mask) if ids.shape[1] > 1 else task.new_zeros(())
        return ClassifierOutput(logits, task + self.lm_weight * language, task, language)


# --------------------------------------------------------------------------------------------------
# Checkpoints and the Hugging Face bridge
# --------------------------------------------------------------------------------------------------


def save_gpt(model: GPT, path: str | Path, *, metadata: dict | None = None, half: bool = True) -> Path:
    """Save weights (float16 by default) with the config and ``architecture = "gpt"`` in the metadata.

    ``metadata`` adds JSON-able entries (the tokenizer's merges, the command, metrics, ...).
    A tied table is stored once (under the token embedding's name).
    """
    if not isinstance(model, GPT):
        raise TypeError(f"save_gpt saves a GPT, got {type(model).__name__}")
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    return save_checkpoint(state, path, {**(metadata or {}), "architecture": ARCHITECTURE,
                                         "config": model.config.to_dict()})


def load_gpt(path: str | Path) -> tuple[GPT, dict]:
    """Rebuild a :class:`GPT` (float32, eval mode) from :func:`save_gpt`'s file; returns (model, metadata).

    Raises ValueError when the file is a checkpoint of another architecture.
    """
    _, metadata = load_checkpoint(None, path)
    architecture = metadata.get("architecture")
    if architecture != ARCHITECTURE or "config" not in metadata:
        raise ValueError(f"{Path(path).name} is not a GPT checkpoint (its metadata says architecture="
                         f"{architecture!r}); load it with its own module's loader")
    model = GPT(GPTConfig.from_dict(metadata["config"]))
    load_checkpoint(model, path)
    return model.eval(), metadata


@torch.no_grad()
def to_hf_gpt2(model: GPT):
    """A ``transformers.GPT2LMHeadModel`` with the same config and a copy of these weights (for tests
    and benchmarks; ``transformers`` is imported lazily and never downloads anything).

    GPT-2's ``Conv1D`` stores weights as (in, out), the transpose of ``nn.Linear``; its GELU is set to
    the exact one used here.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    c = model.config
    hf_config = GPT2Config(vocab_size=c.vocab_size, n_positions=c.context_length, n_embd=c.d_model,
                           n_layer=c.n_layers, n_head=c.n_heads, n_inner=c.d_ff, activation_function="gelu",
                           resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
                           layer_norm_epsilon=c.layer_norm_eps, tie_word_embeddings=c.tie_weights,
                           bos_token_id=None, eos_token_id=None)
    hf = GPT2LMHeadModel(hf_config)
    param = next(model.parameters())
    hf.to(dtype=param.dtype, device=param.device)
    t = hf.transformer
    t.wte.weight.copy_(model.token_embedding.weight)
    t.wpe.weight.copy_(model.position_embedding.embedding.weight)
    for ours, theirs in zip(model.blocks, t.h):
        theirs.ln_1.load_state_dict(ours.norm1.state_dict())
        theirs.ln_2.load_state_dict(ours.norm2.state_dict())
        attention = ours.self_attention
        theirs.attn.c_attn.weight.copy_(attention.in_proj_weight.T)
        theirs.attn.c_attn.bias.copy_(attention.in_proj_bias)
        theirs.attn.c_proj.weight.copy_(attention.out_proj.weight.T)
        theirs.attn.c_proj.bias.copy_(attention.out_proj.bias)
        theirs.mlp.c_fc.weight.copy_(ours.feed_forward.linear1.weight.T)
        theirs.mlp.c_fc.bias.copy_(ours.feed_forward.linear1.bias)
        theirs.mlp.c_proj.weight.copy_(ours.feed_forward.linear2.weight.T)
        theirs.mlp.c_proj.bias.copy_(ours.feed_forward.linear2.bias)
    t.ln_f.load_state_dict(model.final_norm.state_dict())
    if not c.tie_weights:
        hf.lm_head.weight.copy_(model.lm_head.weight)
    return hf.train(model.training)


def cross_validate_classifier(backbone: GPT, sequences: list[list[int]], labels: list[int], *, lm_weight: float,
                              folds: int = 5, steps: int = 20, batch_size: int = 16, learning_rate: float = 5e-4,
                              pad_id: int = 0, seed: int = 0,
                              device: str | torch.device | None = None) -> list[float]:
    """GPT-1 fine-tuning, cross-validated: held-out accuracy of each of ``folds`` folds.

    Each fold fine-tunes a fresh copy of ``backbone`` with a :class:`GPTClassifier` (``lm_weight`` = λ)
    for ``steps`` AdamW steps on the other folds, then scores its own fold. The folds depend only on
    ``seed``, so two values of λ are compared on the same splits. Each fold trains on ``device``
    (None: :func:`course_utils.training.choose_device`); batches are built on the CPU and moved there, and
    ``backbone`` itself is never moved or changed.
    """
    import copy

    import numpy as np

    if len(sequences) != len(labels) or len(sequences) < folds or folds < 2:
        raise ValueError(f"need as many labels as sequences ({len(sequences)} vs {len(labels)}) and 2 <= folds <= n")
    if any(len(s) == 0 for s in sequences):
        raise ValueError("every sequence needs at least one token")
    context = backbone.config.context_length
    sequences = [list(s)[-context:] for s in sequences]  # keep each text's end, where the head reads
    n_classes = max(labels) + 1
    device = choose_device(device)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(sequences))
    parts = np.array_split(order, folds)

    def batch(indices):
        longest = max(len(sequences[i]) for i in indices)
        ids = torch.full((len(indices), longest), pad_id, dtype=torch.long)
        for row, i in enumerate(indices):
            ids[row, :len(sequences[i])] = torch.tensor(sequences[i])
        lengths = torch.tensor([len(sequences[i]) for i in indices])
        return ids.to(device), lengths.to(device), torch.tensor([labels[i] for i in indices]).to(device)

    accuracies = []
    for k, test in enumerate(parts):
        train = np.concatenate([p for j, p in enumerate(parts) if j != k])
        torch.manual_seed(seed + k)
        model = GPTClassifier(copy.deepcopy(backbone), n_classes, lm_weight=lm_weight).to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            model(*batch(rng.choice(train, batch_size, replace=False))).loss.backward()
            optimizer.step()
        with evaluating(model):
            ids, lengths, y = batch(test)
            accuracies.append(float((model(ids, lengths).logits.argmax(-1) == y).float().mean().cpu()))
    return accuracies

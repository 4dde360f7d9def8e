"""BERT: a bidirectional Transformer encoder pre-trained by masked-language modelling and next-sentence
prediction, then fine-tuned.

Idea. A left-to-right language model sees only the words before a position. BERT hides some input
tokens and predicts them from *both* sides (the masked LM), and learns whether sentence B followed
sentence A in the text (next-sentence prediction, NSP) from the vector of a ``[CLS]`` token put in front.
The input of a pair is ``[CLS] A [SEP] B [SEP]``; each position's vector is the sum of a token, a
segment (A or B) and a learned position embedding, followed by LayerNorm and dropout. The encoder is the
post-LN Transformer encoder of :mod:`course_utils.transformer` with GELU feed-forward layers.

Formulas (Devlin et al., 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", https://arxiv.org/abs/1810.04805)::

    x_t      = LayerNorm(E_token[w_t] + E_segment[s_t] + E_position[t])
    h        = Encoder(x)                                       (L post-LN blocks, GELU)
    MLM      = softmax(LayerNorm(GELU(h_t W_t + b_t)) E_token^T + b)   decoder tied to E_token
    pooled   = tanh(h_[CLS] W_p + b_p);  NSP = softmax(pooled W_nsp + b_nsp)   (0 = IsNext, 1 = NotNext)
    loss     = mean CE over the masked positions + CE of NSP

Masking (:func:`mask_tokens_for_mlm`): 15 % of the real tokens are chosen; 80 % of those become
``[MASK]``, 10 % a random token, 10 % stay unchanged, so the model cannot rely on ``[MASK]``, which never
appears when it is fine-tuned. Parameter names match Hugging Face's ``BertForPreTraining`` through
:func:`huggingface_state_dict`, which the tests use to prove both compute the same numbers.

Fine-tuning heads, pair packing and training live in :mod:`course_utils.bert_tasks`.

Shapes: B batch, T sequence length, C hidden width, V vocabulary, H heads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import causal_mask, combine_masks, padding_mask, sinusoidal_table
from .tokenization import WORDPIECE_SPECIALS, WordPiece
from .training import CheckpointError, load_checkpoint, save_checkpoint
from .transformer import Encoder, TransformerConfig

__all__ = [
    "BertConfig",
    "BertOutput",
    "BertEmbeddings",
    "Bert",
    "mask_tokens_for_mlm",
    "huggingface_state_dict",
    "PretrainedBert",
    "save_bert",
    "load_bert",
    "DEFAULT_CHECKPOINT",
    "IS_NEXT",
    "NOT_NEXT",
]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "data" / "checkpoints" / "bert_mini.safetensors"
IS_NEXT, NOT_NEXT = 0, 1  # NSP labels, as in the paper's code and Hugging Face
_ARCHITECTURE = "course_utils.bert.Bert"


@dataclass
class BertConfig:
    """Sizes of a BERT (defaults: the course's mini-BERT; BERT-base in brackets)."""

    vocab_size: int = 8000  # WordPiece pieces V, specials included [30,522]
    d_model: int = 128  # hidden width C [768]
    n_heads: int = 4  # attention heads H [12]
    d_ff: int = 512  # feed-forward width [3072]
    n_layers: int = 1  # encoder blocks L [12]
    max_len: int = 64  # positions the position table covers [512]
    type_vocab_size: int = 2  # segments: A and B
    dropout: float = 0.0  # embeddings, attention weights, sub-layer outputs [0.1]; 0: short run, see the README
    layer_norm_eps: float = 1e-12  # as BERT
    pad_id: int = 0  # [PAD]: padding is never attended to
    initializer_range: float = 0.05  # std of the normal initial weights (Hugging Face's name) [0.02]
    position_init: str = "sinusoidal"  # "normal", or "sinusoidal": the position table starts as sin/cos waves
    position_init_scale: float = 3.0  # sinusoidal start: its std is this times initializer_range

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"BertConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.initializer_range > 0 or not self.position_init_scale > 0:
            raise ValueError(f"initializer_range and position_init_scale must be positive, got "
                             f"{self.initializer_range} and {self.position_init_scale}")
        if self.position_init not in ("normal", "sinusoidal"):
            raise ValueError(f"position_init must be 'normal' or 'sinusoidal', got {self.position_init!r}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id={self.pad_id} must be a token id below vocab_size={self.vocab_size}")

    def encoder_config(self) -> TransformerConfig:
        """The :class:`~course_utils.transformer.TransformerConfig` of the encoder stack (post-LN, GELU)."""
        return TransformerConfig(d_model=self.d_model, n_heads=self.n_heads, d_ff=self.d_ff,
                                 n_encoder_layers=self.n_layers, n_decoder_layers=0, dropout=self.dropout,
                                 activation="gelu", norm_first=False, layer_norm_eps=self.layer_norm_eps,
                                 max_len=self.max_len, positional="learned", pad_id=self.pad_id,
                                 ffn_hidden_dropout=False)  # BERT drops the FFN output, not its hidden layer

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> BertConfig:
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown BertConfig fields {unknown}")
        return cls(**values)


@dataclass
class BertOutput:
    """What :class:`Bert` returns. Heads that were not asked for are ``None``."""

    hidden: Tensor  # (B, T, C): the last encoder layer, one vector per token
    pooled: Tensor  # (B, C): tanh(W h_[CLS] + b), the sentence vector NSP and classifiers read
    mlm_logits: Tensor | None = None  # (B, T, V), or (N, V) for the N positions in ``mlm_positions``
    nsp_logits: Tensor | None = None  # (B, 2): IsNext (0) vs NotNext (1)
    attention: list[Tensor] | None = None  # one (B, H, T, T) per layer, when ``need_weights``
    layers: list[Tensor] | None = field(default=None, repr=False)  # embeddings + each layer, when asked


class BertEmbeddings(nn.Module):
    """Token + segment + learned position embeddings, then LayerNorm and dropout: (B, T) ids → (B, T, C)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.token = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_id)
        self.position = nn.Embedding(config.max_len, config.d_model)
        self.segment = nn.Embedding(config.type_vocab_size, config.d_model)
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def parts(self, ids: Tensor, segments: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The three embeddings before they are summed (for pictures of the input representation)."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.token(ids), self.segment(segments), self.position(positions)[None].expand(ids.shape[0], -1, -1)

    def forward(self, ids: Tensor, segments: Tensor) -> Tensor:
        token, segment, position = self.parts(ids, segments)
        return self.dropout(self.norm(token + segment + position))  # (B, T, C)


def _check_ids(config: BertConfig, ids: Tensor, segments: Tensor | None, attention_mask: Tensor | None) -> tuple:
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        raise ValueError(f"ids must be a (B, T) long tensor, got {getattr(ids, 'dtype', type(ids).__name__)} "
                         f"of shape {tuple(getattr(ids, 'shape', ()))}")
    if ids.shape[1] > config.max_len:
        raise ValueError(f"a sequence of {ids.shape[1]} tokens is longer than max_len={config.max_len} "
                         "(the position table); pack pairs with course_utils.bert_tasks.pack_pair")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= config.vocab_size):
        raise ValueError(f"token ids must lie in 0..{config.vocab_size - 1}, got values from {int(ids.min())} "
                         f"to {int(ids.max())}")
    if segments is None:
        segments = torch.zeros_like(ids)
    elif segments.shape != ids.shape or segments.dtype != torch.long:
        raise ValueError(f"segments must be a long tensor shaped like ids {tuple(ids.shape)}, "
                         f"got {segments.dtype} {tuple(segments.shape)}")
    elif segments.numel() and (int(segments.min()) < 0 or int(segments.max()) >= config.type_vocab_size):
        raise ValueError(f"segment ids must lie in 0..{config.type_vocab_size - 1}")
    if attention_mask is None:
        attention_mask = ids != config.pad_id
    elif attention_mask.shape != ids.shape or attention_mask.dtype != torch.bool:
        raise ValueError(f"attention_mask must be a bool tensor shaped like ids {tuple(ids.shape)} "
                         "(True on real tokens)")
    return segments, attention_mask


class Bert(nn.Module):
    """BERT with both pre-training heads (Hugging Face's ``BertForPreTraining``).

    ``forward(ids, segments, attention_mask)`` returns a :class:`BertOutput`. ``attention_mask`` is
    True on real tokens (default: ``ids != pad_id``); ``causal=True`` additionally lets each position see
    only itself and the positions to its left (the "left context only" experiment). ``heads`` chooses
    which pre-training heads to compute: ``"both"``, ``"mlm"``, ``"nsp"`` or ``"none"`` (fine-tuning and
    features). ``mlm_positions`` (B, T) bool restricts the MLM logits to those positions, (N, V): the
    pre-training loss needs only the ~15 % masked tokens, which saves most of the V-wide product.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = Encoder(config.encoder_config())
        self.pooler = nn.Linear(config.d_model, config.d_model)
        self.mlm_transform = nn.Linear(config.d_model, config.d_model)
        self.mlm_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.nsp = nn.Linear(config.d_model, 2)
        self.apply(self._init_weights)
        if config.position_init == "sinusoidal":
            self._init_sinusoidal_positions()

    def _init_weights(self, module: nn.Module) -> None:
        """BERT's initialisation: N(0, initializer_range²) weights (0.02 in BERT), zero biases, LayerNorm as
        the identity."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif hasattr(module, "in_proj_weight"):  # MultiHeadAttention keeps Q, K, V in one matrix
            nn.init.normal_(module.in_proj_weight, std=std)
            if module.in_proj_bias is not None:
                nn.init.zeros_(module.in_proj_bias)

    @torch.no_grad()
    def _init_sinusoidal_positions(self) -> None:
        """Start the (still learned) position table as the Transformer's sin/cos waves,
        PE[t, 2i] = sin(t / 10000^(2i/C)), PE[t, 2i+1] = cos(...), rescaled to std
        position_init_scale · initializer_range. Only the starting point changes: the table is trained
        like any embedding, and the forward computation is BERT's."""
        table = self.embeddings.position.weight  # (max_len, C)
        # float32 arithmetic, as when the shipped checkpoint was trained (float64 rounds ~1e-6 differently)
        waves = sinusoidal_table(*table.shape, compute_dtype=torch.float32)
        table.copy_(waves * (self.config.position_init_scale * self.config.initializer_range / waves.std()))

    def mlm_head(self, hidden: Tensor) -> Tensor:
        """(..., C) → (..., V): dense + GELU + LayerNorm, then the token embeddings transposed (tied)."""
        h = self.mlm_norm(F.gelu(self.mlm_transform(hidden)))
        return F.linear(h, self.embeddings.token.weight, self.mlm_bias)

    def forward(self, ids: Tensor, segments: Tensor | None = None, attention_mask: Tensor | None = None, *,
                heads: str = "both", mlm_positions: Tensor | None = None, causal: bool = False,
                need_weights: bool = False, all_layers: bool = False) -> BertOutput:
        if heads not in ("both", "mlm", "nsp", "none"):
            raise ValueError(f"heads must be 'both', 'mlm', 'nsp' or 'none', got {heads!r}")
        segments, attention_mask = _check_ids(self.config, ids, segments, attention_mask)
        mask = padding_mask(attention_mask)  # (B, 1, 1, T): keys that may be attended to
        if causal:
            mask = combine_masks(mask, causal_mask(ids.shape[1], ids.device)[None, None])  # (B, 1, T, T)
        x = self.embeddings(ids, segments)
        layers = [x] if all_layers else None
        if all_layers:  # run the blocks one by one to keep every layer's output
            weights = []
            for block in self.encoder.layers:
                step = block(x, mask, need_weights=need_weights)
                x = step.hidden
                layers.append(x)
                weights.append(step.self_weights)
            hidden, attention = x, (weights if need_weights else None)
        else:
            stack = self.encoder(x, mask, need_weights=need_weights)
            hidden, attention = stack.hidden, stack.self_weights
        pooled = torch.tanh(self.pooler(hidden[:, 0]))  # (B, C) from [CLS]
        mlm_logits = nsp_logits = None
        if heads in ("both", "mlm"):
            if mlm_positions is not None:
                if mlm_positions.shape != ids.shape or mlm_positions.dtype != torch.bool:
                    raise ValueError("mlm_positions must be a bool tensor shaped like ids")
                mlm_logits = self.mlm_head(hidden[mlm_positions])  # (N, V)
            else:
                mlm_logits = self.mlm_head(hidden)  # (B, T, V)
        if heads in ("both", "nsp"):
            nsp_logits = self.nsp(pooled)  # (B, 2)
        return BertOutput(hidden, pooled, mlm_logits, nsp_logits, attention, layers)


# --------------------------------------------------------------------------------------------------
# Masked-LM corruption
# --------------------------------------------------------------------------------------------------


def mask_tokens_for_mlm(ids: Tensor, *, mask_id: int, vocab_size: int, special_ids: list[int] | tuple[int, ...],
                        mask_prob: float = 0.15, replace_probs: tuple[float, float] = (0.8, 0.1),
                        generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """BERT's masking: returns ``(corrupted ids, labels)``, both shaped like ``ids``.

    Each token that is not special (``special_ids``: [PAD], [CLS], [SEP], ... — padding is special) is
    chosen with probability ``mask_prob``. A chosen token becomes ``[MASK]`` with probability
    ``replace_probs[0]`` (0.8), a random non-special token with ``replace_probs[1]`` (0.1), and stays as it
    was otherwise (0.1). ``labels`` holds the original id at chosen positions and -100 (ignored by
    ``F.cross_entropy``) elsewhere. The choices are independent per token, so the realised shares
    scatter around 15/80/10/10 by sampling noise.
    """
    if not isinstance(ids, Tensor) or ids.dtype != torch.long:
        raise ValueError(f"ids must be a long tensor, got {getattr(ids, 'dtype', type(ids).__name__)}")
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"mask_prob must lie strictly between 0 and 1, got {mask_prob}")
    p_mask, p_random = replace_probs
    if p_mask < 0 or p_random < 0 or p_mask + p_random > 1:
        raise ValueError(f"replace_probs (mask, random) must be non-negative and sum to at most 1, got {replace_probs}")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id={mask_id} lies outside the vocabulary 0..{vocab_size - 1}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
    special = torch.zeros(vocab_size, dtype=torch.bool)
    special[torch.as_tensor(list(special_ids), dtype=torch.long)] = True
    if bool(special.all()):
        raise ValueError("every id is special: there is nothing to mask or to draw as a random token")
    special = special.to(ids.device)
    candidates = ~special[ids]
    draw = torch.rand(ids.shape, generator=generator).to(ids.device)
    chosen = candidates & (draw < mask_prob)
    how = torch.rand(ids.shape, generator=generator).to(ids.device)
    to_mask = chosen & (how < p_mask)
    to_random = chosen & (how >= p_mask) & (how < p_mask + p_random)
    ordinary = (~special).nonzero().squeeze(1)  # random replacements are ordinary tokens
    pick = torch.randint(len(ordinary), ids.shape, generator=generator).to(ids.device)
    corrupted = ids.clone()
    corrupted[to_mask] = mask_id
    corrupted[to_random] = ordinary[pick][to_random]
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    return corrupted, labels


# --------------------------------------------------------------------------------------------------
# Hugging Face names (for the equivalence tests and the benchmark)
# --------------------------------------------------------------------------------------------------


def huggingface_state_dict(model: Bert) -> dict[str, Tensor]:
    """Our weights under the names of Hugging Face's ``BertForPreTraining`` (Q, K, V split into three)."""
    if not isinstance(model, Bert):
        raise TypeError(f"expected a course_utils.bert.Bert, got {type(model).__name__}")
    state: dict[str, Tensor] = {}
    emb = model.embeddings
    for ours, theirs in ((emb.token, "word_embeddings"), (emb.position, "position_embeddings"),
                         (emb.segment, "token_type_embeddings")):
        state[f"bert.embeddings.{theirs}.weight"] = ours.weight
    state["bert.embeddings.LayerNorm.weight"], state["bert.embeddings.LayerNorm.bias"] = emb.norm.weight, emb.norm.bias
    C = model.config.d_model
    for i, block in enumerate(model.encoder.layers):
        prefix = f"bert.encoder.layer.{i}."
        attention = block.self_attention
        for k, name in enumerate(("query", "key", "value")):
            state[prefix + f"attention.self.{name}.weight"] = attention.in_proj_weight[k * C:(k + 1) * C]
            state[prefix + f"attention.self.{name}.bias"] = attention.in_proj_bias[k * C:(k + 1) * C]
        pairs = ((attention.out_proj, "attention.output.dense"), (block.norm1, "attention.output.LayerNorm"),
                 (block.feed_forward.linear1, "intermediate.dense"), (block.feed_forward.linear2, "output.dense"),
                 (block.norm2, "output.LayerNorm"))
        for module, name in pairs:
            state[prefix + name + ".weight"], state[prefix + name + ".bias"] = module.weight, module.bias
    state["bert.pooler.dense.weight"], state["bert.pooler.dense.bias"] = model.pooler.weight, model.pooler.bias
    state["cls.predictions.transform.dense.weight"] = model.mlm_transform.weight
    state["cls.predictions.transform.dense.bias"] = model.mlm_transform.bias
    state["cls.predictions.transform.LayerNorm.weight"] = model.mlm_norm.weight
    state["cls.predictions.transform.LayerNorm.bias"] = model.mlm_norm.bias
    state["cls.predictions.decoder.weight"] = emb.token.weight
    state["cls.predictions.bias"] = model.mlm_bias
    state["cls.predictions.decoder.bias"] = model.mlm_bias
    state["cls.seq_relationship.weight"], state["cls.seq_relationship.bias"] = model.nsp.weight, model.nsp.bias
    return {name: tensor.detach().clone() for name, tensor in state.items()}


# --------------------------------------------------------------------------------------------------
# A pre-trained BERT and its vocabulary: saving and loading
# --------------------------------------------------------------------------------------------------


@dataclass
class PretrainedBert:
    """A :class:`Bert` with the :class:`~course_utils.tokenization.WordPiece` vocabulary it was trained with."""

    model: Bert
    tokenizer: WordPiece
    metadata: dict = field(default_factory=dict)

    @property
    def config(self) -> BertConfig:
        return self.model.config

    @property
    def special_ids(self) -> list[int]:
        return [self.tokenizer[s] for s in self.tokenizer.specials]


def save_bert(pretrained: PretrainedBert, path: str | Path, *, metrics: dict | None = None, half: bool = True,
              extra: dict | None = None) -> Path:
    """Save weights (float16 by default), config, vocabulary and metrics to one safetensors file."""
    if len(pretrained.tokenizer) != pretrained.config.vocab_size:
        raise ValueError(f"the vocabulary has {len(pretrained.tokenizer)} pieces but the model "
                         f"{pretrained.config.vocab_size}")
    state = {k: (v.half() if half and v.is_floating_point() else v)
             for k, v in pretrained.model.state_dict().items()}
    metadata = {"architecture": _ARCHITECTURE, "config": pretrained.config.to_dict(),
                "vocab": pretrained.tokenizer.vocab, "specials": list(pretrained.tokenizer.specials),
                "metrics": metrics or {}, **(extra or {})}
    return save_checkpoint(state, path, metadata)


def load_bert(path: str | Path = DEFAULT_CHECKPOINT) -> PretrainedBert:
    """Rebuild a :class:`PretrainedBert` from a file written by :func:`save_bert` (float32, eval mode).

    Raises FileNotFoundError for a missing file, CheckpointError for a corrupt one, and ValueError naming
    the architecture for a checkpoint of another model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no BERT checkpoint at {path} (the course's is {DEFAULT_CHECKPOINT.name}, made by "
                                "scripts/pretrain_bert.py)")
    _, metadata = load_checkpoint(None, path)
    architecture = metadata.get("architecture")
    if architecture != _ARCHITECTURE or "config" not in metadata or "vocab" not in metadata:
        raise ValueError(f"{path.name} is not a BERT checkpoint: its architecture is {architecture!r}, "
                         f"expected {_ARCHITECTURE!r}")
    try:
        config = BertConfig.from_dict(metadata["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path.name} has an unreadable BERT config: {error}") from error
    model = Bert(config)
    load_checkpoint(model, path)  # copies (and up-casts) into the float32 parameters
    model.eval()
    tokenizer = WordPiece(metadata["vocab"], specials=tuple(metadata.get("specials", WORDPIECE_SPECIALS)))
    return PretrainedBert(model, tokenizer, metadata)

"""ELMo: contextual word vectors from the layers of a character-aware bidirectional LSTM language model.

A static embedding gives a word type one vector whatever its sentence; ELMo gives every *token* a
vector computed from the whole sentence. It trains a **biLM**: a forward LSTM language model
p(t_1..t_N) = ∏_k p(t_k | t_1..t_{k-1}) and a backward one ∏_k p(t_k | t_{k+1}..t_N), both reading
token vectors x_k from a character CNN (so unseen words get vectors too) and sharing that encoder and
the softmax. The objective maximises both log-likelihoods:

    Σ_k [ log p(t_k | t_1..t_{k-1}; Θ_x, →Θ_LSTM, Θ_s) + log p(t_k | t_{k+1}..t_N; Θ_x, ←Θ_LSTM, Θ_s) ]

Token k then has L+1 representations: h_{k,0} = [x_k; x_k] (layer 0, the character encoder) and
h_{k,j} = [→h_{k,j}; ←h_{k,j}] for the LSTM layers j = 1..L. A task uses a learned **scalar mix**

    ELMo_k = γ Σ_j s_j h_{k,j},   s = softmax(w),

so it chooses how much of each layer it wants. Peters et al. (2018), "Deep contextualized word
representations", NAACL; the character encoder follows Kim et al. (2016), "Character-aware neural
language models", and the highway layer Srivastava et al. (2015).

Course-size choices: the output vocabulary is the most frequent words of the training articles plus
``<unk>`` with a *full* softmax. With 5,000 words × 128 dimensions it is about half the cost of a
training step on a CPU, which is affordable, and it keeps the code simple and the perplexities exact
(a sampled softmax needs a correction at evaluation, an adaptive one a frequency-sorted cluster set-up); each LSTM layer's output is projected to ``token_dim``, as in
ELMo, so every layer gives ``token_dim`` numbers per direction. Windows of text are wrapped in ``<bos>`` …
``<eos>``: the forward state after token t−1 predicts token t and the backward state after token t+1
predicts token t, so neither direction ever sees the token it predicts. Using the trained layers as
features (word senses, sentence polarity) is :mod:`course_utils.elmo_features`; training the biLM and its
perplexity against n-gram baselines, :mod:`course_utils.elmo_training`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils.tokenization import Vocabulary
from course_utils.training import (
    evaluating,
    load_checkpoint,
    on_device,
    save_checkpoint,
)

__all__ = [
    "ElmoConfig",
    "CharacterVocabulary",
    "Highway",
    "CharacterEncoder",
    "ProjectedLSTM",
    "BiLMOutput",
    "ElmoBiLM",
    "ScalarMix",
    "reverse_padded",
    "EncodedCorpus",
    "encode_corpus",
    "ElmoBatch",
    "make_batch",
    "sample_windows",
    "evaluation_windows",
    "PretrainedElmo",
    "save_elmo",
    "load_elmo",
    "build_vocabularies",
]

UNK_WORD = "<unk>"
BOS, EOS = "<bos>", "<eos>"


@dataclass
class ElmoConfig:
    """Sizes of the biLM (defaults: the course checkpoint; the paper's are in brackets)."""

    char_vocab_size: int  # distinct character ids, specials included
    vocab_size: int  # output words of the softmax, <unk> included
    max_chars: int = 20  # characters per token, with begin/end-of-word marks; longer words are cut [50]
    char_dim: int = 16  # character embedding size [16]
    filters: tuple[tuple[int, int], ...] = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 128))  # (width, count)
    highway_layers: int = 1  # [2]
    token_dim: int = 128  # x_k and every LSTM layer's (projected) output per direction [512]
    hidden_size: int = 256  # LSTM cells per layer and direction [4096]
    num_layers: int = 2  # LSTM layers per direction [2]
    dropout: float = 0.1  # on the token vectors and between layers [0.1]

    def __post_init__(self) -> None:
        self.filters = tuple((int(w), int(n)) for w, n in self.filters)
        for name in ("char_vocab_size", "vocab_size", "max_chars", "char_dim", "token_dim", "hidden_size",
                     "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ElmoConfig.{name} must be a positive integer, got {value!r}")
        if self.max_chars < 3:
            raise ValueError(f"max_chars must be at least 3 (begin mark, a character, end mark), got {self.max_chars}")
        if not self.filters:
            raise ValueError("ElmoConfig.filters needs at least one (width, count) pair")
        for width, count in self.filters:
            if not 1 <= width <= self.max_chars or count < 1:
                raise ValueError(f"filter ({width}, {count}) needs 1 <= width <= max_chars={self.max_chars} "
                                 "and a positive count")
        if self.hidden_size < self.token_dim:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be at least token_dim ({self.token_dim})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def representation_dim(self) -> int:
        """Width of every layer's token representation: forward and backward concatenated."""
        return 2 * self.token_dim

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ElmoConfig:
        values = dict(values)
        values["filters"] = tuple(tuple(pair) for pair in values.get("filters", cls.filters))
        return cls(**values)


# ---------------------------------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------------------------------


class CharacterVocabulary:
    """Characters ↔ ids for the character encoder, with explicit handling of unknown characters.

    Ids 0–5 are specials: padding, unknown character, begin-of-word, end-of-word, and the characters of
    the sentence-boundary tokens ``<bos>``/``<eos>``. A token becomes ``[bow, c_1, …, c_n, eow, pad…]``
    of length ``max_chars`` (cut after ``max_chars − 2`` characters). Characters outside the vocabulary
    become the unknown-character id (``unknown="replace"``, the default, so any word still gets a vector)
    or raise a KeyError naming them (``unknown="error"``).
    """

    PAD, UNK, BOW, EOW, BOS_CHAR, EOS_CHAR = range(6)
    SPECIALS = ("<pad>", "<unk-char>", "<bow>", "<eow>", "<bos-char>", "<eos-char>")

    def __init__(self, characters: Sequence[str], max_chars: int = 20) -> None:
        characters = list(characters)
        for char in characters:
            if not isinstance(char, str) or len(char) != 1:
                raise ValueError(f"characters must be single-character strings, got {char!r}")
        if len(set(characters)) != len(characters):
            raise ValueError("the character list contains duplicates")
        if max_chars < 3:
            raise ValueError(f"max_chars must be at least 3, got {max_chars}")
        self.characters = characters
        self.max_chars = max_chars
        self._index = {char: i + len(self.SPECIALS) for i, char in enumerate(characters)}

    @classmethod
    def from_corpus(cls, sentences: Sequence[Sequence[str]], *, min_count: int = 5, max_chars: int = 20,
                    always: str = "abcdefghijklmnopqrstuvwxyz0123456789'-") -> CharacterVocabulary:
        """Keep the characters seen at least ``min_count`` times (plus ``always``), most frequent first."""
        counts: Counter[str] = Counter()
        for sentence in sentences:
            for token in sentence:
                counts.update(token)
        kept = [c for c, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if n >= min_count]
        kept += [c for c in always if c not in kept]
        return cls(kept, max_chars=max_chars)

    def __len__(self) -> int:
        return len(self.SPECIALS) + len(self.characters)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    def encode_token(self, token: str, *, unknown: str = "replace") -> list[int]:
        """Character ids of one token, padded to ``max_chars``; ``<bos>``/``<eos>`` get their own marks."""
        if unknown not in ("replace", "error"):
            raise ValueError(f"unknown must be 'replace' or 'error', got {unknown!r}")
        if not isinstance(token, str):
            raise TypeError(f"tokens must be strings, got {type(token).__name__} ({token!r})")
        if token == BOS:
            ids = [self.BOW, self.BOS_CHAR, self.EOW]
        elif token == EOS:
            ids = [self.BOW, self.EOS_CHAR, self.EOW]
        else:
            if not token or any(c.isspace() for c in token):
                raise ValueError(f"a token must be a non-empty string without spaces, got {token!r}; "
                                 "tokenise the text first")
            body = []
            for char in token[: self.max_chars - 2]:
                if char in self._index:
                    body.append(self._index[char])
                elif unknown == "error":
                    raise KeyError(f"character {char!r} (U+{ord(char):04X}) in token {token!r} is not in the "
                                   f"character vocabulary; pass unknown='replace' to map it to <unk-char>")
                else:
                    body.append(self.UNK)
            ids = [self.BOW, *body, self.EOW]
        return ids + [self.PAD] * (self.max_chars - len(ids))

    def encode_tokens(self, tokens: Sequence[str], *, unknown: str = "replace") -> np.ndarray:
        """An int64 array (len(tokens), max_chars) of character ids."""
        if isinstance(tokens, str):
            raise TypeError("encode_tokens expects a list of tokens, got a string; split it first")
        rows = [self.encode_token(token, unknown=unknown) for token in tokens]
        return np.array(rows, dtype=np.int64).reshape(len(rows), self.max_chars)


# ---------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------


class Highway(nn.Module):
    """y = g ⊙ relu(W_h x + b_h) + (1 − g) ⊙ x with gate g = σ(W_g x + b_g) (Srivastava et al. 2015)."""

    def __init__(self, dim: int, layers: int = 1) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, 2 * dim) for _ in range(layers))
        for layer in self.layers:
            # Start by mostly carrying x through: a negative gate bias, as ELMo initialises it.
            nn.init.constant_(layer.bias[dim:], -1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            transform, gate = layer(x).chunk(2, dim=-1)
            gate = torch.sigmoid(gate)
            x = gate * F.relu(transform) + (1 - gate) * x
        return x


class CharacterEncoder(nn.Module):
    """Token vectors from characters: embed, convolve (several widths), max-pool, highway, project.

    (B, T, max_chars) character ids → (B, T, token_dim). Each token is encoded on its own, so its vector
    never depends on its neighbours — layer 0 of ELMo is context-free, like a static embedding.
    """

    def __init__(self, config: ElmoConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.char_vocab_size, config.char_dim, padding_idx=CharacterVocabulary.PAD)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(config.char_dim, count, kernel_size=width) for width, count in config.filters
        )
        width = sum(count for _, count in config.filters)
        self.highway = Highway(width, config.highway_layers)
        self.projection = nn.Linear(width, config.token_dim)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        if char_ids.dim() != 3 or char_ids.shape[-1] != self.config.max_chars:
            raise ValueError(f"char_ids must have shape (batch, tokens, {self.config.max_chars}), "
                             f"got {tuple(char_ids.shape)}")
        if char_ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"char_ids must be an integer tensor, got {char_ids.dtype}")
        if char_ids.numel() and (char_ids.min() < 0 or char_ids.max() >= self.config.char_vocab_size):
            raise ValueError(f"character ids must lie in [0, {self.config.char_vocab_size}), "
                             f"got values from {int(char_ids.min())} to {int(char_ids.max())}")
        batch, tokens, chars = char_ids.shape
        # A batch repeats words ("the", "of", ...): encode each distinct spelling once, then look it up.
        distinct, inverse = torch.unique(char_ids.reshape(batch * tokens, chars), dim=0, return_inverse=True)
        x = self.embedding(distinct).transpose(1, 2)  # (U, char_dim, chars) for U distinct tokens
        # Max over positions: "is this character n-gram anywhere in the word?", then the non-linearity.
        pooled = [F.relu(conv(x).max(dim=-1).values) for conv in self.convolutions]  # each (U, count)
        h = self.projection(self.highway(torch.cat(pooled, dim=-1)))  # (U, token_dim)
        return h[inverse].reshape(batch, tokens, -1)  # (B, T, token_dim)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of ``x`` (B, T, …) within its length, leaving the padding in place.

    Reversing the whole padded tensor would make the backward LSTM read padding first; this flips only
    the first ``lengths[b]`` positions of row b. Applying it twice gives ``x`` back.
    """
    batch, steps = x.shape[:2]
    if lengths.shape != (batch,):
        raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if (lengths < 0).any() or (lengths > steps).any():
        raise ValueError(f"lengths must lie in [0, {steps}]")
    positions = torch.arange(steps, device=x.device).expand(batch, steps)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)  # (B, T)
    index = index.reshape(batch, steps, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


@dataclass
class BiLMOutput:
    """What :meth:`ElmoBiLM.forward` returns for a batch of N-token windows (boundaries removed).

    ``layers``: (L+1, B, N, 2·token_dim), layer 0 = [x; x], layer j = [→h_j; ←h_j] at each token.
    ``forward_logits`` / ``backward_logits``: (B, N, V) — the scores for token k computed from the
    forward state after token k−1 and from the backward state after token k+1.
    """

    layers: torch.Tensor
    forward_logits: torch.Tensor
    backward_logits: torch.Tensor
    lengths: torch.Tensor


class ProjectedLSTM(nn.Module):
    """One LSTM layer of ``hidden_size`` cells whose outputs are projected down to ``token_dim``.

    ELMo projects inside the recurrence (an LSTMP); PyTorch's ``proj_size`` does that too but runs a
    much slower CPU path, so here the projection is applied to the layer's outputs. (B, T, d) → (B, T, d).
    """

    def __init__(self, token_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(token_dim, hidden_size, batch_first=True)
        self.projection = nn.Linear(hidden_size, token_dim) if hidden_size != token_dim else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (B, T, hidden_size)
        return self.projection(out)


class ElmoBiLM(nn.Module):
    """Character encoder + forward and backward L-layer LSTM LMs + one softmax shared by both."""

    def __init__(self, config: ElmoConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = CharacterEncoder(config)
        self.forward_lstms = nn.ModuleList(ProjectedLSTM(config.token_dim, config.hidden_size)
                                           for _ in range(config.num_layers))
        self.backward_lstms = nn.ModuleList(ProjectedLSTM(config.token_dim, config.hidden_size)
                                            for _ in range(config.num_layers))
        self.dropout = nn.Dropout(config.dropout)
        self.softmax = nn.Linear(config.token_dim, config.vocab_size)  # shared by both directions

    def _run(self, lstms: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        outputs, h = [], x
        for j, lstm in enumerate(lstms):
            out = lstm(self.dropout(h))
            h = out + h if j > 0 else out  # residual connection between LSTM layers, as in ELMo
            outputs.append(h)
        return outputs

    def forward(self, char_ids: torch.Tensor, lengths: torch.Tensor | None = None) -> BiLMOutput:
        """``char_ids`` (B, N+2, max_chars) hold ``<bos>`` w_1 … w_n ``<eos>`` (then padding) per row;
        ``lengths`` (B,) the number of words n per row (default: all N)."""
        if char_ids.dim() != 3:
            raise ValueError(f"char_ids must have shape (batch, words + 2, max_chars), got {tuple(char_ids.shape)}")
        batch, steps, _ = char_ids.shape
        if steps < 3:
            raise ValueError("each row needs <bos>, at least one word and <eos> (3 positions); got "
                             f"{steps} — is the sentence empty?")
        if lengths is None:
            lengths = torch.full((batch,), steps - 2, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=char_ids.device)
        if lengths.shape != (batch,) or (lengths < 1).any() or (lengths > steps - 2).any():
            raise ValueError(f"lengths must have shape ({batch},) with values in [1, {steps - 2}]")
        x = self.encoder(char_ids)  # (B, S, d) with S = N + 2
        forward_states = self._run(self.forward_lstms, x)  # state at s has read positions 0..s
        backward_states = [reverse_padded(h, lengths + 2)  # state at s has read positions s..n+1
                           for h in self._run(self.backward_lstms, reverse_padded(x, lengths + 2))]
        words = steps - 2
        layers = [torch.cat([x, x], dim=-1)[:, 1:-1]]
        layers += [torch.cat([f, b], dim=-1)[:, 1:-1] for f, b in zip(forward_states, backward_states)]
        forward_logits = self.softmax(self.dropout(forward_states[-1][:, 0:words]))  # state k-1 → word k
        backward_logits = self.softmax(self.dropout(backward_states[-1][:, 2:words + 2]))  # state k+1 → word k
        return BiLMOutput(torch.stack(layers), forward_logits, backward_logits, lengths)

    def loss(self, char_ids: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None = None,
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy (nats per word) of the forward and of the backward LM; padding is -100."""
        out = self(char_ids, lengths)
        if targets.shape != out.forward_logits.shape[:2]:
            raise ValueError(f"targets must have shape {tuple(out.forward_logits.shape[:2])}, got {tuple(targets.shape)}")
        vocab = self.config.vocab_size
        forward = F.cross_entropy(out.forward_logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=-100)
        backward = F.cross_entropy(out.backward_logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=-100)
        return forward, backward


class ScalarMix(nn.Module):
    """ELMo_k = γ Σ_j softmax(w)_j h_{k,j}: a task's learned weighting of the L+1 layers."""

    def __init__(self, num_layers: int, *, initial_weights: Sequence[float] | None = None, gamma: float = 1.0) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        initial = torch.zeros(num_layers) if initial_weights is None else torch.as_tensor(initial_weights, dtype=torch.float32)
        if initial.shape != (num_layers,):
            raise ValueError(f"initial_weights must have {num_layers} values, got shape {tuple(initial.shape)}")
        self.num_layers = num_layers
        self.raw_weights = nn.Parameter(initial.clone())
        self.gamma = nn.Parameter(torch.tensor(float(gamma)))

    @property
    def weights(self) -> torch.Tensor:
        """The normalised layer weights s = softmax(w) (they sum to one)."""
        return torch.softmax(self.raw_weights, dim=0)

    def forward(self, layers: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """``layers``: (L+1, …, D) stacked, or a list of L+1 equally shaped tensors → (…, D)."""
        if not isinstance(layers, torch.Tensor):
            layers = torch.stack(list(layers))
        if layers.shape[0] != self.num_layers:
            raise ValueError(f"ScalarMix was built for {self.num_layers} layers but got {layers.shape[0]} "
                             f"(input shape {tuple(layers.shape)})")
        weights = self.weights.reshape(-1, *([1] * (layers.dim() - 1)))
        return self.gamma * (weights * layers).sum(dim=0)


# ---------------------------------------------------------------------------------------------------
# Data: articles → windows → batches
# ---------------------------------------------------------------------------------------------------


@dataclass
class EncodedCorpus:
    """Token streams as ids of word *types*, with each type's character ids and output-word id."""

    streams: list[np.ndarray]  # one int array of type ids per article
    type_chars: np.ndarray  # (types, max_chars); rows 0 and 1 are <bos> and <eos>
    type_words: np.ndarray  # (types,) output-vocabulary id of each type (<unk> for rare words)
    types: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return int(sum(len(s) for s in self.streams))


def encode_corpus(token_lists: Sequence[Sequence[str]], chars: CharacterVocabulary, words: Vocabulary,
                  ) -> EncodedCorpus:
    """Encode each word type once (characters and output id) and each text as a stream of type ids."""
    if UNK_WORD not in words:
        raise ValueError(f"the word vocabulary needs the special {UNK_WORD!r} for rare words")
    type_index: dict[str, int] = {BOS: 0, EOS: 1}
    streams = []
    for tokens in token_lists:
        if isinstance(tokens, str):
            raise TypeError("encode_corpus expects lists of tokens, got a string")
        streams.append(np.array([type_index.setdefault(t, len(type_index)) for t in tokens], dtype=np.int64))
    types = list(type_index)
    type_chars = chars.encode_tokens(types)
    unk = words[UNK_WORD]
    type_words = np.array([words[t] if t in words else unk for t in types], dtype=np.int64)
    type_words[:2] = -100  # boundaries are never predicted
    return EncodedCorpus(streams, type_chars, type_words, types)


@dataclass
class ElmoBatch:
    """Model inputs for B windows: character ids with boundaries, lengths and target word ids."""

    char_ids: torch.Tensor  # (B, N+2, max_chars)
    lengths: torch.Tensor  # (B,)
    targets: torch.Tensor  # (B, N), -100 at padding


def make_batch(corpus: EncodedCorpus, windows: Sequence[tuple[int, int, int]]) -> ElmoBatch:
    """Batch ``(stream, start, length)`` windows: ``<bos>`` + tokens + ``<eos>``, padded to the longest."""
    if not windows:
        raise ValueError("make_batch needs at least one window")
    longest = max(length for _, _, length in windows)
    type_ids = np.zeros((len(windows), longest + 2), dtype=np.int64)  # padding rows are overwritten below
    pad_row = len(corpus.type_chars)
    type_ids[:] = pad_row
    for b, (stream, start, length) in enumerate(windows):
        if length < 1:
            raise ValueError(f"window {b} is empty")
        piece = corpus.streams[stream][start:start + length]
        if len(piece) != length:
            raise ValueError(f"window {b} runs past the end of stream {stream}")
        type_ids[b, 0], type_ids[b, 1:length + 1], type_ids[b, length + 1] = 0, piece, 1
    table_chars = np.vstack([corpus.type_chars, np.zeros((1, corpus.type_chars.shape[1]), dtype=np.int64)])
    table_words = np.append(corpus.type_words, -100)
    return ElmoBatch(
        char_ids=torch.from_numpy(table_chars[type_ids]),
        lengths=torch.tensor([length for _, _, length in windows], dtype=torch.long),
        targets=torch.from_numpy(table_words[type_ids[:, 1:-1]]),
    )


def sample_windows(corpus: EncodedCorpus, length: int, rng: np.random.RandomState) -> list[tuple[int, int, int]]:
    """Cut every stream into consecutive ``length``-token windows from a random offset (a new cut each
    epoch, so windows straddle different boundaries); shuffle them."""
    windows = []
    for s, stream in enumerate(corpus.streams):
        if len(stream) < length:
            if len(stream):
                windows.append((s, 0, len(stream)))
            continue
        offset = rng.randint(0, length) if len(stream) >= 2 * length else 0
        windows += [(s, start, length) for start in range(offset, len(stream) - length + 1, length)]
    rng.shuffle(windows)
    return windows


def evaluation_windows(corpus: EncodedCorpus, length: int) -> list[tuple[int, int, int]]:
    """Non-overlapping windows covering every token of every stream once (the last one may be short)."""
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    return [(s, start, min(length, len(stream) - start))
            for s, stream in enumerate(corpus.streams) for start in range(0, len(stream), length)]


# ---------------------------------------------------------------------------------------------------
# A pretrained model with its vocabularies: embedding sentences, saving and loading
# ---------------------------------------------------------------------------------------------------


@dataclass
class PretrainedElmo:
    """A biLM with the vocabularies it was trained with; turns tokenised sentences into layer vectors."""

    model: ElmoBiLM
    chars: CharacterVocabulary
    words: Vocabulary
    metadata: dict = field(default_factory=dict)

    @property
    def config(self) -> ElmoConfig:
        return self.model.config

    @torch.no_grad()
    def embed(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 64, unknown: str = "replace",
              device: str | torch.device | None = None) -> list[np.ndarray]:
        """One float32 array (L+1, n_i, 2·token_dim) per sentence: layer 0 (characters) and each LSTM layer.

        Tokens are lower-cased (the training text is). Raises ValueError for an empty sentence. ``device``:
        where the biLM runs (None: :func:`course_utils.training.choose_device`); the arrays are on the CPU.
        """
        if isinstance(sentences, str) or (len(sentences) and isinstance(sentences[0], str)):
            raise TypeError("embed expects a list of tokenised sentences (lists of strings)")
        sentences = [[token.lower() for token in sentence] for sentence in sentences]
        for i, sentence in enumerate(sentences):
            if not sentence:
                raise ValueError(f"sentence {i} is empty; every sentence needs at least one token")
        outputs = []
        with on_device(self.model, device) as device, evaluating(self.model):
            for i in range(0, len(sentences), batch_size):
                group = sentences[i:i + batch_size]
                longest = max(len(s) for s in group)
                char_ids = np.zeros((len(group), longest + 2, self.chars.max_chars), dtype=np.int64)
                for b, sentence in enumerate(group):
                    char_ids[b, :len(sentence) + 2] = self.chars.encode_tokens([BOS, *sentence, EOS], unknown=unknown)
                lengths = torch.tensor([len(s) for s in group])
                layers = self.model(torch.from_numpy(char_ids).to(device), lengths).layers.cpu().numpy()  # (L+1, B, N, D)
                outputs += [layers[:, b, :len(s)].copy() for b, s in enumerate(group)]
        return outputs

    def encode(self, token_lists: Sequence[Sequence[str]]) -> EncodedCorpus:
        """The corpus encoding used for perplexities and training with these vocabularies."""
        return encode_corpus(token_lists, self.chars, self.words)


def save_elmo(elmo: PretrainedElmo, path: str | Path, *, metrics: dict | None = None, half: bool = True,
              extra: dict | None = None) -> Path:
    """Save weights (float16 by default, to keep the file small), config, vocabularies and metrics."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in elmo.model.state_dict().items()}
    metadata = {
        "config": elmo.config.to_dict(),
        "characters": elmo.chars.characters,
        "words": elmo.words.words,
        "word_counts": elmo.words.counts.tolist(),
        "metrics": metrics or {},
        **(extra or {}),
    }
    return save_checkpoint(state, path, metadata)


def load_elmo(path: str | Path) -> PretrainedElmo:
    """Rebuild a :class:`PretrainedElmo` from a file written by :func:`save_elmo` (weights as float32)."""
    state, metadata = load_checkpoint(None, path)  # read once; raises CheckpointError on a bad file
    for key in ("config", "characters", "words", "word_counts"):
        if key not in metadata:
            raise KeyError(f"{Path(path).name} is not an ELMo checkpoint: its metadata has no {key!r}")
    config = ElmoConfig.from_dict(metadata["config"])
    model = ElmoBiLM(config)
    own = model.state_dict()
    if set(own) != set(state) or any(own[k].shape != state[k].shape for k in own):
        raise KeyError(f"{Path(path).name} does not hold the weights of the ELMo its config describes")
    model.load_state_dict(state)  # copies (and up-casts) into the float32 parameters
    model.eval()
    words = metadata["words"]
    counts = dict(zip(words[1:], metadata["word_counts"][1:]))
    vocabulary = Vocabulary(counts, specials=(words[0],))
    if vocabulary.words != words:
        raise ValueError("the word vocabulary in the checkpoint could not be rebuilt in the same order")
    return PretrainedElmo(model, CharacterVocabulary(metadata["characters"], config.max_chars), vocabulary, metadata)


def build_vocabularies(token_lists: Sequence[Sequence[str]], *, vocab_size: int, max_chars: int = 20,
                       char_min_count: int = 5) -> tuple[CharacterVocabulary, Vocabulary]:
    """Character vocabulary and output-word vocabulary (``vocab_size`` words including ``<unk>``)."""
    chars = CharacterVocabulary.from_corpus(token_lists, min_count=char_min_count, max_chars=max_chars)
    words = Vocabulary.from_corpus(token_lists, max_size=vocab_size, specials=(UNK_WORD,))
    return chars, words


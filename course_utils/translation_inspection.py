"""Looking inside the number translator of :mod:`course_utils.translation_task` (notebook 06).

* **Attention maps** of one translation: the encoder's self-attention (source × source), the decoder's
  masked self-attention (output × output prefix) and cross-attention (output × source), and plots.
* **Alignment, measured.** :func:`cross_attention_alignment` asks, for every word of every correctly
  translated number, whether its strongest cross-attention falls on the digit(s) it comes from
  (:func:`course_utils.translation_task.word_sources`), per kind of word.
* **Greedy versus beam search.** :func:`compare_decoding` decodes numbers both ways and keeps every
  finished beam hypothesis with its summed log-probability, so that any length penalty α can rank them
  afterwards: score = log p(y | x) / |y|^α (α = 0: raw log-probability, α = 1: mean per token).
* :class:`TranslationLab`: trained models by shape, for the notebook's widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from course_utils.plotting import plot_heatmap
from course_utils.training import evaluating, on_device
from course_utils.transformer import EncoderDecoder, beam_search, greedy_decode, sequence_log_probs
from course_utils.translation_task import (
    BOS,
    MAX_VALUE,
    WORD_KINDS,
    NumberTranslationTask,
    exact_match,
    make_model,
    number_to_words,
    train_translation_model,
    translate,
    word_sources,
)

__all__ = [
    "cross_attention",
    "plot_cross_attention",
    "TranslationAttention",
    "translation_attention",
    "plot_self_attention",
    "WordAlignment",
    "AlignmentReport",
    "cross_attention_alignment",
    "DecodingComparison",
    "compare_decoding",
    "TranslationLab",
]


@torch.no_grad()
def cross_attention(model: EncoderDecoder, task: NumberTranslationTask, text: str, *,
                    device: str | torch.device | None = None):
    """Greedy-translate ``text`` and return (source tokens, output tokens, [cross weights per layer (H, T, S)]).

    Row t of each map is the decoder position that *produced* output token t. ``device`` as in
    :func:`translation_attention`.
    """
    maps = translation_attention(model, task, text, device=device)
    return maps.source, maps.output, maps.cross


def plot_cross_attention(model: EncoderDecoder, task: NumberTranslationTask, text: str, *, per_head: bool = False,
                         device: str | torch.device | None = None):
    """Heatmaps of cross-attention (output words × source digits), one per decoder layer (heads averaged),
    or one per head of the last layer when ``per_head``. Returns the figure. ``device``: where the model runs."""
    import matplotlib.pyplot as plt


    sources, outputs, maps = cross_attention(model, task, text, device=device)
    panels = ([(f"last layer, head {h + 1}", w) for h, w in enumerate(maps[-1])] if per_head
              else [(f"decoder layer {i + 1} (mean of heads)", w.mean(0)) for i, w in enumerate(maps)])
    width = 1.2 + 0.5 * len(sources)
    figure, axes = plt.subplots(1, len(panels), figsize=(width * len(panels) + 1.5, 0.9 + 0.4 * len(outputs)),
                                squeeze=False)
    for ax, (title, weights) in zip(axes[0], panels):
        plot_heatmap(weights, row_labels=outputs, col_labels=sources, ax=ax, vmin=0, vmax=1, annotate=False,
                     colorbar=False, title=title, xlabel="source token (key)", ylabel="output word (query)")
    figure.suptitle(f"Cross-attention while translating {text!r}")
    figure.tight_layout()
    return figure


@dataclass
class TranslationAttention:
    """Every attention map of one greedy translation (batch of one, heads kept)."""

    source: list[str]  # source tokens, ending with </s>
    output: list[str]  # the words produced, ending with </s>
    encoder: list[torch.Tensor]  # per encoder layer (H, S, S): source attending to source
    decoder: list[torch.Tensor]  # per decoder layer (H, T, T): output prefix attending to itself (causal)
    cross: list[torch.Tensor]  # per decoder layer (H, T, S): output attending to the source


@torch.no_grad()
def translation_attention(model: EncoderDecoder, task: NumberTranslationTask, text: str, *,
                          device: str | torch.device | None = None) -> TranslationAttention:
    """Greedy-translate ``text`` and return all three kinds of attention maps of that translation.

    Decoder row t is the position that *produced* output token t (it reads ``<s>`` and the words before t).
    ``device``: where the model runs (None: :func:`course_utils.training.choose_device`); maps are on the CPU.
    """
    source = torch.tensor([task.parse_source(text)])
    with on_device(model, device) as target, evaluating(model):
        decoded = greedy_decode(model, source.to(target), max_len=task.max_target_len)  # (1, T+1) with <s>
        maps = model(source.to(target), decoded[:, :-1], need_weights=True).attention
        decoded = decoded.cpu()
        maps = type(maps)(**{name: [w.cpu() for w in getattr(maps, name)] for name in ("encoder", "decoder", "cross")})
    outputs = [task.target_vocab.word(int(i)) for i in decoded[0, 1:]]
    return TranslationAttention(task.source_tokens(source[0]), outputs, [w[0] for w in maps.encoder],
                                [w[0] for w in maps.decoder], [w[0] for w in maps.cross])


def plot_self_attention(model: EncoderDecoder, task: NumberTranslationTask, text: str, *, layer: int = -1,
                        device: str | torch.device | None = None):
    """Two heatmaps of one layer (heads averaged): the encoder's self-attention (source × source) and the
    decoder's masked self-attention (output × output prefix). Returns the figure. ``device``: where the
    model runs."""
    import matplotlib.pyplot as plt

    maps = translation_attention(model, task, text, device=device)
    # the decoder position that produced word t reads <s> and the words before t
    prefix = [BOS] + maps.output[:-1]
    panels = [(f"encoder self-attention, layer {len(maps.encoder) + layer + 1 if layer < 0 else layer + 1}",
               maps.encoder[layer].mean(0), maps.source, maps.source, "source token (key)", "source token (query)"),
              (f"decoder self-attention (causal), layer {len(maps.decoder) + layer + 1 if layer < 0 else layer + 1}",
               maps.decoder[layer].mean(0), maps.output, prefix, "decoder input (key)", "output word (query)")]
    figure, axes = plt.subplots(1, 2, figsize=(4 + 0.45 * (len(maps.source) + len(prefix)), 1.2 + 0.4 * len(prefix)))
    for ax, (title, weights, rows, cols, xlabel, ylabel) in zip(axes, panels):
        plot_heatmap(weights, row_labels=rows, col_labels=cols, ax=ax, vmin=0, vmax=1, annotate=False,
                     colorbar=False, title=title, xlabel=xlabel, ylabel=ylabel)
    figure.suptitle(f"Self-attention while translating {text!r} (mean of heads)")
    figure.tight_layout()
    return figure


@dataclass
class WordAlignment:
    """Where one kind of output word puts its strongest cross-attention."""

    hits: int = 0  # words whose strongest weight is on (one of) the digits they come from
    total: int = 0  # words of this kind
    offsets: dict[int, int] = field(default_factory=dict)  # argmax position − first source digit → count

    @property
    def share(self) -> float:
        """hits / total (0.0 when there were no words of this kind)."""
        return self.hits / self.total if self.total else 0.0


@dataclass
class AlignmentReport:
    """What :func:`cross_attention_alignment` measured."""

    kinds: dict[str, WordAlignment]  # one entry per kind of :data:`WORD_KINDS`
    per_number: dict[int, tuple[int, int]]  # number → (aligned words, words); right translations only

    @property
    def share(self) -> float:
        """Aligned words / words, over every kind."""
        total = sum(c.total for c in self.kinds.values())
        return sum(c.hits for c in self.kinds.values()) / total if total else 0.0


@torch.no_grad()
def cross_attention_alignment(model: EncoderDecoder, task: NumberTranslationTask, numbers: Sequence[int], *,
                              layer: int = -1, device: str | torch.device | None = None) -> AlignmentReport:
    """How often each kind of output word attends most strongly to the digits it comes from.

    For every number whose greedy translation is right, and every output word, the source position with
    the largest cross-attention weight in ``layer`` (heads averaged) is compared with
    :func:`word_sources`. Returns the counts per kind of :data:`WORD_KINDS` and per number. ``device``:
    where the model runs (None: :func:`course_utils.training.choose_device`).
    """
    if len(numbers) == 0:
        raise ValueError("cross_attention_alignment needs at least one number")
    counts = {kind: WordAlignment() for kind in WORD_KINDS}
    per_number = {}
    with on_device(model, device) as target, evaluating(model):
        source = task.encode_source(list(numbers)).to(target)
        decoded = greedy_decode(model, source, max_len=task.max_target_len)  # (B, L) with <s>
        cross = model(source, decoded[:, :-1], need_weights=True).attention.cross[layer].mean(1)  # (B, T, S)
        decoded, cross = decoded.cpu(), cross.cpu()
    for row, n in enumerate(numbers):
        if task.decode_target(decoded[row]) != " ".join(number_to_words(n)):
            continue  # positions of a wrong translation do not match the reference's words
        sources = word_sources(n)
        hits = 0
        for t, (_, kind, positions) in enumerate(sources):
            strongest = int(cross[row, t].argmax())
            entry = counts[kind]
            entry.hits += strongest in positions
            entry.total += 1
            hits += strongest in positions
            offset = strongest - positions[0]
            entry.offsets[offset] = entry.offsets.get(offset, 0) + 1
        per_number[n] = (hits, len(sources))
    return AlignmentReport(counts, per_number)


@dataclass
class DecodingComparison:
    """Greedy decoding and beam search on one number, with the log-probabilities behind each choice."""

    number: int
    reference: str
    greedy: str
    greedy_log_prob: float  # log p(greedy output | source), summed over its tokens (with </s>)
    greedy_length: int  # tokens after <s>, including </s>
    hypotheses: list[tuple[str, float, int]]  # the beam's finished hypotheses: (sentence, summed log p, length)

    def beam(self, length_penalty: float = 1.0) -> str:
        """The beam's choice when hypotheses are ranked by log p / length^``length_penalty``."""
        return max(self.hypotheses, key=lambda h: h[1] / h[2] ** length_penalty)[0]


@torch.no_grad()
def compare_decoding(model: EncoderDecoder, task: NumberTranslationTask, numbers: Sequence[int], *,
                     beam_size: int = 4, progress: bool = True, device: str | torch.device | None = None,
                     ) -> list[DecodingComparison]:
    """Decode every number greedily and with beam search; keep every finished beam hypothesis, so that
    any length penalty can rank them afterwards (the search itself keeps the ``beam_size`` prefixes with
    the largest summed log-probability, whatever the penalty). ``device``: where the model runs (None:
    :func:`course_utils.training.choose_device`)."""
    if len(numbers) == 0:
        raise ValueError("compare_decoding needs at least one number")
    results = []
    with on_device(model, device) as target, evaluating(model):
        source = task.encode_source(list(numbers)).to(target)
        greedy = greedy_decode(model, source, max_len=task.max_target_len)  # (B, L)
        greedy_log_probs = sequence_log_probs(model, source, greedy).cpu()  # (B,)
        greedy = greedy.cpu()
        rows = enumerate(numbers)
        if progress and beam_size > 1:
            from tqdm.auto import tqdm

            rows = tqdm(rows, total=len(numbers), desc=f"beam search (k={beam_size})", leave=False)
        for row, n in rows:
            hypotheses = beam_search(model, task.encode_source([n]).to(target), beam_size=beam_size, n_best=beam_size,
                                     max_len=task.max_target_len) if beam_size > 1 else []
            length = int((greedy[row, 1:] != task.pad_id).sum())
            results.append(DecodingComparison(
                number=n, reference=" ".join(number_to_words(n)), greedy=task.decode_target(greedy[row]),
                greedy_log_prob=float(greedy_log_probs[row]), greedy_length=length,
                hypotheses=[(task.decode_target(h.tokens), h.log_prob, len(h.tokens)) for h in hypotheses]
                or [(task.decode_target(greedy[row]), float(greedy_log_probs[row]), length)],
            ))
    return results


class TranslationLab:
    """Trained models keyed by (layers, heads), so the notebook's widget can reuse or train them."""

    def __init__(self, task: NumberTranslationTask, heldout: Sequence[int], *,
                 device: str | torch.device | None = None, **train_options) -> None:
        """``train_options`` go to :func:`train_translation_model`; ``device``: where models train and run
        (None: :func:`course_utils.training.choose_device`); they are kept on the CPU."""
        self.task, self.heldout, self.train_options, self.device = task, list(heldout), train_options, device
        self.models: dict[tuple[int, int], tuple[EncoderDecoder, float]] = {}

    def add(self, model: EncoderDecoder, accuracy: float) -> None:
        """Register an already trained model and its held-out exact match."""
        cfg = model.config
        self.models[(cfg.n_encoder_layers, cfg.n_heads)] = (model, accuracy)

    def model(self, n_layers: int, n_heads: int) -> tuple[EncoderDecoder, float]:
        """The model with these sizes, trained now (and remembered) if it does not exist yet."""
        if (n_layers, n_heads) not in self.models:
            model = make_model(self.task, n_layers=n_layers, n_heads=n_heads)
            train_translation_model(self.task, model, device=self.device, **self.train_options)
            self.add(model, exact_match(model, self.task, self.heldout, device=self.device))
        return self.models[(n_layers, n_heads)]

    def show(self, n_layers: int = 2, n_heads: int = 4, beam_size: int = 4, text: str = "40712"):
        """Print greedy and beam translations of ``text`` and draw the cross-attention maps."""
        model, accuracy = self.model(n_layers, n_heads)
        digits = text.replace(" ", "").replace(",", "").replace("_", "")
        n = int(digits) if digits.isdigit() else None
        print(f"model: {n_layers} layers, {n_heads} heads | held-out exact match {accuracy:.1%}")
        if n is not None and 0 <= n <= MAX_VALUE:
            seen = "HELD OUT (never trained on)" if self.task.is_heldout(n) else "in the training split"
            print(f"reference: {' '.join(number_to_words(n))}   [{seen}]")
        print(f"greedy:    {translate(model, self.task, text, device=self.device)[0][0]}")
        for rank, (sentence, score) in enumerate(translate(model, self.task, text, beam_size=beam_size,
                                                           n_best=min(3, beam_size), device=self.device), start=1):
            print(f"beam {beam_size} #{rank}: {sentence}   (mean log p per token {score:.3f})")
        return plot_cross_attention(model, self.task, text, device=self.device)

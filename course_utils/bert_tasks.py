"""BERT's pre-training data and loop: sentences, packed pairs, NSP pairs, masked batches, evaluation.

Pre-training examples are sentence pairs packed as ``[CLS] A [SEP] B [SEP]`` with segment ids 0 for
``[CLS] A [SEP]`` and 1 for ``B [SEP]``. Half of the pairs take B as the sentence that follows A in its
document (IsNext), half take B from another document (NotNext) — :func:`make_nsp_pairs`. Then 15 % of
the tokens are corrupted by :func:`course_utils.bert.mask_tokens_for_mlm`, and the loss is the masked
LM's cross-entropy over the chosen tokens plus NSP's cross-entropy (Devlin et al., 2019, §3.1).

Sentences. gensim's WikiCorpus keeps words only (lower-cased, no punctuation), so a Wikipedia
"sentence" here is a run of ``words_per_sentence`` consecutive words of an article
(:func:`chunk_sentences`); the Lee news stories keep their punctuation and are split at sentence ends
(:func:`split_sentences`).

Packing rule (:func:`pack_pair`, as BERT's ``truncate_seq_pair``): while ``len(A) + len(B) + 3``
exceeds ``max_len``, drop the last token of the longer segment (of B when they are equally long); a
single sentence keeps its first ``max_len - 2`` tokens. With ``truncate=False`` a pair that does not fit
is an error naming the limit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from .bert import IS_NEXT, NOT_NEXT, Bert, PretrainedBert, mask_tokens_for_mlm
from .distributed import DistributedContext
from .tokenization import WordPiece
from .training import TrainingHistory, evaluating, fit
from .transformer import linear_warmup_schedule

__all__ = [
    "chunk_sentences",
    "split_sentences",
    "encode_documents",
    "pack_pair",
    "NspPair",
    "make_nsp_pairs",
    "BertBatch",
    "collate",
    "PretrainingConfig",
    "pretraining_batches",
    "pretraining_loss",
    "pretrain",
    "PretrainingEvaluation",
    "masked_heldout_set",
    "evaluate_pretraining",
    "fill_mask",
]


# --------------------------------------------------------------------------------------------------
# Sentences and documents
# --------------------------------------------------------------------------------------------------


def chunk_sentences(words: Sequence[str], words_per_sentence: int = 14) -> list[str]:
    """Cut a word list into consecutive "sentences" of ``words_per_sentence`` words (a shorter tail is
    dropped); each is returned as text."""
    if isinstance(words, str):
        raise TypeError("chunk_sentences expects a list of words, not a string")
    if words_per_sentence < 1:
        raise ValueError(f"words_per_sentence must be positive, got {words_per_sentence}")
    n = len(words) // words_per_sentence
    return [" ".join(words[i * words_per_sentence:(i + 1) * words_per_sentence]) for i in range(n)]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def split_sentences(text: str, min_words: int = 3) -> list[str]:
    """Split raw text at ". ", "! " or "? " followed by a capital letter or an opening quote; sentences
    with fewer than ``min_words`` words are dropped (headlines, stray fragments)."""
    if not isinstance(text, str):
        raise TypeError(f"split_sentences expects a string, got {type(text).__name__}")
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.split()) >= min_words]


def encode_documents(documents: Sequence[Sequence[str]], tokenizer: WordPiece) -> list[list[list[int]]]:
    """WordPiece ids for every sentence of every document; empty sentences and documents are dropped."""
    encoded = []
    for document in documents:
        if isinstance(document, str):
            raise TypeError("each document must be a list of sentences (strings), not one string")
        sentences = [ids for ids in (tokenizer.encode(s) for s in document) if ids]
        if sentences:
            encoded.append(sentences)
    return encoded


# --------------------------------------------------------------------------------------------------
# Packing pairs and NSP
# --------------------------------------------------------------------------------------------------


def pack_pair(a: Sequence[int], b: Sequence[int] | None = None, *, cls_id: int, sep_id: int, max_len: int,
              truncate: bool = True) -> tuple[list[int], list[int]]:
    """``[CLS] a [SEP] (b [SEP])`` and its segment ids, fitted into ``max_len`` by the module's rule.

    Returns ``(ids, segments)``. Raises ValueError naming the limit when the input does not fit and
    ``truncate`` is False, or when ``max_len`` leaves no room for a token of each segment.
    """
    a, b = list(a), (None if b is None else list(b))
    room = max_len - (2 if b is None else 3)
    if room < (1 if b is None else 2):
        raise ValueError(f"max_len={max_len} leaves no room for the tokens between [CLS] and [SEP]")
    if b is None:
        if len(a) > room and not truncate:
            raise ValueError(f"the sentence has {len(a)} tokens; with [CLS] and [SEP] it exceeds max_len={max_len}")
        a = a[:room]
        return [cls_id, *a, sep_id], [0] * (len(a) + 2)
    if len(a) + len(b) > room:
        if not truncate:
            raise ValueError(f"the pair has {len(a)} + {len(b)} tokens; with [CLS] and two [SEP] it exceeds "
                             f"max_len={max_len}")
        while len(a) + len(b) > room:  # drop from the end of the longer segment (B on ties)
            (a if len(a) > len(b) else b).pop()
    return [cls_id, *a, sep_id, *b, sep_id], [0] * (len(a) + 2) + [1] * (len(b) + 1)


@dataclass(frozen=True)
class NspPair:
    """Sentence A, sentence B (token ids) and the NSP label: 0 = IsNext, 1 = NotNext."""

    a: list[int]
    b: list[int]
    label: int


def make_nsp_pairs(documents: Sequence[Sequence[Sequence[int]]], n_pairs: int | None = None, *,
                   seed: int = 0, next_prob: float = 0.5, not_next_draw: str = "sentence") -> list[NspPair]:
    """Pairs for next-sentence prediction: A is a sentence with a successor in its document; with
    probability ``next_prob`` B is that successor (IsNext), otherwise a random sentence of the corpus
    from a *different* document (NotNext).

    The NotNext sentence is drawn uniformly over the corpus's *sentences* (as BERT's "random sentence
    from the corpus"), not by first drawing a document: with documents of very different sizes (long
    Wikipedia articles, short news stories) a uniform document draw would take most NotNext sentences
    from the many short documents, and the model could tell NotNext by the kind of text B is rather
    than by whether it continues A. ``not_next_draw="document"`` is that skewed rule (a uniform document,
    then one of its sentences), kept to measure the shortcut.

    Without ``n_pairs`` every sentence that has a successor gives one pair (in document order);
    with it, ``n_pairs`` starting sentences are drawn uniformly at random (with replacement).
    """
    if not 0.0 <= next_prob <= 1.0:
        raise ValueError(f"next_prob must lie in [0, 1], got {next_prob}")
    if not_next_draw not in ("sentence", "document"):
        raise ValueError(f"not_next_draw must be 'sentence' or 'document', got {not_next_draw!r}")
    starts = [(d, i) for d, doc in enumerate(documents) for i in range(len(doc) - 1)]
    if not starts:
        raise ValueError("no document has two sentences: there is no next sentence to pair with")
    if len(documents) < 2 and next_prob < 1.0:
        raise ValueError("NotNext pairs need at least two documents (B comes from another document)")
    offsets = np.cumsum([0] + [len(doc) for doc in documents])  # first sentence number of each document
    total = int(offsets[-1])
    offsets = offsets[:-1]
    rng = np.random.default_rng(seed)
    if n_pairs is not None:
        if n_pairs < 1:
            raise ValueError(f"n_pairs must be positive, got {n_pairs}")
        starts = [starts[k] for k in rng.integers(len(starts), size=n_pairs)]
    pairs = []
    for d, i in starts:
        a = list(documents[d][i])
        if rng.random() < next_prob:
            pairs.append(NspPair(a, list(documents[d][i + 1]), IS_NEXT))
            continue
        if not_next_draw == "document":  # a uniform other document, then a uniform sentence of it
            other = int(rng.integers(len(documents) - 1))
            other += other >= d
            pairs.append(NspPair(a, list(documents[other][int(rng.integers(len(documents[other])))]), NOT_NEXT))
            continue
        # a sentence drawn uniformly from the sentences of every document but d
        k = int(rng.integers(total - len(documents[d])))
        k += int(k >= offsets[d]) * len(documents[d])  # skip document d's block of sentence numbers
        other = int(np.searchsorted(offsets, k, side="right")) - 1
        pairs.append(NspPair(a, list(documents[other][k - offsets[other]]), NOT_NEXT))
    return pairs


@dataclass
class BertBatch:
    """Padded model input: ids, segments and attention mask (B, T); ``labels`` whatever the task needs."""

    ids: Tensor
    segments: Tensor
    attention_mask: Tensor
    labels: Tensor | None = None

    def to(self, device: torch.device | str) -> BertBatch:
        labels = None if self.labels is None else self.labels.to(device)
        return BertBatch(self.ids.to(device), self.segments.to(device), self.attention_mask.to(device), labels)


def collate(sequences: Sequence[tuple[Sequence[int], Sequence[int]]], *, pad_id: int = 0,
            labels: Sequence | Tensor | None = None, label_pad: int = -100) -> BertBatch:
    """Pad ``(ids, segments)`` pairs to the longest; ``labels``: one int or tuple per sequence (classes,
    spans), one *list* per sequence (token labels, padded with ``label_pad``), or any tensor."""
    if not sequences:
        raise ValueError("collate needs at least one sequence")
    longest = max(len(ids) for ids, _ in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    segments = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, (seq, seg) in enumerate(sequences):
        if len(seq) != len(seg):
            raise ValueError(f"sequence {row} has {len(seq)} ids but {len(seg)} segment ids")
        ids[row, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        segments[row, :len(seg)] = torch.as_tensor(seg, dtype=torch.long)
    keep = torch.zeros_like(ids, dtype=torch.bool)
    for row, (seq, _) in enumerate(sequences):
        keep[row, :len(seq)] = True
    label_tensor = None
    if isinstance(labels, Tensor):
        label_tensor = labels
    elif labels is not None:
        if len(labels) != len(sequences):
            raise ValueError(f"{len(labels)} labels for {len(sequences)} sequences")
        if isinstance(labels[0], list):  # token labels, one per position
            label_tensor = torch.full((len(sequences), longest), label_pad, dtype=torch.long)
            for row, values in enumerate(labels):
                label_tensor[row, :len(values)] = torch.as_tensor(values, dtype=torch.long)
        else:
            label_tensor = torch.as_tensor(labels, dtype=torch.long)
    return BertBatch(ids, segments, keep, label_tensor)


# --------------------------------------------------------------------------------------------------
# Pre-training
# --------------------------------------------------------------------------------------------------


@dataclass
class PretrainingConfig:
    """How the course's mini-BERT is pre-trained (the script's defaults)."""

    steps: int = 8000  # optimiser steps
    batch_size: int = 64  # sentence pairs per step
    learning_rate: float = 3e-3  # AdamW peak
    warmup_steps: int = 100  # linear warm-up, then linear decay to zero
    weight_decay: float = 0.01
    adam_beta2: float = 0.98  # AdamW's second-moment decay (BERT: 0.999; RoBERTa: 0.98)
    mask_prob: float = 0.15
    grad_clip: float = 1.0
    words_per_sentence: int = 14  # Wikipedia "sentences" (see the module docstring)
    vocab_size: int = 8000  # WordPiece vocabulary
    seed: int = 0


def pretraining_batches(documents: Sequence[Sequence[Sequence[int]]], tokenizer: WordPiece, *, batch_size: int,
                        max_len: int, seed: int = 0, mask_prob: float = 0.15) -> Callable[[], object]:
    """A callable returning an endless generator of masked NSP batches: tuples ``(inputs, mlm labels, nsp
    labels, masked)`` where ``masked`` is a 0-d tensor, the number of masked positions in the whole batch
    (it stays whole when :func:`course_utils.distributed.shard_batch` cuts the rest, so every process
    divides its share of the masked-LM loss by the same global count)."""
    special_ids = [tokenizer[s] for s in tokenizer.specials]

    def generate():
        generator = torch.Generator().manual_seed(seed)
        round_ = 0
        while True:
            pairs = make_nsp_pairs(documents, batch_size, seed=seed * 1_000_003 + round_)
            round_ += 1
            packed = [pack_pair(p.a, p.b, cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id, max_len=max_len)
                      for p in pairs]
            batch = collate(packed, pad_id=tokenizer.pad_id)
            corrupted, mlm_labels = mask_tokens_for_mlm(batch.ids, mask_id=tokenizer.mask_id, vocab_size=len(tokenizer),
                                                        special_ids=special_ids, mask_prob=mask_prob,
                                                        generator=generator)
            nsp = torch.tensor([p.label for p in pairs])
            masked = (mlm_labels != -100).sum()  # () over the global batch
            yield BertBatch(corrupted, batch.segments, batch.attention_mask), mlm_labels, nsp, masked

    return generate


def pretraining_loss(model: Bert, batch: tuple) -> Tensor:
    """Masked-LM cross-entropy averaged over the chosen tokens + NSP cross-entropy averaged over the pairs.

    ``batch``: ``(inputs, mlm labels, nsp labels)`` or, from :func:`pretraining_batches`, with a fourth
    item, the masked-position count of the *global* batch. Under data parallelism (one shard of the batch
    per process, gradients averaged over the ``N`` processes) each process then returns
    ``N · (its masked-LM loss sum) / (global count)``, so the average over processes is exactly the
    global batch's mean — shards hold different numbers of masked tokens, and a per-shard mean would
    weight them wrongly. The NSP mean is over equally many pairs on every shard, so it needs no care.
    """
    inputs, mlm_labels, nsp_labels, *rest = batch
    device = next(model.parameters()).device
    inputs, mlm_labels, nsp_labels = inputs.to(device), mlm_labels.to(device), nsp_labels.to(device)
    chosen = mlm_labels != -100
    out = model(inputs.ids, inputs.segments, inputs.attention_mask, mlm_positions=chosen)
    if rest:
        world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        denominator = rest[0].to(device).clamp(min=1) / world_size
    else:
        denominator = chosen.sum().clamp(min=1)
    mlm = F.cross_entropy(out.mlm_logits, mlm_labels[chosen], reduction="sum") / denominator
    return mlm + F.cross_entropy(out.nsp_logits, nsp_labels)


def pretrain(pretrained: PretrainedBert, documents: Sequence[Sequence[Sequence[int]]], config: PretrainingConfig,
             *, progress: bool = True, on_step: Callable[[int, float], None] | None = None,
             device: torch.device | str | None = None, distributed: DistributedContext | None = None
             ) -> TrainingHistory:
    """Pre-train ``pretrained.model`` in place with AdamW, warm-up and linear decay (seeded).

    ``device`` moves the model and batches there; ``distributed`` (under torchrun) trains data-parallel:
    every process draws the same global batches and keeps its shard (``config.batch_size`` must be
    divisible by the number of processes), so the losses equal one process's for the same seed.
    """
    if distributed is not None and config.batch_size % distributed.world_size:
        raise ValueError(f"batch_size={config.batch_size} must be divisible by the {distributed.world_size} processes")
    model = pretrained.model
    batches = pretraining_batches(documents, pretrained.tokenizer, batch_size=config.batch_size,
                                  max_len=model.config.max_len, seed=config.seed, mask_prob=config.mask_prob)
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.learning_rate,
                                  betas=(0.9, config.adam_beta2))
    scheduler = linear_warmup_schedule(optimizer, min(config.warmup_steps, config.steps - 1), config.steps)
    return fit(model, batches, pretraining_loss, optimizer, max_steps=config.steps, scheduler=scheduler,
               grad_clip=config.grad_clip, progress=progress, desc="pre-training BERT", on_step=on_step,
               device=device, distributed=distributed)


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


@dataclass
class PretrainingEvaluation:
    """Held-out masked-LM and NSP results, with the baselines measured on the same positions and pairs."""

    mlm_accuracy: float  # share of masked positions whose original token is the arg-max
    mlm_loss: float  # mean cross-entropy (nats) over the masked positions
    nsp_accuracy: float
    most_frequent_accuracy: float  # always predict the most frequent training token
    unigram_loss: float  # cross-entropy of the training unigram distribution (add-one)
    always_is_next_accuracy: float  # share of IsNext pairs
    masked_positions: int
    pairs: int

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def masked_heldout_set(documents: Sequence[Sequence[Sequence[int]]], tokenizer: WordPiece, *, max_len: int,
                       n_pairs: int | None = None, seed: int = 1, mask_prob: float = 0.15
                       ) -> tuple[BertBatch, Tensor, Tensor]:
    """A fixed evaluation set: NSP pairs of ``documents``, packed, padded and masked once (seeded)."""
    pairs = make_nsp_pairs(documents, n_pairs, seed=seed)
    packed = [pack_pair(p.a, p.b, cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id, max_len=max_len) for p in pairs]
    batch = collate(packed, pad_id=tokenizer.pad_id)
    special_ids = [tokenizer[s] for s in tokenizer.specials]
    corrupted, labels = mask_tokens_for_mlm(batch.ids, mask_id=tokenizer.mask_id, vocab_size=len(tokenizer),
                                            special_ids=special_ids, mask_prob=mask_prob,
                                            generator=torch.Generator().manual_seed(seed))
    return BertBatch(corrupted, batch.segments, batch.attention_mask), labels, torch.tensor([p.label for p in pairs])


def evaluate_pretraining(model: Bert, heldout: tuple[BertBatch, Tensor, Tensor], train_counts: Counter | Sequence[int],
                         *, causal: bool = False, batch_size: int = 256) -> PretrainingEvaluation:
    """MLM accuracy/loss and NSP accuracy on a :func:`masked_heldout_set`, with baselines.

    ``train_counts``: token counts of the training text (a Counter of ids, or counts indexed by id), for
    the most-frequent-token and unigram baselines. ``causal=True`` evaluates with left context only.
    """
    inputs, labels, nsp_labels = heldout
    V = model.config.vocab_size
    counts = np.zeros(V)
    if isinstance(train_counts, Counter):
        for token, count in train_counts.items():
            counts[token] = count
    else:
        counts[: len(train_counts)] = np.asarray(train_counts, dtype=float)
    correct = total = 0
    nll = 0.0
    nsp_correct = 0
    device = next(model.parameters()).device
    with evaluating(model):
        for start in range(0, len(labels), batch_size):
            rows = slice(start, start + batch_size)
            part = BertBatch(inputs.ids[rows], inputs.segments[rows], inputs.attention_mask[rows]).to(device)
            target = labels[rows].to(device)
            chosen = target != -100
            out = model(part.ids, part.segments, part.attention_mask, mlm_positions=chosen, causal=causal)
            gold = target[chosen]
            correct += int((out.mlm_logits.argmax(-1) == gold).sum())
            nll += float(F.cross_entropy(out.mlm_logits.float(), gold, reduction="sum"))
            total += int(chosen.sum())
            nsp_correct += int((out.nsp_logits.argmax(-1).cpu() == nsp_labels[rows]).sum())
    if total == 0:
        raise ValueError("the held-out set has no masked position")
    gold_all = labels[labels != -100].numpy()
    probabilities = (counts + 1) / (counts.sum() + V)
    return PretrainingEvaluation(
        mlm_accuracy=correct / total, mlm_loss=nll / total, nsp_accuracy=nsp_correct / len(nsp_labels),
        most_frequent_accuracy=float(np.mean(gold_all == int(counts.argmax()))),
        unigram_loss=float(-np.mean(np.log(probabilities[gold_all]))),
        always_is_next_accuracy=float(np.mean(nsp_labels.numpy() == 0)),
        masked_positions=total, pairs=len(nsp_labels))


@torch.no_grad()
def fill_mask(pretrained: PretrainedBert, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-``k`` pieces and probabilities for every ``[MASK]`` in ``text`` (a single sentence)."""
    tok = pretrained.tokenizer
    parts = text.split("[MASK]")
    if len(parts) < 2:
        raise ValueError("the text has no [MASK] to fill in")
    ids: list[int] = []
    for k, part in enumerate(parts):
        ids += tok.encode(part)
        if k < len(parts) - 1:
            ids.append(tok.mask_id)
    packed, segments = pack_pair(ids, cls_id=tok.cls_id, sep_id=tok.sep_id, max_len=pretrained.config.max_len,
                                 truncate=False)
    model = pretrained.model
    device = next(model.parameters()).device
    with evaluating(model):
        logits = model(torch.tensor([packed], device=device), torch.tensor([segments], device=device),
                       heads="mlm").mlm_logits[0]
    results = []
    for position in [i for i, t in enumerate(packed) if t == tok.mask_id]:
        probabilities = logits[position].float().softmax(-1)
        top = probabilities.topk(top_k)
        results.append([(tok.vocab[int(i)], float(p)) for p, i in zip(top.values, top.indices)])
    return results


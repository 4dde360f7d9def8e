"""Fine-tuning BERT: the four recipes' heads, the tasks the course derives from real text, and features.

BERT is fine-tuned by putting one small layer on top and training everything (Devlin et al., 2019,
§4 and Figure 4):

    single sentence / sentence pair:  logits = W · dropout(pooled [CLS]) + b          (B, n_classes)
    token tagging:                    logits_t = W · dropout(h_t) + b                 (B, T, n_tags)
    extractive QA:                    start_t = w_s · h_t,  end_t = w_e · h_t;  answer = the span
                                      i ≤ j (inside the passage, at most ``max_answer_len`` long)
                                      maximising start_i + end_j                       (:func:`best_span`)

The feature-extraction recipe instead freezes BERT and trains a separate model (a logistic regression)
on the ``[CLS]`` or mean-pooled vectors (:func:`sentence_features`).

The tasks here are made from real text, so no labelled data set needs downloading:

* acceptability (CoLA-like, :func:`acceptability_examples`): a held-out sentence, or a corrupted copy
  (two words swapped, or one word replaced by a random corpus word); label 1 = the original;
* truecasing as token tagging (:func:`truecasing_examples`): from lower-cased news text, tag each word
  ``lower`` / ``Capitalised`` / ``UPPER``; the label sits on a word's first piece (as in BERT's NER);
* extractive QA (:func:`span_examples`): the question is the ``question_words`` words that precede a
  word in the passage (they occur once there), the answer is that word — the span of its pieces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .bert import Bert, PretrainedBert
from .bert_tasks import BertBatch, collate, pack_pair
from .tokenization import pre_tokenize, split_on_punctuation
from .training import evaluating, fit

__all__ = [
    "SequenceClassifier",
    "TokenTagger",
    "SpanExtractor",
    "best_span",
    "TaskData",
    "encode_sentences",
    "encode_pairs",
    "fine_tune",
    "predict",
    "acceptability_examples",
    "CASE_TAGS",
    "truecasing_examples",
    "tag_f1",
    "span_examples",
    "sentence_features",
    "lee_similarity_benchmark",
]


# --------------------------------------------------------------------------------------------------
# Heads
# --------------------------------------------------------------------------------------------------


class SequenceClassifier(nn.Module):
    """Classification of a sentence or a sentence pair from the pooled ``[CLS]`` vector (BERT's recipe,
    ``pooling="cls"``) or from the mean of the last layer's real-token vectors (``pooling="mean"``)."""

    def __init__(self, bert: Bert, n_classes: int, dropout: float = 0.1, pooling: str = "cls") -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        self.bert, self.dropout, self.pooling = bert, nn.Dropout(dropout), pooling
        self.head = nn.Linear(bert.config.d_model, n_classes)

    def forward(self, batch: BertBatch) -> Tensor:
        out = self.bert(batch.ids, batch.segments, batch.attention_mask, heads="none")
        if self.pooling == "cls":
            pooled = out.pooled  # (B, C)
        else:
            keep = batch.attention_mask[..., None].to(out.hidden.dtype)  # (B, T, 1)
            pooled = (out.hidden * keep).sum(1) / keep.sum(1)  # (B, C)
        return self.head(self.dropout(pooled))  # (B, n_classes)

    def loss(self, batch: BertBatch) -> Tensor:
        return F.cross_entropy(self(batch), batch.labels)


class TokenTagger(nn.Module):
    """One label per token from the last layer (labels -100 are ignored: padding, continuation pieces)."""

    def __init__(self, bert: Bert, n_tags: int, dropout: float = 0.1) -> None:
        super().__init__()
        if n_tags < 2:
            raise ValueError(f"n_tags must be at least 2, got {n_tags}")
        self.bert, self.dropout = bert, nn.Dropout(dropout)
        self.head = nn.Linear(bert.config.d_model, n_tags)

    def forward(self, batch: BertBatch) -> Tensor:
        hidden = self.bert(batch.ids, batch.segments, batch.attention_mask, heads="none").hidden
        return self.head(self.dropout(hidden))  # (B, T, n_tags)

    def loss(self, batch: BertBatch) -> Tensor:
        logits = self(batch)
        return F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), ignore_index=-100)


class SpanExtractor(nn.Module):
    """Start and end scores for every token (extractive QA); ``labels`` are (B, 2) start and end indices."""

    def __init__(self, bert: Bert) -> None:
        super().__init__()
        self.bert = bert
        self.head = nn.Linear(bert.config.d_model, 2)

    def forward(self, batch: BertBatch) -> tuple[Tensor, Tensor]:
        hidden = self.bert(batch.ids, batch.segments, batch.attention_mask, heads="none").hidden
        start, end = self.head(hidden).unbind(-1)  # (B, T) each
        outside = ~batch.attention_mask
        return start.masked_fill(outside, -1e4), end.masked_fill(outside, -1e4)

    def loss(self, batch: BertBatch) -> Tensor:
        start, end = self(batch)
        return (F.cross_entropy(start, batch.labels[:, 0]) + F.cross_entropy(end, batch.labels[:, 1])) / 2


def best_span(start_logits: Tensor, end_logits: Tensor, allowed: Tensor, max_answer_len: int = 10) -> Tensor:
    """The span (i, j) with i ≤ j < i + ``max_answer_len``, both in ``allowed``, maximising start_i + end_j.

    ``start_logits``, ``end_logits``: (B, T); ``allowed``: (B, T) bool (the passage's tokens). Returns
    (B, 2) long. Raises ValueError when a row allows no position.
    """
    if start_logits.shape != end_logits.shape or start_logits.shape != allowed.shape or start_logits.dim() != 2:
        raise ValueError(f"start, end and allowed must all be (B, T); got {tuple(start_logits.shape)}, "
                         f"{tuple(end_logits.shape)}, {tuple(allowed.shape)}")
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len must be positive, got {max_answer_len}")
    if not bool(allowed.any(-1).all()):
        raise ValueError("a row allows no answer position")
    T = start_logits.shape[1]
    scores = start_logits[:, :, None] + end_logits[:, None, :]  # (B, T start, T end)
    i = torch.arange(T, device=scores.device)
    valid = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_answer_len)  # (T, T)
    valid = valid[None] & allowed[:, :, None] & allowed[:, None, :]
    flat = scores.masked_fill(~valid, float("-inf")).flatten(1).argmax(-1)  # (B,)
    return torch.stack([flat // T, flat % T], dim=1)


# --------------------------------------------------------------------------------------------------
# Task data, fine-tuning and prediction
# --------------------------------------------------------------------------------------------------


@dataclass
class TaskData:
    """Packed inputs ``(ids, segments)`` with one label each (an int, a list of tags, or (start, end))."""

    inputs: list[tuple[list[int], list[int]]]
    labels: list

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.labels):
            raise ValueError(f"{len(self.inputs)} inputs but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, indices: Sequence[int]) -> TaskData:
        return TaskData([self.inputs[i] for i in indices], [self.labels[i] for i in indices])

    def batch(self, indices: Sequence[int], pad_id: int = 0) -> BertBatch:
        return collate([self.inputs[i] for i in indices], pad_id=pad_id, labels=[self.labels[i] for i in indices])


def encode_sentences(pretrained: PretrainedBert, texts: Sequence[str], labels: Sequence) -> TaskData:
    """``[CLS] text [SEP]`` for each text (cut to the model's ``max_len``)."""
    tok = pretrained.tokenizer
    inputs = [pack_pair(tok.encode(t), cls_id=tok.cls_id, sep_id=tok.sep_id, max_len=pretrained.config.max_len)
              for t in texts]
    return TaskData(inputs, list(labels))


def encode_pairs(pretrained: PretrainedBert, pairs: Sequence[tuple[str, str]], labels: Sequence) -> TaskData:
    """``[CLS] a [SEP] b [SEP]`` for each pair (truncated by :func:`~course_utils.bert_tasks.pack_pair`'s rule)."""
    tok = pretrained.tokenizer
    inputs = [pack_pair(tok.encode(a), tok.encode(b), cls_id=tok.cls_id, sep_id=tok.sep_id,
                        max_len=pretrained.config.max_len) for a, b in pairs]
    return TaskData(inputs, list(labels))


def fine_tune(model: nn.Module, data: TaskData, *, epochs: int = 3, batch_size: int = 16, learning_rate: float = 1e-4,
              warmup_share: float = 0.1, seed: int = 0, pad_id: int = 0, progress: bool = False,
              device: torch.device | str | None = None) -> list[float]:
    """Train a head model (with its BERT) on ``data`` with AdamW and linear warm-up/decay; returns losses.
    ``device``: move the model and every batch there first (None: where the model is)."""
    from .transformer import linear_warmup_schedule

    if len(data) == 0:
        raise ValueError("no training examples")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    def batches():
        order = rng.permutation(len(data))
        for start in range(0, len(order), batch_size):
            yield data.batch(order[start:start + batch_size], pad_id)

    steps = epochs * math.ceil(len(data) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01, foreach=True)
    warmup = min(steps - 1, int(warmup_share * steps)) if steps > 1 else 0
    scheduler = linear_warmup_schedule(optimizer, warmup, steps) if steps > 1 else None
    history = fit(model, batches, lambda m, b: m.loss(b), optimizer, epochs=epochs, scheduler=scheduler,
                  grad_clip=1.0, progress=progress, desc="fine-tuning", device=device)
    return history.losses


def predict(model: nn.Module, data: TaskData, *, batch_size: int = 64, pad_id: int = 0) -> list:
    """Predictions in the labels' format: a class, a list of tags (first pieces only), or (start, end).
    Runs where the model's parameters are, without gradients."""
    out: list = []
    device = next(model.parameters()).device
    with evaluating(model):
        for start in range(0, len(data), batch_size):
            indices = range(start, min(start + batch_size, len(data)))
            batch = data.batch(indices, pad_id).to(device)
            if isinstance(model, SpanExtractor):
                s, e = model(batch)
                allowed = (batch.segments == 1) & batch.attention_mask
                allowed &= (torch.arange(batch.ids.shape[1], device=device)[None, :]
                            < batch.attention_mask.sum(1, keepdim=True) - 1)
                out += [tuple(span) for span in best_span(s, e, allowed).tolist()]
            elif isinstance(model, TokenTagger):
                tags = model(batch).argmax(-1).cpu()
                for row, i in enumerate(indices):
                    gold = data.labels[i]
                    out.append([int(tags[row, t]) if g != -100 else -100 for t, g in enumerate(gold)])
            else:
                out += model(batch).argmax(-1).tolist()
    return out


# --------------------------------------------------------------------------------------------------
# Tasks made from text
# --------------------------------------------------------------------------------------------------


def acceptability_examples(sentences: Sequence[Sequence[str]], *, seed: int = 0) -> tuple[list[str], list[int]]:
    """Half of the sentences kept (label 1), half corrupted (label 0): two different words swapped, or one
    word replaced by a random word of the sentences' vocabulary (never by itself). Each sentence is used
    once, so an original and its corrupted copy never sit on both sides of a split."""
    rng = np.random.default_rng(seed)
    vocabulary = sorted({w for s in sentences for w in s})
    texts, labels = [], []
    for words in sentences:
        words = list(words)
        if len(words) < 3 or len(set(words)) < 2:
            continue
        if rng.random() < 0.5:
            texts.append(" ".join(words))
            labels.append(1)
            continue
        if rng.random() < 0.5:
            while True:
                i, j = rng.choice(len(words), 2, replace=False)
                if words[i] != words[j]:
                    break
            words[i], words[j] = words[j], words[i]
        else:
            i = int(rng.integers(len(words)))
            replacement = words[i]
            while replacement == words[i]:
                replacement = vocabulary[int(rng.integers(len(vocabulary)))]
            words[i] = replacement
        texts.append(" ".join(words))
        labels.append(0)
    return texts, labels


CASE_TAGS = ("lower", "Capitalised", "UPPER")


def _case_tag(word: str) -> int:
    letters = [c for c in word if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return 2
    return 1 if letters and letters[0].isupper() else 0


def truecasing_examples(pretrained: PretrainedBert, sentences: Sequence[str]) -> tuple[TaskData, list[list[str]]]:
    """Token-tagging data: lower-cased pieces in, one case tag per word (on its first piece) out.

    Sentences whose words do not line up with BERT's normalisation (accents, unusual characters) or that
    do not fit ``max_len`` are skipped. Returns the data and the original (cased) words of each example.
    """
    tok = pretrained.tokenizer
    inputs, labels, kept = [], [], []
    for sentence in sentences:
        cased = split_on_punctuation(sentence)
        words = pre_tokenize(sentence)
        if [w.lower() for w in cased] != words or not words:
            continue
        ids, tags = [tok.cls_id], [-100]
        for word, original in zip(words, cased):
            pieces = [tok[p] for p in tok.split_word(word)]
            ids += pieces
            tags += [_case_tag(original)] + [-100] * (len(pieces) - 1)
        if len(ids) + 1 > pretrained.config.max_len:
            continue
        inputs.append((ids + [tok.sep_id], [0] * (len(ids) + 1)))
        labels.append(tags + [-100])
        kept.append(cased)
    return TaskData(inputs, labels), kept


def tag_f1(predicted: Sequence[Sequence[int]], gold: Sequence[Sequence[int]], *, negative: int = 0) -> dict:
    """Micro precision, recall and F1 of the non-``negative`` tags (a tag counts when it is exactly right);
    positions labelled -100 are ignored. Also returns plain accuracy over the labelled positions."""
    tp = fp = fn = correct = total = 0
    for p_row, g_row in zip(predicted, gold, strict=True):
        for p, g in zip(p_row, g_row, strict=True):
            if g == -100:
                continue
            total += 1
            correct += p == g
            if p != negative and p == g:
                tp += 1
            else:
                fp += p != negative
                fn += g != negative
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": correct / max(total, 1)}


def span_examples(pretrained: PretrainedBert, passages: Sequence[Sequence[str]], *, question_words: int = 4,
                  per_passage: int = 2, seed: int = 0) -> tuple[TaskData, list[tuple[str, str, str]]]:
    """Extractive QA made from passages (lists of words): "which word follows <q_1 .. q_k>?".

    For each passage up to ``per_passage`` answer positions are drawn whose ``question_words`` preceding
    words occur only once in the passage; the input is ``[CLS] question [SEP] passage [SEP]`` and the
    label the (start, end) piece span of the answer word. Returns the data and (question, passage,
    answer) texts.
    """
    if question_words < 1:
        raise ValueError(f"question_words must be positive, got {question_words}")
    tok = pretrained.tokenizer
    rng = np.random.default_rng(seed)
    inputs, labels, texts = [], [], []
    for words in passages:
        words = list(words)
        pieces = [[tok[p] for p in tok.split_word(w)] for w in words]
        starts = rng.permutation(np.arange(question_words, len(words)))
        found = 0
        for k in starts:
            k = int(k)
            question = words[k - question_words:k]
            occurrences = sum(words[i:i + question_words] == question for i in range(len(words) - question_words + 1))
            if occurrences != 1:
                continue
            q_ids = [i for w in question for i in [tok[p] for p in tok.split_word(w)]]
            passage_ids = [i for p in pieces for i in p]
            ids, segments = pack_pair(q_ids, passage_ids, cls_id=tok.cls_id, sep_id=tok.sep_id,
                                      max_len=10**6, truncate=False)
            if len(ids) > pretrained.config.max_len:
                break
            offset = len(q_ids) + 2 + sum(len(p) for p in pieces[:k])
            inputs.append((ids, segments))
            labels.append((offset, offset + len(pieces[k]) - 1))
            texts.append((" ".join(question), " ".join(words), words[k]))
            found += 1
            if found == per_passage:
                break
    return TaskData(inputs, labels), texts


# --------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def sentence_features(pretrained: PretrainedBert, texts: Sequence[str], *, pooling: str = "cls",
                      batch_size: int = 64) -> np.ndarray:
    """Frozen BERT features, (N, C): the ``[CLS]`` vector of the last layer (``pooling="cls"``) or the
    mean of its real tokens (``"mean"``). A text longer than ``max_len`` is cut into windows whose
    features are averaged."""
    if pooling not in ("cls", "mean"):
        raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
    tok, model = pretrained.tokenizer, pretrained.model
    room = pretrained.config.max_len - 2
    windows, owner = [], []
    for n, text in enumerate(texts):
        ids = tok.encode(text) or [tok.unk_id]
        for start in range(0, len(ids), room):
            windows.append(pack_pair(ids[start:start + room], cls_id=tok.cls_id, sep_id=tok.sep_id,
                                     max_len=room + 2))
            owner.append(n)
    vectors = []
    with evaluating(model):
        for start in range(0, len(windows), batch_size):
            batch = collate(windows[start:start + batch_size], pad_id=tok.pad_id)
            hidden = model(batch.ids, batch.segments, batch.attention_mask, heads="none").hidden
            if pooling == "cls":
                vectors.append(hidden[:, 0])
            else:
                keep = batch.attention_mask[..., None].float()
                vectors.append((hidden * keep).sum(1) / keep.sum(1))
    per_window = torch.cat(vectors).numpy()
    owner = np.asarray(owner)
    return np.stack([per_window[owner == n].mean(0) for n in range(len(texts))])


def lee_similarity_benchmark() -> tuple[list[str], np.ndarray]:
    """The 50 Lee & Welsh news documents (``lee.cor``) and their mean human similarity ratings (50 × 50,
    ``similarities0-1.txt``, both shipped with gensim's test data)."""
    from gensim.test.utils import datapath

    documents = [line.strip() for line in open(datapath("lee.cor"), encoding="latin-1") if line.strip()]
    ratings = np.loadtxt(datapath("similarities0-1.txt"))
    if len(documents) != 50 or ratings.shape != (50, 50):
        raise ValueError(f"expected 50 documents and a 50 × 50 matrix, got {len(documents)} and {ratings.shape}")
    return documents, ratings

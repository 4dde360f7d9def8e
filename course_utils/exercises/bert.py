"""Checkers for notebook 07's exercises: BERT's 80/10/10 masking, the NSP pair builder, a [CLS] classifier.

The masking checker is statistical (shares measured on 100,000 tokens must lie within a few standard
errors of 15/80/10/10) plus edge cases; the NSP checker verifies every pair against the documents; the
classifier checker compares the student's head with the reference computation on a small random BERT.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from course_utils import bert, bert_finetune, bert_tasks
from course_utils.exercises import ExerciseResult, check_true, guards

__all__ = ["check_mask_tokens", "check_nsp_pairs", "check_cls_classifier"]

_SPECIALS = [0, 1, 2, 3, 4]  # [PAD] [UNK] [CLS] [SEP] [MASK]
_MASK = 4


def _fail(name: str, message: str, hint: str) -> ExerciseResult:
    return check_true(False, name=name, passed="", failed=message, hint=hint)


def _call(student: Callable, name: str, hint: str, *args, **kwargs):
    """(result, None) or (None, failed ExerciseResult)."""
    try:
        return student(*args, **kwargs), None
    except NotImplementedError:
        return None, _fail(name, "not attempted yet (the function raises NotImplementedError)", hint)
    except Exception as error:  # noqa: BLE001 - report the student's error
        return None, _fail(name, f"raised {type(error).__name__}: {error}", hint)


@guards(bert.mask_tokens_for_mlm)
def check_mask_tokens(student: Callable) -> ExerciseResult:
    """``student(ids, mask_id, vocab_size, special_ids, mask_prob=0.15)`` → ``(corrupted, labels)``."""
    name = "BERT masking (15 % chosen; 80 % [MASK], 10 % random, 10 % kept)"
    hint = ("draw one uniform number per token: chosen = not special and u < mask_prob; a second number v "
            "decides: v < 0.8 → [MASK], 0.8 ≤ v < 0.9 → a random non-special id, else keep; labels = the "
            "original id where chosen and -100 elsewhere")
    torch.manual_seed(0)
    ids = torch.randint(5, 500, (400, 250))
    ids[:, 0], ids[:, -1], ids[:, -30:-1] = 2, 3, 0  # [CLS] ... [SEP], then padding
    result, failure = _call(student, name, hint, ids.clone(), _MASK, 500, _SPECIALS, 0.15)
    if failure is not None:
        return failure
    if not (isinstance(result, tuple) and len(result) == 2):
        return _fail(name, "return a pair (corrupted ids, labels)", hint)
    corrupted, labels = (torch.as_tensor(x) for x in result)
    if corrupted.shape != ids.shape or labels.shape != ids.shape:
        return _fail(name, f"both outputs must have the input's shape {tuple(ids.shape)}", hint)
    chosen = labels != -100
    real = ids >= 5
    if bool((chosen & ~real).any()):
        return _fail(name, "a special or padding token was chosen; only ordinary tokens may be", hint)
    if not torch.equal(labels[chosen], ids[chosen]):
        return _fail(name, "labels must hold the ORIGINAL token at chosen positions", hint)
    if not torch.equal(corrupted[~chosen], ids[~chosen]):
        return _fail(name, "a token that was not chosen changed; only chosen tokens may be corrupted", hint)
    n = int(real.sum())
    share = float(chosen.sum()) / n
    k = int(chosen.sum())
    masked = float((corrupted[chosen] == _MASK).sum()) / k
    kept = float((corrupted[chosen] == ids[chosen]).sum()) / k
    random_share = 1 - masked - kept
    checks = [("chosen share", share, 0.15, (0.15 * 0.85 / n) ** 0.5),
              ("[MASK] share of chosen", masked, 0.8, (0.8 * 0.2 / k) ** 0.5),
              ("kept share of chosen", kept, 0.1, (0.1 * 0.9 / k) ** 0.5),
              ("random share of chosen", random_share, 0.1, (0.1 * 0.9 / k) ** 0.5)]
    for what, value, target, se in checks:
        if abs(value - target) > 5 * se:
            return _fail(name, f"{what} is {value:.3f}, expected {target} (±{5 * se:.3f})", hint)
    replaced = corrupted[chosen & (corrupted != _MASK) & (corrupted != ids)]
    if replaced.numel() and int(replaced.min()) < 5:
        return _fail(name, "a random replacement was a special token; draw from the ordinary ids", hint)
    edge, failure = _call(student, name, hint, torch.tensor([[2, 3, 0, 0]]), _MASK, 500, _SPECIALS, 0.99)
    if failure is not None:
        return failure
    if not bool((torch.as_tensor(edge[1]) == -100).all()):
        return _fail(name, "a sequence of specials and padding must get no label at all", hint)
    return check_true(True, name=name, passed=f"shares {share:.3f} / {masked:.3f} / {random_share:.3f} / {kept:.3f} "
                      "on 100,000 tokens; specials never chosen", failed="")


def _documents() -> list[list[list[int]]]:
    return [[[100 * d + s, 7, 100 * d + s + 50] for s in range(3 + d % 4)] for d in range(12)]


@guards(bert_tasks.make_nsp_pairs)
def check_nsp_pairs(student: Callable) -> ExerciseResult:
    """``student(documents, n_pairs, seed)`` → ``n_pairs`` tuples ``(a, b, label)``, label 0 = IsNext."""
    name = "NSP pairs"
    hint = ("pick a document and a sentence i that has a successor; with probability 0.5 take sentence i + 1 "
            "of the same document (label 0, IsNext), otherwise a random sentence of a DIFFERENT document "
            "(label 1, NotNext)")
    documents = _documents()
    where = {tuple(s): (d, i) for d, doc in enumerate(documents) for i, s in enumerate(doc)}
    pairs, failure = _call(student, name, hint, documents, 2000, 0)
    if failure is not None:
        return failure
    if len(pairs) != 2000:
        return _fail(name, f"asked for 2000 pairs, got {len(pairs)}", hint)
    next_count = 0
    for a, b, label in pairs:
        if tuple(a) not in where or tuple(b) not in where:
            return _fail(name, "a pair holds something that is not a sentence of the documents", hint)
        (da, ia), (db, ib) = where[tuple(a)], where[tuple(b)]
        if ia == len(documents[da]) - 1:
            return _fail(name, "sentence A must have a next sentence in its document (it was the last one)", hint)
        if label == 0:
            next_count += 1
            if (db, ib) != (da, ia + 1):
                return _fail(name, "a pair labelled IsNext (0) does not hold A's next sentence", hint)
        elif label == 1:
            if db == da:
                return _fail(name, "a NotNext (1) pair took B from A's own document; use another document", hint)
        else:
            return _fail(name, f"labels must be 0 (IsNext) or 1 (NotNext), got {label!r}", hint)
    share = next_count / 2000
    if abs(share - 0.5) > 0.06:  # 5 standard errors
        return _fail(name, f"{share:.1%} of the pairs are IsNext; expected about 50 %", hint)
    return check_true(True, name=name, passed=f"2000 pairs checked against the documents; {share:.1%} IsNext",
                      failed="")


@guards(bert_finetune.SequenceClassifier)
def check_cls_classifier(student_class: Callable) -> ExerciseResult:
    """``student_class(bert_model, n_classes)`` is an nn.Module with a Linear ``head``; calling it on
    ``(ids, segments, attention_mask)`` returns logits ``head(dropout(pooled [CLS]))`` of shape (B, n_classes)."""
    name = "classification head on [CLS]"
    hint = ("run self.bert(ids, segments, attention_mask, heads='none'), take .pooled (the tanh-pooled [CLS] "
            "vector), apply dropout and self.head = nn.Linear(d_model, n_classes); keep BERT trainable")
    torch.manual_seed(0)
    model = bert.Bert(bert.BertConfig(vocab_size=30, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=10))
    head_model, failure = _call(student_class, name, hint, model, 3)
    if failure is not None:
        return failure
    if not isinstance(head_model, torch.nn.Module) or not isinstance(getattr(head_model, "head", None), torch.nn.Linear):
        return _fail(name, "the class must be an nn.Module with an nn.Linear called `head`", hint)
    ids = torch.tensor([[2, 7, 8, 3, 0], [2, 9, 3, 10, 3]])
    segments = torch.tensor([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]])
    keep = ids != 0
    head_model.eval()
    logits, failure = _call(head_model, name, hint, ids, segments, keep)
    if failure is not None:
        return failure
    with torch.no_grad():
        pooled = model(ids, segments, keep, heads="none").pooled
        expected = F.linear(pooled, head_model.head.weight, head_model.head.bias)
    if not isinstance(logits, torch.Tensor) or logits.shape != (2, 3):
        return _fail(name, f"expected logits of shape (2, 3), got {getattr(logits, 'shape', type(logits))}", hint)
    if not torch.allclose(logits, expected, atol=1e-5):
        return _fail(name, "the logits differ from head(pooled [CLS]) (did you use hidden[:, 0] or mean pooling?)",
                     hint)
    head_model.train()
    head_model(ids, segments, keep).sum().backward()
    if model.embeddings.token.weight.grad is None:
        return _fail(name, "no gradient reached BERT: fine-tuning trains BERT too (do not detach or freeze it)",
                     hint)
    return check_true(True, name=name, passed="logits equal head(pooled [CLS]) and gradients reach BERT", failed="")

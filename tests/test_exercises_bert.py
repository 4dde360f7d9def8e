"""Checkers of notebook 07: right answers pass, wrong ones fail with a hint, stubs are "not attempted"."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from course_utils.exercises.bert import check_cls_classifier, check_mask_tokens, check_nsp_pairs


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _mask(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, keep_specials=True, p_mask=0.8):
    special = torch.zeros(vocab_size, dtype=torch.bool)
    special[list(special_ids)] = True
    chosen = torch.rand(ids.shape) < mask_prob
    if keep_specials:
        chosen &= ~special[ids]
    how = torch.rand(ids.shape)
    corrupted = ids.clone()
    corrupted[chosen & (how < p_mask)] = mask_id
    randomise = chosen & (how >= p_mask) & (how < p_mask + 0.1)
    corrupted[randomise] = torch.randint(len(special_ids), vocab_size, ids.shape)[randomise]
    return corrupted, torch.where(chosen, ids, torch.full_like(ids, -100))


def test_mask_checker(capsys):
    assert check_mask_tokens(_mask)
    assert "PASS" in capsys.readouterr().out
    assert not check_mask_tokens(lambda *a: _mask(*a, keep_specials=False))
    wrong_shares = check_mask_tokens(lambda *a: _mask(*a, p_mask=0.7))
    assert not wrong_shares and "[MASK] share" in wrong_shares.message
    assert "not attempted" in check_mask_tokens(_stub).message
    no_labels = check_mask_tokens(lambda ids, *a: (ids, ids))
    assert not no_labels


def _pairs(documents, n_pairs, seed, same_doc_negatives=False):
    rng = np.random.default_rng(seed)
    starts = [(d, i) for d, doc in enumerate(documents) for i in range(len(doc) - 1)]
    out = []
    for k in rng.integers(len(starts), size=n_pairs):
        d, i = starts[k]
        if rng.random() < 0.5:
            out.append((documents[d][i], documents[d][i + 1], 0))
        else:
            other = d if same_doc_negatives else (d + 1 + int(rng.integers(len(documents) - 1))) % len(documents)
            out.append((documents[d][i], documents[other][int(rng.integers(len(documents[other])))], 1))
    return out


def test_nsp_checker():
    assert check_nsp_pairs(_pairs)
    wrong = check_nsp_pairs(lambda *a: _pairs(*a, same_doc_negatives=True))
    assert not wrong and "another document" in wrong.message
    assert not check_nsp_pairs(lambda docs, n, seed: [(docs[0][0], docs[0][1], 0)] * n)  # never NotNext
    assert "not attempted" in check_nsp_pairs(_stub).message


class _Right(nn.Module):
    def __init__(self, bert, n_classes):
        super().__init__()
        self.bert, self.dropout, self.head = bert, nn.Dropout(0.1), nn.Linear(bert.config.d_model, n_classes)

    def forward(self, ids, segments, attention_mask):
        return self.head(self.dropout(self.bert(ids, segments, attention_mask, heads="none").pooled))


class _FirstToken(_Right):
    def forward(self, ids, segments, attention_mask):
        return self.head(self.bert(ids, segments, attention_mask, heads="none").hidden[:, 0])


class _Frozen(_Right):
    def forward(self, ids, segments, attention_mask):
        return self.head(self.bert(ids, segments, attention_mask, heads="none").pooled.detach())


def test_classifier_checker():
    assert check_cls_classifier(_Right)
    assert not check_cls_classifier(_FirstToken)
    frozen = check_cls_classifier(_Frozen)
    assert not frozen and "gradient" in frozen.message
    assert "not attempted" in check_cls_classifier(_stub).message

"""BERT pre-training data: sentences, the packing rule, NSP pairs, batches, the loop and its evaluation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from course_utils import bert_tasks
from course_utils.bert import IS_NEXT, NOT_NEXT, Bert, BertConfig, PretrainedBert
from course_utils.bert_tasks import NspPair, collate, make_nsp_pairs, pack_pair
from course_utils.tokenization import WORDPIECE_SPECIALS, WordPiece

CLS, SEP = 2, 3


def _tiny() -> PretrainedBert:
    words = [f"w{i}" for i in range(35)]
    tokenizer = WordPiece([*WORDPIECE_SPECIALS, *words])
    torch.manual_seed(0)
    return PretrainedBert(Bert(BertConfig(vocab_size=40, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=24)),
                          tokenizer)


def _documents(n_docs: int = 6, n_sentences: int = 5) -> list[list[list[int]]]:
    return [[[5 + (d * 7 + s) % 35, 5 + (d + s * 3) % 35, 5 + s] for s in range(n_sentences)] for d in range(n_docs)]


def test_sentences():
    assert bert_tasks.chunk_sentences("a b c d e f g".split(), 3) == ["a b c", "d e f"]
    text = "The cat sat. It was happy! Was it? yes it was. \"Quote here\" he said."
    assert bert_tasks.split_sentences(text) == ["The cat sat.", "It was happy!", "Was it? yes it was.",
                                                "\"Quote here\" he said."]
    with pytest.raises(ValueError, match="words_per_sentence"):
        bert_tasks.chunk_sentences(["a"], 0)
    with pytest.raises(TypeError):
        bert_tasks.chunk_sentences("a b", 1)
    tok = _tiny().tokenizer
    assert bert_tasks.encode_documents([["w1 w2", ""], []], tok) == [[[tok["w1"], tok["w2"]]]]


def test_pack_pair_layout_and_truncation_rule():
    ids, segments = pack_pair([10, 11], [12], cls_id=CLS, sep_id=SEP, max_len=10)
    assert ids == [CLS, 10, 11, SEP, 12, SEP] and segments == [0, 0, 0, 0, 1, 1]
    # 6 + 3 tokens with room for 6: the longer segment (A) loses its last tokens until both fit
    ids, segments = pack_pair([10, 11, 12, 13, 14, 15], [20, 21, 22], cls_id=CLS, sep_id=SEP, max_len=9)
    assert ids == [CLS, 10, 11, 12, SEP, 20, 21, 22, SEP] and segments == [0] * 5 + [1] * 4
    # equally long: B is cut first, then the longer A
    ids, _ = pack_pair([10, 11, 12, 13], [20, 21, 22, 23], cls_id=CLS, sep_id=SEP, max_len=9)
    assert ids == [CLS, 10, 11, 12, SEP, 20, 21, 22, SEP]
    ids, _ = pack_pair([10, 11], [20, 21, 22, 23, 24, 25, 26], cls_id=CLS, sep_id=SEP, max_len=8)
    assert ids == [CLS, 10, 11, SEP, 20, 21, 22, SEP]
    assert pack_pair(list(range(10, 20)), cls_id=CLS, sep_id=SEP, max_len=5)[0] == [CLS, 10, 11, 12, SEP]
    with pytest.raises(ValueError, match="exceeds max_len=8"):
        pack_pair([10] * 4, [11] * 3, cls_id=CLS, sep_id=SEP, max_len=8, truncate=False)
    with pytest.raises(ValueError, match="max_len=4"):
        pack_pair([10] * 4, cls_id=CLS, sep_id=SEP, max_len=4, truncate=False)
    with pytest.raises(ValueError, match="no room"):
        pack_pair([10], [11], cls_id=CLS, sep_id=SEP, max_len=4)


def test_nsp_pairs_half_next_half_from_another_document():
    documents = _documents(n_docs=20, n_sentences=30)
    where = {tuple(s): (d, i) for d, doc in enumerate(documents) for i, s in enumerate(doc)}
    pairs = make_nsp_pairs(documents, 4000, seed=0)
    labels = torch.tensor([p.label for p in pairs]).float()
    assert abs(float(labels.mean()) - 0.5) < 0.03  # 4 standard errors
    for p in pairs:
        (da, ia), (db, ib) = where[tuple(p.a)], where[tuple(p.b)]
        if p.label == IS_NEXT:
            assert (db, ib) == (da, ia + 1)
        else:
            assert p.label == NOT_NEXT and db != da
    every = make_nsp_pairs(documents, seed=0)  # one pair per sentence that has a successor
    assert len(every) == 20 * 29 and every == make_nsp_pairs(documents, seed=0)
    assert make_nsp_pairs(documents, 50, seed=1) != make_nsp_pairs(documents, 50, seed=2)
    with pytest.raises(ValueError, match="two sentences"):
        make_nsp_pairs([[[5]], [[6]]])
    with pytest.raises(ValueError, match="two documents"):
        make_nsp_pairs([[[5], [6]]])
    with pytest.raises(ValueError, match="next_prob"):
        make_nsp_pairs(documents, next_prob=1.5)


def test_nsp_not_next_sentences_are_drawn_uniformly_over_the_corpus_sentences():
    """One long document and many short ones: a NotNext B comes from the long one as often as its share of
    the *other* documents' sentences, not as rarely as one document among many (that skew let the model
    tell NotNext by the kind of text B was)."""
    documents = [[[1000 + i] for i in range(300)]] + [[[d * 10 + 1], [d * 10 + 2]] for d in range(1, 51)]
    pairs = make_nsp_pairs(documents, 6000, seed=0)
    not_next = [p for p in pairs if p.label == NOT_NEXT]
    a_short = [p for p in not_next if p.a[0] < 1000]  # A from a short document: B from any other document
    share_long = np.mean([p.b[0] >= 1000 for p in a_short])
    expected = 300 / (300 + 49 * 2)
    assert abs(share_long - expected) < 4 * np.sqrt(expected * (1 - expected) / len(a_short))
    assert all(p.b[0] < 1000 for p in not_next if p.a[0] >= 1000)  # never A's own document
    skewed = [p for p in make_nsp_pairs(documents, 6000, seed=0, not_next_draw="document")
              if p.label == NOT_NEXT and p.a[0] < 1000]
    assert np.mean([p.b[0] >= 1000 for p in skewed]) < 0.1  # one document of 50: about 2 %
    with pytest.raises(ValueError, match="not_next_draw"):
        make_nsp_pairs(documents, 5, not_next_draw="article")


def test_collate_pads_and_labels():
    batch = collate([([2, 5, 3], [0, 0, 0]), ([2, 6, 3, 7, 3], [0, 0, 0, 1, 1])], labels=[1, 0])
    assert batch.ids.tolist() == [[2, 5, 3, 0, 0], [2, 6, 3, 7, 3]]
    assert batch.attention_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert batch.segments[1].tolist() == [0, 0, 0, 1, 1] and batch.labels.tolist() == [1, 0]
    tags = collate([([2, 5, 3], [0, 0, 0]), ([2, 3], [0, 0])], labels=[[-100, 1, -100], [-100, -100]])
    assert tags.labels.tolist() == [[-100, 1, -100], [-100, -100, -100]]
    spans = collate([([2, 5, 3], [0, 0, 0])], labels=[(1, 1)])
    assert spans.labels.tolist() == [[1, 1]]
    with pytest.raises(ValueError, match="segment ids"):
        collate([([2, 5], [0])])
    with pytest.raises(ValueError, match="at least one"):
        collate([])


def test_pretraining_loss_falls_and_evaluation_has_baselines():
    pretrained = _tiny()
    documents = _documents()
    config = bert_tasks.PretrainingConfig(steps=60, batch_size=16, learning_rate=3e-3, warmup_steps=5)
    history = bert_tasks.pretrain(pretrained, documents, config, progress=False)
    assert sum(history.losses[-10:]) / 10 < sum(history.losses[:10]) / 10 - 0.3
    heldout = bert_tasks.masked_heldout_set(documents, pretrained.tokenizer, max_len=24, seed=3)
    counts = Counter(i for doc in documents for s in doc for i in s)
    result = bert_tasks.evaluate_pretraining(pretrained.model, heldout, counts)
    assert 0 <= result.mlm_accuracy <= 1 and result.masked_positions == int((heldout[1] != -100).sum())
    assert result.pairs == 6 * 4 and 0 <= result.always_is_next_accuracy <= 1
    top = counts.most_common(1)[0][0]
    gold = heldout[1][heldout[1] != -100]
    assert result.most_frequent_accuracy == pytest.approx(float((gold == top).float().mean()))
    left = bert_tasks.evaluate_pretraining(pretrained.model, heldout, counts, causal=True)
    assert left.masked_positions == result.masked_positions
    assert set(result.as_dict()) >= {"mlm_accuracy", "nsp_accuracy", "unigram_loss"}


def test_fill_mask():
    pretrained = _tiny()
    result = bert_tasks.fill_mask(pretrained, "w1 [MASK] w3 [MASK]", top_k=3)
    assert len(result) == 2 and all(len(r) == 3 for r in result)
    probabilities = [p for _, p in result[0]]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        bert_tasks.fill_mask(pretrained, "w1 w2")
    with pytest.raises(ValueError, match="max_len=24"):
        bert_tasks.fill_mask(pretrained, "w1 " * 30 + "[MASK]")


def test_nsp_pair_is_a_value():
    assert NspPair([1], [2], 0) == NspPair([1], [2], 0)

"""Fine-tuning heads, best valid span, the tasks made from text, tag F1 (against sklearn) and features."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from course_utils import bert_finetune as ft
from course_utils.bert import Bert, BertConfig, PretrainedBert
from course_utils.tokenization import WORDPIECE_SPECIALS, train_wordpiece
from course_utils.training import evaluating

TEXTS = ["The Cat sat on the mat in NASA's garden.", "Sydney is a big city in Australia, said John Howard.",
         "the quick brown fox jumps over the lazy dog", "A UN report came out on Monday."] * 3


@pytest.fixture(scope="module")
def pretrained() -> PretrainedBert:
    tokenizer = train_wordpiece(TEXTS, 120)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=40)
    return PretrainedBert(Bert(config), tokenizer)


def test_best_span_equals_brute_force():
    torch.manual_seed(0)
    start, end = torch.randn(5, 9), torch.randn(5, 9)
    allowed = torch.rand(5, 9) > 0.3
    allowed[:, 4] = True
    spans = ft.best_span(start, end, allowed, max_answer_len=3)
    for row in range(5):
        candidates = [(i, j) for i, j in itertools.product(range(9), repeat=2)
                      if i <= j < i + 3 and allowed[row, i] and allowed[row, j]]
        expected = max(candidates, key=lambda s: float(start[row, s[0]] + end[row, s[1]]))
        assert tuple(spans[row].tolist()) == expected
    with pytest.raises(ValueError, match="allows no answer"):
        ft.best_span(start, end, torch.zeros(5, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        ft.best_span(start, end[:, :3], allowed)


def test_heads_shapes_and_fine_tuning_fits_a_tiny_task(pretrained):
    data = ft.encode_sentences(pretrained, ["cat mat", "fox dog", "cat mat", "fox dog"] * 4, [1, 0, 1, 0] * 4)
    model = ft.SequenceClassifier(pretrained.model, 2, dropout=0.0)
    losses = ft.fine_tune(model, data, epochs=30, batch_size=8, learning_rate=1e-2)
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.3
    assert ft.predict(model, data) == data.labels
    pairs = ft.encode_pairs(pretrained, [("cat", "mat"), ("fox " * 30, "dog " * 30)], [1, 0])
    assert pairs.inputs[1][1].count(1) >= 1 and len(pairs.inputs[1][0]) == 40  # truncated to max_len
    with pytest.raises(ValueError, match="n_classes"):
        ft.SequenceClassifier(pretrained.model, 1)
    mean_model = ft.SequenceClassifier(pretrained.model, 2, dropout=0.0, pooling="mean").eval()
    batch = ft.encode_sentences(pretrained, ["cat mat fox", "dog"], [1, 0]).batch([0, 1])  # the second is padded
    with torch.no_grad():
        hidden = pretrained.model(batch.ids, batch.segments, batch.attention_mask, heads="none").hidden
        expected = mean_model.head(torch.stack([hidden[i, batch.attention_mask[i]].mean(0) for i in range(2)]))
        torch.testing.assert_close(mean_model(batch), expected)
    with pytest.raises(ValueError, match="pooling"):
        ft.SequenceClassifier(pretrained.model, 2, pooling="max")
    with pytest.raises(ValueError, match="no training examples"):
        ft.fine_tune(model, ft.TaskData([], []))
    with pytest.raises(ValueError, match="labels"):
        ft.TaskData([([2, 3], [0, 0])], [])


def test_truecasing_examples_and_tagger(pretrained):
    data, words = ft.truecasing_examples(pretrained, TEXTS[:4] + ["Crème brûlée"])
    assert len(data) == 4  # the accented sentence does not line up with the lower-cased pieces
    first = data.labels[0]
    tagged = [t for t in first if t != -100]
    assert len(tagged) == len(words[0])
    assert [ft.CASE_TAGS[t] for t in tagged][:3] == ["Capitalised", "Capitalised", "lower"]
    nasa = words[0].index("NASA")
    assert tagged[nasa] == 2
    tagger = ft.TokenTagger(pretrained.model, 3)
    assert tagger(data.batch([0, 1])).shape[-1] == 3
    predicted = ft.predict(tagger, data)
    assert [len(p) for p in predicted] == [len(g) for g in data.labels]
    assert all((p == -100) == (g == -100) for row_p, row_g in zip(predicted, data.labels) for p, g in zip(row_p, row_g))


def test_tag_f1_equals_sklearn():
    from sklearn.metrics import f1_score, precision_score, recall_score

    rng = np.random.default_rng(0)
    gold = [list(rng.integers(0, 3, 12)) for _ in range(6)]
    predicted = [[g if rng.random() < 0.6 else int(rng.integers(0, 3)) for g in row] for row in gold]
    gold[0][0] = predicted[0][0] = -100
    result = ft.tag_f1(predicted, gold)
    flat_g = [g for row in gold for g in row if g != -100]
    flat_p = [p for rp, rg in zip(predicted, gold) for p, g in zip(rp, rg) if g != -100]
    assert result["f1"] == pytest.approx(f1_score(flat_g, flat_p, labels=[1, 2], average="micro"))
    assert result["precision"] == pytest.approx(precision_score(flat_g, flat_p, labels=[1, 2], average="micro"))
    assert result["recall"] == pytest.approx(recall_score(flat_g, flat_p, labels=[1, 2], average="micro"))


def test_acceptability_examples():
    sentences = [f"w{i} x{i} y{i} z{i} v{i}".split() for i in range(400)]
    texts, labels = ft.acceptability_examples(sentences, seed=0)
    assert len(texts) == 400 and abs(np.mean(labels) - 0.5) < 0.1
    for text, label, original in zip(texts, labels, sentences):
        words = text.split()
        assert (words == original) == (label == 1)
        if label == 0:
            assert sorted(words) == sorted(original) or sum(a != b for a, b in zip(words, original)) == 1
    assert ft.acceptability_examples(sentences, seed=0) == (texts, labels)


def test_span_examples_point_at_the_answer(pretrained):
    passages = [t.lower().replace(".", "").replace(",", "").split() for t in TEXTS[:4]]
    data, texts = ft.span_examples(pretrained, passages, question_words=2, per_passage=2)
    assert len(data) >= 4
    tok = pretrained.tokenizer
    for (ids, segments), (start, end), (question, passage, answer) in zip(data.inputs, data.labels, texts):
        assert tok.decode(ids[start:end + 1]) == answer
        assert segments[start] == 1 and f" {question} {answer} " in f" {passage} "
        assert sum(passage.split()[i:i + 2] == question.split() for i in range(len(passage.split()))) == 1
    extractor = ft.SpanExtractor(pretrained.model)
    spans = ft.predict(extractor, data)
    for (ids, segments), (s, e) in zip(data.inputs, spans):
        assert s <= e and segments[s] == 1 and ids[e] != tok.sep_id


def test_sentence_features(pretrained):
    features = ft.sentence_features(pretrained, ["the cat", "word " * 100], pooling="mean")
    assert features.shape == (2, 16) and np.isfinite(features).all()
    cls = ft.sentence_features(pretrained, ["the cat"])
    with evaluating(pretrained.model):
        tok = pretrained.tokenizer
        ids = torch.tensor([[tok.cls_id, *tok.encode("the cat"), tok.sep_id]])
        expected = pretrained.model(ids, heads="none").hidden[0, 0].numpy()
    np.testing.assert_allclose(cls[0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        ft.sentence_features(pretrained, ["x"], pooling="max")


def test_lee_similarity_benchmark():
    documents, ratings = ft.lee_similarity_benchmark()
    assert len(documents) == 50 and ratings.shape == (50, 50)
    assert np.allclose(np.diag(ratings), 1.0)


def test_specials_are_the_wordpiece_ones(pretrained):
    assert pretrained.tokenizer.vocab[:5] == list(WORDPIECE_SPECIALS)

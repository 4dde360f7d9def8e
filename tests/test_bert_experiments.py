"""Notebook 07's experiment helpers: fresh models, learning curves, masking shares, mask families, widgets."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils import bert_experiments as ex
from course_utils.bert import Bert, BertConfig, PretrainedBert
from course_utils.bert_finetune import encode_sentences
from course_utils.tokenization import train_wordpiece

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "birds fly over the sea", "fish swim in the river"]


@pytest.fixture(scope="module")
def pretrained() -> PretrainedBert:
    tokenizer = train_wordpiece(TEXTS, 80)
    torch.manual_seed(0)
    return PretrainedBert(Bert(BertConfig(vocab_size=len(tokenizer), d_model=16, n_heads=2, d_ff=32, n_layers=1,
                                          max_len=16)), tokenizer)


def test_fresh_bert_copies_or_reinitialises(pretrained):
    copy = ex.fresh_bert(pretrained, from_checkpoint=True)
    assert copy is not pretrained.model and copy.training
    assert all(torch.equal(a, b) for a, b in zip(copy.parameters(), pretrained.model.parameters()))
    scratch_a = ex.fresh_bert(pretrained, from_checkpoint=False, seed=3)
    scratch_b = ex.fresh_bert(pretrained, from_checkpoint=False, seed=3)
    assert torch.equal(scratch_a.pooler.weight, scratch_b.pooler.weight)
    assert not torch.equal(scratch_a.pooler.weight, pretrained.model.pooler.weight)
    ex.fresh_bert(pretrained, from_checkpoint=True, seed=5)
    head_a = torch.nn.Linear(4, 2).weight
    torch.randn(100)  # whatever ran before does not matter
    ex.fresh_bert(pretrained, from_checkpoint=True, seed=5)
    assert torch.equal(head_a, torch.nn.Linear(4, 2).weight)


def test_accuracy_and_curve_point():
    assert ex.accuracy([1, 0, (2, 3)], [1, 1, (2, 3)]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="as many"):
        ex.accuracy([1], [1, 0])
    point = ex.CurvePoint(64, [0.7, 0.8, 0.75], [0.5, 0.6, 0.55])
    mean, se = point.difference
    assert mean == pytest.approx(0.2) and se == pytest.approx(0.0, abs=1e-12)
    point = ex.CurvePoint(64, [0.7, 0.8, 0.6], [0.5, 0.5, 0.5])
    mean, se = point.difference
    assert mean == pytest.approx(0.2) and se == pytest.approx(0.1 / 3**0.5)
    assert "64 examples" in point.summary() and "standard errors" in point.summary()


def test_learning_curve_runs_every_budget_and_seed(pretrained):
    texts = [t for t in TEXTS for _ in range(6)]
    labels = [int("the" in t.split()[:1]) for t in texts]
    data = encode_sentences(pretrained, texts, labels)
    points = ex.learning_curve(pretrained, data, data, [4, 8], seeds=[0, 1], steps=3, batch_size=4)
    assert [p.n_examples for p in points] == [4, 8]
    assert all(len(p.pretrained) == len(p.scratch) == 2 for p in points)
    assert all(0 <= a <= 1 for p in points for a in p.pretrained + p.scratch)
    with pytest.raises(ValueError, match="exceeds"):
        ex.learning_curve(pretrained, data, data, [100])


def test_masking_shares_and_widget_functions(pretrained, capsys):
    tok = pretrained.tokenizer
    ids = torch.randint(5, len(tok), (200, 50), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = tok.cls_id, tok.sep_id
    shares = ex.masking_shares(ids, pretrained, 0.15)
    assert shares["tokens"] == 200 * 48 and abs(shares["chosen"] - 0.15) < 0.02
    assert shares["mask"] + shares["random"] + shares["kept"] == pytest.approx(1.0)
    assert ex.explore_masking(pretrained, ids, 0.4)["chosen"] > 0.35
    assert "chosen" in capsys.readouterr().out
    assert len(ex.explore_fill_mask(pretrained, "the [MASK] sat", top_k=2)[0]) == 2
    assert ex.explore_fill_mask(pretrained, "no mask here") == []
    assert "[MASK]" in capsys.readouterr().out
    data = encode_sentences(pretrained, TEXTS * 4, [0, 1] * 8)
    result = ex.explore_fine_tuning(pretrained, data, data, n_examples=8, steps=2)
    assert set(result) == {"pretrained", "scratch"}


def test_attention_mask_family():
    masks = ex.attention_mask_family(5, 4)
    assert bool(masks["encoder-only (BERT)"].all())
    assert torch.equal(masks["decoder-only (GPT)"], torch.ones(5, 5, dtype=torch.bool).tril())
    assert masks["encoder–decoder: cross-attention"].shape == (4, 5)


def test_validation_split_and_learning_rate_sweep(pretrained):
    sentences = [t.split() for t in TEXTS * 10]
    fit_pool, validation = ex.acceptability_validation_split(pretrained, sentences, n_validation=10)
    assert len(fit_pool) == 30 and len(validation) == 10
    everything, _ = ex.acceptability_validation_split(pretrained, sentences, n_validation=1)
    assert fit_pool.inputs == everything.inputs[:30]  # the validation examples are the last ones
    sweep = ex.learning_rate_sweep(pretrained, fit_pool, validation, [1e-3, 1e-2], n_examples=8, seeds=[0, 1],
                                   steps=2, batch_size=4, pooling="mean")
    assert list(sweep) == [1e-3, 1e-2]
    assert all(len(point.pretrained) == len(point.scratch) == 2 and point.n_examples == 8 for point in sweep.values())
    with pytest.raises(ValueError, match="nothing to fit"):
        ex.acceptability_validation_split(pretrained, sentences, n_validation=40)


def test_learning_curve_can_run_one_start_only(pretrained):
    texts = [t for t in TEXTS for _ in range(4)]
    data = encode_sentences(pretrained, texts, [i % 2 for i in range(len(texts))])
    (point,) = ex.learning_curve(pretrained, data, data, [8], seeds=[0, 1], steps=2, batch_size=4, starts=["scratch"])
    assert point.pretrained == [] and len(point.scratch) == 2
    with pytest.raises(ValueError, match="starts"):
        ex.learning_curve(pretrained, data, data, [8], starts=["both"])


def test_pseudo_log_likelihoods_equal_masking_each_piece_by_hand(pretrained):
    tok, model = pretrained.tokenizer, pretrained.model.eval()
    data = encode_sentences(pretrained, ["the cat sat", "birds fly over the sea", "a dog"], [1, 0, 1])
    scores = ex.pseudo_log_likelihoods(pretrained, data, batch_size=3)  # batches cut across sentences
    specials = {tok[s] for s in tok.specials}
    for (ids, segments), got in zip(data.inputs, scores):
        expected = []
        for t, piece in enumerate(ids):
            if piece in specials:
                continue
            masked = torch.tensor([ids])
            masked[0, t] = tok.mask_id
            with torch.no_grad():
                logits = model(masked, torch.tensor([segments]), torch.ones_like(masked, dtype=torch.bool),
                               heads="mlm").mlm_logits
            expected.append(float(logits[0, t].log_softmax(-1)[piece]))
        assert got == pytest.approx(expected, abs=1e-5)
    features = ex.plausibility_features(scores)
    assert features.shape == (3, 3)
    assert features[0].tolist() == pytest.approx([min(scores[0]), scores[0].mean(), scores[0].sum()])
    with pytest.raises(ValueError, match="at least one"):
        ex.plausibility_features([])


def test_feature_curve_uses_nested_subsets_and_learns_a_separable_feature():
    import numpy as np

    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 100)
    features = np.c_[labels * 2.0 + rng.normal(0, 0.5, 200), rng.normal(size=200)]
    curve = ex.feature_curve(features[:150], labels[:150], features[150:], labels[150:], [16, 64], seeds=[0, 1, 2])
    assert len(curve) == 2 and all(len(c) == 3 for c in curve)
    assert min(curve[1]) > 0.9  # the first feature separates the classes
    noise = rng.normal(size=(200, 2))
    assert np.mean(ex.feature_curve(noise[:150], labels[:150], noise[150:], labels[150:], [64], seeds=[0, 1, 2])) < 0.7
    with pytest.raises(ValueError, match="exceeds"):
        ex.feature_curve(features[:10], labels[:10], features, labels, [64])
    with pytest.raises(ValueError, match="NaN"):
        ex.feature_curve(np.full((20, 2), np.nan), labels[:20], features, labels, [10])


def test_slor_scores_subtract_unigram_log_probabilities_piece_by_piece(pretrained):
    import numpy as np

    tok = pretrained.tokenizer
    data = encode_sentences(pretrained, ["the cat sat", "birds fly over the sea"], [1, 0])
    scores = ex.pseudo_log_likelihoods(pretrained, data)
    unigram = np.random.default_rng(0).dirichlet(np.ones(len(tok)))
    slor = ex.slor_scores(pretrained, data, scores, unigram)
    specials = {tok[s] for s in tok.specials}
    for (ids, _), values, got in zip(data.inputs, scores, slor):
        pieces = [i for i in ids if i not in specials]
        expected = sum(v - math.log(unigram[p]) for v, p in zip(values, pieces)) / len(pieces)
        assert got == pytest.approx(expected)
    # a uniform unigram shifts every score by the same constant: the ranking of sentences is unchanged
    uniform = ex.slor_scores(pretrained, data, scores, np.full(len(tok), 1 / len(tok)))
    assert uniform == pytest.approx(ex.plausibility_features(scores)[:, 1] + math.log(len(tok)))
    with pytest.raises(ValueError, match="one unigram probability per vocabulary id"):
        ex.slor_scores(pretrained, data, scores, unigram[:-1])
    with pytest.raises(ValueError, match="positive"):
        ex.slor_scores(pretrained, data, scores, np.zeros(len(tok)))
    with pytest.raises(ValueError, match="one log-likelihood array per input"):
        ex.slor_scores(pretrained, data, scores[:1], unigram)
    with pytest.raises(ValueError, match="scored pieces"):
        ex.slor_scores(pretrained, data, [scores[1], scores[0]], unigram)

"""GPT proven equal to Hugging Face's GPT2LMHeadModel (tiny random config, weights copied, no download);
the shifted loss, perplexity, the classification head and checkpoints checked by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from course_utils.gpt import (
    GPT,
    GPTClassifier,
    GPTConfig,
    KeyValueCache,
    last_token_states,
    lm_loss,
    load_gpt,
    perplexity,
    save_gpt,
    to_hf_gpt2,
    token_log_probs,
)

transformers = pytest.importorskip("transformers")


def _config(**overrides) -> GPTConfig:
    options = dict(vocab_size=37, context_length=48, d_model=24, n_heads=4, n_layers=2, d_ff=40, dropout=0.0)
    options.update(overrides)
    return GPTConfig(**options)


def _model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    model = GPT(_config(**overrides)).double().eval()
    with torch.no_grad():  # larger than GPT-2's 0.02 initialisation so that every weight matters
        for name, parameter in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                parameter.uniform_(0.5, 1.5)
            else:
                parameter.normal_(0, 0.3)
    return model


@pytest.mark.parametrize("tie", [True, False])
def test_logits_equal_hugging_face_gpt2(tie):
    model = _model(tie_weights=tie)
    hf = to_hf_gpt2(model).eval()
    assert isinstance(hf, transformers.GPT2LMHeadModel)
    ids = torch.randint(0, 37, (3, 17), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert_close(model(ids).logits, hf(ids).logits)
        ours = model(ids, targets=ids).loss
        theirs = hf(ids, labels=ids).loss
    assert_close(ours.float(), theirs)  # HF computes its loss in float32


def test_twenty_greedy_tokens_equal_hugging_face():
    from course_utils.generation import generate

    model = _model(seed=0)
    hf = to_hf_gpt2(model).eval()
    prompt = torch.randint(0, 37, (2, 5), generator=torch.Generator().manual_seed(3))
    # greedy by hand with HF's forward (no cache), then HF's generate with its cache
    sequence = prompt
    with torch.no_grad():
        for _ in range(20):
            next_token = hf(sequence).logits[:, -1].argmax(-1, keepdim=True)
            sequence = torch.cat([sequence, next_token], dim=1)
        hf_cached = hf.generate(prompt, max_new_tokens=20, do_sample=False, use_cache=True, pad_token_id=0,
                                attention_mask=torch.ones_like(prompt))
    uncached = generate(model, prompt, max_new_tokens=20, use_cache=False)
    cached = generate(model, prompt, max_new_tokens=20, use_cache=True)
    assert torch.equal(uncached.tokens, sequence[:, 5:])
    assert torch.equal(cached.tokens, uncached.tokens)
    assert torch.equal(cached.tokens, hf_cached[:, 5:])
    assert len(set(cached.tokens.flatten().tolist())) > 5  # a varied sequence, not one token repeated


def test_cache_gives_the_same_logits_as_a_full_pass():
    model = _model(seed=4)
    ids = torch.randint(0, 37, (2, 12), generator=torch.Generator().manual_seed(5))
    full = model(ids).logits
    first = model(ids[:, :7], use_cache=True)
    assert first.cache.length == 7 and len(first.cache.layers) == 2
    second = model(ids[:, 7:10], cache=first.cache, use_cache=True)
    third = model(ids[:, 10:], cache=second.cache, use_cache=True)
    assert third.cache.length == 12
    assert_close(torch.cat([first.logits, second.logits, third.logits], dim=1), full)
    assert_close(model(ids[:1, 7:], cache=first.cache.select(torch.tensor([0]))).logits, full[:1, 7:])


def test_preallocated_cache_appends_in_place_and_older_caches_stay_valid():
    model = _model(seed=4)
    ids = torch.randint(0, 37, (2, 12), generator=torch.Generator().manual_seed(5))
    full = model(ids).logits
    cache = KeyValueCache.with_capacity(12)
    first = model(ids[:, :7], cache=cache, use_cache=True)
    storage = first.cache.storage
    assert first.cache.length == 7 and storage[0][0].shape == (2, 4, 12, 6)
    steps = [first]
    for t in range(7, 12):  # one token at a time, as generation does
        steps.append(model(ids[:, t:t + 1], cache=steps[-1].cache, use_cache=True, last_logits_only=True))
    last = steps[-1].cache
    assert last.length == 12 and last.storage is storage  # written into the one storage, never re-copied
    assert last.layers[0][0].data_ptr() == storage[0][0].data_ptr()
    assert_close(torch.cat([s.logits[:, -1:] for s in steps], dim=1), full[:, 6:])
    # An older cache extended again must not see (or overwrite) the later positions: it concatenates.
    branch = model(ids[:, 7:9].flip(1), cache=first.cache, use_cache=True)
    assert branch.cache.storage is None and branch.cache.length == 9
    assert_close(branch.logits, model(torch.cat([ids[:, :7], ids[:, 7:9].flip(1)], dim=1)).logits[:, 7:])
    assert_close(last.layers[1][1], model(ids, use_cache=True).cache.layers[1][1])  # the storage is intact
    # no room left: concatenation as well
    assert model(ids[:, :1], cache=last, use_cache=True).cache.storage is None
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        KeyValueCache.with_capacity(0)
    with pytest.raises(ValueError, match="last_logits_only"):
        model(ids, targets=ids, last_logits_only=True)


def test_attention_weights_are_causal_and_match_the_fast_path():
    model = _model(seed=6)
    ids = torch.randint(0, 37, (2, 9), generator=torch.Generator().manual_seed(7))
    out = model(ids, need_weights=True)
    assert len(out.attention) == 2 and out.attention[0].shape == (2, 4, 9, 9)
    assert_close(out.logits, model(ids).logits)
    weights = out.attention[1]
    assert torch.all(weights.triu(diagonal=1) == 0)
    assert_close(weights.sum(-1), torch.ones(2, 4, 9, dtype=weights.dtype))


def test_shifted_loss_by_hand_and_loss_mask():
    logits = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(0))
    targets = torch.randint(0, 7, (2, 5), generator=torch.Generator().manual_seed(1))
    by_hand = -sum(logits[b, t].log_softmax(-1)[targets[b, t + 1]] for b in range(2) for t in range(4)) / 8
    assert_close(lm_loss(logits, targets), by_hand)
    mask = torch.tensor([[1, 0, 0, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    kept = [(0, 2), (0, 3), (1, 0)]  # predicting positions 3, 4 of row 0 and position 1 of row 1
    by_hand = -sum(logits[b, t].log_softmax(-1)[targets[b, t + 1]] for b, t in kept) / 3
    assert_close(lm_loss(logits, targets, mask), by_hand)
    per_token = token_log_probs(logits, targets)
    assert per_token.shape == (2, 4)
    assert_close(-per_token.mean(), lm_loss(logits, targets))
    with pytest.raises(ValueError, match="selects no target"):
        lm_loss(logits, targets, torch.zeros(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least 2 positions"):
        lm_loss(logits[:, :1], targets[:, :1])


def test_perplexity_is_exp_of_mean_loss_and_restores_mode():
    model = _model(seed=8).train()
    ids = torch.randint(0, 37, (5, 10), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        expected = math.exp(float(lm_loss(model.eval()(ids).logits, ids)))
    model.train()
    assert perplexity(model, ids, batch_size=2) == pytest.approx(expected, rel=1e-6)  # float32 losses, summed in float64
    assert model.training


def test_weight_tying_shares_one_table_and_saves_parameters():
    tied, untied = GPT(_config(tie_weights=True)), GPT(_config(tie_weights=False))
    assert tied.output_weight() is tied.token_embedding.weight
    assert untied.parameter_count() - tied.parameter_count() == 37 * 24


def test_bad_inputs_give_clear_errors():
    model = _model()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 37]]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[-1, 2]]))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="context length 48"):
        model(torch.zeros(1, 49, dtype=torch.long))
    with pytest.raises(ValueError, match="long tensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(dropout=1.0)
    cache = model(torch.zeros(1, 40, dtype=torch.long), use_cache=True).cache
    with pytest.raises(ValueError, match="after 40 cached"):
        model(torch.zeros(1, 9, dtype=torch.long), cache=cache)


def test_classifier_head_reads_the_last_real_token_and_adds_the_lm_loss():
    backbone = _model(seed=10)
    classifier = GPTClassifier(backbone, 3, lm_weight=0.5).double()
    ids = torch.randint(0, 37, (2, 6), generator=torch.Generator().manual_seed(11))
    lengths = torch.tensor([6, 4])
    labels = torch.tensor([2, 0])
    out = classifier(ids, lengths, labels)
    hidden = backbone(ids).hidden
    expected_logits = classifier.head(torch.stack([hidden[0, 5], hidden[1, 3]]))
    assert_close(out.logits, expected_logits)
    assert_close(out.task_loss, F.cross_entropy(expected_logits, labels))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2], dtype=torch.bool)
    assert_close(out.lm_loss, lm_loss(backbone(ids).logits, ids, mask))
    assert_close(out.loss, out.task_loss + 0.5 * out.lm_loss)
    # right padding after the last real token does not change the prediction
    padded = ids.clone()
    padded[1, 4:] = 0
    assert_close(classifier(padded, lengths).logits, out.logits)
    assert_close(last_token_states(hidden), hidden[:, -1])
    with pytest.raises(ValueError, match="lengths"):
        last_token_states(hidden, torch.tensor([7, 1]))
    with pytest.raises(ValueError, match="n_classes"):
        GPTClassifier(backbone, 1)
    with pytest.raises(ValueError, match="λ"):
        GPTClassifier(backbone, 2, lm_weight=-1.0)
    with pytest.raises(ValueError, match="labels"):
        classifier(ids, lengths, torch.tensor([3, 0]))


def test_checkpoint_round_trip_and_other_architectures_refused(tmp_path):
    from course_utils.training import save_checkpoint

    model = GPT(_config(tie_weights=True)).eval()
    path = save_gpt(model, tmp_path / "gpt.safetensors", metadata={"metrics": {"x": 1}}, half=False)
    loaded, metadata = load_gpt(path)
    assert metadata["metrics"] == {"x": 1} and metadata["config"]["d_model"] == 24
    ids = torch.randint(0, 37, (1, 8))
    assert_close(loaded(ids).logits, model(ids).logits)
    assert loaded.output_weight() is loaded.token_embedding.weight
    other = save_checkpoint({"w": torch.zeros(2)}, tmp_path / "elmo.safetensors", {"architecture": "elmo"})
    with pytest.raises(ValueError, match="not a GPT checkpoint"):
        load_gpt(other)


def test_kv_cache_dataclass_is_empty_by_default():
    assert KeyValueCache().length == 0


def test_cross_validated_fine_tuning_learns_a_separable_task():
    from course_utils.gpt import cross_validate_classifier

    torch.manual_seed(0)
    backbone = GPT(_config())
    rng = torch.Generator().manual_seed(1)
    sequences, labels = [], []
    for i in range(40):  # label = whether the sequence ends in token 1 or token 2
        body = torch.randint(3, 37, (5,), generator=rng).tolist()
        sequences.append(body + [1 + i % 2])
        labels.append(i % 2)
    accuracies = cross_validate_classifier(backbone, sequences, labels, lm_weight=0.5, folds=4, steps=40,
                                           batch_size=8, learning_rate=3e-3)
    assert len(accuracies) == 4 and sum(accuracies) / 4 >= 0.9
    on_cpu = cross_validate_classifier(backbone, sequences, labels, lm_weight=0.5, folds=4, steps=40,
                                       batch_size=8, learning_rate=3e-3, device="cpu")
    assert on_cpu == accuracies  # the device path on the CPU gives the default's numbers
    assert next(backbone.parameters()).device.type == "cpu"  # the backbone itself is never moved
    with pytest.raises(ValueError, match="labels"):
        cross_validate_classifier(backbone, sequences, labels[:-1], lm_weight=0.0)


def test_checkpoint_paths(monkeypatch, tmp_path):
    from course_utils.gpt import CHECKPOINTS, checkpoint_path

    assert checkpoint_path("gpt").name == CHECKPOINTS["gpt"] and checkpoint_path("gpt").parent.name == "checkpoints"
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    assert checkpoint_path("icl_1layer") == tmp_path / "icl_1layer.safetensors"
    with pytest.raises(KeyError, match="unknown checkpoint"):
        checkpoint_path("bert")

"""BERT proven equal to Hugging Face's BertForPreTraining; masking statistics; checkpoints and bad input."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from course_utils import bert
from course_utils.bert import Bert, BertConfig, BertOutput, mask_tokens_for_mlm
from course_utils.tokenization import WORDPIECE_SPECIALS, WordPiece
from course_utils.training import CheckpointError, save_checkpoint

SPECIALS = list(range(len(WORDPIECE_SPECIALS)))  # [PAD] [UNK] [CLS] [SEP] [MASK] = 0..4
MASK_ID = 4


def _config(**overrides) -> BertConfig:
    options = dict(vocab_size=40, d_model=16, n_heads=4, d_ff=24, n_layers=2, max_len=12, dropout=0.0)
    options.update(overrides)
    return BertConfig(**options)


def _randomised(config: BertConfig) -> Bert:
    """A model whose every parameter is random (LayerNorms and biases too), so a copy slip would show."""
    torch.manual_seed(0)
    model = Bert(config)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return model.eval()


def _batch():
    ids = torch.tensor([[2, 7, 8, 9, 3, 10, 11, 3, 0, 0], [2, 12, 13, 3, 14, 15, 16, 17, 18, 3]])
    segments = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]])
    return ids, segments, ids != 0


def _hf_model(config: BertConfig):
    transformers = pytest.importorskip("transformers")
    hf_config = transformers.BertConfig(
        vocab_size=config.vocab_size, hidden_size=config.d_model, num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads, intermediate_size=config.d_ff, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=config.max_len,
        type_vocab_size=config.type_vocab_size, layer_norm_eps=config.layer_norm_eps, pad_token_id=config.pad_id,
        attn_implementation="eager")
    return transformers.BertForPreTraining(hf_config).eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equal_to_hugging_face_bert_for_pretraining(dtype):
    config = _config()
    ours = _randomised(config).to(dtype)
    theirs = _hf_model(config).to(dtype)
    missing, unexpected = theirs.load_state_dict(bert.huggingface_state_dict(ours), strict=False)
    assert not unexpected and all("position_ids" in name for name in missing), (missing, unexpected)
    ids, segments, keep = _batch()
    with torch.no_grad():
        out = ours(ids, segments, keep, need_weights=True)
        ref = theirs(input_ids=ids, token_type_ids=segments, attention_mask=keep.long(), output_hidden_states=True,
                     output_attentions=True)
        base = theirs.bert(input_ids=ids, token_type_ids=segments, attention_mask=keep.long())
    assert isinstance(out, BertOutput)
    assert_close(out.hidden, ref.hidden_states[-1])
    assert_close(out.pooled, base.pooler_output)
    assert_close(out.mlm_logits, ref.prediction_logits)
    assert_close(out.nsp_logits, ref.seq_relationship_logits)
    for a, b in zip(out.attention, ref.attentions):
        assert_close(a, b)
    # and with the MLM head restricted to chosen positions
    chosen = torch.zeros_like(keep)
    chosen[0, 2], chosen[1, 5] = True, True
    with torch.no_grad():
        restricted = ours(ids, segments, keep, mlm_positions=chosen).mlm_logits
    assert_close(restricted, ref.prediction_logits[chosen])


def test_a_padded_row_equals_the_same_input_alone():
    model = _randomised(_config())
    ids, segments, keep = _batch()
    with torch.no_grad():
        batched = model(ids, segments)  # default attention mask: ids != [PAD]
        alone = model(ids[:1, :8], segments[:1, :8])
    assert_close(batched.hidden[0, :8], alone.hidden[0])
    assert_close(batched.mlm_logits[0, :8], alone.mlm_logits[0])
    assert_close(batched.nsp_logits[:1], alone.nsp_logits)


def test_causal_mask_hides_the_right_context():
    model = _randomised(_config())
    ids, segments, _ = _batch()
    changed = ids.clone()
    changed[1, 6] = 20  # change one token: with a causal mask, positions before it do not move
    with torch.no_grad():
        a = model(ids, segments, causal=True).hidden
        b = model(changed, segments, causal=True).hidden
        c = model(changed, segments).hidden
    assert_close(a[1, :6], b[1, :6])
    assert not torch.allclose(a[1, 6:], b[1, 6:])
    assert not torch.allclose(a[1, :6], c[1, :6])  # without it, every position sees the change


def test_all_layers_and_heads_switch():
    model = _randomised(_config())
    ids, segments, _ = _batch()
    with torch.no_grad():
        out = model(ids, segments, heads="none", all_layers=True)
        full = model(ids, segments)
    assert out.mlm_logits is None and out.nsp_logits is None
    assert len(out.layers) == 3 and torch.equal(out.layers[-1], out.hidden)
    assert_close(out.hidden, full.hidden)
    parts = model.embeddings.parts(ids, segments)
    assert [p.shape for p in parts] == [(2, 10, 16)] * 3


def test_tied_decoder_and_initialisation():
    model = Bert(_config())
    ids, segments, _ = _batch()
    model(ids, segments).mlm_logits.sum().backward()
    assert model.embeddings.token.weight.grad is not None
    assert abs(float(model.pooler.weight.detach().std()) - model.config.initializer_range) < 0.01
    small = Bert(_config(initializer_range=0.02, position_init="normal"))
    assert abs(float(small.pooler.weight.detach().std()) - 0.02) < 0.005  # BERT's own start
    waves = Bert(_config(initializer_range=0.05, position_init="sinusoidal", position_init_scale=3.0))
    table = waves.embeddings.position.weight.detach()  # sin/cos waves rescaled to std 3 x 0.05
    assert abs(float(table.std()) - 0.15) < 1e-4
    assert torch.equal(table[0, 0::2], torch.zeros(8)) and bool((table[0, 1::2] == table[0, 1]).all())
    assert float(table[0, 1]) > 0 and not torch.allclose(table[1], table[0])
    assert torch.equal(model.embeddings.token.weight[0], torch.zeros(16))  # [PAD] row starts at zero


def test_bad_input_is_named():
    model = Bert(_config())
    with pytest.raises(ValueError, match="token ids must lie in 0..39"):
        model(torch.tensor([[2, 40, 3]]))
    with pytest.raises(ValueError, match="token ids must lie in"):
        model(torch.tensor([[2, -1, 3]]))
    with pytest.raises(ValueError, match="longer than max_len=12"):
        model(torch.full((1, 13), 5))
    with pytest.raises(ValueError, match="long tensor"):
        model(torch.ones(1, 3))
    with pytest.raises(ValueError, match="segment ids"):
        model(torch.tensor([[2, 5]]), torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match="heads"):
        model(torch.tensor([[2, 5]]), heads="all")
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        BertConfig(dropout=1.0)


# --- masking ----------------------------------------------------------------------------------------


def test_masking_statistics_on_100k_tokens():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (500, 200), generator=generator)
    ids[:, 0], ids[:, -1], ids[:, -20:-1] = 2, 3, 0  # [CLS] ... [SEP] and padding
    corrupted, labels = mask_tokens_for_mlm(ids, mask_id=MASK_ID, vocab_size=1000, special_ids=SPECIALS,
                                            generator=generator)
    chosen = labels != -100
    real = ids >= 5
    assert not bool((chosen & ~real).any())  # specials and padding are never chosen
    assert torch.equal(labels[chosen], ids[chosen])
    share = chosen.sum() / real.sum()
    masked = (corrupted[chosen] == MASK_ID).float().mean()
    kept = (corrupted[chosen] == ids[chosen]).float().mean()
    randomised = 1 - masked - kept
    # standard errors: sqrt(.15·.85/80k) = 0.13 points, sqrt(.1·.9/12k) = 0.27 points: ±1 point is > 3.5 s.e.
    assert abs(float(share) - 0.15) < 0.01
    assert abs(float(masked) - 0.80) < 0.01 and abs(float(kept) - 0.10) < 0.01 and abs(float(randomised) - 0.10) < 0.01
    assert torch.equal(corrupted[~chosen], ids[~chosen])
    assert int(corrupted[chosen & (corrupted != MASK_ID)].min()) >= 5  # random tokens are never specials


def test_masking_is_seeded_and_checks_its_input():
    ids = torch.randint(5, 50, (4, 30))
    a = mask_tokens_for_mlm(ids, mask_id=4, vocab_size=50, special_ids=SPECIALS, generator=torch.Generator().manual_seed(1))
    b = mask_tokens_for_mlm(ids, mask_id=4, vocab_size=50, special_ids=SPECIALS, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="mask_prob must lie strictly between 0 and 1"):
            mask_tokens_for_mlm(ids, mask_id=4, vocab_size=50, special_ids=SPECIALS, mask_prob=p)
    with pytest.raises(ValueError, match="token ids must lie in 0..49"):
        mask_tokens_for_mlm(ids + 50, mask_id=4, vocab_size=50, special_ids=SPECIALS)
    with pytest.raises(ValueError, match="replace_probs"):
        mask_tokens_for_mlm(ids, mask_id=4, vocab_size=50, special_ids=SPECIALS, replace_probs=(0.8, 0.3))
    with pytest.raises(ValueError, match="every id is special"):
        mask_tokens_for_mlm(torch.tensor([[0, 1]]), mask_id=1, vocab_size=2, special_ids=[0, 1])
    only_specials = torch.tensor([[2, 3, 0, 0]])
    _, labels = mask_tokens_for_mlm(only_specials, mask_id=4, vocab_size=50, special_ids=SPECIALS, mask_prob=0.99)
    assert bool((labels == -100).all())


# --- checkpoints ------------------------------------------------------------------------------------


def _pretrained(config: BertConfig) -> bert.PretrainedBert:
    vocab = [*WORDPIECE_SPECIALS] + [f"w{i}" for i in range(config.vocab_size - len(WORDPIECE_SPECIALS))]
    return bert.PretrainedBert(_randomised(config), WordPiece(vocab))


@pytest.mark.parametrize("half", [False, True])
def test_save_load_round_trip(tmp_path, half):
    config = _config()
    pretrained = _pretrained(config)
    path = bert.save_bert(pretrained, tmp_path / "b.safetensors", metrics={"mlm_accuracy": 0.5}, half=half)
    loaded = bert.load_bert(path)
    assert loaded.config == config and loaded.tokenizer.vocab == pretrained.tokenizer.vocab
    assert loaded.metadata["metrics"] == {"mlm_accuracy": 0.5} and not loaded.model.training
    ids, segments, _ = _batch()
    with torch.no_grad():
        a, b = pretrained.model(ids, segments), loaded.model(ids, segments)
    tolerance = dict(atol=0.05, rtol=0.05) if half else {}
    assert_close(a.mlm_logits, b.mlm_logits, **tolerance)
    assert loaded.special_ids == SPECIALS


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no BERT checkpoint"):
        bert.load_bert(tmp_path / "missing.safetensors")
    other = save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "other.safetensors", {"architecture": "GPT"})
    with pytest.raises(ValueError, match="not a BERT checkpoint.*'GPT'"):
        bert.load_bert(other)
    good = bert.save_bert(_pretrained(_config()), tmp_path / "good.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        bert.load_bert(corrupt)
    pretrained = _pretrained(_config())
    pretrained.tokenizer = WordPiece(pretrained.tokenizer.vocab[:-1])
    with pytest.raises(ValueError, match="vocabulary has 39 pieces"):
        bert.save_bert(pretrained, tmp_path / "x.safetensors")


def test_huggingface_state_dict_rejects_other_models():
    with pytest.raises(TypeError, match="Bert"):
        bert.huggingface_state_dict(torch.nn.Linear(2, 2))


def test_feed_forward_hidden_layer_is_not_dropped_as_in_bert():
    """BERT drops each sub-layer's output but not the FFN's hidden layer; the shared transformer keeps its
    default (dropout there too) for notebooks 05/06."""
    from torch import nn

    from course_utils.transformer import PositionWiseFeedForward

    model = Bert(BertConfig(vocab_size=30, d_model=8, n_heads=2, d_ff=16, n_layers=2, dropout=0.5))
    assert all(isinstance(block.feed_forward.dropout, nn.Identity) for block in model.encoder.layers)
    ffn = PositionWiseFeedForward(8, 16, dropout=0.5, hidden_dropout=False).train()
    x = torch.randn(3, 4, 8)
    torch.testing.assert_close(ffn(x), ffn.eval()(x))  # nothing random left in it
    default = PositionWiseFeedForward(8, 16, dropout=0.5)
    assert isinstance(default.dropout, nn.Dropout) and default.dropout.p == 0.5

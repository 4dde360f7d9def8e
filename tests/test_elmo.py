"""Tests for course_utils.elmo: shapes through every module, the direction of information flow in the
biLM (perturbation tests), ScalarMix, corpus windows and batches, save/load, bad input, and the pre-training
script (training itself and the n-gram baselines: test_elmo_training.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from elmo_stand_ins import SENTENCES, tiny_setup  # shared tiny model (tests/ is on sys.path)
from torch import nn

from course_utils import elmo
from course_utils.tokenization import Vocabulary

ROOT = Path(__file__).resolve().parents[1]


def batch_for(sentences, chars, words):
    corpus = elmo.encode_corpus(sentences, chars, words)
    windows = [(i, 0, len(s)) for i, s in enumerate(sentences)]
    return corpus, elmo.make_batch(corpus, windows)


# --- configuration and characters ---------------------------------------------------------------


def test_config_validates_and_round_trips():
    config = elmo.ElmoConfig(50, 100, filters=[[1, 4], [3, 5]])
    assert config.filters == ((1, 4), (3, 5))
    assert config.representation_dim == 2 * config.token_dim
    assert elmo.ElmoConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="hidden_size"):
        elmo.ElmoConfig(50, 100, token_dim=64, hidden_size=32)
    with pytest.raises(ValueError, match="filter"):
        elmo.ElmoConfig(50, 100, max_chars=5, filters=((6, 4),))
    with pytest.raises(ValueError, match="vocab_size"):
        elmo.ElmoConfig(50, 0)
    with pytest.raises(ValueError, match="dropout"):
        elmo.ElmoConfig(50, 10, dropout=1.0)


def test_character_vocabulary_encoding_and_unknown_characters():
    chars = elmo.CharacterVocabulary(list("abc"), max_chars=6)
    P, U, B, E = chars.PAD, chars.UNK, chars.BOW, chars.EOW
    a, b, c = (chars.encode_token(x)[1] for x in "abc")
    assert chars.encode_token("ab") == [B, a, b, E, P, P]
    assert chars.encode_token("abcabc") == [B, a, b, c, a, E]  # cut after max_chars - 2 characters
    assert chars.encode_token("<bos>") == [B, chars.BOS_CHAR, E, P, P, P]
    assert chars.encode_token("<eos>") == [B, chars.EOS_CHAR, E, P, P, P]
    # Unknown characters: mapped to <unk-char> by default, or a KeyError that names them.
    assert chars.encode_token("a☃") == [B, a, U, E, P, P]
    with pytest.raises(KeyError, match="☃"):
        chars.encode_token("a☃", unknown="error")
    assert chars.encode_tokens(["a", "bc"]).shape == (2, 6)
    assert chars.encode_tokens([]).shape == (0, 6)
    with pytest.raises(ValueError, match="non-empty"):
        chars.encode_token("")
    with pytest.raises(ValueError, match="without spaces"):
        chars.encode_token("two words")
    with pytest.raises(TypeError, match="strings"):
        chars.encode_token(3)
    with pytest.raises(TypeError, match="list of tokens"):
        chars.encode_tokens("abc")
    with pytest.raises(ValueError, match="duplicates"):
        elmo.CharacterVocabulary(["a", "a"])


def test_character_vocabulary_from_corpus_keeps_frequent_characters():
    chars = elmo.CharacterVocabulary.from_corpus([["zzz", "éé"], ["é"]], min_count=3, always="ab")
    assert chars.characters == ["z", "é", "a", "b"]
    assert len(chars) == 6 + 4


# --- shapes through every module ---------------------------------------------------------------


def test_highway_shapes_and_initial_carry():
    highway = elmo.Highway(6, layers=2)
    x = torch.randn(3, 4, 6)
    assert highway(x).shape == (3, 4, 6)
    # The gate bias starts negative, so the layer starts close to the identity ("carry").
    gate = torch.sigmoid(highway.layers[0].bias[6:])
    assert torch.all(gate < 0.5)


def test_character_encoder_shapes_and_context_free():
    model, chars, _ = tiny_setup()
    ids = torch.from_numpy(chars.encode_tokens(["the", "bank", "unseenword", "the"])).unsqueeze(0)
    out = model.encoder(ids)
    assert out.shape == (1, 4, 8)
    assert torch.allclose(out[0, 0], out[0, 3])  # same spelling, same vector
    alone = model.encoder(ids[:, 1:2])
    assert torch.allclose(alone[0, 0], out[0, 1], atol=1e-6)  # neighbours do not matter
    # An unseen word still gets a (finite, distinct) vector.
    assert torch.isfinite(out).all() and not torch.allclose(out[0, 2], out[0, 1])


def test_character_encoder_matches_a_naive_per_token_loop():
    model, chars, _ = tiny_setup()
    encoder = model.encoder
    ids = torch.from_numpy(chars.encode_tokens(["bank", "river", "bank"])).unsqueeze(0)
    x = encoder.embedding(ids[0]).transpose(1, 2)
    pooled = torch.cat([torch.relu(conv(x)).max(dim=-1).values for conv in encoder.convolutions], dim=-1)
    # relu and max commute (relu is monotone), so this equals relu(max(conv)).
    expected = encoder.projection(encoder.highway(pooled))
    assert torch.allclose(encoder(ids)[0], expected, atol=1e-6)


def test_projected_lstm_shapes():
    layer = elmo.ProjectedLSTM(8, 24)
    assert layer(torch.randn(2, 5, 8)).shape == (2, 5, 8)
    assert isinstance(elmo.ProjectedLSTM(8, 8).projection, nn.Identity)


def test_bilm_output_shapes():
    model, chars, words = tiny_setup(num_layers=2)
    _, batch = batch_for(SENTENCES, chars, words)
    longest = max(len(s) for s in SENTENCES)
    assert batch.char_ids.shape == (4, longest + 2, 10)
    assert batch.targets.shape == (4, longest)
    out = model(batch.char_ids, batch.lengths)
    assert out.layers.shape == (3, 4, longest, 16)
    assert out.forward_logits.shape == out.backward_logits.shape == (4, longest, len(words))
    # Layer 0 is the character encoder's vector duplicated, [x; x].
    x = model.encoder(batch.char_ids)[:, 1:-1]
    assert torch.allclose(out.layers[0], torch.cat([x, x], dim=-1))
    forward, backward = model.loss(batch.char_ids, batch.targets, batch.lengths)
    assert forward.shape == backward.shape == ()
    assert math.isfinite(forward.detach().item()) and math.isfinite(backward.detach().item())


def test_reverse_padded():
    x = torch.arange(10.0).reshape(2, 5, 1)
    lengths = torch.tensor([3, 5])
    flipped = elmo.reverse_padded(x, lengths)
    assert flipped[0, :, 0].tolist() == [2, 1, 0, 3, 4]
    assert flipped[1, :, 0].tolist() == [9, 8, 7, 6, 5]
    assert torch.equal(elmo.reverse_padded(flipped, lengths), x)
    with pytest.raises(ValueError, match="lengths"):
        elmo.reverse_padded(x, torch.tensor([6, 1]))


# --- information flow: neither direction sees the word it predicts --------------------------------


def perturbed_outputs(position: int):
    model, chars, words = tiny_setup(num_layers=2)
    sentence = "the bank of the river was steep".split()
    changed = list(sentence)
    changed[position] = "garden"
    ids = [torch.from_numpy(chars.encode_tokens(["<bos>", *s, "<eos>"])).unsqueeze(0) for s in (sentence, changed)]
    with torch.no_grad():
        return model(ids[0]), model(ids[1])


@pytest.mark.parametrize("position", [0, 3, 6])
def test_forward_lm_never_sees_the_word_it_predicts(position):
    a, b = perturbed_outputs(position)
    # Predictions for words 0..position depend only on earlier words: unchanged.
    assert torch.allclose(a.forward_logits[0, : position + 1], b.forward_logits[0, : position + 1], atol=1e-6)
    # ...while later predictions do read the changed word (the test would catch a dead LSTM).
    if position < 6:
        assert not torch.allclose(a.forward_logits[0, position + 1], b.forward_logits[0, position + 1], atol=1e-4)


@pytest.mark.parametrize("position", [0, 3, 6])
def test_backward_lm_never_sees_the_word_it_predicts(position):
    a, b = perturbed_outputs(position)
    assert torch.allclose(a.backward_logits[0, position:], b.backward_logits[0, position:], atol=1e-6)
    if position > 0:
        assert not torch.allclose(a.backward_logits[0, position - 1], b.backward_logits[0, position - 1], atol=1e-4)


def test_padding_does_not_change_a_sentence():
    """A short sentence batched with a longer one gets the same outputs as alone (backward included)."""
    model, chars, words = tiny_setup()
    short, long_ = SENTENCES[2], SENTENCES[1]
    _, together = batch_for([short, long_], chars, words)
    _, alone = batch_for([short], chars, words)
    with torch.no_grad():
        both = model(together.char_ids, together.lengths)
        one = model(alone.char_ids, alone.lengths)
    n = len(short)
    assert torch.allclose(both.layers[:, 0, :n], one.layers[:, 0], atol=1e-5)
    assert torch.allclose(both.backward_logits[0, :n], one.backward_logits[0], atol=1e-5)
    assert torch.allclose(both.forward_logits[0, :n], one.forward_logits[0], atol=1e-5)


def test_contextual_layers_depend_on_both_sides_but_layer0_does_not():
    model, chars, words = tiny_setup()
    pre = chars.encode_tokens(["<bos>", "the", "bank", "of", "the", "river", "<eos>"])
    post = chars.encode_tokens(["<bos>", "the", "bank", "of", "the", "money", "<eos>"])
    with torch.no_grad():
        a = model(torch.from_numpy(pre)[None]).layers[:, 0, 1]  # vectors of "bank"
        b = model(torch.from_numpy(post)[None]).layers[:, 0, 1]
    assert torch.allclose(a[0], b[0])  # layer 0: context-free
    d = model.config.token_dim
    assert torch.allclose(a[1, :d], b[1, :d])  # forward half has not read the changed word yet
    assert not torch.allclose(a[1, d:], b[1, d:], atol=1e-5)  # backward half has


# --- ScalarMix --------------------------------------------------------------------------------------


def test_scalar_mix_weights_sum_to_one_and_match_the_formula():
    mix = elmo.ScalarMix(3, initial_weights=[0.5, -1.0, 2.0], gamma=1.5)
    assert torch.isclose(mix.weights.sum(), torch.tensor(1.0))
    assert torch.all(mix.weights > 0)
    layers = torch.randn(3, 2, 4, 6)
    expected = 1.5 * sum(w * layer for w, layer in zip(torch.softmax(torch.tensor([0.5, -1.0, 2.0]), 0), layers))
    assert mix(layers).shape == (2, 4, 6)
    assert torch.allclose(mix(layers), expected, atol=1e-6)
    assert torch.allclose(mix(list(layers)), expected, atol=1e-6)
    # Uniform by default: the average of the layers.
    assert torch.allclose(elmo.ScalarMix(3, gamma=1.0)(layers), layers.mean(0), atol=1e-6)


def test_scalar_mix_learns_to_pick_a_layer():
    torch.manual_seed(0)
    layers = torch.randn(3, 64, 5)
    target = layers[2] * 2.0
    mix = elmo.ScalarMix(3)
    optimizer = torch.optim.Adam(mix.parameters(), lr=0.1)
    for _ in range(200):
        optimizer.zero_grad()
        loss = ((mix(layers) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
    assert mix.weights.argmax() == 2 and mix.weights[2] > 0.9
    with torch.no_grad():
        assert abs(float(mix.gamma) * float(mix.weights[2]) - 2.0) < 0.2


def test_scalar_mix_bad_input():
    with pytest.raises(ValueError, match="3 layers"):
        elmo.ScalarMix(3)(torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match="initial_weights"):
        elmo.ScalarMix(3, initial_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="num_layers"):
        elmo.ScalarMix(0)


# --- bad input ------------------------------------------------------------------------------------


def test_bad_input_gives_clear_errors():
    model, chars, words = tiny_setup()
    with pytest.raises(ValueError, match="shape"):
        model.encoder(torch.zeros(2, 3, dtype=torch.long))  # wrong number of dimensions
    with pytest.raises(ValueError, match="max_chars|10"):
        model.encoder(torch.zeros(1, 3, 7, dtype=torch.long))  # wrong character width
    with pytest.raises(TypeError, match="integer"):
        model.encoder(torch.zeros(1, 3, 10))
    with pytest.raises(ValueError, match=r"\[0, "):
        model.encoder(torch.full((1, 3, 10), 999, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        model(torch.from_numpy(chars.encode_tokens(["<bos>", "<eos>"]))[None])  # empty sentence
    with pytest.raises(ValueError, match="lengths"):
        model(torch.from_numpy(chars.encode_tokens(["<bos>", "a", "<eos>"]))[None], torch.tensor([2]))
    _, batch = batch_for(SENTENCES[:1], chars, words)
    with pytest.raises(ValueError, match="targets"):
        model.loss(batch.char_ids, batch.targets[:, :-1], batch.lengths)
    pretrained = elmo.PretrainedElmo(model, chars, words)
    with pytest.raises(ValueError, match="empty"):
        pretrained.embed([["the", "bank"], []])
    with pytest.raises(TypeError, match="tokenised"):
        pretrained.embed(["the", "bank"])
    with pytest.raises(ValueError, match="without spaces"):
        pretrained.embed([["the bank"]])
    with pytest.raises(KeyError, match="☃"):
        pretrained.embed([["snow☃"]], unknown="error")
    assert np.isfinite(pretrained.embed([["snow☃"]])[0]).all()  # replaced by <unk-char> by default


# --- corpus, batches, windows -----------------------------------------------------------------------


def test_encode_corpus_and_batches():
    chars, words = elmo.build_vocabularies(SENTENCES, vocab_size=5, char_min_count=1)
    assert words.words[0] == "<unk>" and len(words) == 5
    corpus = elmo.encode_corpus(SENTENCES, chars, words)
    assert corpus.tokens == sum(len(s) for s in SENTENCES)
    assert corpus.types[:2] == ["<bos>", "<eos>"]
    batch = elmo.make_batch(corpus, [(0, 1, 3), (1, 0, 2)])
    assert batch.lengths.tolist() == [3, 2]
    expected = [words[w] if w in words else words["<unk>"] for w in SENTENCES[0][1:4]]
    assert batch.targets[0].tolist() == expected
    assert batch.targets[1, 2].item() == -100  # padding
    assert batch.char_ids[0, 0].tolist() == chars.encode_token("<bos>")
    assert batch.char_ids[1, 3].tolist() == chars.encode_token("<eos>")
    with pytest.raises(ValueError, match="past the end"):
        elmo.make_batch(corpus, [(0, 5, 10)])
    with pytest.raises(ValueError, match="<unk>"):
        elmo.encode_corpus(SENTENCES, chars, Vocabulary.from_corpus(SENTENCES))


def test_windows_cover_the_corpus():
    chars, words = elmo.build_vocabularies(SENTENCES, vocab_size=10, char_min_count=1)
    corpus = elmo.encode_corpus([list("abcdefghij"), list("xyz")], chars, words)
    windows = elmo.evaluation_windows(corpus, 4)
    assert windows == [(0, 0, 4), (0, 4, 4), (0, 8, 2), (1, 0, 3)]
    assert sum(w[2] for w in windows) == corpus.tokens
    sampled = elmo.sample_windows(corpus, 4, np.random.RandomState(0))
    assert all(length <= 4 for _, _, length in sampled) and sampled


# --- save / load ------------------------------------------------------------------------------------


@pytest.mark.parametrize("half", [False, True])
def test_save_load_round_trip(tmp_path, half):
    model, chars, words = tiny_setup()
    pretrained = elmo.PretrainedElmo(model, chars, words)
    path = elmo.save_elmo(pretrained, tmp_path / "elmo.safetensors", metrics={"ppl": 1.5}, half=half)
    loaded = elmo.load_elmo(path)
    assert loaded.config == model.config
    assert loaded.words.words == words.words and loaded.chars.characters == chars.characters
    assert loaded.metadata["metrics"] == {"ppl": 1.5}
    sentences = [["the", "bank", "of", "the", "river"], ["plant"]]
    a, b = pretrained.embed(sentences), loaded.embed(sentences)
    assert [x.shape for x in a] == [(3, 5, 16), (3, 1, 16)]
    tolerance = 1e-2 if half else 1e-6
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=tolerance)
    for name, tensor in loaded.model.state_dict().items():
        assert tensor.dtype == model.state_dict()[name].dtype


def test_load_rejects_a_foreign_checkpoint(tmp_path):
    from course_utils.training import save_checkpoint

    path = save_checkpoint(nn.Linear(2, 2), tmp_path / "other.safetensors", {"note": "not elmo"})
    with pytest.raises(KeyError, match="not an ELMo checkpoint"):
        elmo.load_elmo(path)
    with pytest.raises(FileNotFoundError):
        elmo.load_elmo(tmp_path / "missing.safetensors")


def test_load_names_a_corrupt_or_mismatched_checkpoint(tmp_path):
    from course_utils.training import CheckpointError, load_checkpoint, save_checkpoint

    model, chars, words = tiny_setup()
    path = elmo.save_elmo(elmo.PretrainedElmo(model, chars, words), tmp_path / "elmo.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated.safetensors is not a readable checkpoint"):
        elmo.load_elmo(truncated)
    # ELMo metadata over weights of another shape: the config does not describe these weights
    state, metadata = load_checkpoint(None, path)
    state.pop(next(iter(state)))
    mismatched = save_checkpoint(state, tmp_path / "mismatched.safetensors", metadata)
    with pytest.raises(KeyError, match="does not hold the weights"):
        elmo.load_elmo(mismatched)


def test_embed_is_batch_independent():
    model, chars, words = tiny_setup()
    pretrained = elmo.PretrainedElmo(model, chars, words)
    together = pretrained.embed(SENTENCES, batch_size=4)
    one_by_one = pretrained.embed(SENTENCES, batch_size=1)
    for x, y in zip(together, one_by_one):
        np.testing.assert_allclose(x, y, atol=1e-5)
    upper = pretrained.embed([["The", "BANK"]])[0]
    np.testing.assert_allclose(upper, pretrained.embed([["the", "bank"]])[0], atol=1e-6)


# --- the pre-training script ------------------------------------------------------------------------


def test_pretraining_script_runs_and_the_loss_falls(tmp_path):
    output = tmp_path / "elmo_tiny.safetensors"
    metrics_path = tmp_path / "metrics.json"
    command = [sys.executable, str(ROOT / "scripts" / "pretrain_elmo.py"), "--output", str(output),
               "--metrics-out", str(metrics_path), "--steps", "25", "--batch-size", "8", "--window", "12",
               "--vocab-size", "200", "--token-dim", "16", "--hidden-size", "32", "--filters", "1:8,2:8,3:8",
               "--learning-rate", "0.01", "--max-train-articles", "3", "--max-heldout-articles", "1",
               "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics == json.loads(metrics_path.read_text())
    assert metrics["steps"] == 25
    assert metrics["mean_loss_last_10"] < metrics["mean_loss_first_10"] - 0.3
    loaded = elmo.load_elmo(output)
    assert loaded.metadata["metrics"] == metrics
    assert "--steps 25" in loaded.metadata["command"]
    assert loaded.config.hidden_size == 32 and len(loaded.words) == 200
    for key in ("heldout_perplexity_forward", "heldout_perplexity_backward", "heldout_perplexity_bigram_forward"):
        assert math.isfinite(metrics[key]) and metrics[key] > 1


def test_pretraining_script_can_continue_a_checkpoint(tmp_path):
    script = str(ROOT / "scripts" / "pretrain_elmo.py")
    tiny = ["--batch-size", "4", "--window", "8", "--vocab-size", "100", "--token-dim", "8", "--hidden-size", "16",
            "--filters", "1:4,2:4", "--max-train-articles", "1", "--max-heldout-articles", "1", "--no-progress"]
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    for extra in (["--output", str(first), "--steps", "3", "--unigram-softmax-bias"],
                  ["--output", str(second), "--steps", "2", "--init-from", str(first)]):
        result = subprocess.run([sys.executable, script, *tiny, *extra], capture_output=True, text=True, cwd=ROOT,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    a, b = elmo.load_elmo(first), elmo.load_elmo(second)
    assert a.config == b.config and a.words.words == b.words.words
    assert b.metadata["metrics"]["steps"] == 2 and "--init-from" in b.metadata["command"]
    changed = [not torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters())]
    assert any(changed)

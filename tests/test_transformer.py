"""The Transformer blocks proven equal to PyTorch's own layers; decoding, loss and schedules checked."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from course_utils.attention import causal_mask, padding_mask
from course_utils.transformer import (
    Decoder,
    DecoderBlock,
    Encoder,
    EncoderBlock,
    EncoderDecoder,
    PositionWiseFeedForward,
    TransformerConfig,
    beam_search,
    decoder_self_mask,
    greedy_decode,
    greedy_step,
    label_smoothed_cross_entropy,
    linear_warmup_schedule,
    patchify,
    sequence_log_probs,
    warmup_schedule,
)

D, H, FF = 16, 4, 24



def _config(**overrides) -> TransformerConfig:
    options = dict(src_vocab_size=7, tgt_vocab_size=6, d_model=D, n_heads=H, d_ff=FF, n_encoder_layers=2,
                   n_decoder_layers=2, dropout=0.0, max_len=12)
    options.update(overrides)
    return TransformerConfig(**options)


def _block_kwargs(norm_first: bool, activation: str = "relu") -> dict:
    return dict(dropout=0.0, activation=activation, norm_first=norm_first)


def _torch_kwargs(norm_first: bool, activation: str = "relu") -> dict:
    return dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, activation=activation, batch_first=True,
                norm_first=norm_first, dtype=torch.float64)


def _randomise_norms(module: nn.Module) -> None:
    """LayerNorms start as the identity affine map; make them non-trivial so a copy slip would show."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if isinstance(m, nn.MultiheadAttention):
                m.in_proj_bias.uniform_(-0.3, 0.3)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_block_equals_torch(norm_first, activation):
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(**_torch_kwargs(norm_first, activation)).eval()
    _randomise_norms(theirs)
    ours = EncoderBlock(D, H, FF, **_block_kwargs(norm_first, activation)).double().load_from_torch(theirs).eval()
    x = torch.randn(3, 5, D, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1])
    keep = padding_mask(lengths, 5)  # (B, 1, 1, S), True = real token
    assert_close(ours(x, keep).hidden, theirs(x, src_key_padding_mask=~keep[:, 0, 0]))
    # a causal mask (GPT-style block); torch's float mask: -inf where attention is forbidden
    causal = causal_mask(5)
    float_mask = torch.zeros(5, 5, dtype=torch.float64).masked_fill(~causal, float("-inf"))
    assert_close(ours(x, causal).hidden, theirs(x, src_mask=float_mask))
    assert_close(ours(x).hidden, theirs(x))
    assert ours(x).self_weights is None and ours(x).cross_weights is None


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_equals_torch(norm_first):
    torch.manual_seed(1)
    theirs = nn.TransformerDecoderLayer(**_torch_kwargs(norm_first)).eval()
    _randomise_norms(theirs)
    ours = DecoderBlock(D, H, FF, **_block_kwargs(norm_first)).double().load_from_torch(theirs).eval()
    x, memory = torch.randn(3, 6, D, dtype=torch.float64), torch.randn(3, 4, D, dtype=torch.float64)
    target_keep = padding_mask(torch.tensor([6, 4, 2]), 6)
    source_keep = padding_mask(torch.tensor([4, 2, 3]), 4)
    self_mask = causal_mask(6)[None, None] & target_keep  # (B, 1, T, T)
    expected = theirs(x, memory, tgt_mask=~causal_mask(6),  # torch's bool masks: True = masked out
                      tgt_key_padding_mask=~target_keep[:, 0, 0], memory_key_padding_mask=~source_keep[:, 0, 0])
    assert_close(ours(x, memory, self_mask, source_keep).hidden, expected)
    result = ours(x, memory, self_mask, source_keep, need_weights=True)
    out, self_weights, cross_weights = result.hidden, result.self_weights, result.cross_weights
    assert_close(out, expected)
    assert self_weights.shape == (3, H, 6, 6) and cross_weights.shape == (3, H, 6, 4)
    self_weights, cross_weights = self_weights.detach(), cross_weights.detach()
    assert float(self_weights.triu(1).abs().max()) == 0.0  # nothing attends to the future
    assert float(cross_weights[1, ..., 2:].abs().max()) == 0.0  # nor to source padding
    assert_close(cross_weights.sum(-1), torch.ones(3, H, 6, dtype=torch.float64))


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_equal_torch(norm_first):
    """Whole stacks, including torch's final LayerNorm for pre-LN (post-LN stacks have none)."""
    torch.manual_seed(2)
    cfg = _config(norm_first=norm_first)
    final = (lambda: nn.LayerNorm(D, dtype=torch.float64)) if norm_first else (lambda: None)
    their_encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**_torch_kwargs(norm_first)), 2, final(),
                                          enable_nested_tensor=False).eval()
    their_decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**_torch_kwargs(norm_first)), 2, final()).eval()
    _randomise_norms(their_encoder)
    _randomise_norms(their_decoder)
    encoder, decoder = Encoder(cfg).double().eval(), Decoder(cfg).double().eval()
    for ours, theirs in ((encoder, their_encoder), (decoder, their_decoder)):
        for our_layer, their_layer in zip(ours.layers, theirs.layers):
            our_layer.load_from_torch(their_layer)
        if norm_first:
            ours.norm.load_state_dict(theirs.norm.state_dict())
    src, tgt = torch.randn(2, 5, D, dtype=torch.float64), torch.randn(2, 4, D, dtype=torch.float64)
    keep = padding_mask(torch.tensor([5, 3]), 5)
    memory = encoder(src, keep).hidden
    assert_close(memory, their_encoder(src, src_key_padding_mask=~keep[:, 0, 0]))
    assert_close(decoder(tgt, memory, causal_mask(4), keep).hidden,
                 their_decoder(tgt, memory, tgt_mask=~causal_mask(4), memory_key_padding_mask=~keep[:, 0, 0]))


def test_feed_forward_is_position_wise():
    torch.manual_seed(0)
    ffn = PositionWiseFeedForward(D, FF)
    x = torch.randn(2, 5, D)
    assert_close(ffn(x)[:, 3], ffn(x[:, 3:4])[:, 0])  # each position on its own
    assert_close(ffn(x), ffn.linear2(torch.relu(ffn.linear1(x))))


def _model(**overrides) -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(_config(**overrides)).double().eval()


def test_decoder_mask_and_causality():
    target = torch.tensor([[1, 4, 5, 2], [1, 3, 0, 0]])
    mask = decoder_self_mask(target, pad_id=0)
    assert mask.shape == (2, 1, 4, 4) and mask.dtype == torch.bool
    assert torch.equal(mask[0, 0], causal_mask(4))
    assert not mask[1, 0, 3, 2] and mask[1, 0, 3, 1]  # padding is never a key
    model = _model()
    source = torch.tensor([[3, 4, 5, 2]])
    a, b = torch.tensor([[1, 3, 4, 5, 3]]), torch.tensor([[1, 3, 4, 2, 5]])
    with torch.no_grad():  # changing tokens 3.. leaves the logits at positions 0..2 unchanged
        assert_close(model(source, a).logits[:, :3], model(source, b).logits[:, :3])
        assert not torch.allclose(model(source, a).logits[:, 3:], model(source, b).logits[:, 3:])


@pytest.mark.parametrize("tie", ["none", "output", "all"])
def test_tied_embeddings(tie):
    model = _model(tie_embeddings=tie, src_vocab_size=6)
    shared_out = model.output is None
    assert shared_out == (tie != "none")
    same_table = model.source_embedding.embedding.weight is model.target_embedding.embedding.weight
    assert same_table == (tie == "all")
    result = model(torch.tensor([[3, 4, 2, 0]]), torch.tensor([[1, 5, 3]]), need_weights=True)
    logits, maps = result.logits, result.attention
    assert model(torch.tensor([[3, 4, 2, 0]]), torch.tensor([[1, 5, 3]])).attention is None
    assert logits.shape == (1, 3, 6)
    assert len(maps.encoder) == len(maps.decoder) == len(maps.cross) == 2
    assert maps.cross[0].shape == (1, H, 3, 4) and float(maps.cross[0][..., 3].detach().max()) == 0.0  # pad column


def test_greedy_equals_beam_of_one_and_step_is_argmax():
    model = _model()
    sources = torch.tensor([[3, 4, 5, 6, 2], [6, 5, 2, 0, 0], [4, 4, 4, 3, 2]])
    decoded = greedy_decode(model, sources, max_len=8)
    assert decoded.shape[0] == 3 and bool((decoded[:, 0] == 1).all())
    for i in range(3):
        best = beam_search(model, sources[i], beam_size=1, max_len=8)[0]
        row = decoded[i, 1:].tolist()
        row = row[: row.index(2) + 1] if 2 in row else row
        assert best.tokens == row
        expected = sequence_log_probs(model, sources[i : i + 1], torch.tensor([[1] + row]))
        assert math.isclose(best.log_prob, float(expected), rel_tol=1e-9, abs_tol=1e-9)
    memory, mask = model.encode(sources), model.source_mask(sources)
    prefix = torch.ones(3, 1, dtype=torch.long)
    stepped = greedy_step(model, memory, mask, prefix)
    logits = model.decode(prefix, memory, mask)[:, -1]
    logits[:, :2] = -math.inf  # <pad> and <s> are never produced
    assert torch.equal(stepped[:, 1], logits.argmax(-1))


def test_beam_search_is_exact_with_a_wide_beam_and_beats_greedy():
    """Tiny vocabulary, short outputs: a beam as wide as every prefix finds the exhaustive optimum."""
    model = _model(tgt_vocab_size=6, max_len=4)  # tokens 0..5, </s> = 2, at most 3 output tokens
    source = torch.tensor([[3, 6, 5, 2]])
    others = [3, 4, 5]  # <pad> = 0 and <s> = 1 are never generated
    candidates = [list(p) + [2] for n in range(3) for p in itertools.product(others, repeat=n)]
    candidates += [list(p) for p in itertools.product(others, repeat=3)]  # unfinished at max_len
    best_score, best_tokens = -math.inf, None
    for tokens in candidates:
        log_p = float(sequence_log_probs(model, source, torch.tensor([[1] + tokens])))
        if log_p / len(tokens) > best_score:
            best_score, best_tokens = log_p / len(tokens), tokens
    wide = beam_search(model, source, beam_size=64, max_len=4)[0]
    assert wide.tokens == best_tokens
    assert math.isclose(wide.score, best_score, rel_tol=1e-9)
    greedy = greedy_decode(model, source, max_len=4)[0, 1:].tolist()
    greedy = greedy[: greedy.index(2) + 1] if 2 in greedy else greedy
    greedy_score = float(sequence_log_probs(model, source, torch.tensor([[1] + greedy]))) / len(greedy)
    narrow = beam_search(model, source, beam_size=3, max_len=4, n_best=2)
    assert len(narrow) == 2 and narrow[0].score >= narrow[1].score
    assert narrow[0].score >= greedy_score - 1e-12
    assert wide.score >= narrow[0].score - 1e-12


def test_beam_search_not_worse_than_greedy_on_longer_outputs():
    """Longer outputs: early endings must not crowd out the beam (a bug this test once caught)."""
    model = _model(max_len=10)
    generator = torch.Generator().manual_seed(4)
    for _ in range(8):
        source = torch.randint(3, 7, (1, 5), generator=generator)
        greedy = greedy_decode(model, source, max_len=10)
        length = int((greedy[0, 1:] != 0).sum())
        greedy_score = float(sequence_log_probs(model, source, greedy)) / length
        for beam_size in (2, 4):
            best = beam_search(model, source, beam_size=beam_size, max_len=10)[0]
            assert best.score >= greedy_score - 1e-9


def test_label_smoothing_equals_torch():
    torch.manual_seed(0)
    logits = torch.randn(4, 5, 7, dtype=torch.float64) * 3
    targets = torch.randint(0, 7, (4, 5))
    targets[0, 3:] = 0  # padding, ignored
    for smoothing in (0.0, 0.1, 0.5):
        for ignore in (0, -100):
            expected = F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), ignore_index=ignore,
                                       label_smoothing=smoothing)
            assert_close(label_smoothed_cross_entropy(logits, targets, smoothing, ignore_index=ignore), expected)
    # huge logits: p underflows to 0 for most classes, the loss and its gradient stay finite
    extreme = torch.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    loss = label_smoothed_cross_entropy(extreme, torch.tensor([0]), 0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(extreme.grad).all()
    assert_close(loss, F.cross_entropy(extreme.detach(), torch.tensor([0]), label_smoothing=0.1))


def test_warmup_schedules():
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=1.0)
    scheduler = warmup_schedule(optimizer, d_model=512, warmup_steps=40)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    for step in (1, 10, 40, 41, 100):
        expected = 512**-0.5 * min(step**-0.5, step * 40**-1.5)
        assert math.isclose(rates[step - 1], expected, rel_tol=1e-12)
    assert max(rates) == rates[39] and math.isclose(max(rates), (512 * 40) ** -0.5, rel_tol=1e-12)
    optimizer = torch.optim.SGD([param], lr=0.5)
    linear = linear_warmup_schedule(optimizer, warmup_steps=4, total_steps=8)
    seen = []
    for _ in range(8):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        linear.step()
    assert_close(torch.tensor(seen), 0.5 * torch.tensor([0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0]))


def test_tiny_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = EncoderDecoder(_config(dropout=0.0, norm_first=True))
    source = torch.tensor([[3, 4, 5, 2], [6, 5, 2, 0], [4, 6, 3, 2]])
    target = torch.tensor([[1, 3, 4, 5, 2], [1, 5, 2, 0, 0], [1, 4, 4, 3, 2]])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(80):
        optimizer.zero_grad()
        loss = label_smoothed_cross_entropy(model(source, target[:, :-1]).logits, target[:, 1:], 0.0, ignore_index=0)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.02 * losses[0]
    model.eval()
    assert torch.equal(greedy_decode(model, source, max_len=5), target)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="same size"):
        TransformerConfig(src_vocab_size=3, tgt_vocab_size=4, tie_embeddings="all")
    with pytest.raises(ValueError, match="activation"):
        TransformerConfig(activation="tanh")
    with pytest.raises(ValueError, match="dropout"):
        TransformerConfig(dropout=1.0)
    model = _model()
    with pytest.raises(ValueError, match="longer than max_len"):
        model(torch.ones(1, 13, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="batch sizes"):
        model(torch.ones(2, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="must lie in 0"):
        model(torch.full((1, 3), 7), torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="long tensor"):
        model(torch.ones(1, 3), torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, torch.tensor([3, 2]), beam_size=0)
    with pytest.raises(ValueError, match="one sentence"):
        beam_search(model, torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, torch.ones(1, 3, dtype=torch.long), max_len=50)
    with pytest.raises(ValueError, match="smoothing"):
        label_smoothed_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), smoothing=1.0)
    with pytest.raises(ValueError, match="class dimension"):
        label_smoothed_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="ignore_index"):
        label_smoothed_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 0]), ignore_index=0)
    with pytest.raises(ValueError, match="lie in 0..2"):
        label_smoothed_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5]))
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        EncoderBlock(D, H, FF).load_from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="total_steps"):
        linear_warmup_schedule(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), 10, 5)


def test_patchify_cuts_images_into_tokens():
    image = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    tokens = patchify(image, 2)
    assert tokens.shape == (2, 6, 12)  # (4/2)·(6/2) patches of 3·2·2 values
    assert_close(tokens[1, 4], image[1, :, 2:4, 2:4].reshape(-1))  # second row of patches, middle patch
    assert_close(tokens, F.unfold(image, 2, stride=2).transpose(1, 2))  # torch's unfold as the oracle
    with pytest.raises(ValueError, match="divisible"):
        patchify(image, 4)


def test_token_embedding_scales_and_adds_positions():
    from course_utils.attention import sinusoidal_table
    from course_utils.transformer import TokenEmbedding, TransformerConfig

    config = TransformerConfig(src_vocab_size=11, tgt_vocab_size=11, d_model=8, n_heads=2, d_ff=16,
                               dropout=0.0, max_len=6)
    embed = TokenEmbedding(11, config).eval()
    ids = torch.tensor([[3, 1, 4, 1, 5]])
    expected = embed.embedding(ids) * math.sqrt(8) + sinusoidal_table(6, 8)[:5]
    assert_close(embed(ids), expected)
    with pytest.raises(ValueError, match="long tensor"):
        embed(ids.float())
    with pytest.raises(ValueError):
        embed(torch.zeros(1, 7, dtype=torch.long))  # longer than max_len
    with pytest.raises(ValueError, match="vocab_size"):
        TokenEmbedding(0, config)

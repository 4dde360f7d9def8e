"""Looking inside the translator: attention maps, measured alignment, greedy versus beam search, the lab."""

from __future__ import annotations

import pytest
import torch

from course_utils.translation_inspection import (
    DecodingComparison,
    TranslationLab,
    compare_decoding,
    cross_attention,
    cross_attention_alignment,
    plot_cross_attention,
    plot_self_attention,
    translation_attention,
)
from course_utils.translation_task import (
    WORD_KINDS,
    NumberTranslationTask,
    make_model,
    number_to_words,
    translate,
    word_sources,
)


def test_cross_attention_and_the_lab():
    task = NumberTranslationTask()
    model = make_model(task, d_model=32, n_heads=2, n_layers=1)
    lab = TranslationLab(task, [386331])
    lab.add(model, 0.5)
    assert lab.model(1, 2) == (model, 0.5)  # registered models are reused, not retrained
    sources, outputs, maps = cross_attention(model, task, "40712")
    assert sources == ["4", "0", "7", "1", "2", "</s>"] and len(maps) == 1
    assert maps[0].shape == (2, len(outputs), len(sources))
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, len(outputs)))
    assert len(plot_cross_attention(model, task, "40712", per_head=True).axes) == 2


def test_all_attention_maps_of_one_translation():
    task = NumberTranslationTask()
    model = make_model(task, d_model=16, n_heads=2, n_layers=2)
    maps = translation_attention(model, task, "407")
    S, T = len(maps.source), len(maps.output)
    assert maps.source == ["4", "0", "7", "</s>"]
    assert len(maps.encoder) == len(maps.decoder) == len(maps.cross) == 2
    assert maps.encoder[0].shape == (2, S, S) and maps.decoder[0].shape == (2, T, T)
    assert maps.cross[0].shape == (2, T, S)
    assert float(maps.decoder[1].triu(1).abs().max()) == 0.0  # the decoder never reads later positions
    assert cross_attention(model, task, "407")[2][1].equal(maps.cross[1])
    assert model.training  # the helper restores the mode it found
    assert len(plot_self_attention(model, task, "407").axes) == 2

def test_compare_decoding_keeps_what_each_length_penalty_would_choose():
    task = NumberTranslationTask()
    model = make_model(task, d_model=16, n_heads=2, n_layers=1)
    numbers = [7, 19, 407]
    results = compare_decoding(model, task, numbers, beam_size=3, progress=False)
    assert [r.number for r in results] == numbers and all(isinstance(r, DecodingComparison) for r in results)
    for r in results:
        assert r.reference == " ".join(number_to_words(r.number))
        assert r.greedy == translate(model, task, str(r.number))[0][0]  # beam 1 is greedy
        assert r.beam(1.0) == translate(model, task, str(r.number), beam_size=3)[0][0]
        assert 1 <= len(r.hypotheses) <= 3 and r.greedy_log_prob <= 0.0 and r.greedy_length >= 1
        # α = 0 ranks by the summed log-probability, α = 1 by its mean per token
        assert r.beam(0.0) == max(r.hypotheses, key=lambda h: h[1])[0]
        assert r.beam(1.0) == max(r.hypotheses, key=lambda h: h[1] / h[2])[0]
    with pytest.raises(ValueError, match="at least one"):
        compare_decoding(model, task, [])

def test_cross_attention_alignment_counts_words_of_right_translations():
    task = NumberTranslationTask()
    model = make_model(task, d_model=16, n_heads=2, n_layers=1)
    numbers = [7, 19, 407, 40712]
    report = cross_attention_alignment(model, task, numbers)
    counts = report.kinds
    assert set(counts) == set(WORD_KINDS)
    right = [n for n in numbers if translate(model, task, str(n))[0][0] == " ".join(number_to_words(n))]
    assert sum(c.total for c in counts.values()) == sum(len(word_sources(n)) for n in right)
    assert set(report.per_number) == set(right) and 0.0 <= report.share <= 1.0
    assert sum(h for h, _ in report.per_number.values()) == sum(c.hits for c in counts.values())
    for c in counts.values():
        assert 0 <= c.hits <= c.total == sum(c.offsets.values()) and 0.0 <= c.share <= 1.0
        assert c.hits >= c.offsets.get(0, 0)  # offset 0 is always a hit
    with pytest.raises(ValueError, match="at least one"):
        cross_attention_alignment(model, task, [])



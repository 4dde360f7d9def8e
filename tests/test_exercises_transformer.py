"""Checkers of notebook 06: a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from course_utils.exercises.transformer import check_decoder_mask, check_decoding_step
from course_utils.translation_task import NumberTranslationTask, make_model


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _mask(target, pad_id):
    T = target.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return causal[None, None] & (target != pad_id)[:, None, None, :]


def test_decoder_mask_checker(capsys):
    assert check_decoder_mask(_mask)
    assert "PASS" in capsys.readouterr().out
    no_padding = check_decoder_mask(lambda t, p: torch.ones(t.shape[1], t.shape[1], dtype=torch.bool).tril()
                                    .expand(t.shape[0], 1, -1, -1))
    assert not no_padding and "padding" in no_padding.hint
    assert not check_decoder_mask(lambda t, p: _mask(t, p).transpose(-2, -1))  # looks at the future
    wrong_dtype = check_decoder_mask(lambda t, p: _mask(t, p).float())
    assert not wrong_dtype and "dtype" in wrong_dtype.message
    stub = check_decoder_mask(_stub)
    assert not stub and "not attempted" in stub.message
    assert "FAIL" in capsys.readouterr().out


def _step(model, memory, source_mask, prefix):
    logits = model.decode(prefix, memory, source_mask)
    return torch.cat([prefix, logits[:, -1].argmax(-1, keepdim=True)], dim=1)


def test_decoding_step_checker():
    assert check_decoding_step(_step)
    first_position = check_decoding_step(
        lambda m, mem, mask, p: torch.cat([p, m.decode(p, mem, mask)[:, 0].argmax(-1, keepdim=True)], dim=1))
    assert not first_position and "last position" in first_position.hint
    assert not check_decoding_step(lambda m, mem, mask, p: p)  # forgets to append
    assert "not attempted" in check_decoding_step(_stub).message


def test_decoding_step_checker_with_a_given_model():
    task = NumberTranslationTask()
    model = make_model(task, d_model=16, n_heads=2, n_layers=1)
    # an untrained model may prefer <pad>; the reference never produces it, so only a careful answer passes
    sources = task.encode_source([12, 40712, 999])
    result = check_decoding_step(_step, model, sources, steps=2)
    banned = model.decode(torch.ones(3, 1, dtype=torch.long), model.encode(sources), model.source_mask(sources))
    picks_special = bool((banned[:, -1].argmax(-1) <= 1).any())
    assert bool(result) != picks_special


def test_hints_point_the_way_without_printing_code():
    from course_utils.exercises import transformer as checkers

    source = Path(checkers.__file__).read_text()
    hints = re.findall(r'hint = \((.*?)\)\n', source, flags=re.S)
    assert len(hints) == 2
    for hint in hints:
        assert not re.search(r"torch\.|\.tril\(|\.argmax\(|\[:, -1\]|==|!=", hint), hint

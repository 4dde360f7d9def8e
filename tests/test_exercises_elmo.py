"""Checkers of notebook 04: a right answer passes, a wrong one fails with a hint, a stub is "not attempted"."""

from __future__ import annotations

import torch

from course_utils.exercises.elmo import (
    ELMO_DEEP_OPTIONS,
    check_combine_directions,
    check_scalar_mix,
    check_what_makes_elmo_deep,
)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _mix(layers, raw_weights, gamma):
    weights = torch.softmax(raw_weights, dim=0).reshape(-1, *([1] * (layers.dim() - 1)))
    return gamma * (weights * layers).sum(0)


def _naive_mix(layers, raw_weights, gamma):
    """Right formula, but exp without subtracting the maximum overflows for large weights."""
    weights = torch.exp(raw_weights) / torch.exp(raw_weights).sum()
    return gamma * (weights.reshape(-1, *([1] * (layers.dim() - 1))) * layers).sum(0)


def test_scalar_mix_checker(capsys):
    assert check_scalar_mix(_mix)
    assert "PASS" in capsys.readouterr().out
    assert not check_scalar_mix(lambda layers, w, g: _mix(layers, w, 1.0))  # forgot gamma
    assert not check_scalar_mix(lambda layers, w, g: g * layers.mean(0))  # ignores the weights
    overflow = check_scalar_mix(_naive_mix)
    assert not overflow and "case 4" in overflow.message and "overflow" in overflow.hint
    assert "not attempted" in check_scalar_mix(_stub).message


def test_combine_directions_checker():
    assert check_combine_directions(lambda f, b: torch.cat([f, b.flip(0)], dim=-1))
    not_flipped = check_combine_directions(lambda f, b: torch.cat([f, b], dim=-1))
    assert not not_flipped and "reverse" in not_flipped.hint
    assert not check_combine_directions(lambda f, b: torch.cat([b.flip(0), f], dim=-1))  # wrong order
    assert not check_combine_directions(lambda f, b: f + b.flip(0))  # summed, wrong shape
    assert "not attempted" in check_combine_directions(_stub).message


def test_hints_point_the_way_without_giving_code():
    results = [check_scalar_mix(lambda layers, w, g: g * layers.mean(0)),
               check_combine_directions(lambda f, b: torch.cat([f, b], dim=-1)),
               check_what_makes_elmo_deep("a")]
    for result in results:
        assert not result and result.hint
        for code in ("torch.", "flip(", "softmax(", "exp(", "cat(", "reshape(", ".sum(", "dim=", "return "):
            assert code not in result.hint, (code, result.hint)


def test_what_makes_elmo_deep_checker():
    assert set(ELMO_DEEP_OPTIONS) == {"a", "b", "c", "d"}
    assert check_what_makes_elmo_deep("b") and check_what_makes_elmo_deep(" B) ")
    for wrong in "acd":
        result = check_what_makes_elmo_deep(wrong)
        assert not result and result.message
    assert "not attempted" in check_what_makes_elmo_deep(None).message
    assert "not attempted" in check_what_makes_elmo_deep(_stub).message
    assert check_what_makes_elmo_deep(lambda: "b")
    assert "not one of" in check_what_makes_elmo_deep("e").message
    assert not check_what_makes_elmo_deep(3)

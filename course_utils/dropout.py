"""Dropout with a cheaper random mask on the CPU.

Dropout (Srivastava et al., 2014) zeroes each activation with probability p while training and scales
the survivors by 1 / (1 - p), so the expected output equals the input ("inverted" dropout; at
evaluation the layer is the identity). ``torch.nn.Dropout`` draws its mask with ``bernoulli_``, which
on the CPU costs one random number per element: in a training step of notebook 08's GPT the masks took
about 7 % of the time (measured with ``torch.profiler`` on the benchmark's model, one thread).

:func:`fast_dropout` draws the same kind of mask from 15-bit uniform integers cut out of 64-bit random
words, four per word, so it asks the generator for a quarter as many numbers. The drop probability is
rounded to a multiple of 1/32768 (0.1 becomes 3277/32768 = 0.100006) and the survivors are scaled by
the exact inverse of the rounded keep probability, so the expectation is still exactly the input.
Masks come from PyTorch's generator: ``torch.manual_seed`` makes them reproducible.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LEVELS", "fast_dropout", "FastDropout"]

LEVELS = 1 << 15  # a 15-bit uniform integer per element: p is rounded to a multiple of 1/LEVELS


def _check_p(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be a number in [0, 1), got {p!r}")


def fast_dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout of ``x`` (any shape) with probability ``p`` (rounded to a multiple of 1/32768).

    Each element is kept when a fresh 15-bit uniform integer u satisfies u >= round(p · 32768), and kept
    elements are multiplied by 32768 / (32768 - round(p · 32768)). Identity when not ``training`` or
    when p rounds to 0. Differentiable in ``x`` (the gradient is the same mask times the same scale).
    """
    _check_p(p)
    cut = round(p * LEVELS)
    if not training or cut == 0 or x.numel() == 0:
        return x
    n = x.numel()
    # random_() fills int64 with uniform integers in [0, 2**63): each of the four 16-bit pieces of a
    # word has 15 uniform low bits (the top piece's sign bit is always 0, so it is masked off everywhere).
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_()
    uniform = words.view(torch.int16)[:n].view(x.shape) & (LEVELS - 1)  # same shape as x, values 0..32767
    keep = (uniform >= cut).to(x.dtype)
    return x * (keep * (LEVELS / (LEVELS - cut)))


class FastDropout(nn.Module):
    """``nn.Dropout``'s drop-in replacement built on :func:`fast_dropout` (no parameters, no buffers)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_p(p)
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

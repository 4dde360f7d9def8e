"""Interleaved timing shared by the benchmarks: ours and the peer alternate, so load changes hit both."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence


def interleaved_medians(step: Callable[[str], float], names: Sequence[str], *, warmup: int, repeats: int,
                        ) -> dict[str, float]:
    """Median seconds of ``step(name)`` (which returns the seconds one step took) for each name.

    ``warmup`` untimed rounds first, then ``repeats`` rounds in which every name runs once, in turn.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        for name in names:
            step(name)
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            times[name].append(step(name))
    return {name: statistics.median(values) for name, values in times.items()}

"""Forward + backward time of course_utils' MultiHeadAttention against torch.nn.MultiheadAttention.

Usage: ``python benchmarks/attention_vs_torch.py [--lengths 128 256 512] [--repeats 15] [--device cpu]``

Both modules hold the same weights (copied with ``to_torch``), see the same batch-first input and are
timed in the same process, interleaved (ours-fast, ours-explicit, torch, ours-fast, ...), so machine
load affects all three alike; each figure is the median over ``--repeats`` rounds after warm-up.
PyTorch's module is called with ``need_weights=False``, its fastest path (fused attention kernel).
Ours is timed twice: the fast path (``fast=True``, ``F.scaled_dot_product_attention``) and the
explicit teaching path (``fast=False``: scores, softmax and product written out).

The last line is one JSON object: ``ratio_fast`` and ``ratio_explicit`` are ours/torch, the worst
(largest) over the sequence lengths; ``per_length`` holds the medians in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils.attention import MultiHeadAttention  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(module, x: torch.Tensor, is_torch: bool) -> None:
    module.zero_grad(set_to_none=True)
    x.grad = None
    output = module(x, x, x, need_weights=False)[0] if is_torch else module(x).output
    output.sum().backward()


def measure(batch: int, d_model: int, n_heads: int, lengths: list[int], repeats: int, warmup: int,
            device: torch.device) -> dict:
    torch.manual_seed(0)
    fast = MultiHeadAttention(d_model, n_heads, fast=True).to(device).train()
    explicit = MultiHeadAttention(d_model, n_heads, fast=False).to(device).train()
    explicit.load_state_dict(fast.state_dict())
    reference = fast.to_torch().train()
    contenders = {"ours_fast": (fast, False), "ours_explicit": (explicit, False), "torch": (reference, True)}
    results = {}
    for length in lengths:
        x = torch.randn(batch, length, d_model, device=device, requires_grad=True)
        for module, is_torch in contenders.values():
            for _ in range(warmup):
                _step(module, x, is_torch)
        times = {name: [] for name in contenders}
        for _ in range(repeats):
            for name, (module, is_torch) in contenders.items():  # interleaved rounds
                _sync(device)
                start = time.perf_counter()
                _step(module, x, is_torch)
                _sync(device)
                times[name].append(time.perf_counter() - start)
        medians = {name: 1000 * statistics.median(values) for name, values in times.items()}
        results[length] = medians
        print(f"T={length:4d}  ours fast {medians['ours_fast']:8.2f} ms   ours explicit "
              f"{medians['ours_explicit']:8.2f} ms   torch {medians['torch']:8.2f} ms   "
              f"fast/torch {medians['ours_fast'] / medians['torch']:.3f}   "
              f"explicit/torch {medians['ours_explicit'] / medians['torch']:.3f}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timed rounds per length")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"d_model {args.d_model}, heads {args.heads}, forward + backward, median of {args.repeats}", flush=True)
    results = measure(args.batch, args.d_model, args.heads, args.lengths, args.repeats, args.warmup, device)
    summary = {
        "ratio_fast": round(max(r["ours_fast"] / r["torch"] for r in results.values()), 3),
        "ratio_explicit": round(max(r["ours_explicit"] / r["torch"] for r in results.values()), 3),
        "goal_ratio_fast": 1.10,
        "peer": "torch.nn.MultiheadAttention",
        "goal": {"ratio_fast": ["<=", 1.10]},  # read by benchmarks/run_all.py (make bench)
        "device": str(device),
        "threads": torch.get_num_threads(),
        "per_length": {str(t): {k: round(v, 2) for k, v in r.items()} for t, r in results.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training-step and generation speed of course_utils' GPT against Hugging Face's GPT2LMHeadModel.

Usage: ``python benchmarks/gpt_vs_hf.py [--repeats 10] [--threads 2]``

Both models have the same configuration (4 layers, d_model 256, 4 heads, context 128, vocabulary 2048,
dropout 0.1, tied embeddings) and the same weights (copied with ``to_hf_gpt2``); ``transformers`` is a
test/benchmark-only dependency and nothing is downloaded. In one process, interleaved:

* a training step (forward, loss, backward, AdamW step) on a batch of 16 x 128 tokens: tokens/s, the
  median over ``--repeats`` rounds after warm-up;
* model FLOPs utilisation: the step's FLOPs (6·N per token for the N weights that multiply activations —
  the blocks and the output projection — plus 12·L·T·d per token for attention scores and values, PaLM's
  count, Chowdhery et al. 2022, appendix B) per second, divided by the machine's measured float32 matmul
  peak (a 1024 x 1024 x 1024 product with the same thread count);
* greedy generation of 100 tokens after a 16-token prompt with the key/value cache: tokens/s.

The last line is one JSON object with ``speed_ratio`` (ours/HF training tokens/s), ``mfu`` (ours) and
``generate_ratio`` (ours/HF generation tokens/s). Goals: both ratios >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _interleaved import interleaved_medians  # noqa: E402  (benchmarks/ is on sys.path)

from course_utils.generation import generate  # noqa: E402
from course_utils.gpt import GPT, GPTConfig, to_hf_gpt2  # noqa: E402


def matmul_peak(threads: int, size: int = 1024, repeats: int = 10) -> float:
    """Best float32 GFLOP/s of a size^3 matrix product."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def step_flops(config: GPTConfig, tokens: int) -> float:
    d, L, T = config.d_model, config.n_layers, config.context_length
    block = L * (4 * d * d + 2 * d * config.d_ff)  # attention projections + feed-forward weights
    n = block + config.vocab_size * d  # + the output projection
    return tokens * (6 * n + 12 * L * T * d)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=100)
    args = parser.parse_args(argv)
    load_at_start = [round(v, 2) for v in os.getloadavg()]
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=2048, context_length=128, d_model=256, n_heads=4, n_layers=4, d_ff=1024,
                       dropout=0.1, tie_weights=True)
    ours = GPT(config).train()
    hf = to_hf_gpt2(ours).train()
    batch = torch.randint(0, config.vocab_size, (16, config.context_length))
    tokens = batch.numel()
    optimizers = {"ours": torch.optim.AdamW(ours.parameters(), lr=1e-4),
                  "hf": torch.optim.AdamW(hf.parameters(), lr=1e-4)}

    def train_step(name: str) -> float:
        model, optimizer = (ours, optimizers["ours"]) if name == "ours" else (hf, optimizers["hf"])
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = model(batch, targets=batch).loss if name == "ours" else model(batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    step = interleaved_medians(train_step, ("ours", "hf"), warmup=args.warmup, repeats=args.repeats)
    throughput = {name: tokens / seconds for name, seconds in step.items()}
    peak = matmul_peak(args.threads)
    achieved = step_flops(config, tokens) / step["ours"] / 1e9

    ours.eval()
    hf.eval()
    prompt = torch.randint(0, config.vocab_size, (1, 16), generator=torch.Generator().manual_seed(1))

    def generate_time(name: str) -> float:
        start = time.perf_counter()
        with torch.no_grad():
            if name == "ours":
                out = generate(ours, prompt, max_new_tokens=args.new_tokens).tokens
            else:
                out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=args.new_tokens,
                                  min_new_tokens=args.new_tokens, do_sample=False, use_cache=True,
                                  pad_token_id=0)[:, 16:]
        seconds = time.perf_counter() - start
        assert out.shape[1] == args.new_tokens
        return seconds

    generate_time("ours")
    generate_time("hf")
    gen = {"ours": [], "hf": []}
    for _ in range(max(3, args.repeats // 2)):
        for name in gen:
            gen[name].append(generate_time(name))
    gen_rate = {name: args.new_tokens / statistics.median(values) for name, values in gen.items()}
    same = torch.equal(generate(ours, prompt, max_new_tokens=20).tokens,
                       hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=20,
                                   do_sample=False, pad_token_id=0)[:, 16:])
    print(f"training step, {tokens} tokens: ours {step['ours'] * 1e3:.0f} ms ({throughput['ours']:,.0f} tok/s), "
          f"HF {step['hf'] * 1e3:.0f} ms ({throughput['hf']:,.0f} tok/s)")
    print(f"ours: {achieved:.1f} GFLOP/s achieved; matmul peak {peak:.1f} GFLOP/s ({args.threads} threads)")
    print(f"generation with cache: ours {gen_rate['ours']:.0f} tok/s, HF {gen_rate['hf']:.0f} tok/s; "
          f"20 greedy tokens identical: {same}")
    result = {
        "speed_ratio": round(throughput["ours"] / throughput["hf"], 3),
        "mfu": round(achieved / peak, 3),
        "generate_ratio": round(gen_rate["ours"] / gen_rate["hf"], 3),
        "ours_tokens_per_s": round(throughput["ours"]),
        "hf_tokens_per_s": round(throughput["hf"]),
        "ours_gflops": round(achieved, 1),
        "peak_gflops": round(peak, 1),
        "ours_generate_tokens_per_s": round(gen_rate["ours"], 1),
        "hf_generate_tokens_per_s": round(gen_rate["hf"], 1),
        "greedy_identical": same,
        "threads": args.threads,
        "load_average_start": load_at_start,  # 1, 5, 15 minutes: other jobs slow both models, HF's more
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "peer": "Hugging Face GPT2LMHeadModel",
        "goal": {"speed_ratio": [">=", 1.0], "generate_ratio": [">=", 1.0]},  # issue #9; read by make bench
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Forward + backward speed of course_utils' BERT against Hugging Face's BertModel with the same config.

Usage: ``python benchmarks/bert_vs_hf.py [--repeats 10] [--threads 2]``

Both encoders have 4 layers, hidden 256, 4 heads, feed-forward 1024, vocabulary 8000, 128 positions,
dropout 0.1, and the same weights (copied with ``bert.huggingface_state_dict``); ``transformers`` is a
test/benchmark-only dependency and nothing is downloaded. In one process, interleaved, each round times a
forward pass (our ``Bert`` with ``heads="none"``; HF's ``BertModel`` with its default attention
implementation), a scalar loss on the last hidden states and the backward pass, on a batch of 16
sequences of 128 tokens whose last quarter is padding in half the rows (so both use an attention mask).
Reports tokens/s, the median over ``--repeats`` rounds after warm-up, and checks that both give the same
hidden states in eval mode. The last line is one JSON object with ``speed_ratio`` (ours/HF, higher is
faster). Goal: >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _interleaved import interleaved_medians  # noqa: E402  (benchmarks/ is on sys.path)

from course_utils.bert import Bert, BertConfig, huggingface_state_dict  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, n_layers=4, max_len=128, dropout=0.1)
    ours = Bert(config)
    hf_config = transformers.BertConfig(
        vocab_size=config.vocab_size, hidden_size=config.d_model, num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads, intermediate_size=config.d_ff, hidden_act="gelu",
        hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
        max_position_embeddings=config.max_len, type_vocab_size=2, layer_norm_eps=config.layer_norm_eps,
        pad_token_id=0)
    hf_full = transformers.BertForPreTraining(hf_config)
    hf_full.load_state_dict(huggingface_state_dict(ours), strict=False)
    hf = hf_full.bert  # the encoder with its pooler: BertModel
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, config.vocab_size, (16, config.max_len), generator=generator)
    ids[::2, 96:] = 0
    keep = ids != 0
    segments = torch.zeros_like(ids)
    segments[:, 64:] = 1
    tokens = int(keep.sum())

    ours.eval()
    hf.eval()
    with torch.no_grad():
        a = ours(ids, segments, keep, heads="none").hidden
        b = hf(input_ids=ids, token_type_ids=segments, attention_mask=keep.long()).last_hidden_state
    max_difference = float((a - b)[keep].abs().max())
    ours.train()
    hf.train()

    def step(name: str) -> float:
        model = ours if name == "ours" else hf
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        if name == "ours":
            hidden = ours(ids, segments, keep, heads="none").hidden
        else:
            hidden = hf(input_ids=ids, token_type_ids=segments, attention_mask=keep.long()).last_hidden_state
        hidden.pow(2).mean().backward()
        return time.perf_counter() - start

    seconds = interleaved_medians(step, ("ours", "hf"), warmup=args.warmup, repeats=args.repeats)
    rate = {name: tokens / s for name, s in seconds.items()}
    print(f"forward+backward, {tokens} real tokens (16 x 128 with padding): ours {seconds['ours'] * 1e3:.0f} ms "
          f"({rate['ours']:,.0f} tok/s), HF BertModel {seconds['hf'] * 1e3:.0f} ms ({rate['hf']:,.0f} tok/s); "
          f"eval-mode hidden states differ by at most {max_difference:.1e}")
    result = {
        "speed_ratio": round(rate["ours"] / rate["hf"], 3),
        "ours_tokens_per_s": round(rate["ours"]),
        "hf_tokens_per_s": round(rate["hf"]),
        "max_hidden_difference": float(f"{max_difference:.2e}"),
        "hf_attention": getattr(hf.config, "_attn_implementation", "default"),
        "threads": args.threads,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "peer": "Hugging Face BertModel",
        "goal": {"speed_ratio": [">=", 1.0]},  # issue #8; read by make bench
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

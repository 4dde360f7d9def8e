"""Pre-train the course's ELMo biLM on the training articles and ship it as a small safetensors file.

Usage (the shipped checkpoint; see data/checkpoints/README.md for its measured time and metrics)::

    python scripts/pretrain_elmo.py --output data/checkpoints/elmo_wiki.safetensors

Trains the forward and backward LSTM language models of :class:`course_utils.elmo.ElmoBiLM` on the
training articles of ``data.wiki_split()`` for a fixed number of steps (seeded, so a rerun with the same
``--threads`` on the same kind of machine gives the same weights), then measures held-out perplexity of
both directions against unigram and bigram baselines on the same held-out windows. The checkpoint stores
the config, both vocabularies, the command and the metrics in its metadata. The last line printed is a
JSON object with the metrics (also written to ``--metrics-out`` when given).

Devices and processes: it trains on the device :func:`course_utils.training.choose_device` picks
(``--device`` or ``$COURSE_DEVICE`` override). Under ``torchrun`` it trains data-parallel with
DistributedDataParallel (gloo on CPU, nccl on GPU): each process takes an equal share of every batch
of ``--batch-size`` windows (which must divide evenly), so the same seed and batch size follow the same
loss curve as one process; rank 0 evaluates and writes the checkpoint::

    torchrun --standalone --nproc_per_node 2 scripts/pretrain_elmo.py --output /tmp/elmo.safetensors
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "data" / "checkpoints" / "elmo_wiki.safetensors")
    parser.add_argument("--metrics-out", type=Path, default=None, help="also write the metrics JSON here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=900, help="optimiser steps (batches)")
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--window", type=int, default=40, help="words per training/evaluation window")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--vocab-size", type=int, default=5000, help="output words, <unk> included")
    parser.add_argument("--token-dim", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--max-chars", type=int, default=20)
    parser.add_argument("--filters", type=str, default="1:32,2:32,3:64,4:128,5:128",
                        help="character convolutions as width:count pairs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids over-subscribing cores shared with other work)")
    parser.add_argument("--max-train-articles", type=int, default=None, help="fewer articles (quick tests)")
    parser.add_argument("--max-heldout-articles", type=int, default=None, help="fewer held-out articles")
    parser.add_argument("--heldout-fraction", type=float, default=0.1)
    parser.add_argument("--unigram-softmax-bias", action="store_true",
                        help="start the softmax bias at log word frequencies (faster start; off for the shipped run)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="continue training the weights (and vocabularies) of this ELMo checkpoint")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1 or mps (default: $COURSE_DEVICE, else cuda → mps → cpu)")
    parser.add_argument("--losses-out", type=Path, default=None,
                        help="write every step's training loss as a JSON list here (rank 0)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--full-precision", action="store_true", help="store float32 weights (default float16)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    from course_utils import elmo, elmo_training
    from course_utils.data import wiki_split
    from course_utils.distributed import start_script_process
    from course_utils.training import seed_everything

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    process = start_script_process(args.device, args.batch_size)
    device, distributed, main_process = process.device, process.distributed, process.is_main
    seed_everything(args.seed)
    filters = tuple(tuple(int(v) for v in pair.split(":")) for pair in args.filters.split(","))
    train_articles, heldout_articles = wiki_split(args.heldout_fraction, seed=0)
    train_tokens = [a.tokens for a in train_articles[: args.max_train_articles]]
    heldout_tokens = [a.tokens for a in heldout_articles[: args.max_heldout_articles]]
    if args.init_from is not None:
        previous = elmo.load_elmo(args.init_from)
        chars, words, model, config = previous.chars, previous.words, previous.model, previous.config
        model.train()
        print(f"continuing from {args.init_from} (its config replaces the size options)")
    else:
        chars, words = elmo.build_vocabularies(train_tokens, vocab_size=args.vocab_size, max_chars=args.max_chars)
    train = elmo.encode_corpus(train_tokens, chars, words)
    heldout = elmo.encode_corpus(heldout_tokens, chars, words)
    if args.init_from is None:
        config = elmo.ElmoConfig(
            char_vocab_size=len(chars), vocab_size=len(words), max_chars=args.max_chars, filters=filters,
            token_dim=args.token_dim, hidden_size=args.hidden_size, num_layers=args.layers, dropout=args.dropout,
        )
        model = elmo.ElmoBiLM(config)
        if args.unigram_softmax_bias:
            # Start the shared softmax at the unigram distribution (bias = log frequency), so training
            # begins at unigram perplexity instead of spending its first steps learning word frequencies.
            elmo_training.initialise_softmax_bias(model, train)
    parameters = sum(p.numel() for p in model.parameters())
    say = print if main_process else (lambda *a, **k: None)
    say(f"device {device}" + (f", {distributed.world_size} processes ({distributed.backend})" if distributed else ""))
    say(f"{len(train_tokens)} training articles ({train.tokens:,} tokens), {len(heldout_tokens)} held-out "
          f"({heldout.tokens:,} tokens); {len(chars)} characters, {len(words)} output words; "
          f"{parameters:,} parameters", flush=True)

    def report(step: int, loss: float) -> None:
        if step % 50 == 0 or step == args.steps:
            say(f"step {step:5d}  loss {loss:.4f}  ({time.perf_counter() - started:.0f} s)", flush=True)

    history = elmo_training.train_bilm(model, train, steps=args.steps, window=args.window, batch_size=args.batch_size,
                              learning_rate=args.learning_rate, seed=args.seed, progress=not args.no_progress,
                              on_step=report, device=device, distributed=distributed)
    train_seconds = time.perf_counter() - started
    if not process.finish(history.losses, args.losses_out):
        return {}
    perplexity = elmo_training.bilm_perplexity(model, heldout, window=args.window, device=device)
    baselines = elmo_training.ngram_perplexities(train, heldout, window=args.window)
    losses = history.losses
    head = sum(losses[: min(10, len(losses))]) / min(10, len(losses))
    tail = sum(losses[-min(10, len(losses)):]) / min(10, len(losses))
    metrics = {
        "heldout_perplexity_forward": round(perplexity["forward"], 2),
        "heldout_perplexity_backward": round(perplexity["backward"], 2),
        "heldout_perplexity_unigram": round(baselines["unigram"], 2),
        "heldout_perplexity_bigram_forward": round(baselines["bigram_forward"], 2),
        "heldout_perplexity_bigram_backward": round(baselines["bigram_backward"], 2),
        "heldout_tokens": heldout.tokens,
        "train_tokens": train.tokens,
        "steps": history.steps,
        "first_loss": round(losses[0], 4),
        "mean_loss_first_10": round(head, 4),
        "mean_loss_last_10": round(tail, 4),
        "parameters": parameters,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "threads": args.threads,
        "device": str(device),
        "processes": 1 if distributed is None else distributed.world_size,
        "seed": args.seed,
    }
    command = "python scripts/pretrain_elmo.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    pretrained = elmo.PretrainedElmo(model, chars, words)
    path = elmo.save_elmo(pretrained, args.output, metrics=metrics, half=not args.full_precision,
                          extra={"command": command.strip(), "window": args.window,
                                 "torch": torch.__version__.split("+")[0],
                                 "losses_every_10": [round(v, 4) for v in losses[::10]]})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    text = json.dumps(metrics)
    if args.metrics_out is not None:
        args.metrics_out.parent.mkdir(parents=True, exist_ok=True)
        args.metrics_out.write_text(text + "\n")
    print(text)
    return metrics


if __name__ == "__main__":
    main()

"""Train the course's byte-level BPE and a language model on the Wikipedia sample (GPT or a lower rung).

Usage (the shipped checkpoints; see data/checkpoints/README.md for their measured time and metrics)::

    python scripts/pretrain_gpt.py --steps 1500 --bf16 --d-model 240 --n-layers 3 --d-ff 960 --dropout 0 --learning-rate 1.5e-3 --warmup 500 --output data/checkpoints/gpt_wiki.safetensors
    python scripts/pretrain_gpt.py --steps 1500 --bf16 --d-model 240 --n-layers 3 --d-ff 960 --dropout 0 --learning-rate 1.5e-3 --warmup 500 --no-tie-weights --output data/checkpoints/gpt_wiki_untied.safetensors
    python scripts/pretrain_gpt.py --steps 1500 --bf16 --model fixed_window --output data/checkpoints/gpt_ladder_window.safetensors
    python scripts/pretrain_gpt.py --steps 1500 --bf16 --model lstm --dropout 0.1 --learning-rate 1e-2 --output data/checkpoints/gpt_ladder_lstm.safetensors
    torchrun --standalone --nproc_per_node 2 scripts/pretrain_gpt.py --threads 1 --output /tmp/gpt.safetensors
    python scripts/pretrain_gpt.py --steps 750 --bf16 --validation-articles 10 --d-model 240 --n-layers 3 --d-ff 960

Model selection without the held-out articles: ``--validation-articles K`` sets the last K training articles
aside as a validation set, learns the BPE and trains on the other training articles only, and scores the
validation windows (``validation_perplexity`` with its unigram and bigram baselines) instead of the
held-out articles, which it does not read. It writes a checkpoint only where ``--output`` is given.

Learns BPE merges on the training articles of ``data.wiki_split()`` (deterministic), encodes the articles
(separated by ``<|endoftext|>``), trains the chosen model for a fixed number of steps on random windows
(seeded; AdamW with ``--weight-decay``, linear warm-up then linear decay to 10 %), and measures held-out perplexity on the
non-overlapping ``--context-length`` windows of the held-out articles, with unigram and bigram baselines
on the same windows. The checkpoint stores the tokenizer's merges, the config, the command, the loss
curve and the metrics. The last line printed is a JSON object with the metrics.

Devices and processes: it trains on the device :func:`course_utils.training.choose_device` picks
(``--device`` or ``$COURSE_DEVICE`` override). Under ``torchrun`` it trains data-parallel with
DistributedDataParallel (gloo on CPU, nccl on GPU): every process draws the same global batch of
``--batch-size`` windows from the same seeded generator and keeps its own equal slice (the distributed
sampler of :func:`course_utils.distributed.shard_batch`), DDP averages the gradients, so the same seed and
global batch give the same losses as one process; rank 0 evaluates and writes the checkpoint.
``--bf16`` runs the forward pass under ``torch.autocast`` in bfloat16 (weights, optimiser and loss stay
float32): about twice as fast on CPUs with AVX-512 BF16.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course_utils.gpt import GPTConfig  # noqa: E402

MODELS = ("gpt", "fixed_window", "lstm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="gpt")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: the model's entry of course_utils.gpt.CHECKPOINTS in data/checkpoints")
    defaults = GPTConfig()
    for f in fields(GPTConfig):
        if f.name == "tie_weights":
            parser.add_argument("--no-tie-weights", dest="tie_weights", action="store_false",
                                help="a separate output projection instead of the token embedding")
            continue
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                            default=getattr(defaults, f.name), help=f"GPTConfig.{f.name}")
    parser.add_argument("--order", type=int, default=8, help="fixed-window LM: tokens of context")
    parser.add_argument("--hidden", type=int, default=512, help="fixed-window / LSTM hidden width")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01,
                        help="AdamW weight decay (0.01: the shipped checkpoints before it was a flag)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids over-subscribing cores shared with other work)")
    parser.add_argument("--max-train-articles", type=int, default=None, help="fewer articles (quick tests)")
    parser.add_argument("--max-heldout-articles", type=int, default=None, help="fewer held-out articles")
    parser.add_argument("--validation-articles", type=int, default=0,
                        help="model selection: hold out the last K training articles, train on the rest and "
                             "score those instead of the held-out articles (0: off, the shipped runs)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1 or mps (default: $COURSE_DEVICE, else cuda → mps → cpu)")
    parser.add_argument("--bf16", action="store_true",
                        help="autocast the forward pass to bfloat16 (float32 weights, optimiser and loss)")
    parser.add_argument("--losses-out", type=Path, default=None,
                        help="write every step's training loss as a JSON list here (rank 0)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.weight_decay < 0:
        parser.error(f"--weight-decay must be >= 0, got {args.weight_decay}")
    if args.validation_articles < 0:
        parser.error(f"--validation-articles must be >= 0, got {args.validation_articles}")
    return args


def corpus(vocab_size: int, max_train: int | None = None, max_heldout: int | None = None, validation: int = 0):
    """(tokenizer, training stream, evaluation stream) as numpy id arrays, articles separated by <|endoftext|>.

    The evaluation stream is the held-out articles, or with ``validation`` = K > 0 the last K training
    articles (then the BPE and the training stream use only the training articles before them, and the
    held-out articles are not read).
    """
    import numpy as np

    from course_utils.data import wiki_split
    from course_utils.tokenization import train_bpe

    train, heldout = wiki_split()
    train, heldout = train[:max_train], heldout[:max_heldout]
    if validation:
        if validation >= len(train):
            raise ValueError(f"--validation-articles {validation} leaves no training article (of {len(train)})")
        train, heldout = train[:-validation], train[-validation:]
    texts = [" ".join(article.tokens) for article in train]
    tokenizer = train_bpe(texts, vocab_size)

    def stream(articles) -> np.ndarray:
        ids = []
        for article in articles:
            ids += tokenizer.encode(" ".join(article.tokens)) + [tokenizer.eot_id]
        return np.array(ids, dtype=np.int64)

    return tokenizer, stream(train), stream(heldout)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.output is None and not args.validation_articles:  # a validation run writes only where told
        from course_utils.gpt import checkpoint_path

        name = {"fixed_window": "fixed_window", "lstm": "lstm"}.get(args.model, "gpt" if args.tie_weights else "gpt_untied")
        args.output = checkpoint_path(name)
    import numpy as np
    import torch

    from course_utils import ngram
    from course_utils.distributed import start_script_process
    from course_utils.gpt import GPT, save_gpt
    from course_utils.training import fit, seed_everything

    started = time.perf_counter()
    load_at_start = [round(v, 2) for v in os.getloadavg()]
    torch.set_num_threads(args.threads)
    process = start_script_process(args.device, args.batch_size)
    device, distributed = process.device, process.distributed
    say = process.say
    seed_everything(args.seed)
    tokenizer, train_ids, heldout_ids = corpus(args.vocab_size, args.max_train_articles, args.max_heldout_articles,
                                               args.validation_articles)
    config = GPTConfig(**{f.name: getattr(args, f.name) for f in fields(GPTConfig)})
    config.vocab_size = len(tokenizer)
    heldout = ngram.windows(heldout_ids, config.context_length)
    scored = "validation" if args.validation_articles else "heldout"  # the metrics' prefix
    say(f"tokenizer: {tokenizer}; {len(train_ids):,} training tokens, {heldout.numel():,} {scored} tokens in "
          f"{heldout.shape[0]} windows; {time.perf_counter() - started:.0f} s", flush=True)
    if args.model == "gpt":
        model = GPT(config)
    elif args.model == "fixed_window":
        options = dict(vocab_size=config.vocab_size, order=args.order, embedding_dim=config.d_model,
                       hidden=args.hidden)
        model = ngram.FixedWindowLM(**options)
    else:
        options = dict(vocab_size=config.vocab_size, embedding_dim=config.d_model, hidden=args.hidden,
                       dropout=config.dropout)
        model = ngram.LSTMLM(**options)
    model.to(device)
    parameters = sum(p.numel() for p in model.parameters())
    say(f"{args.model}: {parameters:,} parameters on {device}"
        + (f", {distributed.world_size} processes ({distributed.backend})" if distributed else "")
        + (", bfloat16 autocast" if args.bf16 else ""), flush=True)
    rng = np.random.RandomState(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    warmup, total = args.warmup, args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.1, 1 - 0.9 * (s - warmup) / max(1, total - warmup))))

    def batches():  # the global batch; fit() gives each process its slice and moves it to the device
        for _ in range(args.steps):
            yield ngram.random_windows(train_ids, config.context_length, args.batch_size, rng)

    def loss_fn(m, batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            logits = m(batch).logits
        return ngram.lm_loss(logits.float(), batch)

    def report(step: int, loss: float) -> None:
        if step % 100 == 0 or step == args.steps:
            say(f"step {step:5d}  loss {loss:.4f}  ({time.perf_counter() - started:.0f} s)", flush=True)

    train_start, cpu_start = time.perf_counter(), time.process_time()
    history = fit(model, batches, loss_fn, optimizer, scheduler=scheduler, grad_clip=1.0,
                  progress=not args.no_progress, on_step=report, desc=f"training {args.model}", device=device,
                  distributed=distributed)
    train_seconds = time.perf_counter() - train_start
    train_cpu_seconds = time.process_time() - cpu_start  # this process's CPU time, all its threads
    if not process.finish(history.losses, args.losses_out):
        return {}
    model.cpu()
    metrics = {
        f"{scored}_perplexity": round(ngram.perplexity(model, heldout), 2),
        f"{scored}_perplexity_unigram": round(ngram.UnigramLM(config.vocab_size).fit(train_ids).perplexity(heldout), 2),
        f"{scored}_perplexity_bigram": round(ngram.BigramLM(config.vocab_size).fit(train_ids).perplexity(heldout), 2),
        f"{scored}_tokens": int(heldout.numel()),
        "train_tokens": int(len(train_ids)),
        "parameters": parameters,
        "steps": history.steps,
        "mean_loss_last_50": round(float(np.mean(history.losses[-50:])), 4),
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "threads": args.threads,
        "device": str(device),
        "processes": 1 if distributed is None else distributed.world_size,
        "bf16": args.bf16,
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "warmup": args.warmup,
        "load_average_start": load_at_start,  # 1, 5 and 15 minutes (os.getloadavg), other jobs included
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
    }
    if args.validation_articles:
        metrics["validation_articles"] = args.validation_articles
    command = "python scripts/pretrain_gpt.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    metadata = {"tokenizer": tokenizer.to_dict(), "metrics": metrics, "command": command.strip(),
                "losses_every_10": [round(v, 4) for v in history.losses[::10]],
                "torch": torch.__version__.split("+")[0]}
    if args.output is not None:
        if args.model == "gpt":
            path = save_gpt(model, args.output, metadata=metadata)
        else:
            path = ngram.save_neural_lm(model, args.output, options=options, metadata=metadata)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    text = json.dumps(metrics)
    print(text)
    return metrics


if __name__ == "__main__":
    main()

"""Pre-train the course's mini-BERT (masked LM + next-sentence prediction) and ship it as safetensors.

Usage (the shipped checkpoint, one fresh run with the defaults; data/checkpoints/README.md records its
time and metrics)::

    torchrun --standalone --nproc_per_node 2 scripts/pretrain_bert.py --threads 1 --no-progress

Corpus: the training articles of ``data.wiki_split(0.1, seed=0)`` (as runs of ``--words-per-sentence``
words, since gensim's WikiCorpus drops punctuation) plus the Lee background news stories (split at
sentence ends). A WordPiece vocabulary is trained on the same text first. Held out: the other Wikipedia
articles, on which the script measures masked-LM accuracy and loss (against the most-frequent-token and
unigram baselines, on the same masked positions, and again on the ``[MASK]``-replaced positions alone,
where copying the visible token cannot score), NSP accuracy (against always-IsNext) and the MLM
accuracy with left context only. Every default comes from :class:`course_utils.bert.BertConfig` and
:class:`course_utils.bert_tasks.PretrainingConfig`. Seeded; it runs on the device
``course_utils.training.choose_device`` picks (a GPU when present, the same command). The last line
printed is a JSON object with the metrics.

Under ``torchrun`` it trains data-parallel (DistributedDataParallel; gloo on the CPU, nccl on GPUs):
every process draws the same global batch of ``--batch-size`` pairs and trains on its share, so the
losses are those of one process with the same seed (``tests/test_bert_pretrain_script.py`` checks it).
Rank 0 evaluates and writes the checkpoint::

    torchrun --standalone --nproc_per_node 2 scripts/pretrain_bert.py --threads 1 --output /tmp/bert.safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections import Counter
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course_utils.bert import DEFAULT_CHECKPOINT, BertConfig  # noqa: E402
from course_utils.bert_tasks import PretrainingConfig  # noqa: E402

HELP = {
    "vocab_size": "WordPiece vocabulary size (specials included)", "d_model": "hidden width",
    "n_heads": "attention heads", "d_ff": "feed-forward width", "n_layers": "encoder blocks",
    "max_len": "longest packed pair", "dropout": "dropout", "steps": "optimiser steps",
    "batch_size": "sentence pairs per step", "learning_rate": "AdamW peak learning rate",
    "warmup_steps": "linear warm-up steps", "words_per_sentence": "words per Wikipedia 'sentence'",
    "adam_beta2": "AdamW beta2", "initializer_range": "std of the initial weights",
    "position_init": "position table start: normal or sinusoidal",
    "position_init_scale": "std of a sinusoidal start, in units of initializer_range",
}
SKIP = {"type_vocab_size", "layer_norm_eps", "pad_id"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for source in (BertConfig, PretrainingConfig):
        for f in fields(source):
            if f.name in SKIP or any(a.dest == f.name for a in parser._actions):
                continue
            parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                                help=HELP.get(f.name, f.name.replace("_", " ")) + f" (default {f.default})")
    parser.add_argument("--output", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids over-subscribing cores shared with other work)")
    parser.add_argument("--max-train-articles", type=int, default=None, help="fewer articles (quick tests)")
    parser.add_argument("--max-heldout-pairs", type=int, default=None, help="fewer held-out pairs (quick tests)")
    parser.add_argument("--no-lee", action="store_true", help="Wikipedia only (no Lee news stories)")
    parser.add_argument("--full-precision", action="store_true", help="store float32 weights (default float16)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="continue pre-training this checkpoint (its vocabulary and sizes replace the size options)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: course_utils.training's choice)")
    parser.add_argument("--losses-out", type=Path, default=None, help="also write the training losses as JSON here")
    parser.add_argument("--validation-articles", type=int, default=0,
                        help="hold the last N training articles out of training and measure the curve on them "
                             "(for choosing a recipe without looking at the held-out articles)")
    parser.add_argument("--eval-every", type=int, default=500,
                        help="measure masked-LM accuracy and loss every N steps (the curve in the metadata; 0: never)")
    return parser.parse_args(argv)


def _compare_with_tokenizers(texts: list[str], heldout_texts: list[str], tokenizer) -> dict:
    """Share of held-out words split identically by the `tokenizers` WordPiece trainer (if installed)."""
    try:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    except ImportError:
        return {}
    from course_utils.tokenization import pre_tokenize

    oracle = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    oracle.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    oracle.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    oracle.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=len(tokenizer), special_tokens=list(tokenizer.specials), show_progress=False))
    words = sorted({w for text in heldout_texts for w in pre_tokenize(text)})
    same = sum(tokenizer.split_word(w) == oracle.encode(w, add_special_tokens=False).tokens for w in words)
    overlap = len(set(oracle.get_vocab()) & set(tokenizer.vocab)) / len(tokenizer)
    return {"tokenizers_heldout_words_identical": round(same / len(words), 4),
            "tokenizers_vocab_overlap": round(overlap, 4), "heldout_word_types": len(words)}


def masked_only_metrics(model, heldout, counts: Counter, mask_id: int, batch_size: int = 256) -> dict:
    """Masked-LM accuracy and loss on the held-out positions whose input is ``[MASK]`` (80 % of the chosen
    ones), with the most-frequent-token and unigram baselines on the same positions. At the other chosen
    positions the original or a random token is visible, so copying the input scores there without any
    context; these numbers show whether the model reads the context."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    inputs, labels, _ = heldout
    correct = total = 0
    nll = 0.0
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            rows = slice(start, start + batch_size)
            ids, target = inputs.ids[rows].to(device), labels[rows].to(device)
            chosen = (ids == mask_id) & (target != -100)
            out = model(ids, inputs.segments[rows].to(device), inputs.attention_mask[rows].to(device), heads="mlm",
                        mlm_positions=chosen)
            gold = target[chosen]
            correct += int((out.mlm_logits.argmax(-1) == gold).sum())
            nll += float(F.cross_entropy(out.mlm_logits.float(), gold, reduction="sum"))
            total += int(chosen.sum())
    gold_all = labels[(inputs.ids == mask_id) & (labels != -100)].numpy()
    V = model.config.vocab_size
    frequency = np.zeros(V)
    for token, count in counts.items():
        frequency[token] = count
    probabilities = (frequency + 1) / (frequency.sum() + V)
    return {"mask_only_positions": total, "mask_only_mlm_accuracy": round(correct / total, 4),
            "mask_only_mlm_loss": round(nll / total, 4),
            "mask_only_most_frequent_accuracy": round(float(np.mean(gold_all == int(frequency.argmax()))), 4),
            "mask_only_unigram_loss": round(float(-np.mean(np.log(probabilities[gold_all]))), 4)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    from course_utils import bert_tasks
    from course_utils.bert import Bert, PretrainedBert, load_bert, save_bert
    from course_utils.data import lee_documents, wiki_split
    from course_utils.distributed import start_script_process
    from course_utils.tokenization import train_wordpiece
    from course_utils.training import seed_everything

    started = time.perf_counter()
    load_before = os.getloadavg()
    torch.set_num_threads(args.threads)
    process = start_script_process(args.device, args.batch_size)
    device, distributed = process.device, process.distributed
    say = process.say
    seed_everything(args.seed)
    train_articles, heldout_articles = wiki_split(0.1, seed=0)
    train_articles = train_articles[: args.max_train_articles]
    validation_articles = []
    if args.validation_articles:
        if not 0 < args.validation_articles < len(train_articles):
            raise SystemExit(f"--validation-articles {args.validation_articles} must leave training articles "
                             f"(there are {len(train_articles)})")
        if args.validation_articles < 2:
            raise SystemExit("--validation-articles needs at least 2 articles (NotNext pairs come from another article)")
        train_articles, validation_articles = (train_articles[: -args.validation_articles],
                                               train_articles[-args.validation_articles:])
    lee = [] if args.no_lee else lee_documents()
    texts = [" ".join(a.tokens) for a in train_articles] + lee
    previous = None
    if args.init_from is not None:
        previous = load_bert(args.init_from)
        tokenizer = previous.tokenizer
    else:
        tokenizer = train_wordpiece(texts, args.vocab_size)
    documents = ([bert_tasks.chunk_sentences(a.tokens, args.words_per_sentence) for a in train_articles]
                 + [bert_tasks.split_sentences(d) for d in lee])
    train_docs = bert_tasks.encode_documents(documents, tokenizer)
    heldout_docs = bert_tasks.encode_documents(
        [bert_tasks.chunk_sentences(a.tokens, args.words_per_sentence) for a in heldout_articles], tokenizer)
    counts = Counter(i for doc in train_docs for sentence in doc for i in sentence)
    if previous is not None:
        config = previous.config
        say(f"continuing from {args.init_from} ({previous.metadata.get('metrics', {}).get('steps', '?')} steps; "
            "its vocabulary and sizes replace the size options)")
    else:
        config = BertConfig(**{f.name: getattr(args, f.name) for f in fields(BertConfig) if f.name not in SKIP})
    training = PretrainingConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainingConfig)})
    model = (previous.model.train() if previous is not None else Bert(config)).to(device)
    pretrained = PretrainedBert(model, tokenizer)
    parameters = sum(p.numel() for p in model.parameters())
    say(f"device {device}" + (f", {distributed.world_size} processes ({distributed.backend})" if distributed else "")
        + f"; {len(train_articles)} training articles + {len(lee)} Lee stories: "
          f"{sum(len(d) for d in train_docs):,} sentences, {sum(counts.values()):,} pieces; held out "
          f"{len(heldout_articles)} articles ({sum(len(d) for d in heldout_docs):,} sentences); vocabulary "
          f"{len(tokenizer)}; {parameters:,} parameters", flush=True)

    # The curve: masked-LM accuracy/loss every --eval-every steps on the validation slice of the training
    # articles (--validation-articles) or else on 1,000 held-out pairs; measured by the first process only.
    curve_docs = (bert_tasks.encode_documents([bert_tasks.chunk_sentences(a.tokens, args.words_per_sentence)
                                               for a in validation_articles], tokenizer)
                  if validation_articles else heldout_docs)
    curve_set = bert_tasks.masked_heldout_set(curve_docs, tokenizer, max_len=config.max_len,
                                              n_pairs=None if validation_articles else 1000, seed=2)
    curve: list[dict] = []
    is_main = distributed is None or distributed.is_main

    def report(step: int, loss: float) -> None:
        if args.eval_every and is_main and (step % args.eval_every == 0 or step == training.steps):
            result = bert_tasks.evaluate_pretraining(model, curve_set, counts)
            model.train()
            curve.append({"step": step, "mlm_accuracy": round(result.mlm_accuracy, 4),
                          "mlm_loss": round(result.mlm_loss, 4), "nsp_accuracy": round(result.nsp_accuracy, 4)})
            say(f"  {'validation' if validation_articles else 'held-out'} masked-LM accuracy "
                f"{result.mlm_accuracy:.2%}, loss {result.mlm_loss:.3f} (unigram {result.unigram_loss:.3f}); "
                f"NSP {result.nsp_accuracy:.1%}", flush=True)
        if step % 100 == 0 or step == training.steps:
            say(f"step {step:5d}  loss {loss:.4f}  ({time.perf_counter() - started:.0f} s)", flush=True)

    history = bert_tasks.pretrain(pretrained, train_docs, training, progress=not args.no_progress, on_step=report,
                                  device=device, distributed=distributed)
    train_seconds = time.perf_counter() - started
    if not process.finish(history.losses, args.losses_out):
        return {}
    heldout = bert_tasks.masked_heldout_set(heldout_docs, tokenizer, max_len=config.max_len,
                                            n_pairs=args.max_heldout_pairs, seed=1)
    both = bert_tasks.evaluate_pretraining(model, heldout, counts)
    left = bert_tasks.evaluate_pretraining(model, heldout, counts, causal=True)
    losses = history.losses
    k = min(20, len(losses))
    metrics = {
        **both.as_dict(),
        **masked_only_metrics(model, heldout, counts, tokenizer.mask_id),
        "mlm_accuracy_left_context_only": round(left.mlm_accuracy, 4),
        "steps": history.steps, "first_loss": round(losses[0], 4),
        "mean_loss_first_20": round(sum(losses[:k]) / k, 4), "mean_loss_last_20": round(sum(losses[-k:]) / k, 4),
        "parameters": parameters, "train_seconds": round(train_seconds, 1), "threads": args.threads,
        "processes": 1 if distributed is None else distributed.world_size,
        "device": device.type, "load_average_at_start": [round(x, 2) for x in load_before],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "seed": args.seed,
    }
    metrics.update(_compare_with_tokenizers(texts, [" ".join(a.tokens) for a in heldout_articles], tokenizer))
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)
    command = "python scripts/pretrain_bert.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    corpus = {"train": f"wiki_split(0.1, seed=0) training articles ({len(train_articles)})"
                       + ("" if args.no_lee else " + Lee background stories (300)"),
              "heldout": f"wiki_split(0.1, seed=0) held-out articles ({len(heldout_articles)})",
              "words_per_sentence": args.words_per_sentence,
              **({"validation": f"the last {len(validation_articles)} training articles, left out of training"}
                 if validation_articles else {})}
    path = save_bert(pretrained, args.output, metrics=metrics, half=not args.full_precision,
                     extra={"command": command.strip(), "corpus": corpus, "training": training.__dict__,
                            "nsp_not_next_draw": "sentence",  # see bert_tasks.make_nsp_pairs
                            **({"continued_from": {"command": previous.metadata.get("command"),
                                                   "metrics": previous.metadata.get("metrics")}}
                               if previous is not None else {}),
                            "torch": torch.__version__.split("+")[0],
                            "losses_every_10": [round(v, 4) for v in losses[::10]],
                            "curve": {"on": "validation slice" if validation_articles else "1,000 held-out pairs",
                                      "points": curve}})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()

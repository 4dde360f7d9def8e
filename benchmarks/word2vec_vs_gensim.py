"""Our skip-gram with negative sampling against gensim's Word2Vec on the Wikipedia sample, in one run.

Both train with the same dimension (100), window (5), negatives (5), min_count (5), subsampling (1e-3)
and epochs; gensim with ``workers`` = number of cores, ours with as many Hogwild threads. Speed is
in-vocabulary corpus words × epochs / training seconds (vocabulary building excluded for both);
quality is the Spearman correlation on WordSim-353 and SimLex-999 (covered pairs, scored by the same
:func:`course_utils.vectors.evaluate_similarity`). With ``--repeats`` > 1 the two trainers alternate
(gensim, ours, gensim, ours, ...) so that load from other processes hits both alike; medians are
reported. The last line printed is one JSON object with everything needed to record the run: the
medians, the ratio, the settings, the library versions, the time (UTC) and the 1-minute load average
before and after (the ratio depends on load: gensim's threads lose more than ours on a busy machine).

Usage: ``python benchmarks/word2vec_vs_gensim.py [--epochs 20] [--workers 2] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time

import gensim
import numpy as np
import torch

from course_utils.data import simlex999, wiki_articles, wordsim353
from course_utils.vectors import WordVectors, evaluate_similarity
from course_utils.word2vec import Word2VecConfig, train_word2vec


def run_gensim(sentences, args, seed: int) -> dict:
    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, sg=1, hs=0,
                     workers=args.workers, seed=seed)
    model.build_vocab(sentences)
    words = sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key)
    start, cpu = time.perf_counter(), time.process_time()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    vectors = WordVectors(model.wv.index_to_key, model.wv.vectors)
    return {"words_per_s": words * args.epochs / seconds, "seconds": seconds, "words_per_cpu_s": words * args.epochs / cpu,
            "ws353": evaluate_similarity(vectors, wordsim353()).spearman,
            "simlex": evaluate_similarity(vectors, simlex999()).spearman}


def run_ours(sentences, args, seed: int) -> dict:
    config = Word2VecConfig(dim=100, window=5, negatives=5, min_count=5, sample=1e-3, epochs=args.epochs,
                            batch_size=args.batch_size, workers=args.workers, seed=seed, lr=args.lr)
    cpu = time.process_time()
    result = train_word2vec(sentences, config, progress=False, device="cpu")  # gensim's threads run on the CPU too
    cpu = time.process_time() - cpu  # includes building the vocabulary, which gensim's figure does not
    words = result.words_per_second * result.seconds
    return {"words_per_s": result.words_per_second, "seconds": result.seconds, "words_per_cpu_s": words / cpu,
            "ws353": evaluate_similarity(result.vectors, wordsim353()).spearman,
            "simlex": evaluate_similarity(result.vectors, simlex999()).spearman}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each trainer")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=None, help="our starting learning rate (default 0.025)")
    args = parser.parse_args(argv)
    sentences = [article.tokens for article in wiki_articles()]
    load_before = os.getloadavg()[0]
    started = datetime.datetime.now(datetime.timezone.utc)
    runs: dict[str, list[dict]] = {"gensim": [], "ours": []}
    for repeat in range(args.repeats):
        for name, run in (("gensim", run_gensim), ("ours", run_ours)):
            runs[name].append(run(sentences, args, seed=repeat))
            r = runs[name][-1]
            print(f"{name:6s} run {repeat + 1}: {r['words_per_s']:,.0f} words/s ({r['seconds']:.1f} s), "
                  f"WS-353 {r['ws353']:.3f}, SimLex {r['simlex']:.3f}", flush=True)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    summary = {
        "ours_words_per_s": round(median("ours", "words_per_s")),
        "gensim_words_per_s": round(median("gensim", "words_per_s")),
        "speed_ratio": round(median("ours", "words_per_s") / median("gensim", "words_per_s"), 3),
        # CPU time (all threads) per word: less sensitive to other processes than wall time
        "cpu_ratio": round(median("ours", "words_per_cpu_s") / median("gensim", "words_per_cpu_s"), 3),
        "ours_ws353": round(median("ours", "ws353"), 4),
        "gensim_ws353": round(median("gensim", "ws353"), 4),
        "ours_simlex": round(median("ours", "simlex"), 4),
        "gensim_simlex": round(median("gensim", "simlex"), 4),
        "ws353_difference": round(median("ours", "ws353") - median("gensim", "ws353"), 4),
        "peer": "gensim Word2Vec",
        "goal": {"speed_ratio": [">=", 0.5], "ws353_difference": [">=", -0.02]},  # read by make bench
        "epochs": args.epochs,
        "workers": args.workers,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "load_average_before": round(load_before, 2),
        "started_utc": started.strftime("%Y-%m-%d %H:%M"),
        "seconds": round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1),
        "versions": {"torch": torch.__version__, "gensim": gensim.__version__, "numpy": np.__version__},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

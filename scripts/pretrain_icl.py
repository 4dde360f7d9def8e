"""Train the in-context-learning GPT (and its one-layer control) on code-generated k-shot prompts.

Usage (the shipped checkpoints; see data/checkpoints/README.md for their measured time and metrics)::

    python scripts/pretrain_icl.py --output data/checkpoints/icl_2layer.safetensors
    python scripts/pretrain_icl.py --layers 1 --output data/checkpoints/icl_1layer.safetensors

Trains :func:`course_utils.icl_tasks.train_icl` (seeded, so a rerun with the same ``--threads`` on the same
kind of machine gives the same weights) and stores, in the checkpoint's metadata, the emergence history
(held-out 8-shot accuracy per family, training loss and the induction score of every head, every
``--eval-every`` steps), the final accuracy against shots per family with and without a task description,
the command and the time. The last line printed is a JSON object with the final metrics.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course_utils.icl_tasks import ICLConfig  # noqa: E402

SHOTS = (0, 1, 2, 4, 8)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None,
                        help="default: icl_2layer / icl_1layer of course_utils.gpt.CHECKPOINTS (by --layers)")
    defaults = ICLConfig()
    for f in fields(ICLConfig):
        flag = "--" + ("layers" if f.name == "n_layers" else f.name.replace("_", "-"))
        parser.add_argument(flag, dest=f.name, type=type(getattr(defaults, f.name)), default=getattr(defaults, f.name))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids over-subscribing cores shared with other work)")
    parser.add_argument("--final-prompts", type=int, default=500, help="held-out prompts per cell of the final table")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def final_table(model, n: int, context_length: int) -> dict:
    """accuracy[description][family][shots] on held-out prompts (seeds differ from the history's)."""
    from course_utils.icl_tasks import FAMILIES, evaluation_prompts, few_shot_accuracy

    table = {}
    for description in (False, True):
        table["with_description" if description else "without_description"] = {
            family: {str(k): round(few_shot_accuracy(model, evaluation_prompts(
                family, k, n, description=description, seed=5000 + 10 * i + k, context_length=context_length)), 4)
                for k in SHOTS}
            for i, family in enumerate(FAMILIES)}
    return table


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.output is None:
        from course_utils.gpt import checkpoint_path

        args.output = checkpoint_path("icl_1layer" if args.n_layers == 1 else "icl_2layer")
    import torch

    from course_utils.gpt import save_gpt
    from course_utils.icl_tasks import induction_scores, recall_scores, train_icl
    from course_utils.training import choose_device

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    config = ICLConfig(**{f.name: getattr(args, f.name) for f in fields(ICLConfig)})
    device = choose_device()
    print(f"device {device}; {config}", flush=True)

    def report(record: dict) -> None:
        accuracy = " ".join(f"{k} {v:.2f}" for k, v in record["accuracy"].items())
        best = max(max(row) for row in record["induction"])
        recall = max(max(row) for row in record["recall"])
        print(f"step {record['step']:5d}  loss {record['loss']:.4f}  8-shot {accuracy}  best induction {best:.2f}  "
              f"recall {recall:.2f}  "
              f"({time.perf_counter() - started:.0f} s)", flush=True)

    model, history = train_icl(config, progress=not args.no_progress, on_evaluation=report, device=device)
    model = model.cpu()
    train_seconds = time.perf_counter() - started
    table = final_table(model, args.final_prompts, config.context_length)
    metrics = {
        "accuracy": table,
        "induction": [[round(float(v), 4) for v in row] for row in induction_scores(model)],
        "recall": [[round(float(v), 4) for v in row] for row in recall_scores(model)],
        "final_loss": history[-1]["loss"],
        "parameters": model.parameter_count(),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "threads": args.threads,
        "device": str(device),
    }
    command = "python scripts/pretrain_icl.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    path = save_gpt(model, args.output, half=False, metadata={
        "icl_config": config.to_dict(), "history": history, "metrics": metrics, "command": command.strip(),
        "torch": torch.__version__.split("+")[0]})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    text = json.dumps(metrics)
    print(text)
    return metrics


if __name__ == "__main__":
    main()

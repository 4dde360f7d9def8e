"""Train the in-context-learning GPT (and its one-layer control) on code-generated k-shot prompts.

Usage (the shipped checkpoints; see data/checkpoints/README.md for their measured time and metrics)::

    python scripts/pretrain_icl.py --output data/checkpoints/icl_2layer.safetensors
    python scripts/pretrain_icl.py --map-share 1 --no-arrow --no-separator --map-examples 9 --query-loss-only \
        --description-rate 0 --context-length 32 --steps 1200 --no-tie-weights --embedding-std 1 \
        --attention-std 0.09 --output data/checkpoints/icl_map_2layer.safetensors
    (the same with --layers 1 --output data/checkpoints/icl_map_1layer.safetensors: the control)

Trains :func:`course_utils.icl_tasks.train_icl` (seeded, so a rerun with the same ``--threads`` on the same
kind of machine gives the same weights) and stores, in the checkpoint's metadata, the emergence history
(held-out 8-shot accuracy per family, training loss and the induction score of every head, every
``--eval-every`` steps), the final accuracy against shots per family with and without a task description,
the command and the time. The weights are stored in float16 (``--full-precision``: float32) and the final
metrics are measured on exactly the stored weights. The last line printed is a JSON object with the final
metrics.

Devices and processes: it trains on the device :func:`course_utils.training.choose_device` picks
(``--device`` or ``$COURSE_DEVICE`` override). Under ``torchrun`` it trains data-parallel with
DistributedDataParallel (gloo on CPU, nccl on GPU): each process takes an equal share of every batch of
``--batch-size`` prompts (which must divide evenly), so the same seed and batch size follow the same loss
curve as one process; rank 0 writes the checkpoint::

    torchrun --standalone --nproc_per_node 2 scripts/pretrain_icl.py --output /tmp/icl.safetensors
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
        default = getattr(defaults, f.name)
        if isinstance(default, bool):  # --arrow / --no-arrow
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, dest=f.name, type=type(default), default=default)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids over-subscribing cores shared with other work)")
    parser.add_argument("--final-prompts", type=int, default=500, help="held-out prompts per cell of the final table")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1 or mps (default: $COURSE_DEVICE, else cuda → mps → cpu)")
    parser.add_argument("--losses-out", type=Path, default=None,
                        help="write every step's training loss as a JSON list here (rank 0)")
    parser.add_argument("--full-precision", action="store_true", help="store float32 weights (default float16)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "eval_every", "eval_prompts", "n_layers", "d_model", "n_heads", "d_ff",
                 "context_length", "threads", "final_prompts"):
        if getattr(args, name) < 1:
            flag = "layers" if name == "n_layers" else name.replace("_", "-")
            parser.error(f"--{flag} must be at least 1, got {getattr(args, name)}")
    for name in ("map_share", "description_rate"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must lie in [0, 1], got {getattr(args, name)}")
    if args.map_examples < 2:
        parser.error(f"--map-examples must be at least 2 (a demonstration and the query), got {args.map_examples}")
    if not args.separator and args.arrow:
        parser.error("--no-separator needs --no-arrow")
    if args.embedding_std < 0 or args.attention_std < 0:
        parser.error("--embedding-std and --attention-std must be >= 0")
    if args.embedding_std > 0 and args.tie_weights:
        parser.error("--embedding-std needs --no-tie-weights (an untied output)")
    if args.learning_rate <= 0:
        parser.error(f"--learning-rate must be positive, got {args.learning_rate}")
    return args


def final_table(model, n: int, config: ICLConfig) -> dict:
    """accuracy[description][family][shots] on held-out prompts (seeds differ from the history's), for the
    families with a positive share of the training prompts."""
    from course_utils.icl_tasks import FAMILIES, evaluation_prompts, few_shot_accuracy

    trained = [family for family in FAMILIES if (config.map_share if family == "map" else 1 - config.map_share) > 0]
    table = {}
    for description in (False, True):
        table["with_description" if description else "without_description"] = {
            family: {str(k): round(few_shot_accuracy(model, evaluation_prompts(
                family, k, n, description=description, seed=5000 + 10 * FAMILIES.index(family) + k,
                context_length=config.context_length, arrow=config.arrow, separator=config.separator)), 4)
                for k in SHOTS}
            for family in trained}
    return table


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.output is None:
        from course_utils.gpt import checkpoint_path

        args.output = checkpoint_path("icl_1layer" if args.n_layers == 1 else "icl_2layer")
    import torch

    from course_utils.distributed import start_script_process
    from course_utils.gpt import save_gpt
    from course_utils.icl_tasks import induction_scores, recall_scores, train_icl

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    config = ICLConfig(**{f.name: getattr(args, f.name) for f in fields(ICLConfig)})
    process = start_script_process(args.device, args.batch_size)
    device, distributed, main_process, say = process.device, process.distributed, process.is_main, process.say
    say(f"device {device}" + (f", {distributed.world_size} processes ({distributed.backend})" if distributed else "")
        + f"; {config}", flush=True)

    def report(record: dict) -> None:
        accuracy = " ".join(f"{k} {v:.2f}" for k, v in record["accuracy"].items())
        best = max(max(row) for row in record["induction"])
        recall = max(max(row) for row in record["recall"])
        say(f"step {record['step']:5d}  loss {record['loss']:.4f}  8-shot {accuracy}  best induction {best:.2f}  "
            f"recall {recall:.2f}  ({time.perf_counter() - started:.0f} s)", flush=True)

    losses: list[float] = []
    model, history = train_icl(config, progress=not args.no_progress and main_process, on_evaluation=report,
                               device=device, distributed=distributed, on_step=lambda step, loss: losses.append(loss))
    train_seconds = time.perf_counter() - started
    if not process.finish(losses, args.losses_out):
        return {}
    model = model.cpu()
    if not args.full_precision:  # measure exactly the weights that are shipped
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(parameter.half().float())
    table = final_table(model, args.final_prompts, config)
    metrics = {
        "accuracy": table,
        "induction": [[round(float(v), 4) for v in row] for row in induction_scores(
            model, length=min(20, (config.context_length - 1) // 2))],
        "recall": [[round(float(v), 4) for v in row] for row in recall_scores(model, arrow=config.arrow, separator=config.separator)],
        "final_loss": history[-1]["loss"],
        "parameters": model.parameter_count(),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "threads": args.threads,
        "device": str(device),
        "processes": 1 if distributed is None else distributed.world_size,
        "float16": not args.full_precision,
    }
    command = "python scripts/pretrain_icl.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    path = save_gpt(model, args.output, half=not args.full_precision, metadata={
        "icl_config": config.to_dict(), "history": history, "metrics": metrics, "command": command.strip(),
        "losses_every_10": [round(v, 4) for v in losses[::10]], "torch": torch.__version__.split("+")[0]})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    text = json.dumps(metrics)
    print(text)
    return metrics


if __name__ == "__main__":
    main()

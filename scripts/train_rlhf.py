"""Steps 1 and 2 of InstructGPT on the course's instruction tasks: the SFT model and the reward model.

Usage (the shipped checkpoints; data/checkpoints/README.md records their time and metrics)::

    python scripts/train_rlhf.py

Starts from the in-context GPT ``icl_2layer`` (``--base``), fine-tunes it on demonstrations with the loss on
response tokens only (:func:`course_utils.rlhf_pipeline.run_sft`) and saves ``rlhf_sft``; then samples K
responses per prompt from it, has the labeler rank them, trains the reward model on every pair of every
ranking (:func:`course_utils.rlhf_pipeline.run_reward_model`) and saves ``rlhf_rm``. Seeded: a rerun with
the same ``--threads`` on the same kind of machine gives the same weights. Both checkpoints' metadata hold
the settings, the command, the time and the metrics; the last line printed is a JSON object with the metrics.
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

from course_utils.rlhf_pipeline import RLHFConfig  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = RLHFConfig()
    for f in fields(RLHFConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(getattr(defaults, f.name)),
                            default=getattr(defaults, f.name))
    parser.add_argument("--base", type=Path, default=None, help="the pre-trained GPT (default: icl_2layer)")
    parser.add_argument("--sft-output", type=Path, default=None, help="default: data/checkpoints/rlhf_sft.safetensors")
    parser.add_argument("--rm-output", type=Path, default=None, help="default: data/checkpoints/rlhf_rm.safetensors")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: course_utils.training.choose_device)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids over-subscribing cores shared with other work)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    from course_utils.gpt import checkpoint_path, load_gpt
    from course_utils.rlhf_models import save_policy, save_reward_model
    from course_utils.rlhf_pipeline import (
        mean_labeler_score,
        rlhf_checkpoint_path,
        run_reward_model,
        run_sft,
        split_prompts,
    )
    from course_utils.training import choose_device

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    config = RLHFConfig(**{f.name: getattr(args, f.name) for f in fields(RLHFConfig)})
    device = choose_device(args.device)
    base_path = args.base or checkpoint_path("icl_2layer")
    sft_path = args.sft_output or rlhf_checkpoint_path("sft")
    rm_path = args.rm_output or rlhf_checkpoint_path("rm")
    print(f"device {device}; {config}", flush=True)
    base, _ = load_gpt(base_path)
    split = split_prompts(config)

    sft, sft_losses = run_sft(base, split.sft, config, device=device)
    sft_seconds = time.perf_counter() - started
    print(f"SFT: loss {sft_losses[0]:.3f} → {sft_losses[-1]:.3f} ({sft_seconds:.0f} s)", flush=True)
    run = run_reward_model(sft, split, config, device=device)
    print(f"reward model: {len(run.comparisons)} comparisons, loss {run.losses[0]:.3f} → {run.losses[-1]:.3f}, "
          f"held-out pairwise accuracy {run.heldout_accuracy:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    sft, reward_model = sft.cpu(), run.model.cpu()
    metrics = {
        "base_labeler_score": round(mean_labeler_score(base, split.heldout, config), 4),
        "sft_labeler_score": round(mean_labeler_score(sft, split.heldout, config), 4),
        "sft_final_loss": round(sft_losses[-1], 4),
        "comparisons": len(run.comparisons),
        "heldout_comparisons": len(run.heldout_comparisons),
        "rm_heldout_accuracy": round(run.heldout_accuracy, 4),
        "rm_final_loss": round(run.losses[-1], 4),
        "sft_seconds": round(sft_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "threads": args.threads,
        "device": str(device),
    }
    command = "python scripts/train_rlhf.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    common = {"rlhf_config": config.to_dict(), "metrics": metrics, "command": command.strip(),
              "base": Path(base_path).name, "torch": torch.__version__.split("+")[0]}
    for path in (sft_path, rm_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_policy(sft, sft_path, metadata={**common, "stage": "sft", "losses": [round(x, 4) for x in sft_losses]})
    save_reward_model(reward_model, rm_path, metadata={**common, "stage": "reward_model",
                                                       "losses": [round(x, 4) for x in run.losses]})
    for path in (sft_path, rm_path):
        print(f"wrote {path} ({Path(path).stat().st_size / 1e6:.2f} MB)")
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()

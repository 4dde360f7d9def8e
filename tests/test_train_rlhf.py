"""scripts/train_rlhf.py runs end to end for a few steps in a temporary folder and writes loadable checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from course_utils.rlhf_models import load_policy, load_reward_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import train_rlhf  # noqa: E402


def test_train_rlhf_for_a_few_steps(tmp_path, capsys):
    sft_path, rm_path = tmp_path / "sft.safetensors", tmp_path / "rm.safetensors"
    argv = ["--sft-prompts", "40", "--rm-prompts", "20", "--heldout-prompts", "10", "--sft-steps", "3",
            "--rm-steps", "3", "--k", "4", "--sft-output", str(sft_path), "--rm-output", str(rm_path), "--device", "cpu"]
    metrics = train_rlhf.main(argv)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("{")
    assert 0 <= metrics["rm_heldout_accuracy"] <= 1 and metrics["comparisons"] > 0 and metrics["device"] == "cpu"
    sft, sft_meta = load_policy(sft_path)
    rm, rm_meta = load_reward_model(rm_path)
    assert sft_meta["stage"] == "sft" and rm_meta["stage"] == "reward_model"
    assert rm_meta["metrics"] == metrics and rm_meta["rlhf_config"]["rm_steps"] == 3
    assert rm_meta["command"].startswith("python scripts/train_rlhf.py --sft-prompts 40")
    assert rm.readout == "mean_logprob" and len(rm_meta["losses"]) == 3
    with pytest.raises(ValueError, match="reward model checkpoint"):
        load_policy(rm_path)
    with pytest.raises(ValueError, match="not a reward model"):
        load_reward_model(sft_path)

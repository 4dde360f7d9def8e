"""scripts/pretrain_bert.py for a handful of steps: the loss falls, the checkpoint loads and says how it was made."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import pretrain_bert  # noqa: E402

from course_utils import bert  # noqa: E402


def test_defaults_come_from_the_config_dataclasses():
    args = pretrain_bert.parse_args([])
    assert args.d_model == bert.BertConfig.d_model and args.n_layers == bert.BertConfig.n_layers
    assert args.steps == pretrain_bert.PretrainingConfig.steps and args.output == bert.DEFAULT_CHECKPOINT


def test_a_short_run_learns_and_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "bert.safetensors"
    metrics = pretrain_bert.main([
        "--steps", "30", "--vocab-size", "300", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--n-layers", "1", "--batch-size", "32", "--learning-rate", "3e-3", "--warmup-steps", "3",
        "--max-train-articles", "3", "--max-heldout-pairs", "64", "--no-lee", "--no-progress", "--output", str(out)])
    assert metrics["mean_loss_last_20"] < metrics["mean_loss_first_20"] - 0.1
    loaded = bert.load_bert(out)
    assert loaded.config.d_model == 32 and len(loaded.tokenizer) == 300
    assert loaded.metadata["metrics"]["steps"] == 30 and "--steps 30" in loaded.metadata["command"]
    assert loaded.metadata["corpus"]["heldout"].startswith("wiki_split")

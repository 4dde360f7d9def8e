"""scripts/pretrain_bert.py for a handful of steps: the loss falls, the checkpoint loads and says how it was made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
        "--max-train-articles", "5", "--validation-articles", "2", "--eval-every", "10", "--max-heldout-pairs", "64",
        "--no-lee", "--no-progress", "--output", str(out)])
    assert metrics["mean_loss_last_20"] < metrics["mean_loss_first_20"] - 0.1
    assert 0 < metrics["mask_only_positions"] < metrics["masked_positions"]  # ~80 % of the chosen positions
    assert 0 <= metrics["mask_only_mlm_accuracy"] <= 1 and metrics["mask_only_unigram_loss"] > 0
    loaded = bert.load_bert(out)
    assert loaded.config.d_model == 32 and len(loaded.tokenizer) == 300
    assert loaded.metadata["metrics"]["steps"] == 30 and "--steps 30" in loaded.metadata["command"]
    assert loaded.metadata["corpus"]["heldout"].startswith("wiki_split")
    assert loaded.metadata["corpus"]["train"].startswith("wiki_split(0.1, seed=0) training articles (3)")
    curve = loaded.metadata["curve"]
    assert curve["on"] == "validation slice" and [p["step"] for p in curve["points"]] == [10, 20, 30]
    assert all(0 <= p["mlm_accuracy"] <= 1 and p["mlm_loss"] > 0 for p in curve["points"])


def test_the_validation_slice_must_leave_training_articles():
    with pytest.raises(SystemExit, match="must leave training articles"):
        pretrain_bert.main(["--max-train-articles", "3", "--validation-articles", "3", "--no-progress", "--steps", "1"])
    with pytest.raises(SystemExit, match="at least 2"):
        pretrain_bert.main(["--max-train-articles", "3", "--validation-articles", "1", "--no-progress", "--steps", "1"])


TINY_BERT = ["--steps", "4", "--vocab-size", "200", "--d-model", "16", "--n-heads", "2", "--d-ff", "32",
             "--n-layers", "1", "--batch-size", "8", "--learning-rate", "3e-3", "--warmup-steps", "1",
             "--dropout", "0", "--max-train-articles", "2", "--max-heldout-pairs", "16", "--no-lee",
             "--no-progress", "--device", "cpu", "--threads", "1"]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_two_torchrun_processes_follow_the_same_losses_as_one(tmp_path):
    """Same seed and global batch: DDP over 2 gloo processes gives one process's losses (float rounding aside),
    although the two shards hold different numbers of masked tokens."""
    script = str(ROOT / "scripts" / "pretrain_bert.py")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run([sys.executable, script, *TINY_BERT, "--output", str(tmp_path / "one.safetensors"), "--losses-out", str(one)])
    result = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", script,
                   *TINY_BERT, "--output", str(tmp_path / "two.safetensors"), "--losses-out", str(two)])
    assert "2 processes (gloo)" in result.stdout
    single, parallel = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(single) == len(parallel) == 4
    torch.testing.assert_close(torch.tensor(parallel), torch.tensor(single), rtol=1e-5, atol=1e-5)
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["processes"] == 2 and metrics["steps"] == 4


def test_mask_only_metrics_give_the_baselines_for_a_model_that_predicts_the_unigram():
    """Decoder weights at zero and the output bias at the add-one unigram log-probabilities: the model ignores
    its input, so on the [MASK] positions it must score exactly the most-frequent and unigram baselines."""
    from collections import Counter

    from course_utils.bert_tasks import BertBatch

    config = bert.BertConfig(vocab_size=12, d_model=8, n_heads=2, d_ff=16, n_layers=1, max_len=10)
    model = bert.Bert(config)
    counts = Counter({5: 30, 6: 10, 7: 5, 8: 1})
    frequency = torch.zeros(12)
    for token, count in counts.items():
        frequency[token] = count
    with torch.no_grad():
        model.embeddings.token.weight.zero_()
        model.mlm_bias.copy_(((frequency + 1) / (frequency.sum() + 12)).log())
    ids = torch.tensor([[4, 4, 9, 4], [10, 4, 4, 11]])  # 4 = [MASK]
    labels = torch.tensor([[5, 6, -100, 8], [-100, 5, 7, 5]])  # the last one is visible (11), so not counted
    heldout = (BertBatch(ids, torch.zeros_like(ids), torch.ones_like(ids, dtype=torch.bool)), labels, torch.zeros(2))
    metrics = pretrain_bert.masked_only_metrics(model, heldout, counts, mask_id=4)
    assert metrics["mask_only_positions"] == 5
    assert metrics["mask_only_mlm_accuracy"] == metrics["mask_only_most_frequent_accuracy"] == 0.4
    assert abs(metrics["mask_only_mlm_loss"] - metrics["mask_only_unigram_loss"]) < 1e-3

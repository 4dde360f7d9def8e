"""scripts/pretrain_gpt.py and scripts/pretrain_icl.py run end to end on tiny settings and write loadable
checkpoints with their command and metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils.gpt import load_gpt
from course_utils.ngram import load_neural_lm
from course_utils.tokenization import ByteLevelBPE

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--vocab-size", "300", "--context-length", "16", "--d-model", "16", "--n-heads", "2", "--n-layers", "1",
        "--d-ff", "32", "--steps", "12", "--batch-size", "4", "--warmup", "2", "--learning-rate", "0.01",
        "--max-train-articles", "2", "--max-heldout-articles", "1", "--hidden", "16", "--order", "3", "--no-progress"]


def _run(script: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", ["gpt", "fixed_window", "lstm"])
def test_pretrain_gpt_script(tmp_path, model):
    output = tmp_path / f"{model}.safetensors"
    metrics = _run("pretrain_gpt.py", "--model", model, "--output", str(output), *TINY)
    assert metrics["steps"] == 12 and metrics["heldout_perplexity"] > 1
    assert metrics["heldout_perplexity_bigram"] < metrics["heldout_perplexity_unigram"]
    if model == "gpt":
        loaded, metadata = load_gpt(output)
        assert loaded.config.d_model == 16 and loaded.config.vocab_size == 300
    else:
        loaded, metadata = load_neural_lm(output)
    assert metadata["metrics"] == metrics and "--steps 12" in metadata["command"]
    assert len(ByteLevelBPE.from_dict(metadata["tokenizer"])) == 300


def test_pretrain_gpt_validation_articles_train_without_them_and_score_them(tmp_path):
    """--validation-articles K: the last K training articles are scored instead of the held-out ones.

    With 3 training articles and K = 1 the run trains on the first 2 (same BPE, same stream, same seed), so
    its training losses equal those of the plain run on 2 articles; it writes no checkpoint unless told.
    """
    plain = _run("pretrain_gpt.py", "--output", str(tmp_path / "plain.safetensors"), *TINY)
    tiny_3 = [a if a != "2" or TINY[i - 1] != "--max-train-articles" else "3" for i, a in enumerate(TINY)]
    environment = {**os.environ, "COURSE_CHECKPOINT_DIR": str(tmp_path / "shipped")}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretrain_gpt.py"), *tiny_3,
                             "--validation-articles", "1"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    validation = json.loads(result.stdout.strip().splitlines()[-1])
    assert validation["validation_articles"] == 1 and not any(key.startswith("heldout") for key in validation)
    assert validation["train_tokens"] == plain["train_tokens"]
    assert validation["mean_loss_last_50"] == plain["mean_loss_last_50"]
    assert validation["validation_tokens"] != plain["heldout_tokens"]  # another article is scored
    assert validation["validation_perplexity_bigram"] < validation["validation_perplexity_unigram"]
    assert not (tmp_path / "shipped").exists() and "wrote" not in result.stdout
    refused = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretrain_gpt.py"), *TINY,
                              "--validation-articles", "2"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert refused.returncode != 0 and "leaves no training article" in refused.stderr


def test_pretrain_gpt_weight_decay_flag_is_used_and_stored(tmp_path):
    """--weight-decay reaches AdamW (other losses than the default 0.01) and is stored in the metrics."""
    default = _run("pretrain_gpt.py", "--output", str(tmp_path / "default.safetensors"), *TINY)
    decayed = _run("pretrain_gpt.py", "--output", str(tmp_path / "decayed.safetensors"), *TINY, "--weight-decay", "2")
    assert (default["weight_decay"], decayed["weight_decay"]) == (0.01, 2.0)
    assert decayed["mean_loss_last_50"] != default["mean_loss_last_50"]
    _, metadata = load_gpt(tmp_path / "decayed.safetensors")
    assert "--weight-decay 2" in metadata["command"]
    refused = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretrain_gpt.py"), *TINY, "--weight-decay", "-1"],
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert refused.returncode != 0 and "--weight-decay must be >= 0" in refused.stderr


def test_pretrain_icl_script(tmp_path):
    output = tmp_path / "icl.safetensors"
    metrics = _run("pretrain_icl.py", "--output", str(output), "--layers", "1", "--d-model", "16", "--n-heads", "2",
                   "--d-ff", "16", "--steps", "6", "--batch-size", "8", "--eval-every", "3", "--eval-prompts", "4",
                   "--final-prompts", "4", "--no-progress")
    model, metadata = load_gpt(output)
    assert model.config.n_layers == 1
    assert [r["step"] for r in metadata["history"]] == [0, 3, 6]
    assert set(metrics["accuracy"]) == {"with_description", "without_description"}
    assert metadata["icl_config"]["steps"] == 6


def _run_command(command: list[str]) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_pretrain_gpt_under_torchrun_follows_the_single_process_losses(tmp_path):
    """Same seed and global batch: 2 gloo processes (DDP, each half of every batch) give one process's losses."""
    script = str(ROOT / "scripts" / "pretrain_gpt.py")
    tiny = [arg for arg in TINY if arg != "--no-progress"] + ["--dropout", "0", "--steps", "6", "--device", "cpu",
                                                              "--no-progress"]
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run_command([sys.executable, script, *tiny, "--output", str(tmp_path / "one.safetensors"), "--losses-out", str(one)])
    result = _run_command([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           script, *tiny, "--output", str(tmp_path / "two.safetensors"), "--losses-out", str(two)])
    assert "2 processes (gloo)" in result.stdout
    single, parallel = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(single) == len(parallel) == 6
    assert single[-1] < single[0]  # it learns
    torch.testing.assert_close(torch.tensor(parallel), torch.tensor(single), rtol=1e-4, atol=1e-4)
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["processes"] == 2 and metrics["device"] == "cpu"
    # the two runs' weights agree too (rank 0 wrote the DDP model)
    a, _ = load_gpt(tmp_path / "one.safetensors")
    b, _ = load_gpt(tmp_path / "two.safetensors")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=2e-3, atol=2e-3, msg=name)


def test_pretrain_gpt_bf16_autocast_follows_float32(tmp_path):
    """--bf16 autocasts the forward pass only: its loss curve stays close to the float32 run's."""
    curves = {}
    for name, extra in (("fp32", []), ("bf16", ["--bf16"])):
        out = tmp_path / f"{name}.json"
        metrics = _run("pretrain_gpt.py", "--output", str(tmp_path / f"{name}.safetensors"), "--losses-out", str(out),
                       *extra, *TINY)
        assert metrics["bf16"] is (name == "bf16")
        curves[name] = torch.tensor(json.loads(out.read_text()))
    assert curves["bf16"][-1] < curves["bf16"][0] - 0.1  # it learns
    torch.testing.assert_close(curves["bf16"], curves["fp32"], rtol=0, atol=0.05)

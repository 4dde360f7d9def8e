"""scripts/pretrain_gpt.py and scripts/pretrain_icl.py run end to end on tiny settings and write loadable
checkpoints with their command and metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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

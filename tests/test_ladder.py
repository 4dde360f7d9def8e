"""course_utils.ladder reads the ladder and the weight-tying comparison from checkpoint metadata."""

from __future__ import annotations

import pytest

from course_utils import ladder
from course_utils.gpt import GPT, GPTConfig, save_gpt
from course_utils.ngram import LSTMLM, FixedWindowLM, save_neural_lm

CONFIG = dict(vocab_size=50, context_length=8, d_model=8, n_heads=2, n_layers=1, d_ff=16)


def _metrics(perplexity: float, parameters: int, **extra) -> dict:
    return {"heldout_perplexity": perplexity, "heldout_perplexity_unigram": 40.0, "heldout_perplexity_bigram": 30.0,
            "heldout_tokens": 800, "parameters": parameters, "steps": 10, "train_seconds": 1.5,
            "train_cpu_seconds": 2.5, **extra}


def _write_all(folder, *, untied_command_extra: str = "", bigram_for_lstm: float = 30.0) -> None:
    tied, untied = GPT(GPTConfig(**CONFIG)), GPT(GPTConfig(**CONFIG, tie_weights=False))
    command = "python scripts/pretrain_gpt.py --steps 10 --output {}"
    save_gpt(tied, folder / "gpt_wiki.safetensors", metadata={
        "metrics": _metrics(20.0, tied.parameter_count()), "command": command.format("a.safetensors")})
    save_gpt(untied, folder / "gpt_wiki_untied.safetensors", metadata={
        "metrics": _metrics(21.0, untied.parameter_count()),
        "command": command.format("b.safetensors") + " --no-tie-weights" + untied_command_extra})
    window = FixedWindowLM(50, order=2, embedding_dim=4, hidden=8)
    save_neural_lm(window, folder / "gpt_ladder_window.safetensors", options=dict(vocab_size=50, order=2, embedding_dim=4,
                   hidden=8), metadata={"metrics": _metrics(26.0, 123), "command": "x"})
    lstm = LSTMLM(50, embedding_dim=4, hidden=8)
    save_neural_lm(lstm, folder / "gpt_ladder_lstm.safetensors", options=dict(vocab_size=50, embedding_dim=4, hidden=8),
                   metadata={"metrics": _metrics(24.0, 456, heldout_perplexity_bigram=bigram_for_lstm), "command": "y"})


def test_ladder_rows_come_from_the_stored_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    _write_all(tmp_path)
    rows = ladder.ladder_rows()
    assert [r.checkpoint for r in rows] == [None, None, "fixed_window", "lstm", "gpt"]
    assert [r.heldout_perplexity for r in rows] == [40.0, 30.0, 26.0, 24.0, 20.0]
    assert rows[0].parameters is None and rows[2].parameters == 123
    assert rows[-1].train_cpu_seconds == 2.5 and rows[-1].as_dict()["steps"] == 10


def test_ladder_refuses_checkpoints_scored_on_other_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    _write_all(tmp_path, bigram_for_lstm=31.0)
    with pytest.raises(ValueError, match="same held-out tokens"):
        ladder.ladder_rows()
    with pytest.raises(ValueError, match="at least one"):
        ladder.ladder_rows(())


def test_weight_tying_rows_compare_one_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    _write_all(tmp_path)
    tied, untied = ladder.weight_tying_rows()
    # untying adds a second (V, C) table
    assert untied.parameters - tied.parameters == CONFIG["vocab_size"] * CONFIG["d_model"]
    assert (tied.heldout_perplexity, untied.heldout_perplexity) == (20.0, 21.0)
    _write_all(tmp_path, untied_command_extra=" --steps 20")
    with pytest.raises(ValueError, match="trained differently"):
        ladder.weight_tying_rows()


def test_checkpoint_metadata_needs_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    save_gpt(GPT(GPTConfig(**CONFIG)), tmp_path / "gpt_wiki.safetensors")
    with pytest.raises(ValueError, match="no metrics"):
        ladder.checkpoint_metadata("gpt")


def test_the_shipped_checkpoints_form_one_comparable_ladder(monkeypatch):
    """The shipped ladder and tying pair: same held-out tokens and steps; GPT beats the unigram, the bigram
    and the fixed window, and loses to the LSTM when each has the recipe chosen for it on validation
    (held-out 95.05 vs 89.93, data/checkpoints/README.md)."""
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR", raising=False)
    rows = ladder.ladder_rows()
    assert {r.steps for r in rows if r.checkpoint} == {rows[-1].steps}  # every neural rung: the same steps
    assert rows[1].heldout_perplexity < rows[0].heldout_perplexity  # bigram below unigram
    gpt, lstm = rows[-1], next(r for r in rows if r.checkpoint == "lstm")
    assert gpt.checkpoint == "gpt" and all(gpt.heldout_perplexity < r.heldout_perplexity for r in rows[:3])
    assert lstm.heldout_perplexity < gpt.heldout_perplexity  # the "GPT beats every rung" is not met
    assert gpt.parameters <= lstm.parameters  # the rule GPT was held to: at most the LSTM's parameters
    tied, untied = ladder.weight_tying_rows()
    assert untied.parameters > tied.parameters

"""The in-context task family: prompt format, held-out split, teacher-forced accuracy equals greedy
generation, induction scores on a hand-built attention pattern, and a short training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import icl_tasks as icl
from course_utils.generation import generate
from course_utils.gpt import GPT


def test_prompt_format_and_answer_mask():
    examples = [icl.Example(("k", "q", "a"), ("a", "q", "k")), icl.Example(("c", "x", "e"), ("e", "x", "c"))]
    symbols, answer = icl.build_prompt(examples, description="reverse")
    assert " ".join(symbols) == "<bos> reverse : k q a => a q k ; c x e => e x c"
    assert [s for s, a in zip(symbols, answer) if a] == ["a", "q", "k", "e", "x", "c"]
    symbols, _ = icl.build_prompt(examples, with_answer=False)
    assert " ".join(symbols) == "<bos> k q a => a q k ; c x e =>"
    assert icl.decode(icl.encode(symbols)) == symbols
    with pytest.raises(KeyError, match="unknown symbol"):
        icl.encode(["A"])
    with pytest.raises(ValueError, match="description"):
        icl.build_prompt(examples, description="translate")
    with pytest.raises(ValueError, match="at least one example"):
        icl.build_prompt([])


@pytest.mark.parametrize("family", icl.FAMILIES)
def test_rules_and_heldout_split(family):
    rng = np.random.RandomState(0)
    for heldout in (False, True):
        examples = icl.make_examples(family, 9, rng, heldout=heldout)
        assert len(examples) == 9
        if family == "map":
            table = {}
            for e in examples:
                assert table.setdefault(e.inputs, e.outputs) == e.outputs  # one table per prompt
            assert len({e.inputs for e in examples[:8]}) == 8  # the 8 demonstrations show distinct items
        else:
            for e in examples:
                expected = {"copy": e.inputs, "reverse": e.inputs[::-1], "sort": tuple(sorted(e.inputs))}[family]
                assert e.outputs == expected
                assert icl.is_heldout("".join(e.inputs)) == heldout
    with pytest.raises(ValueError, match="unknown family"):
        icl.make_examples("shift", 3, rng)


def test_training_never_shows_a_heldout_input():
    ids, mask = icl.training_batch(64, np.random.RandomState(1), families=("copy",), description_rate=0.0)
    for row in ids.tolist():
        symbols = [s for s in icl.decode(row) if s in icl.LETTERS]
        inputs = ["".join(symbols[i:i + 3]) for i in range(0, len(symbols), 6)]
        assert inputs and not any(icl.is_heldout(x) for x in inputs)
    assert mask.sum() == 64 * 9 * 3


def test_teacher_forced_accuracy_equals_greedy_generation():
    torch.manual_seed(0)
    model = GPT(icl.ICLConfig(d_model=16, n_heads=2, d_ff=32).model_config()).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    prompts = icl.evaluation_prompts("sort", 1, 40, seed=3)
    accuracy = icl.few_shot_accuracy(model, prompts)
    correct = 0
    for ids, mask in zip(prompts.ids, prompts.answer_mask):
        answer_positions = mask.nonzero().flatten()
        prompt = ids[: int(answer_positions[0])]
        out = generate(model, prompt.tolist(), max_new_tokens=len(answer_positions))
        correct += out.tokens[0].tolist() == ids[answer_positions].tolist()
    assert accuracy == pytest.approx(correct / 40)


def test_induction_score_reads_the_right_attention_entries():
    class Fake(torch.nn.Module):
        """Layer 0 attends to itself; layer 1 is a perfect induction head on head 1."""

        def __init__(self):
            super().__init__()
            self.config = icl.ICLConfig().model_config()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, ids, need_weights=False):
            B, T = ids.shape
            half = (T - 1) // 2
            eye = torch.eye(T).expand(B, 2, T, T).clone()
            induction = eye.clone()
            for q in range(half + 1, T):
                induction[:, 1, q] = 0
                induction[:, 1, q, q - half + 1] = 1
            return type("Out", (), {"attention": [eye, induction]})()

    scores = icl.induction_scores(Fake(), length=10, n=3)
    assert scores.shape == (2, 2)
    assert scores[1, 1] == pytest.approx(1.0) and scores[0].abs().max() == 0 and scores[1, 0] == 0


def test_a_short_training_run_lowers_the_loss_and_records_history():
    config = icl.ICLConfig(d_model=16, n_heads=2, d_ff=32, steps=30, batch_size=16, eval_every=15, eval_prompts=8,
                           learning_rate=3e-3)
    model, history = icl.train_icl(config, progress=False)
    assert [r["step"] for r in history] == [0, 15, 30]
    assert history[-1]["loss"] < history[1]["loss"] + 0.5
    assert set(history[-1]["accuracy"]) == set(icl.FAMILIES)
    assert np.array(history[-1]["induction"]).shape == (2, 2)
    assert icl.chance_accuracy("map") == 0.1


def test_recall_score_reads_the_label_after_the_earlier_item():
    class Fake(torch.nn.Module):
        """One layer; head 0 attends from the last position to the label after the query's earlier copy."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, ids, need_weights=False):
            B, T = ids.shape
            weights = torch.full((B, 2, T, T), 1.0 / T)
            for b in range(B):
                query = ids[b, -2]
                earlier = int((ids[b, :-2] == query).nonzero()[0])
                weights[b, 0, -1] = 0
                weights[b, 0, -1, earlier + 2] = 1
            return type("Out", (), {"attention": [weights]})()

    scores = icl.recall_scores(Fake(), n=5)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == pytest.approx(1.0)
    assert scores[0, 1] == pytest.approx(1 / 35)  # uniform over <bos> + 8 x "item => label ;" + "item =>"

"""The in-context task family: prompt format, held-out split, teacher-forced accuracy equals greedy
generation, induction scores on a hand-built attention pattern, and a short training run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import icl_tasks as icl
from course_utils.generation import generate
from course_utils.gpt import GPT, load_gpt

ROOT = Path(__file__).resolve().parents[1]


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


class FakeAttention(torch.nn.Module):
    """A one-layer stand-in for a GPT whose attention maps are built by ``weights_for(ids)`` (B, H, T, T)."""

    def __init__(self, weights_for):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.weights_for = weights_for

    def forward(self, ids, need_weights=False):
        return type("Out", (), {"attention": [self.weights_for(ids)]})()


def test_recall_score_reads_the_label_after_the_earlier_item():
    def weights_for(ids):  # head 0 attends from the last position to the label after the query's earlier copy
        B, T = ids.shape
        weights = torch.full((B, 2, T, T), 1.0 / T)
        for b in range(B):
            earlier = int((ids[b, :-2] == ids[b, -2]).nonzero()[0])
            weights[b, 0, -1] = 0
            weights[b, 0, -1, earlier + 2] = 1
        return weights

    scores = icl.recall_scores(FakeAttention(weights_for), n=5)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == pytest.approx(1.0)
    assert scores[0, 1] == pytest.approx(1 / 35)  # uniform over <bos> + 8 x "item => label ;" + "item =>"


def test_shard_loss_averaged_over_shards_is_the_global_mean():
    torch.manual_seed(0)
    model = GPT(icl.ICLConfig(d_model=16, n_heads=2, d_ff=32).model_config())
    ids, mask = icl.training_batch(8, np.random.RandomState(2))  # map and three-letter prompts: uneven counts
    count = mask[:, 1:].sum()
    whole = icl.icl_loss(model, ids, mask)
    torch.testing.assert_close(icl.shard_loss(model, ids, mask, count), whole)
    halves = [icl.shard_loss(model, ids[r * 4:(r + 1) * 4], mask[r * 4:(r + 1) * 4], count, world_size=2)
              for r in range(2)]
    assert mask[:4, 1:].sum() != mask[4:, 1:].sum()  # the shards really hold different answer counts
    torch.testing.assert_close((halves[0] + halves[1]) / 2, whole)
    with pytest.raises(ValueError, match="global_count must be positive"):
        icl.shard_loss(model, ids, mask, 0)


TINY_ICL = ["--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--steps", "4", "--batch-size", "8",
            "--eval-every", "2", "--eval-prompts", "4", "--final-prompts", "4", "--learning-rate", "0.003",
            "--device", "cpu", "--no-progress"]


def _run_script(command):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_pretrain_icl_two_torchrun_processes_follow_the_same_losses_as_one(tmp_path):
    """scripts/pretrain_icl.py, same seed and global batch: 1 process vs DDP over 2 gloo CPU processes."""
    script = str(ROOT / "scripts" / "pretrain_icl.py")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run_script([sys.executable, script, *TINY_ICL, "--output", str(tmp_path / "one.safetensors"),
                 "--losses-out", str(one)])
    result = _run_script([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          script, *TINY_ICL, "--output", str(tmp_path / "two.safetensors"), "--losses-out", str(two)])
    assert "2 processes (gloo)" in result.stdout
    single, parallel = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(single) == len(parallel) == 4
    torch.testing.assert_close(torch.tensor(parallel), torch.tensor(single), rtol=1e-4, atol=1e-4)
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["processes"] == 2 and metrics["device"] == "cpu" and metrics["float16"]
    model, metadata = load_gpt(tmp_path / "two.safetensors")
    assert model.config.n_layers == 2 and [r["step"] for r in metadata["history"]] == [0, 2, 4]
    one_model, _ = load_gpt(tmp_path / "one.safetensors")
    for (name, a), b in zip(model.state_dict().items(), one_model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3, msg=name)  # float16 weights, same training


def test_pretrain_icl_rejects_bad_arguments(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("pretrain_icl", ROOT / "scripts" / "pretrain_icl.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.parse_args(["--no-arrow", "--layers", "1"]).arrow is False
    for bad, message in ((["--map-share", "1.5"], "--map-share must lie in"), (["--steps", "0"], "--steps must be"),
                         (["--learning-rate", "0"], "--learning-rate must be positive"),
                         (["--map-examples", "1"], "--map-examples must be at least 2")):
        with pytest.raises(SystemExit):
            script.parse_args(bad)
        assert message in capsys.readouterr().err


def test_prompt_without_arrows_puts_each_label_right_after_its_item():
    examples = [icl.Example(("k",), ("3",)), icl.Example(("c",), ("7",)), icl.Example(("k",), ("3",))]
    symbols, answer = icl.build_prompt(examples, description="map", arrow=False)
    assert " ".join(symbols) == "<bos> map : k 3 ; c 7 ; k 3"
    assert [s for s, a in zip(symbols, answer) if a] == ["3", "7", "3"]
    prompts = icl.evaluation_prompts("map", 2, 5, seed=4, arrow=False)
    with_arrows = icl.evaluation_prompts("map", 2, 5, seed=4)
    assert [t.replace(" =>", "") for t in with_arrows.texts] == prompts.texts  # the same tables and queries
    assert prompts.answer_mask.sum(-1).tolist() == [1] * 5
    ids, mask = icl.training_batch(4, np.random.RandomState(0), families=("map",), arrow=False)
    assert icl.encode(["=>"])[0] not in ids.tolist()[0] and mask.sum() == 4 * 16


def test_recall_score_without_arrows_reads_the_label_after_the_earlier_item():
    class Fake(torch.nn.Module):
        """Head 1 attends from the query item to the label right after that item's earlier occurrence."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, ids, need_weights=False):
            B, T = ids.shape
            weights = torch.zeros(B, 2, T, T)
            weights[:, 0, -1, 0] = 1  # head 0: on <bos>
            for b in range(B):
                earlier = int((ids[b, :-1] == ids[b, -1]).nonzero()[0])
                weights[b, 1, -1, earlier + 1] = 1
            return type("Out", (), {"attention": [weights]})()

    scores = icl.recall_scores(Fake(), n=6, arrow=False)
    assert scores[0, 1] == pytest.approx(1.0) and scores[0, 0] == 0


def test_format_prompt_lays_out_one_demonstration_per_line():
    examples = [icl.Example(("k", "q", "a"), ("a", "q", "k")), icl.Example(("c", "x", "e"), ("e", "x", "c"))]
    symbols, _ = icl.build_prompt(examples, description="reverse", with_answer=False)
    assert icl.format_prompt(symbols) == "reverse:\nk q a => a q k\nc x e =>"
    symbols, _ = icl.build_prompt([icl.Example(("k",), ("3",)), icl.Example(("k",), ("3",))], arrow=False)
    assert icl.format_prompt(symbols) == "k 3\nk 3"


def test_training_batch_can_score_only_the_query_of_short_map_prompts():
    ids, mask = icl.training_batch(6, np.random.RandomState(5), families=("map",), arrow=False, map_examples=9,
                                   query_loss_only=True, description_rate=0.0, context_length=32)
    for row, m in zip(ids.tolist(), mask.tolist()):
        symbols = [s for s in icl.decode(row) if s != "<pad>"]
        assert len(symbols) == 1 + 9 * 3 - 1  # <bos>, 9 "item label ;" without the last ";"
        assert [i for i, v in enumerate(m) if v] == [len(symbols) - 1]  # only the query's label
        pairs = dict(zip(symbols[1::3], symbols[2::3]))
        assert pairs[symbols[-2]] == symbols[-1] and len(set(symbols[1:-2:3])) == 8  # the query was shown
    with pytest.raises(ValueError, match="map_examples >= 2"):
        icl.training_batch(2, np.random.RandomState(0), map_examples=1)


def test_defaults_keep_the_tied_gpt2_init_and_the_separator():
    config = icl.ICLConfig()
    assert (config.separator, config.tie_weights, config.embedding_std, config.attention_std) == (True, True, 0.0, 0.0)
    assert config.model_config().tie_weights is True
    torch.manual_seed(0)
    model = config.build_model()
    torch.manual_seed(0)
    plain = GPT(config.model_config())
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values()))
    assert model.lm_head is None
    assert len(icl.SYMBOLS) == 45 and icl.encode([";", "a", "0"]) == [3, 9, 35]  # the vocabulary is unchanged


def test_emergence_init_redraws_embeddings_and_attention_untied(tmp_path):
    from course_utils.gpt import save_gpt

    config = icl.ICLConfig(d_model=64, n_layers=2, context_length=32, tie_weights=False, embedding_std=1.0,
                           attention_std=0.09)
    torch.manual_seed(0)
    model = config.build_model()
    assert model.lm_head is not None  # untied output
    torch.manual_seed(0)
    reference = GPT(config.model_config())
    assert list(model.state_dict()) == list(reference.state_dict())  # same keys as any GPT: load_gpt restores it
    assert model.token_embedding.weight.std().item() == pytest.approx(1.0, rel=0.05)
    assert model.position_embedding.embedding.weight.std().item() == pytest.approx(1.0, rel=0.1)
    for block in model.blocks:
        assert block.self_attention.in_proj_weight.std().item() == pytest.approx(0.09, rel=0.05)
        assert block.feed_forward.linear1.weight.std().item() == pytest.approx(0.02, rel=0.1)  # the rest: GPT-2's
    assert model.lm_head.weight.std().item() == pytest.approx(0.02, rel=0.1)
    path = save_gpt(model, tmp_path / "m.safetensors", half=False)
    loaded, _ = load_gpt(path)
    assert loaded.config.tie_weights is False
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(ValueError, match="untied"):
        icl.apply_init(GPT(icl.ICLConfig().model_config()), embedding_std=1.0)
    with pytest.raises(ValueError, match=">= 0"):
        icl.apply_init(model, attention_std=-1.0)


def test_map_prompts_without_separator_round_trip():
    examples = [icl.Example(("k",), ("3",)), icl.Example(("c",), ("7",)), icl.Example(("k",), ("3",))]
    symbols, answer = icl.build_prompt(examples, arrow=False, separator=False)
    assert " ".join(symbols) == "<bos> k 3 c 7 k 3"
    assert [s for s, a in zip(symbols, answer) if a] == ["3", "7", "3"]
    assert icl.decode(icl.encode(symbols)) == symbols
    query, _ = icl.build_prompt(examples, arrow=False, separator=False, with_answer=False)
    assert icl.format_prompt(query, separator=False) == "k 3\nc 7\nk"
    with pytest.raises(ValueError, match="needs arrow=False"):
        icl.build_prompt(examples, separator=False)
    # evaluation: the same tables and queries as the ';' format, without the ';'
    bare = icl.evaluation_prompts("map", 8, 5, seed=4, arrow=False, separator=False, context_length=32)
    with_semicolons = icl.evaluation_prompts("map", 8, 5, seed=4, arrow=False, context_length=32)
    assert [t.replace(" ;", "") for t in with_semicolons.texts] == bare.texts
    assert bare.answer_mask.sum(-1).tolist() == [1] * 5
    ids, mask = icl.training_batch(6, np.random.RandomState(5), families=("map",), arrow=False, separator=False,
                                   map_examples=9, query_loss_only=True, description_rate=0.0, context_length=32)
    for row, m in zip(ids.tolist(), mask.tolist()):
        symbols = [s for s in icl.decode(row) if s != "<pad>"]
        assert len(symbols) == 1 + 9 * 2 and ";" not in symbols
        assert [i for i, v in enumerate(m) if v] == [len(symbols) - 1]
        assert dict(zip(symbols[1:-2:2], symbols[2:-2:2]))[symbols[-2]] == symbols[-1]


def test_recall_score_without_separator_reads_the_label_after_the_earlier_item():
    def weights_for(ids):  # head 1 attends from the query item to the label right after its earlier occurrence
        B, T = ids.shape
        assert T == 1 + 8 * 2 + 1  # <bos>, 8 "item label", the query item
        weights = torch.zeros(B, 2, T, T)
        weights[:, 0, -1, 0] = 1
        for b in range(B):
            earlier = int((ids[b, :-1] == ids[b, -1]).nonzero()[0])
            weights[b, 1, -1, earlier + 1] = 1
        return weights

    scores = icl.recall_scores(FakeAttention(weights_for), n=6, arrow=False, separator=False)
    assert scores[0, 1] == pytest.approx(1.0) and scores[0, 0] == 0


def test_pretrain_icl_exposes_the_emergence_options(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("pretrain_icl", ROOT / "scripts" / "pretrain_icl.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = script.parse_args(["--no-arrow", "--no-separator", "--no-tie-weights", "--embedding-std", "1",
                              "--attention-std", "0.09"])
    assert (args.separator, args.tie_weights, args.embedding_std, args.attention_std) == (False, False, 1.0, 0.09)
    defaults = script.parse_args([])
    assert (defaults.separator, defaults.tie_weights, defaults.embedding_std) == (True, True, 0.0)
    for bad, message in ((["--no-separator"], "--no-separator needs --no-arrow"),
                         (["--embedding-std", "1"], "needs --no-tie-weights")):
        with pytest.raises(SystemExit):
            script.parse_args(bad)
        assert message in capsys.readouterr().err


def test_the_shipped_map_ablations_each_undo_one_choice_and_stay_on_the_plateau():
    """Notebook 08 section 9: the emergence run rises to >= 0.95 8-shot accuracy; the same run with ';' between
    the pairs, or with GPT-2's initialisation, differs in exactly that choice and never leaves the plateau."""
    from course_utils.gpt import checkpoint_path

    metas = {name: load_gpt(checkpoint_path(name))[1] for name in ("icl_map_2layer", "icl_map_separator", "icl_map_gpt2_init")}
    shipped = metas["icl_map_2layer"]["icl_config"]

    def changed(name):
        config = metas[name]["icl_config"]
        return {key for key in set(shipped) | set(config) if shipped.get(key) != config.get(key)}

    assert changed("icl_map_separator") == {"separator"}
    assert changed("icl_map_gpt2_init") == {"tie_weights", "embedding_std", "attention_std"}
    assert metas["icl_map_gpt2_init"]["icl_config"]["tie_weights"] is True

    def best(name):
        return max(r["accuracy"]["map"] for r in metas[name]["history"])

    assert best("icl_map_2layer") >= 0.95
    assert best("icl_map_separator") < 0.5 and best("icl_map_gpt2_init") < 0.5

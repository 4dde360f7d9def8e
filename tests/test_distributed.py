"""Data-parallel training: batch sharding, loss averaging, and a real 2-process torchrun run that must
follow the same loss curve as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch import nn

from course_utils.distributed import (
    LossModule,
    all_reduce_mean,
    close_distributed,
    init_distributed,
    map_tensors,
    shard_batch,
)
from course_utils.training import fit, move_to

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Batch:
    inputs: torch.Tensor
    targets: torch.Tensor
    note: str = "kept"


class Pair(NamedTuple):
    left: torch.Tensor
    right: torch.Tensor


def test_shard_batch_cuts_every_tensor_into_contiguous_equal_slices():
    batch = Batch(torch.arange(12).reshape(6, 2), torch.arange(6))
    shards = [shard_batch(batch, rank, 3) for rank in range(3)]
    assert [s.targets.tolist() for s in shards] == [[0, 1], [2, 3], [4, 5]]
    assert torch.equal(torch.cat([s.inputs for s in shards]), batch.inputs)
    assert all(s.note == "kept" for s in shards)
    nested = {"pair": Pair(torch.zeros(4, 3), torch.ones(4)), "list": [torch.arange(4)], "scalar": torch.tensor(2.0)}
    half = shard_batch(nested, 1, 2)
    assert half["pair"].left.shape == (2, 3) and isinstance(half["pair"], Pair)
    assert half["list"][0].tolist() == [2, 3] and float(half["scalar"]) == 2.0


def test_shard_batch_refuses_uneven_or_inconsistent_batches():
    with pytest.raises(ValueError, match="cannot be split evenly over 2 processes"):
        shard_batch(torch.zeros(5, 2), 0, 2)
    with pytest.raises(ValueError, match="disagree on the batch size"):
        shard_batch((torch.zeros(4), torch.zeros(6)), 0, 2)
    with pytest.raises(ValueError, match="rank 2 is not among world_size=2"):
        shard_batch(torch.zeros(4), 2, 2)


def test_map_tensors_and_move_to_keep_the_structure():
    batch = Batch(torch.ones(2, 2), torch.zeros(2))
    doubled = map_tensors(batch, lambda t: t * 2)
    assert isinstance(doubled, Batch) and float(doubled.inputs.sum()) == 8.0 and doubled.note == "kept"
    moved = move_to({"a": [batch]}, "cpu")
    assert moved["a"][0].inputs.device.type == "cpu" and torch.equal(moved["a"][0].inputs, batch.inputs)


def test_single_process_helpers_are_no_ops(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed() is None
    assert all_reduce_mean(torch.tensor(2.5), None) == 2.5
    close_distributed(None)  # nothing to close
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="launch the script with torchrun"):
        init_distributed()


def test_loss_module_routes_any_loss_through_forward():
    model = nn.Linear(3, 1)
    wrapped = LossModule(model, lambda m, batch: m(batch.inputs).squeeze(-1).sub(batch.targets).pow(2).mean())
    batch = Batch(torch.randn(4, 3), torch.randn(4))
    assert torch.equal(wrapped(batch), (model(batch.inputs).squeeze(-1) - batch.targets).pow(2).mean())
    assert list(wrapped.parameters()) == list(model.parameters())


def test_fit_moves_model_and_batches_to_the_device():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    batches = [Batch(torch.randn(4, 2), torch.randn(4)) for _ in range(3)]
    seen = []

    def loss_fn(m, batch):
        seen.append(batch.inputs.device.type)
        return (m(batch.inputs).squeeze(-1) - batch.targets).pow(2).mean()

    history = fit(model, batches, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), progress=False, device="cpu")
    assert history.steps == 3 and seen == ["cpu"] * 3 and next(model.parameters()).device.type == "cpu"


TINY_ELMO = ["--steps", "6", "--batch-size", "8", "--window", "10", "--vocab-size", "150", "--token-dim", "16",
             "--hidden-size", "16", "--filters", "1:8,2:8", "--dropout", "0", "--learning-rate", "0.01",
             "--max-train-articles", "2", "--max-heldout-articles", "1", "--device", "cpu", "--no-progress"]


def _run(command, tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600, env=environment)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_two_torchrun_processes_follow_the_same_losses_as_one(tmp_path):
    """The ELMo pre-training script, same seed and global batch: 1 process vs DDP over 2 gloo processes."""
    script = str(ROOT / "scripts" / "pretrain_elmo.py")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run([sys.executable, script, *TINY_ELMO, "--output", str(tmp_path / "one.safetensors"),
          "--losses-out", str(one)], tmp_path)
    result = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   script, *TINY_ELMO, "--output", str(tmp_path / "two.safetensors"), "--losses-out", str(two)],
                  tmp_path)
    assert "2 processes (gloo)" in result.stdout
    single, parallel = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(single) == len(parallel) == 6
    assert single[-1] < single[0]  # it learns
    # Same global batches, gradients averaged by DDP: equal losses up to float rounding in the reduction.
    torch.testing.assert_close(torch.tensor(parallel), torch.tensor(single), rtol=1e-4, atol=1e-4)
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["processes"] == 2 and metrics["device"] == "cpu"


def test_start_script_process_alone_and_among_processes(monkeypatch, capsys):
    import course_utils.distributed as distributed_module
    from course_utils.distributed import DistributedContext, start_script_process

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    alone = start_script_process("cpu", batch_size=7)
    assert alone.device == torch.device("cpu") and alone.distributed is None and alone.is_main
    alone.say("printed")
    assert capsys.readouterr().out == "printed\n"

    def fake_group(rank: int, world_size: int):
        return lambda device: DistributedContext(rank, world_size, rank, torch.device(device), "gloo")

    monkeypatch.setattr(distributed_module, "init_distributed", fake_group(1, 2))
    second = start_script_process("cpu", batch_size=8)
    assert second.distributed.world_size == 2 and not second.is_main
    second.say("silent")
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(distributed_module, "init_distributed", fake_group(0, 3))
    with pytest.raises(SystemExit, match="--batch-size 8 must be divisible by the 3 processes"):
        start_script_process("cpu", batch_size=8)
    with pytest.raises(ValueError):
        start_script_process("bogus", batch_size=8)


def test_script_process_finish_writes_losses_on_the_main_process_only(tmp_path):
    from course_utils.distributed import DistributedContext, ScriptProcess

    alone = ScriptProcess(torch.device("cpu"), None)
    assert alone.finish([1.5, 1.25], tmp_path / "sub" / "losses.json")
    assert json.loads((tmp_path / "sub" / "losses.json").read_text()) == [1.5, 1.25]
    assert alone.finish([1.0], None)  # no file asked for
    other = ScriptProcess(torch.device("cpu"), DistributedContext(1, 2, 1, torch.device("cpu"), "gloo"))
    assert not other.finish([2.0], tmp_path / "other.json")  # not initialised: leaving is a no-op
    assert not (tmp_path / "other.json").exists()

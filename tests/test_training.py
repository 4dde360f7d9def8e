import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import training
from course_utils.training import (
    CheckpointError,
    TrainingHistory,
    choose_device,
    device_report,
    evaluating,
    fit,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    single_thread,
)


def test_seed_everything_makes_all_generators_repeatable():
    seed_everything(3)
    first = (np.random.rand(), torch.rand(2), __import__("random").random())
    generator = seed_everything(3)
    second = (np.random.rand(), torch.rand(2), __import__("random").random())
    assert first[0] == second[0] and first[2] == second[2]
    torch.testing.assert_close(first[1], second[1])
    assert isinstance(generator, torch.Generator)
    assert torch.rand(1, generator=generator).item() == torch.rand(1, generator=seed_everything(3)).item()


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_choose_device_defaults_and_overrides(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert choose_device().type == expected
    assert choose_device("cpu").type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert choose_device().type == "cpu"


def test_choose_device_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        choose_device("tpu")
    monkeypatch.setattr(training, "_available", lambda name: name == "cpu")
    with pytest.raises(RuntimeError, match="not available"):
        choose_device("cuda")


def test_device_report_mentions_device_and_torch():
    report = device_report(torch.device("cpu"))
    assert report.startswith("device: cpu") and "torch" in report


def _regression_problem():
    seed_everything(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model = nn.Linear(3, 1)
    return model, batches


def _mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def test_fit_learns_a_linear_map_and_records_history():
    model, batches = _regression_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, batches, _mse, optimizer, epochs=30, progress=False,
                  eval_fn=lambda m: float(_mse(m, batches[0])), eval_every=40)
    assert history.steps == 30 * len(batches)
    assert history.losses[-1] < 0.01 * history.losses[0]
    assert [step for step, _ in history.evaluations] == [40, 80, 120]
    assert len(history.learning_rates) == history.steps and history.seconds > 0
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[1.0, -2.0, 0.5]]), atol=0.05, rtol=0)


def test_fit_max_steps_scheduler_clip_and_callable_batches():
    model, batches = _regression_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    seen = []
    history = fit(model, lambda: iter(batches), _mse, optimizer, epochs=5, max_steps=7, scheduler=scheduler,
                  grad_clip=1.0, progress=False, on_step=lambda step, loss: seen.append(step))
    assert history.steps == 7 and seen == list(range(1, 8))
    assert history.learning_rates[0] == pytest.approx(0.1) and history.learning_rates[1] == pytest.approx(0.05)


def test_fit_bad_input():
    model, batches = _regression_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, batches, _mse, optimizer, epochs=0)
    with pytest.raises(ValueError, match="max_steps"):
        fit(model, batches, _mse, optimizer, max_steps=0)
    with pytest.raises(ValueError, match="eval_fn"):
        fit(model, batches, _mse, optimizer, eval_every=2)
    with pytest.raises(ValueError, match="grad_clip"):
        fit(model, batches, _mse, optimizer, grad_clip=0)
    with pytest.raises(ValueError, match="empty"):
        fit(model, [], _mse, optimizer, progress=False)
    with pytest.raises(ValueError, match="scalar"):
        fit(model, batches, lambda m, b: (m(b[0]) - b[1]) ** 2, optimizer, progress=False)


def test_fit_stops_on_nan_loss_naming_the_step():
    model, batches = _regression_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = {"n": 0}

    def loss_fn(m, b):
        calls["n"] += 1
        loss = _mse(m, b)
        return loss * math.nan if calls["n"] == 3 else loss

    with pytest.raises(FloatingPointError, match="step 3"):
        fit(model, batches, loss_fn, optimizer, progress=False)


def test_training_history_smoothing():
    history = TrainingHistory(losses=[4.0, 2.0, 0.0, 2.0])
    assert history.smoothed(2) == [4.0, 3.0, 1.0, 1.0]
    assert history.smoothed(1) == history.losses
    assert TrainingHistory().smoothed() == []
    with pytest.raises(ValueError, match="window"):
        history.smoothed(0)


def test_checkpoint_round_trip_with_metadata(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = save_checkpoint(model, tmp_path / "sub" / "model.safetensors", {"steps": 12, "config": {"d": 4}})
    assert path.is_file() and not path.with_name(path.name + ".tmp").exists()
    clone = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    state, metadata = load_checkpoint(clone, path)
    assert metadata == {"steps": 12, "config": {"d": 4}}
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(clone.state_dict()[name], tensor)
        torch.testing.assert_close(state[name], tensor)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(None, tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="empty"):
        save_checkpoint({}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="not a tensor"):
        save_checkpoint({"a": 3}, tmp_path / "x.safetensors")
    path = save_checkpoint(nn.Linear(3, 4), tmp_path / "lin.safetensors")
    with pytest.raises(KeyError, match="does not match"):
        load_checkpoint(nn.Linear(3, 4, bias=False), path)
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(nn.Linear(3, 5), path)


def test_evaluating_sets_eval_mode_without_grad_and_restores_even_on_error():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    with evaluating(model) as inside:
        assert inside is model and not model.training and not torch.is_grad_enabled()
    assert model.training and torch.is_grad_enabled()
    model.eval()
    with pytest.raises(RuntimeError, match="boom"):
        with evaluating(model):
            raise RuntimeError("boom")
    assert not model.training  # an eval-mode model stays in eval mode
    with pytest.raises(TypeError, match="nn.Module"):
        with evaluating("not a model"):
            pass


def test_single_thread_restores_the_thread_count_even_on_error():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(KeyError):
        with single_thread(2):
            assert torch.get_num_threads() == 2
            raise KeyError("x")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="positive integer"):
        with single_thread(0):
            pass


@pytest.mark.parametrize("content", [b"", b"\x00" * 16, b"not a safetensors file at all", b"\xff" * 8 + b"{}"])
def test_load_checkpoint_names_a_corrupt_file(tmp_path, content):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="broken.safetensors is not a readable checkpoint"):
        load_checkpoint(None, path)


def test_load_checkpoint_names_a_truncated_file(tmp_path):
    path = save_checkpoint(nn.Linear(4, 4), tmp_path / "model.safetensors", {"note": "x"})
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(nn.Linear(4, 4), path)

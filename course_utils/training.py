"""Seeding, device choice, a generic training loop and safetensors checkpoints.

The loop knows nothing about any particular model: it takes a model, something that yields batches,
a function that turns (model, batch) into a scalar loss, and an optimiser. Every notebook trains
through it, so progress bars, gradient clipping and loss histories behave the same everywhere.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from course_utils.distributed import DistributedContext, LossModule, all_reduce_mean, map_tensors, shard_batch

__all__ = [
    "seed_everything",
    "choose_device",
    "device_report",
    "TrainingHistory",
    "fit",
    "move_to",
    "model_device",
    "on_device",
    "synchronize",
    "evaluating",
    "single_thread",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
]


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's random generators; return a torch Generator seeded alike.

    Pass the returned generator to samplers and DataLoaders that should not share the global stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


_DEVICE_ORDER = ("cuda", "mps", "cpu")


def _available(name: str) -> bool:
    if name == "cpu":
        return True
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return False


def choose_device(preferred: str | None = None) -> torch.device:
    """Pick where to compute: ``preferred`` if given, else $COURSE_DEVICE, else cuda → mps → cpu.

    Raises ValueError for an unknown device name and RuntimeError when the requested one is absent.
    """
    requested = preferred if preferred is not None else os.environ.get("COURSE_DEVICE") or None
    if requested is None:
        for name in _DEVICE_ORDER:
            if _available(name):
                return torch.device(name)
    kind = str(requested).split(":")[0]
    if kind not in _DEVICE_ORDER:
        raise ValueError(f"unknown device {requested!r}; choose one of {', '.join(_DEVICE_ORDER)}")
    if not _available(kind):
        raise RuntimeError(f"device {requested!r} was requested but is not available on this machine")
    return torch.device(requested)


def device_report(device: torch.device | None = None) -> str:
    """One line describing the device, torch version and CPU threads, for a notebook's set-up cell."""
    device = device or choose_device()
    detail = ""
    if device.type == "cuda":
        detail = f" ({torch.cuda.get_device_name(device)})"
    return (
        f"device: {device.type}{detail} | torch {torch.__version__.split('+')[0]} | "
        f"CPU threads: {torch.get_num_threads()}"
    )


@dataclass
class TrainingHistory:
    """What :func:`fit` recorded: the loss of every step, periodic evaluations and the wall time."""

    losses: list[float] = field(default_factory=list)
    evaluations: list[tuple[int, float]] = field(default_factory=list)  # (step, value)
    learning_rates: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.losses)

    def smoothed(self, window: int = 20) -> list[float]:
        """Running mean of the step losses over ``window`` steps (for readable curves)."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        values = np.asarray(self.losses, dtype=float)
        if len(values) == 0:
            return []
        cumulative = np.cumsum(np.insert(values, 0, 0.0))
        out = []
        for i in range(1, len(values) + 1):
            lo = max(0, i - window)
            out.append((cumulative[i] - cumulative[lo]) / (i - lo))
        return out


def fit(
    model: nn.Module,
    batches: Iterable | Callable[[], Iterable],
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int = 1,
    max_steps: int | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    grad_clip: float | None = None,
    eval_fn: Callable[[nn.Module], float] | None = None,
    eval_every: int | None = None,
    progress: bool = True,
    desc: str = "training",
    on_step: Callable[[int, float], None] | None = None,
    device: str | torch.device | None = None,
    distributed: DistributedContext | None = None,
) -> TrainingHistory:
    """Train ``model`` and return its :class:`TrainingHistory`.

    Args:
        batches: an iterable of batches, or a zero-argument callable returning a fresh iterable for
            each epoch (use this for generators, which can be consumed only once).
        loss_fn: ``loss_fn(model, batch)`` → scalar tensor to minimise.
        epochs: passes over ``batches``; ``max_steps`` stops earlier when reached.
        scheduler: stepped after every optimiser step (e.g. warm-up or linear decay).
        grad_clip: clip the global gradient norm to this value.
        eval_fn / eval_every: ``eval_fn(model)`` every ``eval_every`` steps and at the end
            (the model is put in eval mode and back to train mode around it).
        on_step: called as ``on_step(step, loss)`` after every step (live plots in widgets).
        device: move the model and every batch's tensors there first (None: leave them where they are).
        distributed: train data-parallel under torchrun (:mod:`course_utils.distributed`): every process
            gets the same global batches, keeps its shard, and DDP averages the gradients; the recorded
            loss is the mean over processes, and only rank 0 shows a progress bar. The model moves to
            ``distributed.device``. Create the optimiser before calling fit, over ``model.parameters()``.

    Raises ValueError for a non-positive ``epochs``/``max_steps``/``eval_every``/``grad_clip`` and
    FloatingPointError as soon as the loss becomes NaN or infinite, naming the step.
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be at least 1, got {eval_every}")
    if grad_clip is not None and grad_clip <= 0:
        raise ValueError(f"grad_clip must be positive, got {grad_clip}")
    if eval_every is not None and eval_fn is None:
        raise ValueError("eval_every was given without an eval_fn")
    if distributed is not None:
        device = distributed.device
    if device is not None:
        model.to(device)
    # Under DDP the whole loss runs through the wrapper's forward, so its gradients are all-reduced.
    engine = None
    if distributed is not None:
        ids = [distributed.device.index] if distributed.device.type == "cuda" else None
        engine = DistributedDataParallel(LossModule(model, loss_fn), device_ids=ids)

    def compute_loss(batch) -> torch.Tensor:
        if distributed is not None:
            batch = shard_batch(batch, distributed.rank, distributed.world_size)
        if device is not None:
            batch = move_to(batch, device)
        return engine(batch) if engine is not None else loss_fn(model, batch)

    def epoch_batches() -> Iterable:
        return batches() if callable(batches) else batches

    try:
        total = len(epoch_batches()) * epochs  # type: ignore[arg-type]
    except TypeError:
        total = None
    if max_steps is not None:
        total = max_steps if total is None else min(total, max_steps)

    def evaluate() -> None:
        model.eval()
        with torch.no_grad():
            value = float(eval_fn(model))
        model.train()
        history.evaluations.append((history.steps, value))

    history = TrainingHistory()
    start = time.perf_counter()
    model.train()
    show = progress and (distributed is None or distributed.is_main)
    bar = tqdm(total=total, desc=desc, disable=not show, leave=False)
    done = False
    for _epoch in range(epochs):
        seen_batch = False
        for batch in epoch_batches():
            seen_batch = True
            optimizer.zero_grad(set_to_none=True)
            loss = compute_loss(batch)
            if loss.dim() != 0:
                raise ValueError(f"loss_fn must return a scalar tensor, got shape {tuple(loss.shape)}")
            value = all_reduce_mean(loss, distributed)  # the global batch's loss on every process
            if not np.isfinite(value):
                bar.close()
                raise FloatingPointError(
                    f"loss became {value} at step {history.steps + 1}; lower the learning rate or check the inputs"
                )
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            history.learning_rates.append(float(optimizer.param_groups[0]["lr"]))
            if scheduler is not None:
                scheduler.step()
            history.losses.append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}")
            if on_step is not None:
                on_step(history.steps, value)
            if eval_every is not None and history.steps % eval_every == 0:
                evaluate()
            if max_steps is not None and history.steps >= max_steps:
                done = True
                break
        if not seen_batch:
            bar.close()
            raise ValueError("batches produced no batch; is the training data empty?")
        if done:
            break
    bar.close()
    if eval_fn is not None and (not history.evaluations or history.evaluations[-1][0] != history.steps):
        evaluate()
    history.seconds = time.perf_counter() - start
    return history


def move_to(batch, device: str | torch.device):
    """``batch`` with every tensor moved to ``device`` (tensors nested in dataclasses, tuples, lists
    and dicts too; other values unchanged)."""
    device = torch.device(device)
    return map_tensors(batch, lambda tensor: tensor.to(device, non_blocking=True))


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` lives: the device of its first parameter (or buffer); the CPU for an empty module."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def on_device(model: nn.Module, device: str | torch.device | None = None) -> Iterator[torch.device]:
    """Move ``model`` to ``choose_device(device)`` for the block; move it back where it was afterwards.

    Yields the device, for the block's batches. The course's helpers run a model this way, so the caller's
    model is on the CPU before and after (notebook cells keep working with CPU tensors) while the work
    happens on the accelerator. Exception-safe. On the CPU both moves are no-ops (the same tensors).

    >>> with on_device(model, None) as device:
    ...     logits = model(batch.to(device)).cpu()
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"on_device expects an nn.Module, got {type(model).__name__}")
    target = choose_device(device)
    home = model_device(model)
    model.to(target)
    try:
        yield target
    finally:
        model.to(home)


def synchronize(device: str | torch.device) -> None:
    """Wait until the queued work on ``device`` is done (CUDA and MPS run asynchronously), before timing."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode without gradients inside the block; restore its mode afterwards.

    Exception-safe: the previous train/eval mode comes back even when the block raises.

    >>> with evaluating(model):
    ...     logits = model(batch)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"evaluating expects an nn.Module, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


@contextmanager
def single_thread(threads: int = 1) -> Iterator[None]:
    """Run the block with ``threads`` intra-op PyTorch threads; restore the previous count afterwards.

    Small kernels (word2vec's batches, one-token decoding steps) spend more on thread synchronisation
    than on work, so timing and tight loops run on one thread. Exception-safe.
    """
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class CheckpointError(ValueError):
    """A file that is not a readable course checkpoint (corrupt, truncated, or not safetensors)."""


def save_checkpoint(
    model: nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike,
    metadata: Mapping[str, object] | None = None,
) -> Path:
    """Save a model's parameters (or a state dict) to a safetensors file, with JSON-able metadata.

    Tensors are made contiguous and moved to the CPU; tied (shared) tensors are stored once per name.
    The file is written beside the target and renamed, so an interrupted save never leaves half a file.
    """
    from safetensors.torch import save_file

    state = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    if not state:
        raise ValueError("nothing to save: the state dict is empty")
    tensors = {}
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"state entry {name!r} is a {type(tensor).__name__}, not a tensor")
        tensors[name] = tensor.detach().to("cpu").contiguous().clone()
    text_metadata = {key: json.dumps(value) for key, value in (metadata or {}).items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=text_metadata)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    model: nn.Module | None,
    path: str | os.PathLike,
    *,
    strict: bool = True,
    device: str | torch.device = "cpu",
) -> tuple[dict[str, torch.Tensor], dict[str, object]]:
    """Load a safetensors checkpoint; copy it into ``model`` when one is given.

    Returns ``(state_dict, metadata)``. Raises FileNotFoundError naming the path, CheckpointError when
    the file is not a readable safetensors checkpoint, and (with ``strict``) a KeyError listing missing
    or unexpected parameter names.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = load_file(str(path), device=str(device))
        with safe_open(str(path), framework="pt") as handle:
            raw = handle.metadata() or {}
        metadata = {key: json.loads(value) for key, value in raw.items()}
    except Exception as error:  # safetensors raises its own errors ("header too large", ...) on bad files
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt, truncated or not a safetensors file): {error}"
        ) from error
    if model is not None:
        own = model.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(f"checkpoint {path.name} does not match the model: missing {missing}, unexpected {unexpected}")
        for name, tensor in state.items():
            if name in own and own[name].shape != tensor.shape:
                raise ValueError(
                    f"parameter {name!r} has shape {tuple(tensor.shape)} in {path.name} "
                    f"but {tuple(own[name].shape)} in the model"
                )
        model.load_state_dict(state, strict=strict)
    return state, metadata

"""Training across processes with PyTorch's own engine: DistributedDataParallel (DDP) under ``torchrun``.

Data parallelism: every process holds a full copy of the model and takes an equal shard of each global
batch; after ``backward`` DDP all-reduces (averages) the gradients, so every copy takes the same
optimiser step. When the loss is a mean over equally many items on every shard, the average of the
shard gradients is exactly the gradient of the global batch, so N processes with the same seed and the
same *global* batch follow the same loss curve as one process (up to float rounding in the reduction).

Every process here builds the same global batch from the same seeded generator and keeps its own
contiguous slice (:func:`shard_batch`): the simplest distributed sampler, and one that works for
streams of batches as well as for datasets. Launch a script on 2 CPU processes with::

    torchrun --standalone --nproc_per_node 2 scripts/pretrain_elmo.py ...

Backends: ``gloo`` on the CPU, ``nccl`` on CUDA GPUs (one process per GPU, ``LOCAL_RANK`` picks it).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistributedContext",
    "init_distributed",
    "map_tensors",
    "shard_batch",
    "all_reduce_mean",
    "LossModule",
    "close_distributed",
    "ScriptProcess",
    "start_script_process",
]


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is among ``world_size`` training processes, and where it computes."""

    rank: int  # 0 .. world_size-1; rank 0 prints, evaluates and writes checkpoints
    world_size: int
    local_rank: int  # index among the processes on this machine (selects the GPU)
    device: torch.device
    backend: str  # "gloo" (CPU) or "nccl" (CUDA)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | torch.device = "cpu") -> DistributedContext | None:
    """Join the process group that ``torchrun`` describes in the environment; None outside torchrun.

    ``device``: where to compute (scripts pass :func:`course_utils.training.choose_device`'s choice);
    on CUDA each process takes GPU ``LOCAL_RANK``. Returns None when ``WORLD_SIZE`` is unset or 1.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size < 1:
        raise ValueError(f"WORLD_SIZE must be at least 1, got {world_size}")
    if world_size == 1:
        return None
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(f"WORLD_SIZE={world_size} but {name} is not set: launch the script with torchrun")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    device = torch.device(device)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, device, backend)


def map_tensors(batch, fn):
    """Apply ``fn`` to every tensor in ``batch`` (a tensor, dataclass, named tuple, tuple, list or dict,
    nested); other values are kept. Used to move batches to a device and to shard them."""
    if isinstance(batch, torch.Tensor):
        return fn(batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: map_tensors(getattr(batch, f.name), fn)
                                             for f in dataclasses.fields(batch) if f.init})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # named tuple
        return type(batch)(*(map_tensors(v, fn) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(map_tensors(v, fn) for v in batch)
    if isinstance(batch, dict):
        return {k: map_tensors(v, fn) for k, v in batch.items()}
    return batch


def shard_batch(batch, rank: int, world_size: int):
    """This process's contiguous slice of a global batch (rows ``rank·B/N … (rank+1)·B/N``).

    ``batch`` may be a tensor, a dataclass, a tuple/list or a dict of them (nested); tensors are cut
    along their first dimension, other values are kept. Every tensor's first dimension must be the
    same batch size B, divisible by ``world_size`` so that every shard holds equally many items.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not among world_size={world_size} processes")
    sizes = set()

    def cut(value: torch.Tensor) -> torch.Tensor:
        if value.dim() == 0:
            return value
        size = value.shape[0]
        if size % world_size:
            raise ValueError(
                f"a global batch of {size} cannot be split evenly over {world_size} processes; "
                f"use a batch size divisible by {world_size}"
            )
        sizes.add(size)
        step = size // world_size
        return value[rank * step:(rank + 1) * step]

    shard = map_tensors(batch, cut)
    if len(sizes) > 1:
        raise ValueError(f"the batch's tensors disagree on the batch size: {sorted(sizes)}")
    return shard


def all_reduce_mean(value: float | torch.Tensor, context: DistributedContext | None) -> float:
    """The mean of ``value`` over all processes (just ``value`` for one process)."""
    tensor = torch.as_tensor(value, dtype=torch.float64).detach().reshape(())
    if context is None:
        return float(tensor)
    # gloo reduces CPU tensors, nccl CUDA tensors
    tensor = tensor.to(context.device if context.backend == "nccl" else "cpu")
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor) / context.world_size


class LossModule(nn.Module):
    """Wrap ``loss_fn(model, batch)`` as a module whose ``forward(batch)`` returns the loss.

    DDP synchronises gradients of what runs through its ``forward``; wrapping the whole loss lets a
    loss call any method of the model (``model.loss(...)``, ``model.mlm_loss(...)``), not just
    ``model(...)``. The wrapped model is ``.model``; its parameters are this module's parameters.
    """

    def __init__(self, model: nn.Module, loss_fn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch) -> torch.Tensor:
        return self.loss_fn(self.model, batch)


def close_distributed(context: DistributedContext | None) -> None:
    """Leave the process group (a no-op for one process)."""
    if context is not None and dist.is_initialized():
        dist.destroy_process_group()


@dataclass(frozen=True)
class ScriptProcess:
    """What a training script needs to know about itself: where to compute, and whether it is one of
    several ``torchrun`` processes (``distributed``) or alone (None)."""

    device: torch.device
    distributed: DistributedContext | None

    @property
    def is_main(self) -> bool:
        """Rank 0, or the only process: the one that prints, evaluates and writes checkpoints."""
        return self.distributed is None or self.distributed.is_main

    def say(self, *args, **kwargs) -> None:
        """``print`` on the main process only."""
        if self.is_main:
            print(*args, **kwargs)

    def finish(self, losses: list[float], losses_out=None) -> bool:
        """The end of training: leave the process group, and on the main process write ``losses`` as JSON
        to ``losses_out`` (a path, or None for no file). Returns whether this is the main process, which
        alone goes on to evaluate and save."""
        close_distributed(self.distributed)
        if not self.is_main:
            return False
        if losses_out is not None:
            import json
            from pathlib import Path

            path = Path(losses_out)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(losses) + "\n")
        return True


def start_script_process(device: str | torch.device | None, batch_size: int) -> ScriptProcess:
    """The start of every pre-training script: pick the device (``device`` or
    :func:`course_utils.training.choose_device`'s choice), join ``torchrun``'s process group when there is
    one, and check that the global ``batch_size`` splits evenly over the processes (a clear SystemExit
    naming both numbers otherwise)."""
    from course_utils.training import choose_device

    chosen = choose_device(device)
    context = init_distributed(chosen)
    if context is None:
        return ScriptProcess(chosen, None)
    if batch_size % context.world_size:
        close_distributed(context)
        raise SystemExit(f"--batch-size {batch_size} must be divisible by the {context.world_size} processes")
    return ScriptProcess(context.device, context)

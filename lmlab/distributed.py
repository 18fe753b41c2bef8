"""Data-parallel training with PyTorch DDP, launched by torchrun (NCCL on CUDA, gloo on CPU).

Single-process runs see rank 0 of world 1, so trainers use the same code either way:

    ctx = init_distributed(device.type)                  # rank, local_rank, world_size from torchrun
    device = device_for(ctx, device)                     # cuda:LOCAL_RANK on a multi-GPU box
    model = wrap_ddp(model.to(device), ctx)              # DDP averages gradients in backward()
    x, y = shard(global_x, ctx), shard(global_y, ctx)    # each rank takes its rows of the global batch
    with no_sync_unless(model, sync=last_micro_step):    # all-reduce once per optimizer step
        loss.backward()
    loss = all_reduce_mean(loss.item(), ctx, device)     # what rank 0 logs: the global-batch loss
    if ctx.is_main: save_checkpoint(...)                 # rank 0 alone writes

``--batch-size`` is per rank (as in nanoGPT): the global batch is batch x ranks x accumulation steps,
and because DDP averages the ranks' gradients, a run on N ranks follows the loss curve of one process
with an N times larger batch.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int
    local_rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        """Only rank 0 logs, evaluates and writes checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun describes in the environment; world 1 when not launched by it."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistContext(rank=0, local_rank=0, world_size=1)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device_type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPU(s) are "
                             "visible; use --nproc_per_node at most the number of GPUs")
        # before the process group: NCCL then binds this rank to its own GPU, not all of them to GPU 0
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistContext(rank=dist.get_rank(), local_rank=local_rank, world_size=dist.get_world_size())


def is_torchrun() -> bool:
    """True inside a process started by torchrun (it sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def global_batch_size(batch_size: int, world_size: int = 1, grad_accum: int = 1) -> int:
    """Examples per optimizer step: per-rank batch x ranks x accumulation steps."""
    for name, value in (("batch_size", batch_size), ("world_size", world_size), ("grad_accum", grad_accum)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return batch_size * world_size * grad_accum


def shard(batch: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """This rank's rows of a global batch: rows ``rank*B .. (rank+1)*B - 1`` with ``B = len/world``.

    Every rank draws the same global batch from the same ``(seed, iteration)`` generator and keeps its
    own slice, so the ranks together see exactly the batch a single process would.
    """
    if not ctx.enabled:
        return batch
    n = batch.size(0)
    if n % ctx.world_size:
        raise ValueError(f"a global batch of {n} rows does not split over {ctx.world_size} ranks; "
                         f"use a batch size divisible by {ctx.world_size}")
    per_rank = n // ctx.world_size
    return batch[ctx.rank * per_rank:(ctx.rank + 1) * per_rank]


def wrap_ddp(model: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when there are several ranks; the model itself otherwise.

    DDP broadcasts rank 0's weights at construction and averages gradients during ``backward()``.
    """
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside DDP and/or torch.compile wrappers (for saving, sampling, evaluation)."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    """Each rank owns one GPU (cuda:LOCAL_RANK); CPU ranks share the CPU."""
    return torch.device("cuda", ctx.local_rank) if device.type == "cuda" and ctx.enabled else device


def no_sync_unless(model: torch.nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """Skip DDP's gradient all-reduce on all but the last micro-step of gradient accumulation."""
    if not sync and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


def all_reduce_mean(value: float | torch.Tensor, ctx: DistContext,
                    device: torch.device) -> float | torch.Tensor:
    """The mean of a number (or tensor) over all ranks (identity in a single process).

    A tensor comes back as a tensor, so a GPU trainer can average its loss without waiting for the device.
    """
    if not ctx.enabled:
        return value
    if isinstance(value, torch.Tensor):
        t = value.detach().clone()
        dist.all_reduce(t)
        return t / ctx.world_size
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / ctx.world_size).item()


def broadcast_flag(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """Rank 0's value of ``flag`` on every rank (e.g. "stop now" after Ctrl-C reached rank 0 only)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([int(flag)], dtype=torch.int32, device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier(ctx: DistContext) -> None:
    """Wait until every rank gets here (e.g. rank 0 finished writing the checkpoint)."""
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """Leave the process group together: a rank tearing gloo down while another still talks to it can
    abort the other ("terminate called without an active exception"). A rank that never arrives (it
    crashed) is waited for at most a minute."""
    if ctx.enabled and dist.is_initialized():
        if dist.get_backend() == "gloo":
            with contextlib.suppress(RuntimeError):
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=60))
        dist.destroy_process_group()


def torchrun_command(nproc: int, args: Sequence[str], *, module: str = "lmlab") -> list[str]:
    """The command a student would type, as a list: ``torchrun --standalone --nproc_per_node=N -m lmlab ...``.

    It runs torchrun through this Python (``python -m torch.distributed.run``) so the right environment
    is used; ``--standalone`` finds a free local port, so several demos never collide.
    """
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", module, *map(str, args)]


def launch(nproc: int, args: Sequence[str], *, threads_per_rank: int = 1, timeout: float | None = 600,
           echo: bool = True) -> subprocess.CompletedProcess:
    """Run ``lmlab ARGS`` on ``nproc`` local ranks with torchrun and return the finished process.

    On a CPU the ranks share the cores, so each gets ``threads_per_rank`` threads (torchrun's own
    default): more would only make the ranks fight over the same cores.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_rank)}
    cmd = torchrun_command(nproc, args)
    if echo:
        print(f"$ torchrun --standalone --nproc_per_node={nproc} -m lmlab {' '.join(map(str, args))}",
              flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"torchrun with {nproc} ranks failed (exit {proc.returncode}):\n{tail}")
    return proc



class PeerFailed(SystemExit):
    """Another rank failed (a write, or weights that went non-finite) and said why in one line; this
    rank stops quietly with exit status 1 instead of waiting for a collective that never comes."""

    def __init__(self) -> None:
        super().__init__(1)


def write_together(ctx: DistContext, write: Callable[[], None] | None) -> None:
    """Run ``write`` (None on a rank with nothing to write), then agree on the outcome (collective).

    When ``write`` raised on any rank, every rank stops: the lowest failing rank re-raises its error
    (the CLI prints it as one line) and the others raise ``PeerFailed``. Without this agreement a rank
    whose checkpoint failed would leave the others waiting in the next step's all-reduce.
    """
    error: BaseException | None = None
    try:
        if write is not None:
            write()
    except (OSError, ValueError) as err:  # WriteFailed, NonFiniteWeights
        error = err
    if not ctx.enabled:
        if error is not None:
            raise error
        return
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    first = torch.tensor([ctx.rank if error is not None else ctx.world_size], device=backend_device)
    dist.all_reduce(first, op=dist.ReduceOp.MIN)
    failed_rank = int(first.item())
    if failed_rank == ctx.world_size:
        return
    if failed_rank == ctx.rank and error is not None:
        raise error
    raise PeerFailed()

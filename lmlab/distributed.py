"""Data-parallel training with PyTorch DDP, launched by torchrun (NCCL on CUDA, gloo on CPU).

Single-process runs see rank 0 of world 1, so trainers use the same code either way.
"""

from __future__ import annotations

import contextlib
import os
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
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    return DistContext(rank=dist.get_rank(), local_rank=local_rank, world_size=dist.get_world_size())


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    """Each rank owns one GPU (cuda:LOCAL_RANK); CPU ranks share the CPU."""
    return torch.device("cuda", ctx.local_rank) if device.type == "cuda" and ctx.enabled else device


def no_sync_unless(model: torch.nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """Skip DDP's gradient all-reduce on all but the last micro-step of gradient accumulation."""
    if not sync and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


def all_reduce_mean(value: float, ctx: DistContext, device: torch.device) -> float:
    """The mean of a number over all ranks (identity in a single process)."""
    if not ctx.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / ctx.world_size).item()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()

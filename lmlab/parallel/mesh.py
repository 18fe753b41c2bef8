"""The device mesh every plan takes, and one start for all ranks."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh


def make_mesh(world_size: int | None = None, device_type: str = "cpu") -> DeviceMesh:
    """A 1-D mesh over all ranks of the process group (gloo on CPU, NCCL on GPUs)."""
    world_size = world_size or dist.get_world_size()
    return init_device_mesh(device_type, (world_size,))


@torch.no_grad()
def broadcast_module(model: torch.nn.Module, src: int = 0) -> torch.nn.Module:
    """Rank ``src``'s parameters and buffers on every rank (DDP does this itself; FSDP2 does not)."""
    for t in [*model.parameters(), *model.buffers()]:
        dist.broadcast(t.data, src=src)
    return model

"""Sharded data parallel with FSDP2 (``torch.distributed.fsdp.fully_shard``).

Each rank keeps 1/N of every parameter, of its gradient and of the optimizer's moments. Before a block
runs forward (and again in backward) its full weights are all-gathered, used and freed; after backward
its gradient is reduce-scattered, so each rank receives the average gradient of its own shard only.
"""

from __future__ import annotations

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor


def apply_fsdp(model: torch.nn.Module, mesh: DeviceMesh) -> torch.nn.Module:
    """Shard every Transformer block, then the rest (embeddings, final LayerNorm) as the root unit.

    One unit per block means only one block's full weights exist at a time: memory is ~1/N of the
    model plus one block. The model is changed in place (its parameters become DTensors) and returned.
    """
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def _local(t: torch.Tensor) -> torch.Tensor:
    return t.to_local() if isinstance(t, DTensor) else t


def state_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, int]:
    """Bytes this rank stores for parameters, gradients and optimizer state (its shards, not the whole)."""
    params = list({id(p): p for p in model.parameters()}.values())  # a tied weight counts once
    out = {"params": sum(_local(p).numel() * p.element_size() for p in params),
           "grads": sum(_local(p.grad).numel() * p.grad.element_size() for p in params if p.grad is not None),
           "optimizer": 0}
    if optimizer is not None:
        for state in optimizer.state.values():
            for v in state.values():
                if isinstance(v, torch.Tensor) and v.dim() > 0:  # moments; not the step counter
                    out["optimizer"] += _local(v).numel() * v.element_size()
    return out

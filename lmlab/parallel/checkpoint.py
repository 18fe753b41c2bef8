"""Sharded checkpoints with ``torch.distributed.checkpoint`` (DCP), and reading one back in one process.

Under FSDP no rank holds the whole model. ``save_sharded`` has every rank write its own shards (in
parallel, nothing gathered); a metadata file records where each piece of every tensor lives, so the
checkpoint can be read back by any number of processes, one included.
"""

from __future__ import annotations

import os

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict


def save_sharded(model: torch.nn.Module, path: str | os.PathLike,
                 optimizer: torch.optim.Optimizer | None = None) -> None:
    """Every rank writes its shards of the model (and optimizer) under the folder ``path`` (collective)."""
    state = {"model": get_model_state_dict(model)}
    if optimizer is not None:
        state["optim"] = get_optimizer_state_dict(model, optimizer)
    dcp.save(state, checkpoint_id=str(path))


def load_sharded_into(model: torch.nn.Module, path: str | os.PathLike) -> torch.nn.Module:
    """Fill a plain single-process ``model`` from a sharded checkpoint written by any number of ranks."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no sharded checkpoint folder at {path}; train with --parallel fsdp first")
    state = {"model": model.state_dict()}
    dcp.load(state, checkpoint_id=str(path), no_dist=True)  # reads each tensor from the shards it spans
    model.load_state_dict(state["model"])
    return model

"""Sharded checkpoints with ``torch.distributed.checkpoint`` (DCP), and reading one back in one process.

Under FSDP no rank holds the whole model. ``save_sharded`` has every rank write its own shards (in
parallel, nothing gathered); a metadata file records where each piece of every tensor lives, so the
checkpoint can be read back by any number of processes, one included. The shards go to a hidden
``.NAME-partial`` folder first and replace ``NAME`` only once every rank's write succeeded, so a failed
write (a full disk) leaves the previous sharded checkpoint whole.
"""

from __future__ import annotations

import errno
import os
import shutil
import warnings
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict


def save_sharded(model: torch.nn.Module, path: str | os.PathLike,
                 optimizer: torch.optim.Optimizer | None = None) -> None:
    """Every rank writes its shards of the model (and optimizer) under the folder ``path`` (collective).

    A write that fails on any rank raises the ``OSError`` behind it on every rank; ``path`` is untouched.
    """
    path = Path(path)
    partial, old = path.with_name(f".{path.name}-partial"), path.with_name(f".{path.name}-old")
    main = dist.get_rank() == 0
    state = {"model": get_model_state_dict(model)}
    if optimizer is not None:
        state["optim"] = get_optimizer_state_dict(model, optimizer)
    if main:
        shutil.rmtree(partial, ignore_errors=True)  # a run killed mid-write left it
    dist.barrier()
    try:
        dcp.save(state, checkpoint_id=str(partial))  # raises on every rank when any rank failed
    except CheckpointException as err:
        if main:
            shutil.rmtree(partial, ignore_errors=True)
        raise _first_os_error(err) from None
    if main:  # every shard and the metadata are on disk: swap the folders
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        partial.rename(path)
        shutil.rmtree(old, ignore_errors=True)


def _first_os_error(err: CheckpointException) -> OSError:
    """The OSError a rank met inside DCP (errno kept, so the one-line message can name the fix)."""
    for rank in sorted(err.failures):
        exc = err.failures[rank][0]
        while exc is not None and not isinstance(exc, OSError):
            exc = exc.__cause__ or exc.__context__
        if exc is not None:
            return exc
    return OSError(errno.EIO, f"the sharded checkpoint failed on rank(s) {sorted(err.failures)}")


def load_sharded_into(model: torch.nn.Module, path: str | os.PathLike) -> torch.nn.Module:
    """Fill a plain single-process ``model`` from a sharded checkpoint written by any number of ranks."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no sharded checkpoint folder at {path}; train with --parallel fsdp first")
    state = {"model": model.state_dict()}
    with warnings.catch_warnings():  # one process on purpose: DCP's "assuming a single process" is noise
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(path), no_dist=True)  # reads each tensor from the shards it spans
    model.load_state_dict(state["model"])
    return model

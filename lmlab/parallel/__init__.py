"""Parallel plans for the GPT, torchtitan style: the model stays plain, each plan takes it and a mesh.

    mesh = make_mesh(world_size)                  # a 1-D DeviceMesh over all ranks (gloo CPU / NCCL GPU)
    apply_fsdp(model, mesh)                       # FSDP2: every rank holds 1/N of each parameter
    apply_tp(model, mesh)                         # Megatron tensor parallel: heads and MLP units split
    stage = pipeline_stage(model, rank, n_stages) # pipeline parallel: this rank's slice of the layers

``lmlab/models/transformer/model.py`` never imports ``torch.distributed``: a learner reads the model
first and the parallel plan second.
"""

import importlib
from typing import Any

_WHERE = {"apply_fsdp": "fsdp", "state_bytes": "fsdp", "broadcast_module": "mesh", "make_mesh": "mesh",
          "bubble_fraction": "pipeline", "pipeline_schedule": "pipeline", "pipeline_stage": "pipeline",
          "stage_layers": "pipeline", "sync_tied": "pipeline", "tied_group": "pipeline", "apply_tp": "tensor",
          "column_parallel_matmul": "tensor", "full_state_dict": "tensor", "save_sharded": "checkpoint",
          "load_sharded_into": "checkpoint", "check_parallel": "checks", "check_resume": "checks"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    # imported on first use: torch.distributed's engines take a while to load, and the CLI's checks
    # (lmlab.parallel.checks) need none of them
    if name in _WHERE:
        return getattr(importlib.import_module(f"lmlab.parallel.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'lmlab.parallel' has no attribute {name!r}")

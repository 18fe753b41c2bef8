"""Tensor parallelism, Megatron style, with DTensor's ``parallelize_module``.

In each block the first matmul of attention (W_qkv) and of the MLP (fc) is split **column-wise**: rank r
computes the outputs of its own heads / hidden units from the full input. The second matmul (W_o, proj)
is split **row-wise**: each rank multiplies its slice of the hidden vector by its rows of the weight
and one all-reduce sums the partial results. Two all-reduces per block forward, none in between.

The fused W_qkv holds [q; k; v] for all heads. Cut straight into N pieces, rank 0 would get all of q
and part of k; so the plan first reorders the rows rank-major, [q_0; k_0; v_0; q_1; k_1; v_1], and each
rank's slice is again a [q; k; v] matrix, for its n_head / N heads.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

from lmlab.parallel.checks import check_tp


def rank_major(w: torch.Tensor, n: int) -> torch.Tensor:
    """Rows [q; k; v] (3C, ...) -> [q_0; k_0; v_0; ...; q_n-1; k_n-1; v_n-1]: rank r's heads together."""
    return w.reshape(3, n, w.size(0) // (3 * n), *w.shape[1:]).transpose(0, 1).reshape(w.shape)


def qkv_major(w: torch.Tensor, n: int) -> torch.Tensor:
    """The inverse of ``rank_major``: back to the model's [q; k; v] rows."""
    return w.reshape(n, 3, w.size(0) // (3 * n), *w.shape[1:]).transpose(0, 1).reshape(w.shape)


@torch.no_grad()
def apply_tp(model: torch.nn.Module, mesh: DeviceMesh) -> torch.nn.Module:
    """Split every block's attention heads and MLP hidden units over ``mesh`` (in place; returned).

    Embeddings, LayerNorms and the (tied) output layer stay whole on every rank: every rank sees the
    same batch, so their gradients are the same everywhere without communication.
    """
    n = mesh.size()
    check_tp(model.config, n)
    for block in model.blocks:
        attn = block.attn
        for p in attn.W_qkv.parameters():
            p.copy_(rank_major(p, n))
        attn.W_qkv.rank_major = n  # read back by full_state_dict
        parallelize_module(block, mesh, {"attn.W_qkv": ColwiseParallel(), "attn.W_o": RowwiseParallel(),
                                         "mlp.fc": ColwiseParallel(), "mlp.proj": RowwiseParallel()})
        attn.n_head //= n  # the heads this rank computes
        if attn.rotary:  # every head turns by the same angles: keep this rank's count of them
            attn.rope_cos = attn.rope_cos[:, :, :attn.n_head].contiguous()
            attn.rope_sin = attn.rope_sin[:, :, :attn.n_head].contiguous()
    return model


def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The whole model's weights on every rank (a collective: all ranks call it), in the plain layout."""
    state = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        n = getattr(module, "rank_major", None)
        for p in ("weight", "bias") if n else ():
            key = f"{name}.{p}"
            if state.get(key) is not None:
                state[key] = qkv_major(state[key], n)
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def shard_like(full: torch.Tensor, param: torch.Tensor,
               module: torch.nn.Module | None = None) -> torch.Tensor:
    """A full tensor (e.g. an optimizer moment) laid out and sharded as ``param`` is."""
    if not isinstance(param, DTensor):
        return full.to(param.device)
    n = getattr(module, "rank_major", None)
    if n:
        full = rank_major(full, n)
    return distribute_tensor(full.to(param.device), param.device_mesh, param.placements)


def column_parallel_matmul(x: torch.Tensor, w_local: torch.Tensor) -> torch.Tensor:
    """y = x Wᵀ with W split by output rows over the ranks, written out: what ColwiseParallel does.

    x: (B, C_in) the same on every rank; w_local: (C_out / N, C_in) this rank's rows of W.
    Each rank computes its own C_out / N output columns, then ``all_gather`` puts them side by side.
    """
    y_local = x @ w_local.T  # (B, C_out / N): this rank's columns of y
    parts = [torch.empty_like(y_local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, y_local)  # every rank receives every rank's columns
    return torch.cat(parts, dim=-1)  # (B, C_out)

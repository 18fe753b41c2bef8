"""Each plan against one process, run under torchrun: the evidence behind the notebook and the tests.

    torchrun --standalone --nproc_per_node=2 -m lmlab.parallel.compare --out parallel.json

Every rank builds the same tiny GPT and draws the same batches; rank 0 writes one JSON with, per scheme,
the loss curve beside the single-process one (same global batch), per-rank memory, the tensor-parallel
forward and gradients against the unsplit model, and the pipeline's measured bubble.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from lmlab.atomic import atomic_write
from lmlab.distributed import init_distributed, shard, shutdown
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.parallel.fsdp import apply_fsdp, state_bytes
from lmlab.parallel.mesh import make_mesh
from lmlab.parallel.pipeline import bubble_fraction, pipeline_schedule, pipeline_stage, sync_tied, tied_group
from lmlab.parallel.tensor import apply_tp, column_parallel_matmul, qkv_major

TINY = dict(vocab_size=32, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0)


def batch(it: int, rows: int, cfg: GPTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Step ``it``'s global batch (the same on every rank): a learnable pattern, y = x + 1 mod V."""
    g = torch.Generator().manual_seed(1000 + it)
    x = torch.randint(0, cfg.vocab_size, (rows, cfg.block_size), generator=g)
    return x, (x + 1) % cfg.vocab_size


def single_process(cfg: GPTConfig, steps: int, rows: int, lr: float = 1e-2) -> dict[str, Any]:
    """The reference: one process, the whole batch, plain AdamW; also its memory (what DDP keeps per rank)."""
    torch.manual_seed(0)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for it in range(steps):
        x, y = batch(it, rows, cfg)
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        if it < steps - 1:  # keep the last gradients: their bytes count
            opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return {"losses": losses, "bytes": state_bytes(model, opt)}


def run_fsdp(cfg: GPTConfig, steps: int, rows: int, lr: float = 1e-2) -> dict[str, Any]:
    """FSDP2 on all ranks; each rank trains on its rows of the global batch."""
    ctx = init_distributed("cpu")
    torch.manual_seed(0)
    model = apply_fsdp(GPT(cfg), make_mesh(ctx.world_size))
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for it in range(steps):
        x, y = batch(it, rows, cfg)
        _, loss = model(shard(x, ctx), shard(y, ctx))
        loss.backward()
        opt.step()
        if it < steps - 1:
            opt.zero_grad(set_to_none=True)
        total = loss.detach().clone()
        dist.all_reduce(total)
        losses.append(total.item() / ctx.world_size)
    per_rank: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(per_rank, state_bytes(model, opt))
    return {"losses": losses, "bytes_per_rank": per_rank}


def check_tp(cfg: GPTConfig, rows: int) -> dict[str, Any]:
    """Tensor parallel forward and gradients against the unsplit model, and the hand-written matmul."""
    ctx = init_distributed("cpu")
    torch.manual_seed(0)
    ref = GPT(cfg)
    tp = apply_tp(copy.deepcopy(ref), make_mesh(ctx.world_size))
    x, y = batch(0, rows, cfg)
    logits_ref, loss_ref = ref(x, y)
    loss_ref.backward()
    logits_tp, loss_tp = tp(x, y)
    loss_tp.backward()
    grad_diff = 0.0
    for (name, p_ref), (_, p_tp) in zip(ref.named_parameters(), tp.named_parameters(), strict=True):
        g = p_tp.grad.full_tensor() if isinstance(p_tp.grad, DTensor) else p_tp.grad
        if "W_qkv" in name:
            g = qkv_major(g, ctx.world_size)
        grad_diff = max(grad_diff, (g - p_ref.grad).abs().max().item())
    # which rows of W_qkv this rank holds: heads rank*nh/N .. (rank+1)*nh/N - 1 of q, k and v
    local_qkv = tp.blocks[0].attn.W_qkv.weight.to_local().shape
    # the teaching matmul: y = x Wᵀ with W's output rows split over the ranks, gathered by hand
    g = torch.Generator().manual_seed(5)
    w = torch.randn(4 * ctx.world_size, 8, generator=g)
    xs = torch.randn(3, 8, generator=g)
    per = w.size(0) // ctx.world_size
    y_hand = column_parallel_matmul(xs, w[ctx.rank * per:(ctx.rank + 1) * per])
    return {"logits_max_diff": (logits_tp - logits_ref).abs().max().item(),
            "loss_diff": abs(loss_tp.item() - loss_ref.item()), "grad_max_diff": grad_diff,
            "local_W_qkv_shape": list(local_qkv),
            "full_W_qkv_shape": list(ref.blocks[0].attn.W_qkv.weight.shape),
            "hand_matmul_max_diff": (y_hand - xs @ w.T).abs().max().item()}


def run_pp(cfg: GPTConfig, steps: int, rows: int, microbatches: int, lr: float = 1e-2) -> dict[str, Any]:
    """GPipe over the ranks (one stage each): the loss of every step, broadcast from the last stage."""
    ctx = init_distributed("cpu")
    torch.manual_seed(0)
    stage = pipeline_stage(GPT(cfg), ctx.rank, ctx.world_size)
    schedule = pipeline_schedule(stage, ctx.rank, ctx.world_size, microbatches)
    tied = tied_group(ctx.world_size)
    opt = torch.optim.AdamW(stage.parameters(), lr=lr)
    losses, times = [], []
    for it in range(steps):
        x, y = batch(it, rows, cfg)
        t0 = time.perf_counter()
        out: list[torch.Tensor] = []
        if ctx.rank == 0:
            schedule.step(x)
        elif ctx.rank == ctx.world_size - 1:
            schedule.step(target=y, losses=out)
        else:
            schedule.step()
        sync_tied(stage, tied)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        loss = torch.stack(out).mean().detach() if out else torch.zeros(())
        dist.broadcast(loss, src=ctx.world_size - 1)
        losses.append(loss.item())
    return {"losses": losses, "step_s": times}


def measure_bubble(cfg: GPTConfig, rows: int, ms: list[int], steps: int = 4) -> list[dict[str, float]]:
    """Step time of GPipe with m micro-batches against the ideal: one process's step time over p.

    measured bubble = 1 - (t_single / p) / t_pipeline(m): the share of a pipelined step not spent on the
    stage's own work (idle slots, plus sending activations), beside (p - 1) / (m + p - 1).
    """
    ctx = init_distributed("cpu")
    p = ctx.world_size
    t_single = None
    if ctx.rank == 0:  # the other ranks wait: rank 0 has the cores to itself
        torch.manual_seed(0)
        model = GPT(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        times = []
        for it in range(steps + 1):
            x, y = batch(it, rows, cfg)
            t0 = time.perf_counter()
            model(x, y)[1].backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
        t_single = sorted(times[1:])[len(times[1:]) // 2]
    t = torch.tensor([t_single or 0.0], dtype=torch.float64)
    dist.broadcast(t, src=0)
    t_single = t.item()
    out = []
    for m in ms:
        step_s = run_pp(cfg, steps + 1, rows, m, lr=1e-3)["step_s"][1:]  # the first step sets up buffers
        t_pp = sorted(step_s)[len(step_s) // 2]
        out.append({"m": m, "step_s": t_pp, "single_step_s": t_single,
                    "measured_bubble": max(0.0, 1 - (t_single / p) / t_pp), "formula": bubble_fraction(p, m)})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schemes", default="fsdp,tp,pp", help="comma-separated: fsdp, tp, pp, bubble")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rows", type=int, default=8, help="global batch (rows)")
    ap.add_argument("--microbatches", default="1,2,4,8", help="m values for the bubble")
    ap.add_argument("--bubble-size", default="4,128,64,32",
                    help="n_layer,n_embd,block_size,rows of the model timed for the bubble")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ctx = init_distributed("cpu")
    cfg = GPTConfig(**TINY)
    result: dict[str, Any] = {"world_size": ctx.world_size, "config": TINY, "rows": args.rows}
    try:
        schemes = args.schemes.split(",")
        if ctx.is_main and {"fsdp", "pp"} & set(schemes):
            result["single"] = single_process(cfg, args.steps, args.rows)
        if "fsdp" in schemes:
            result["fsdp"] = run_fsdp(cfg, args.steps, args.rows)
        if "tp" in schemes:
            result["tp"] = check_tp(cfg, args.rows)
        if "pp" in schemes:
            result["pp"] = run_pp(cfg, args.steps, args.rows, microbatches=2)
        if "bubble" in schemes:
            n_layer, n_embd, block, rows = map(int, args.bubble_size.split(","))
            big = GPTConfig(vocab_size=65, block_size=block, n_layer=n_layer, n_head=4, n_embd=n_embd)
            result["bubble"] = measure_bubble(big, rows, [int(m) for m in args.microbatches.split(",")])
        if ctx.is_main:
            with atomic_write(args.out) as f:  # a full disk never leaves half a JSON
                json.dump(result, f, indent=1)
    finally:
        shutdown(ctx)


if __name__ == "__main__":
    main()

"""``lmlab train gpt --parallel fsdp|tp|pp`` under torchrun: the GPT trainer's loop with a parallel plan.

Batches, schedule, clipping, evaluation and checkpoints follow ``train_gpt``; what changes is who holds
what. Every rank takes part in evaluation and in gathering the checkpoint (under FSDP, TP and PP no rank
holds the whole model), and rank 0 alone writes ``ckpt.pt``/``best.pt``, plain single-process files that
``lmlab sample`` reads and ``--resume`` shards again. FSDP also writes ``OUT/dcp/``, a sharded checkpoint.

Batch sizes: under ``fsdp`` (data parallel) ``--batch-size`` is per rank, as under DDP; under ``tp`` and
``pp`` all ranks work on one batch together, so ``--batch-size`` x ``--grad-accum`` is the whole batch
(under ``pp`` the ``--grad-accum`` micro-batches are what flows through the pipeline).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from lmlab.checkpoint import run_extra, save_checkpoint
from lmlab.device import Precision, autocast, pick_precision
from lmlab.distributed import DistContext, all_reduce_mean, shard, write_together
from lmlab.models.transformer.trainer import TokenData, TrainConfig, TrainResult, estimate_loss
from lmlab.parallel.checks import check_parallel
from lmlab.parallel.fsdp import apply_fsdp
from lmlab.parallel.mesh import broadcast_module, make_mesh
from lmlab.parallel.pipeline import pipeline_schedule, pipeline_stage, sync_tied, tied_group
from lmlab.parallel.tensor import apply_tp, qkv_major, shard_like
from lmlab.tokenizers import Tokenizer
from lmlab.train import History, fit
from lmlab.train.failures import guarded_write
from lmlab.train.loop import step_generator
from lmlab.train.optim import adamw, decay_groups
from lmlab.train.schedule import scheduled_lr

DIVERGENCE_HINT = "lower --lr (the peak learning rate) or turn clipping on (--grad-clip 1.0)"


def _plain_order(model: torch.nn.Module) -> list[str]:
    """Parameter names in the order of ``GPT.configure_optimizers`` (a plain optimizer's state indices)."""
    named = list(model.named_parameters())
    return [n for n, p in named if p.dim() >= 2] + [n for n, p in named if p.dim() < 2]


def _full(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if isinstance(t, DTensor) else t


class _Plan:
    """The model under one scheme: how to step, evaluate and gather it."""

    def __init__(self, scheme: str, model: torch.nn.Module, ctx: DistContext, device: torch.device,
                 tcfg: TrainConfig) -> None:
        self.scheme, self.ctx, self.tcfg, self.device = scheme, ctx, tcfg, device
        self.order = _plain_order(model)
        self.cfg = model.config
        broadcast_module(model)  # one start: rank 0's initial weights everywhere
        mesh = make_mesh(ctx.world_size, device.type)
        self.owner: dict[str, torch.nn.Module] = {}  # parameter name -> its module (TP layout)
        if scheme == "fsdp":
            self.module = apply_fsdp(model, mesh)
        elif scheme == "tp":
            self.module = apply_tp(model, mesh)
        else:
            self.stage = ctx.rank
            self.module = pipeline_stage(model, ctx.rank, ctx.world_size)
            self.schedule = pipeline_schedule(self.module, ctx.rank, ctx.world_size, tcfg.grad_accum, device)
            self.tied = tied_group(ctx.world_size)
        for name, mod in self.module.named_modules():
            for pname, _ in mod.named_parameters(recurse=False):
                self.owner[f"{name}.{pname}" if name else pname] = mod
        self.named = list(self.module.named_parameters())
        # lmlab's one AdamW policy (matrices decay), over this rank's part of the model; under TP the
        # fused kernel refuses a group that mixes DTensor (split) and plain (replicated) parameters
        betas = (tcfg.beta1, tcfg.beta2)
        if scheme == "tp":
            self.optimizer = torch.optim.AdamW(decay_groups(self.module, tcfg.weight_decay), lr=tcfg.lr,
                                               betas=betas)
        else:
            self.optimizer = adamw(self.module, lr=tcfg.lr, weight_decay=tcfg.weight_decay, betas=betas,
                                   device_type=device.type)

    def _name(self, n: str) -> str:
        """The GPT's name of a parameter (the last pipeline stage's lm_head is the tied embedding)."""
        return "embed.wte.weight" if n == "lm_head.weight" else n

    def load_optimizer(self, plain: torch.optim.Optimizer, plain_model_names: list[str]) -> None:
        """Shard a plain optimizer's state (from a single-process checkpoint) like the parameters."""
        state = plain.state_dict()
        flat = [i for g in state["param_groups"] for i in g["params"]]
        by_name = {plain_model_names[k]: state["state"].get(i) for k, i in enumerate(flat)}
        name_of = {id(p): n for n, p in self.named}
        mine_order = [p for g in self.optimizer.param_groups for p in g["params"]]  # state_dict's indices
        new = {}
        for k, p in enumerate(mine_order):
            n = name_of[id(p)]
            s = by_name.get(self._name(n))
            if s:
                new[k] = {key: shard_like(v, p, self.owner[n]) if v.dim() else v.clone()
                          for key, v in s.items()}
        mine = self.optimizer.state_dict()
        mine["state"] = new
        self.optimizer.load_state_dict(mine)

    def step(self, it: int, data: TokenData, lr: float, precision: Precision) -> torch.Tensor:
        tcfg, ctx, T = self.tcfg, self.ctx, self.cfg.block_size
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        gen = step_generator(tcfg.seed * 1009, it)
        if self.scheme == "pp":
            x, y = data.batch("train", tcfg.batch_size * tcfg.grad_accum, T, gen, self.device)
            losses: list[torch.Tensor] = []
            with autocast(self.device, precision):
                if self.stage == 0:
                    self.schedule.step(x)
                elif self.stage == ctx.world_size - 1:
                    self.schedule.step(target=y, losses=losses)
                else:
                    self.schedule.step()
            sync_tied(self.module, self.tied)
            total = torch.stack(losses).mean().detach() if losses else torch.zeros((), device=self.device)
            dist.broadcast(total, src=ctx.world_size - 1)  # the last stage computed it
        else:
            total = None
            rows = tcfg.batch_size * (ctx.world_size if self.scheme == "fsdp" else 1)
            for _ in range(tcfg.grad_accum):
                x, y = data.batch("train", rows, T, gen, self.device)
                if self.scheme == "fsdp":
                    x, y = shard(x, ctx), shard(y, ctx)
                with autocast(self.device, precision):
                    _, loss = self.module(x, y)
                (loss / tcfg.grad_accum).backward()
                part = loss.detach() / tcfg.grad_accum
                total = part if total is None else total + part
            # FSDP: each rank's rows; TP: the same loss on every rank, averaged anyway so that every
            # rank sees the very same number and a nan stops them all at the same iteration
            total = all_reduce_mean(total, ctx, self.device)
        if tcfg.grad_clip > 0:
            self.clip(tcfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total

    def clip(self, max_norm: float) -> None:
        """Clip the norm of the whole model's gradient (every rank's pieces together), as
        ``clip_grad_norm_`` does in one process."""
        sq = torch.zeros((), dtype=torch.float64, device=self.device)
        grads = []
        for n, p in self.named:
            if p.grad is None:
                continue
            g = p.grad.to_local() if isinstance(p.grad, DTensor) else p.grad
            grads.append(g)
            if isinstance(p.grad, DTensor) and any(pl.is_shard() for pl in p.grad.placements):
                counts = True  # each rank holds a disjoint piece
            elif self.scheme == "pp":
                counts = not self.is_tied_copy(n)  # stages hold disjoint layers; the tied copy once
            else:
                counts = self.ctx.rank == 0  # the same on every rank: count one copy
            if counts:
                sq += g.double().pow(2).sum()
        dist.all_reduce(sq)
        coef = min(1.0, max_norm / (sq.sqrt().item() + 1e-6))
        for g in grads:
            g.mul_(coef)

    def is_tied_copy(self, n: str) -> bool:
        """The last stage's copy of the tied embedding (its gradient equals the original's after sync)."""
        return self.scheme == "pp" and self.ctx.world_size > 1 and n == "lm_head.weight"

    def evaluate(self, data: TokenData, precision: Precision) -> dict[str, float]:
        tcfg = self.tcfg
        if self.scheme != "pp":
            rows = tcfg.batch_size * (self.ctx.world_size if self.scheme == "fsdp" else 1)
            return estimate_loss(self.module, data, rows, tcfg.eval_iters, self.device, precision, tcfg.seed)
        out = {}
        self.module.eval()
        with torch.no_grad(), autocast(self.device, precision):
            for split in ("train", "val"):
                gen = torch.Generator().manual_seed(tcfg.seed + (0 if split == "train" else 1))
                values = []
                for _ in range(tcfg.eval_iters):
                    # the rows train_gpt evaluates, cut into the schedule's micro-batches
                    x, y = data.batch(split, tcfg.batch_size, self.cfg.block_size, gen, self.device)
                    losses: list[torch.Tensor] = []
                    if self.stage == 0:
                        self.schedule.eval(x)
                    elif self.stage == self.ctx.world_size - 1:
                        self.schedule.eval(target=y, losses=losses)
                    else:
                        self.schedule.eval()
                    loss = torch.stack(losses).mean() if losses else torch.zeros((), device=self.device)
                    dist.broadcast(loss, src=self.ctx.world_size - 1)
                    values.append(loss.item())
                out[f"{split}_loss"] = sum(values) / len(values)
        self.module.train()
        return out

    def gather(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The plain model's state dict and a plain optimizer state dict (collective; complete on rank 0)."""
        from lmlab.parallel.tensor import full_state_dict

        moments: dict[str, dict[str, torch.Tensor]] = {}
        for n, p in self.named:
            s = self.optimizer.state.get(p, {})
            entry = {}
            for key, v in s.items():
                v = _full(v)
                n_major = getattr(self.owner[n], "rank_major", None)
                if v.dim() and n_major:
                    v = qkv_major(v, n_major)
                entry[key] = v.detach().cpu().clone()
            if not self.is_tied_copy(n):
                moments[self._name(n)] = entry
        if self.scheme == "pp":
            model_sd = {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}
            parts: list[Any] = [None] * self.ctx.world_size
            dist.all_gather_object(parts, (model_sd, moments))
            model_sd, moments = {}, {}
            for sd, mo in parts:
                model_sd.update(sd)
                moments.update(mo)
            model_sd["lm_head.weight"] = model_sd["embed.wte.weight"]  # tied again in the plain model
        else:
            model_sd = full_state_dict(self.module)
        groups = [dict(g) for g in self.optimizer.state_dict()["param_groups"]]
        decay = [n for n in self.order if model_sd[n].dim() >= 2]
        index = {n: i for i, n in enumerate(self.order)}
        groups[0]["params"] = [index[n] for n in decay]
        groups[1]["params"] = [index[n] for n in self.order if n not in decay]
        optim = {"state": {index[n]: s for n, s in moments.items() if s}, "param_groups": groups}
        return model_sd, optim


class _Saved(torch.nn.Module):
    """A stand-in for save_checkpoint: its state_dict (and the tensors save_checkpoint checks for nan/inf)
    are the gathered plain model's."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs) -> dict[str, torch.Tensor]:  # noqa: D102
        return self._state

    def named_parameters(self, *args, **kwargs):  # noqa: D102
        yield from ((n, t) for n, t in self._state.items() if t.is_floating_point())


class _SavedOptimizer:
    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def state_dict(self) -> dict[str, Any]:
        return self._state


def train_parallel_gpt(model: torch.nn.Module, data: TokenData, tcfg: TrainConfig, *, scheme: str,
                       tokenizer: Tokenizer | None = None, device: torch.device | str = "cpu",
                       precision: Precision | None = None, out_dir: str | os.PathLike | None = None,
                       history: History | None = None, optimizer: torch.optim.Optimizer | None = None,
                       start_iter: int = 0, train_s: float = 0.0, best_val: float = math.inf,
                       ctx: DistContext, progress: bool = True, desc: str = "gpt",
                       config_record: dict[str, Any] | None = None,
                       sharded_dir: str | os.PathLike | None = None, wall_s: float = 0.0,
                       wall_start: float | None = None, **_: Any) -> TrainResult:
    """``train_gpt``'s contract under FSDP, TP or PP; every rank calls it, rank 0 writes ``out_dir``.

    A nan/inf loss stops every rank at the same iteration (the loss is the same number everywhere) with
    one line from rank 0; a write that fails, or weights gone non-finite, stop every rank (one line, from
    the rank that failed; see ``write_together``).
    """
    wall0 = time.perf_counter() if wall_start is None else wall_start
    device = torch.device(device)
    precision = precision or pick_precision(device)
    if tcfg.time_budget_s is not None:
        raise ValueError("a time budget cannot be used under torchrun: every rank must stop at the same "
                         "iteration; give --max-iters (and --lr-decay-iters) instead of --time-budget")
    if precision.use_grad_scaler:
        raise ValueError(f"--parallel {scheme} trains in fp32 or bf16, not fp16 (no loss scaling here); "
                         "use --precision bf16 or --precision fp32")
    cfg = model.config
    check_parallel(scheme, cfg, ctx.world_size, tcfg.batch_size, tcfg.grad_accum)
    data.check_block_size(cfg.block_size)
    model.to(device)
    plain_names = _plain_order(model)
    plan = _Plan(scheme, model, ctx, device, tcfg)
    if optimizer is not None and optimizer.state:
        plan.load_optimizer(optimizer, plain_names)
    history = history if history is not None else History()
    state = {"train_s": train_s, "best_val": best_val, "it": start_iter}
    rows = tcfg.batch_size * tcfg.grad_accum * (ctx.world_size if scheme == "fsdp" else 1)
    tokens_per_step = rows * cfg.block_size
    out = Path(out_dir) if out_dir is not None else None  # rank 0 only

    def step(it: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        lr = scheduled_lr(it, lr=tcfg.lr, min_lr=tcfg.min_lr, warmup_iters=tcfg.warmup_iters,
                          decay_iters=tcfg.lr_decay_iters)
        loss = plan.step(it, data, lr, precision)
        state["train_s"] += time.perf_counter() - t0
        state["it"] = it + 1
        return {"loss": loss, "lr": lr, "tokens": tokens_per_step}

    def write_plain(name: str, it: int, model_sd: dict[str, torch.Tensor], optim_sd: dict[str, Any]) -> None:
        path = out / name
        with guarded_write("best checkpoint" if name == "best.pt" else "checkpoint", path):
            # save_checkpoint refuses nan/inf weights (NonFiniteWeights): the previous file stays
            save_checkpoint(path, model=_Saved(model_sd), config=cfg, kind="gpt", tokenizer=tokenizer,
                            optimizer=_SavedOptimizer(optim_sd), history=history.to_list(),
                            extra=run_extra(next_iter=it, best_loss=state["best_val"],
                                            train_s=state["train_s"],
                                            wall_s=wall_s + time.perf_counter() - wall0,
                                            train_config=asdict(tcfg),
                                            config_record=dict(config_record or {})))

    def write_sharded() -> None:
        from lmlab.parallel.checkpoint import save_sharded

        path = Path(sharded_dir)
        with guarded_write("sharded checkpoint", path, intact=path / ".metadata"):
            save_sharded(plan.module, path, plan.optimizer)  # every rank writes its shards

    def save(name: str, it: int) -> None:
        model_sd, optim_sd = plan.gather()  # every rank takes part
        # rank 0 writes the plain file; every rank learns whether it could (else all stop, one line)
        write_together(ctx, (lambda: write_plain(name, it, model_sd, optim_sd)) if out is not None else None)
        if scheme == "fsdp" and sharded_dir is not None and name == "ckpt.pt":
            write_together(ctx, write_sharded)

    def evaluate() -> dict[str, float]:
        losses = plan.evaluate(data, precision)
        if losses["val_loss"] < state["best_val"]:
            state["best_val"] = losses["val_loss"]
            save("best.pt", state["it"])
        return losses

    result = fit(step, max_iters=tcfg.max_iters, history=history, start_iter=start_iter, evaluate=evaluate,
                 eval_interval=tcfg.eval_interval, checkpoint=lambda it: save("ckpt.pt", it),
                 checkpoint_interval=tcfg.eval_interval, log_interval=tcfg.log_interval, desc=desc,
                 progress=progress and ctx.is_main,
                 # dropout masks from (seed, iteration); the same on every TP rank, whose activations agree
                 step_seed=tcfg.seed + (0 if scheme == "tp" else 7919 * ctx.rank) if cfg.dropout else None,
                 divergence_hint=DIVERGENCE_HINT, report=ctx.is_main)
    metrics = {
        "train_loss": history.last("train_loss"), "val_loss": history.last("val_loss"),
        "best_val_loss": state["best_val"] if math.isfinite(state["best_val"]) else None,
        "tokens_per_sec": result.tokens_per_sec, "wall_s": wall_s + time.perf_counter() - wall0,
        "train_s": state["train_s"], "iters": result.next_iter, "stopped": result.stopped,
        "diverged_at": result.diverged_at,
        "params": sum(p.numel() for p in model.parameters()) if scheme != "pp" else None,
        "device": str(device), "precision": precision.name, "world_size": ctx.world_size, "parallel": scheme,
        "interrupted": result.interrupted, "out_of_time": result.out_of_time, "eval_train_loss": None,
    }
    for record in reversed(history.records):  # the train loss measured at the last evaluation
        if "val_loss" in record:
            metrics["eval_train_loss"] = record.get("train_loss")
            break
    return TrainResult(metrics=metrics, history=history, optimizer=plan.optimizer, next_iter=result.next_iter,
                       train_s=state["train_s"], best_val=state["best_val"])

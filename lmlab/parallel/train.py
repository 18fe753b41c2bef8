"""``lmlab train gpt --parallel fsdp|tp|pp`` under torchrun: the GPT on ``lmlab.train.Session`` with a
parallel plan.

The session runs the loop, as ``lmlab.train.engine`` does in one process (batches, schedule, evaluation,
checkpoints, resume, the nan stop); the plan (``ParallelPlan``) says who holds what: how each rank steps
its part of the model, how every rank takes part in evaluation and in gathering the checkpoint (under FSDP,
TP and PP no rank holds the whole model), and how a resumed plain optimizer is sharded again. Rank 0 alone
writes ``ckpt.pt``/``best.pt``, plain single-process files that ``lmlab sample`` reads and ``--resume`` shards
again; FSDP also writes ``OUT/dcp/``, a sharded checkpoint.

Batch sizes: under ``fsdp`` (data parallel) ``--batch-size`` is per rank, as under DDP; under ``tp`` and
``pp`` all ranks work on one batch together, so ``--batch-size`` x ``--grad-accum`` is the whole batch
(under ``pp`` the ``--grad-accum`` micro-batches are what flows through the pipeline).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from lmlab.device import Precision, autocast, pick_precision
from lmlab.distributed import DistContext, all_reduce_mean, shard
from lmlab.models.transformer.trainer import DIVERGENCE_HINT, TokenData, TrainConfig, estimate_loss
from lmlab.parallel.checks import check_parallel
from lmlab.parallel.fsdp import apply_fsdp
from lmlab.parallel.mesh import broadcast_module, make_mesh
from lmlab.parallel.pipeline import pipeline_schedule, pipeline_stage, sync_tied, tied_group
from lmlab.parallel.tensor import apply_tp, qkv_major, shard_like
from lmlab.tokenizers import Tokenizer
from lmlab.train import History, Session
from lmlab.train.engine import Run, run_metrics
from lmlab.train.failures import guarded_write
from lmlab.train.loop import step_generator
from lmlab.train.optim import adamw, decay_groups
from lmlab.train.schedule import scheduled_lr


def _plain_order(model: torch.nn.Module) -> list[str]:
    """Parameter names in the order of ``GPT.configure_optimizers`` (a plain optimizer's state indices)."""
    named = list(model.named_parameters())
    return [n for n, p in named if p.dim() >= 2] + [n for n, p in named if p.dim() < 2]


def _full(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if isinstance(t, DTensor) else t


class ParallelPlan:
    """The model under one scheme: how to step, evaluate, gather and shard it again."""

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

    def load_optimizer(self, plain: torch.optim.Optimizer) -> None:
        """Shard a plain optimizer's state (from a single-process checkpoint) like the parameters."""
        state = plain.state_dict()
        flat = [i for g in state["param_groups"] for i in g["params"]]
        by_name = {self.order[k]: state["state"].get(i) for k, i in enumerate(flat)}
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
                    # the rows GPTRecipe evaluates, cut into the schedule's micro-batches
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

    def save_sharded(self, path: Path) -> None:
        """FSDP's sharded copy of model and optimizer (``torch.distributed.checkpoint``); every rank
        writes its own shards."""
        from lmlab.parallel.checkpoint import save_sharded

        with guarded_write("sharded checkpoint", path, intact=path / ".metadata"):
            save_sharded(self.module, path, self.optimizer)


def train_parallel_gpt(model: torch.nn.Module, data: TokenData, tcfg: TrainConfig, *, scheme: str,
                       tokenizer: Tokenizer | None = None, device: torch.device | str = "cpu",
                       precision: Precision | None = None, out_dir: str | os.PathLike | None = None,
                       history: History | None = None, optimizer: torch.optim.Optimizer | None = None,
                       start_iter: int = 0, train_s: float = 0.0, best_val: float = math.inf,
                       ctx: DistContext, progress: bool = True, desc: str = "gpt",
                       config_record: dict[str, Any] | None = None,
                       sharded_dir: str | os.PathLike | None = None, wall_s: float = 0.0,
                       wall_start: float | None = None, **_: Any) -> Run:
    """The engine's contract (``lmlab.train.engine.train``) under FSDP, TP or PP on ``lmlab.train.Session``;
    every rank calls it, rank 0 writes ``out_dir``. ``optimizer`` (a plain one, resumed from a checkpoint)
    is sharded like the model.

    A nan/inf loss stops every rank at the same iteration (the loss is the same number everywhere) with
    one line from rank 0; a write that fails, or weights gone non-finite, stop every rank (one line, from
    the rank that failed; see ``write_together``).
    """
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
    plan = ParallelPlan(scheme, model, ctx, device, tcfg)
    if optimizer is not None and optimizer.state:
        plan.load_optimizer(optimizer)
    rows = tcfg.batch_size * tcfg.grad_accum * (ctx.world_size if scheme == "fsdp" else 1)
    tokens_per_step = rows * cfg.block_size

    def step(it: int) -> dict[str, Any]:
        lr = scheduled_lr(it, lr=tcfg.lr, min_lr=tcfg.min_lr, warmup_iters=tcfg.warmup_iters,
                          decay_iters=tcfg.lr_decay_iters)
        return {"loss": plan.step(it, data, lr, precision), "lr": lr, "tokens": tokens_per_step}

    sharded = None
    if scheme == "fsdp" and sharded_dir is not None:
        sharded = functools.partial(plan.save_sharded, Path(sharded_dir))
    session = Session(
        step, model=plan.module, optimizer=plan.optimizer, max_iters=tcfg.max_iters, out=out_dir, config=cfg,
        kind="gpt", tokenizer=tokenizer, seed=tcfg.seed, checkpoint_interval=tcfg.eval_interval,
        in_memory=False, ctx=ctx, wall_start=wall_start, gather=plan.gather, after_checkpoint=sharded,
        extra=lambda: {"train_config": asdict(tcfg), "config_record": dict(config_record or {})},
        evaluate=lambda: plan.evaluate(data, precision), eval_interval=tcfg.eval_interval,
        log_interval=tcfg.log_interval, desc=desc, progress=progress,
        # dropout masks from (seed, iteration); the same on every TP rank, whose activations agree
        step_seed=tcfg.seed + (0 if scheme == "tp" else 7919 * ctx.rank) if cfg.dropout else None,
        divergence_hint=DIVERGENCE_HINT)
    session.start(history=history, next_iter=start_iter, train_s=train_s, best_loss=best_val, wall_s=wall_s)
    result = session.fit()
    records = reversed(session.history.records)
    eval_train = next((r.get("train_loss") for r in records if "val_loss" in r), None)
    metrics = {**run_metrics(session, result, device, precision), "eval_train_loss": eval_train,
               "parallel": scheme,
               "params": sum(p.numel() for p in model.parameters()) if scheme != "pp" else None}
    return Run(model=model, session=session, metrics=metrics, result=result)

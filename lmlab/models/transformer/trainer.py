"""Training a GPT on ``lmlab.train.Session``: AdamW groups, cosine schedule, clipping, accumulation, AMP,
periodic evaluation, best-and-last checkpoints, tokens/sec and model-FLOPs utilisation; DDP-ready.

    data = TokenData.from_text(text, tokenizer)
    result = train_gpt(GPT(cfg), data, TrainConfig(max_iters=500), tokenizer=tokenizer, out_dir="runs/gpt")

Under ``torchrun`` every rank keeps its rows of the global batch (seeded by seed and iteration), gradients
are all-reduced once per optimizer step (``no_sync_unless``), and rank 0 alone evaluates, logs and saves.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from lmlab.device import Precision, autocast, pick_precision
from lmlab.distributed import DistContext, all_reduce_mean, no_sync_unless, shard
from lmlab.eval.language_model import evaluate_lm
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT
from lmlab.recipes.gpt import MODEL_KEYS, PRESETS, TrainConfig  # noqa: F401 (kept importable here)
from lmlab.tokenizers import Tokenizer
from lmlab.train import History, Session
from lmlab.train.batches import random_windows
from lmlab.train.loop import FitResult, step_generator
from lmlab.train.run import resume_state as resume_run
from lmlab.train.schedule import scheduled_lr

DIVERGENCE_HINT = "lower --lr (the peak learning rate) or turn clipping on (--grad-clip 1.0)"


@dataclass
class TokenData:
    """Token ids of the training and validation text, and a batch sampler over random windows."""

    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,) int64

    @classmethod
    def from_text(cls, text: str, tokenizer: Tokenizer, train_fraction: float = 0.9,
                  val_text: str | None = None) -> TokenData:
        """Encode; the split is the first ``train_fraction`` / the rest, unless ``val_text`` is given."""
        if val_text is None:
            cut = int(len(text) * train_fraction)
            text, val_text = text[:cut], text[cut:]
        return cls(torch.tensor(tokenizer.encode(text), dtype=torch.long),
                   torch.tensor(tokenizer.encode(val_text), dtype=torch.long))

    def check_block_size(self, block_size: int) -> None:
        for name, ids in (("training", self.train), ("validation", self.val)):
            if len(ids) <= block_size + 1:
                raise ValueError(f"block_size={block_size} is too large for the {name} split of "
                                 f"{len(ids)} tokens; use --block-size below {max(1, len(ids) - 2)} "
                                 "or a larger corpus")

    def batch(self, split: str, batch_size: int, block_size: int, generator: torch.Generator,
              device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of shape (B, T): random windows, y shifted one token ahead of x."""
        ids = self.train if split == "train" else self.val
        x, y = random_windows(ids, batch_size, block_size, generator)  # (B, T) each, lmlab's one sampler
        if torch.device(device).type == "cuda":
            x, y = x.pin_memory(), y.pin_memory()
            return x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        return x.contiguous().to(device), y.contiguous().to(device)


@dataclass
class TrainResult:
    """What a run leaves: the metrics written to metrics.json and the state needed to go on."""

    metrics: dict[str, Any]
    history: History
    optimizer: torch.optim.Optimizer
    next_iter: int
    train_s: float
    best_val: float = math.inf
    extra: dict[str, Any] = field(default_factory=dict)


def device_peak_flops(device: torch.device, precision: Precision) -> tuple[float | None, str]:
    """Peak dense FLOP/s of the device for MFU, and where that number comes from (CPU: an estimate)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        table = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12,
                 "4090": 165e12, "3090": 71e12, "V100": 125e12, "T4": 65e12}
        for key, peak in table.items():
            if key in name:
                if precision.dtype is None:  # fp32 (TF32 tensor cores) is half the bf16 peak
                    peak /= 2
                return peak, f"{name} dense bf16/fp16 tensor-core peak"
        return None, f"unknown GPU {name}"
    if device.type == "cpu":
        ghz = 0.0
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("cpu MHz"):
                    ghz = float(line.split(":")[1]) / 1000
                    break
        flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        per_cycle = 64 if " avx512f" in flags else 32 if " fma" in flags else 8  # fp32 FLOPs/cycle/core
        cores = torch.get_num_threads()
        if ghz <= 0:
            return None, "CPU clock unknown"
        return cores * ghz * 1e9 * per_cycle, f"{cores} threads x {ghz:.2f} GHz x {per_cycle} fp32 FLOP/cycle"
    return None, f"no peak known for {device.type}"


def estimate_loss(model: GPT, data: TokenData, batch_size: int, eval_iters: int, device: torch.device,
                  precision: Precision, seed: int = 0) -> dict[str, float]:
    """Mean loss (``evaluate_lm``) over ``eval_iters`` batches of each split; the same batches every time."""
    out = {}
    for split in ("train", "val"):
        gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
        block = model.config.block_size
        batches = (data.batch(split, batch_size, block, gen, device) for _ in range(eval_iters))
        out[f"{split}_loss"] = evaluate_lm(model, batches, device, precision)
    return out


def resume_state(model: GPT, payload: dict[str, Any], tcfg: TrainConfig, device: torch.device | str,
                 out: Any = None) -> dict[str, Any]:
    """``train_gpt``'s keyword arguments that continue ``payload`` (``lmlab.train.run.resume_state``)."""
    return resume_run(model, payload, lambda kind: model.configure_optimizers(
        tcfg.weight_decay, tcfg.lr, (tcfg.beta1, tcfg.beta2), kind), tcfg.max_iters, device, out,
        saved_config=asdict(GPTConfig.from_dict(payload["config"])))


def train_gpt(model: GPT, data: TokenData, tcfg: TrainConfig, *, tokenizer: Tokenizer | None = None,
              device: torch.device | str = "cpu", precision: Precision | None = None,
              out_dir: str | os.PathLike | None = None, history: History | None = None,
              optimizer: torch.optim.Optimizer | None = None, start_iter: int = 0, train_s: float = 0.0,
              best_val: float = math.inf, ctx: DistContext | None = None, live: Any = None,
              progress: bool = True, desc: str = "gpt", config_record: dict[str, Any] | None = None,
              wall_s: float = 0.0, wall_start: float | None = None,
              resume: bool | dict[str, Any] = False, overwrite: bool = True) -> TrainResult:
    """Train ``model`` in place on a ``lmlab.train.Session``; write ``out_dir/ckpt.pt`` (+ ``best.pt``).

    ``resume=True`` continues ``out_dir/ckpt.pt`` (weights, optimizer, history, iteration, seconds);
    without it an existing checkpoint is replaced (``overwrite=False``: refused, as by ``lmlab train``).
    After a ``WriteFailed``, pass ``history``, ``optimizer``, ``start_iter``, ``train_s`` from the error.
    ``wall_start`` (a ``time.perf_counter()``) is when this process began the run (default: now).
    """
    device = torch.device(device)
    precision = precision or pick_precision(device)
    ctx = ctx or DistContext(rank=0, local_rank=0, world_size=1)
    if ctx.enabled and tcfg.time_budget_s is not None:
        raise ValueError("a time budget cannot be used under torchrun: every rank must stop at the same "
                         "iteration; give --max-iters (and --lr-decay-iters) instead of --time-budget")
    cfg: GPTConfig = model.config
    data.check_block_size(cfg.block_size)
    model.to(device)
    if optimizer is None or resume:  # a resumed run's optimizer state comes from its checkpoint
        optimizer = model.configure_optimizers(tcfg.weight_decay, tcfg.lr, (tcfg.beta1, tcfg.beta2),
                                               device.type)
    net: torch.nn.Module = model
    if tcfg.compile:
        net = torch.compile(net)
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)
    tokens_per_step = tcfg.batch_size * cfg.block_size * tcfg.grad_accum * ctx.world_size

    def step(it: int) -> dict[str, Any]:
        lr = scheduled_lr(it, lr=tcfg.lr, min_lr=tcfg.min_lr, warmup_iters=tcfg.warmup_iters,
                          decay_iters=tcfg.lr_decay_iters, elapsed_s=session.train_s,
                          budget_s=tcfg.time_budget_s)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # batches depend on (seed, iteration) only: a resumed run sees the same data;
        # every rank draws the same global batch and keeps its own rows (shard): N ranks together see
        # exactly what one process with an N times larger batch would, so the loss curves agree
        gen = step_generator(tcfg.seed * 1009, it)
        total = None
        for micro in range(tcfg.grad_accum):
            x, y = data.batch("train", tcfg.batch_size * ctx.world_size, cfg.block_size, gen, device)
            x, y = shard(x, ctx), shard(y, ctx)
            with no_sync_unless(net, micro == tcfg.grad_accum - 1), autocast(device, precision):
                _, loss = net(x, y)
                if tcfg.grad_accum > 1:
                    loss = loss / tcfg.grad_accum
            scaler.scale(loss).backward()
            total = loss.detach() if total is None else total + loss.detach()
        if tcfg.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        total = all_reduce_mean(total, ctx, device)  # the global batch's loss, not rank 0's shard
        return {"loss": total, "lr": lr, "tokens": tokens_per_step}  # loss stays a tensor: no sync per step

    def evaluate() -> dict[str, float]:
        if not ctx.is_main:  # rank 0 evaluates alone (and writes best.pt when this loss is its best)
            return {}
        return estimate_loss(model, data, tcfg.batch_size * ctx.world_size, tcfg.eval_iters, device,
                             precision, tcfg.seed)

    session = Session(
        step, model=model, optimizer=optimizer, max_iters=tcfg.max_iters, out=out_dir, config=cfg, kind="gpt",
        tokenizer=tokenizer, seed=tcfg.seed, checkpoint_interval=tcfg.eval_interval, in_memory=False,
        time_budget_s=tcfg.time_budget_s, ctx=ctx, wall_start=wall_start,
        extra=lambda: {"train_config": asdict(tcfg), "config_record": dict(config_record or {})},
        evaluate=evaluate, eval_interval=tcfg.eval_interval, live=live, log_interval=tcfg.log_interval,
        desc=desc, progress=progress,
        # dropout masks from (seed, iteration): a resumed run repeats the curve (no cost without)
        step_seed=tcfg.seed + 7919 * ctx.rank if cfg.dropout > 0 else None,
        divergence_hint=DIVERGENCE_HINT)
    session.start(resume, overwrite=overwrite, history=history, next_iter=start_iter, train_s=train_s,
                  best_loss=best_val, wall_s=wall_s)  # resume=dict: the checkpoint lmlab train has read
    result = session.fit()
    flops_token = model.flops_per_token()
    peak, peak_source = device_peak_flops(device, precision)
    # tokens_per_sec: tokens_per_step already counts every rank
    mfu = flops_token * result.tokens_per_sec / peak if peak else None
    return gpt_result(session, result, device, precision, params=model.num_params(), mfu=mfu,
                      flops_per_token=flops_token, peak_flops=peak, peak_flops_source=peak_source)


def gpt_result(session: Session, result: FitResult, device: torch.device, precision: Precision,
               **more: Any) -> TrainResult:
    """A GPT run's metrics (``metrics.json``: losses, clocks, how it stopped, plus ``more``) and state."""
    history = session.history
    metrics = {
        "train_loss": history.last("train_loss"), "val_loss": history.last("val_loss"),
        "best_val_loss": session.best_loss if math.isfinite(session.best_loss) else None,
        "eval_train_loss": None, "tokens_per_sec": result.tokens_per_sec,
        "wall_s": session.wall_s, "train_s": session.train_s,
        "iters": result.next_iter, "stopped": result.stopped, "diverged_at": result.diverged_at,
        "device": str(device), "precision": precision.name, "world_size": session.ctx.world_size,
        "interrupted": result.interrupted, "out_of_time": result.out_of_time, **more,
    }
    for record in reversed(history.records):  # the train loss measured at the last evaluation
        if "val_loss" in record:
            metrics["eval_train_loss"] = record.get("train_loss")
            break
    return TrainResult(metrics=metrics, history=history, optimizer=session.optimizer,
                       next_iter=result.next_iter, train_s=session.train_s, best_val=session.best_loss)

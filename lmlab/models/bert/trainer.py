"""MLM pre-training on ``lmlab.train.Session``: mask, predict the hidden tokens, AdamW with warm-up + cosine,
checkpoint/resume, ``best.pt``, a non-finite loss stops the run before it touches the weights.

    data = MLMData.from_text(train_text, val_text, vocab)
    result = train_bert(BertForMaskedLM(cfg), data, vocab, BertTrainConfig(max_iters=500),
                        out_dir="runs/bert")
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lmlab.checkpoint import load_model_state, save_checkpoint
from lmlab.device import Precision, autocast, pick_precision
from lmlab.models.bert.data import MLMData
from lmlab.models.bert.masking import mlm_mask
from lmlab.models.bert.vocab import BertVocab
from lmlab.recipes.bert import MODEL_KEYS, PRESETS, BertTrainConfig  # noqa: F401 (kept importable here)
from lmlab.train import History, Session
from lmlab.train.loop import step_generator
from lmlab.train.optim import adamw
from lmlab.train.schedule import scheduled_lr


@dataclass
class BertTrainResult:
    metrics: dict[str, Any]
    history: History
    optimizer: torch.optim.Optimizer
    next_iter: int
    train_s: float
    best_val: float


def masked_batch(data: MLMData, split: str, batch_size: int, block_size: int, generator: torch.Generator,
                 vocab: BertVocab, mask_prob: float, device: torch.device | str = "cpu"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) (B, T): windows drawn and masked with one generator; [CLS]/[SEP] never masked."""
    x, words = data.batch(split, batch_size, block_size, generator, vocab)
    maskable = x < vocab.base.vocab_size  # specials are never chosen
    inputs, targets = mlm_mask(x, mask_id=vocab.mask_id, n_tokens=vocab.base.vocab_size, p=mask_prob,
                               generator=generator, maskable=maskable, word_ids=words)
    return inputs.to(device), targets.to(device)


@torch.no_grad()
def evaluate_mlm(model: torch.nn.Module, data: MLMData, vocab: BertVocab, batch_size: int, eval_iters: int,
                 mask_prob: float = 0.15, device: torch.device | str = "cpu",
                 precision: Precision | None = None, seed: int = 0, split: str = "val") -> dict[str, float]:
    """MLM loss and masked-token accuracy over ``eval_iters`` fixed (seeded) batches of ``split``."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    precision = precision or pick_precision(device)
    g = torch.Generator().manual_seed(seed + 1)
    total_loss, correct, n = 0.0, 0, 0
    for _ in range(eval_iters):
        x, y = masked_batch(data, split, batch_size, model.config.block_size, g, vocab, mask_prob, device)
        with autocast(device, precision):
            logits, loss = model(x, y, only_masked=True)
        k = int((y != -100).sum())
        total_loss += float(loss) * k
        correct += int((logits.argmax(-1) == y[y != -100]).sum())
        n += k
    model.train(was_training)
    return {f"{split}_mlm_loss": total_loss / max(n, 1), f"{split}_masked_acc": correct / max(n, 1)}


def configure_optimizer(model: torch.nn.Module, tcfg: BertTrainConfig, device_type: str) -> torch.optim.AdamW:
    """lmlab's one AdamW policy (``lmlab.train.optim.adamw``: matrices decay, gains and biases do not)."""
    return adamw(model, lr=tcfg.lr, weight_decay=tcfg.weight_decay, betas=(0.9, 0.999),
                 device_type=device_type)


def save_bert(path: str | os.PathLike, model: torch.nn.Module, vocab: BertVocab, *, layout: str = "bert",
              optimizer: torch.optim.Optimizer | None = None, history: History | None = None,
              extra: dict[str, Any] | None = None) -> Path:
    """A ``kind="bert"`` checkpoint: weights, config, the vocabulary and the layout under ``extra``."""
    return save_checkpoint(path, model=model, config=model.config, kind="bert", optimizer=optimizer,
                           history=history.to_list() if history is not None else None,
                           extra={"vocab": vocab.to_dict(), "layout": layout, **(extra or {})})


def snapshot_name(seconds: float) -> str:
    """``at-180s.pt`` for 180 seconds of training (``at-1.5s.pt`` for 1.5)."""
    return f"at-{seconds:g}s.pt"


def snapshots(out_dir: str | os.PathLike) -> list[tuple[float, Path]]:
    """The ``at-<seconds>s.pt`` files a run kept, as (seconds, path), earliest first (none: empty)."""
    found = []
    for path in Path(out_dir).glob("at-*s.pt"):
        try:
            found.append((float(path.name[3:-4]), path))
        except ValueError:
            continue
    return sorted(found)


def load_bert(path: str | os.PathLike) -> tuple[torch.nn.Module, BertVocab, str]:
    """(model in eval mode, vocabulary, layout) of a ``kind="bert"`` checkpoint file or run folder."""
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.bert.prenorm import build_encoder

    payload = load_checkpoint(path)
    if payload.get("kind") != "bert":
        raise ValueError(f"{path} holds a {payload.get('kind')!r} model, not a BERT; train one with "
                         "`lmlab train bert --out DIR`")
    extra = payload.get("extra", {})
    layout, vocab = extra.get("layout", "bert"), BertVocab.from_dict(extra["vocab"])
    sizes = {k: v for k, v in payload["config"].items() if k != "vocab_size"}
    if layout == "bert":
        sizes = {k: v for k, v in sizes.items() if k != "pad_token_id"}
    model = build_encoder(layout, vocab.vocab_size, vocab.pad_id, **sizes)
    load_model_state(model, payload)
    return model.eval(), vocab, layout


def train_bert(model: torch.nn.Module, data: MLMData, vocab: BertVocab, tcfg: BertTrainConfig, *,
               device: torch.device | str = "cpu", precision: Precision | None = None,
               out_dir: str | os.PathLike | None = None, history: History | None = None,
               optimizer: torch.optim.Optimizer | None = None, start_iter: int = 0, train_s: float = 0.0,
               best_val: float = math.inf, layout: str = "bert", live: Any = None, progress: bool = True,
               config_record: dict[str, Any] | None = None, wall_s: float = 0.0,
               wall_start: float | None = None, resume: bool | dict[str, Any] = False,
               overwrite: bool = True, clock: Callable[[], float] = time.perf_counter) -> BertTrainResult:
    """Pre-train ``model`` in place; write ``out_dir/ckpt.pt`` every eval and ``best.pt`` on a new best.

    ``resume=True`` continues ``out_dir/ckpt.pt`` (weights, optimizer, history, iteration, seconds);
    without it an existing checkpoint is replaced (``overwrite=False``: refused, as by ``lmlab train``).
    ``history``, ``optimizer``, ``start_iter``, ``train_s`` and ``wall_s`` go on from a state in memory;
    ``wall_start`` (a ``time.perf_counter()``) is when this process began the run (default: now).
    ``tcfg.snapshot_at``: when the training seconds (``clock``, summed over steps) pass each time, the model
    is also saved as ``out_dir/at-<seconds>s.pt`` (read them with ``snapshots``).
    """
    device = torch.device(device)
    precision = precision or pick_precision(device)
    T = model.config.block_size
    data.check_block_size(T)
    model.to(device)
    if optimizer is None or resume:  # a resumed run's optimizer state comes from its checkpoint
        optimizer = configure_optimizer(model, tcfg, device.type)

    def step(it: int) -> dict[str, Any]:
        lr = scheduled_lr(it, lr=tcfg.lr, min_lr=tcfg.min_lr, warmup_iters=tcfg.warmup_iters,
                          decay_iters=tcfg.max_iters, elapsed_s=session.train_s, budget_s=tcfg.time_budget_s)
        for group in optimizer.param_groups:
            group["lr"] = lr
        g = step_generator(tcfg.seed * 1009, it)  # batch and mask from (seed, it): resumes repeat the curve
        x, y = masked_batch(data, "train", tcfg.batch_size, T, g, vocab, tcfg.mask_prob, device)
        with autocast(device, precision):
            _, loss = model(x, y, only_masked=True)
        if not torch.isfinite(loss):  # before backward: the weights stay the last good ones; fit stops here
            return {"loss": loss.detach(), "lr": lr, "tokens": x.numel()}
        loss.backward()
        if tcfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return {"loss": loss.detach(), "lr": lr, "tokens": x.numel()}

    def evaluate() -> dict[str, float]:
        return evaluate_mlm(model, data, vocab, tcfg.batch_size, tcfg.eval_iters, tcfg.mask_prob, device,
                            precision, tcfg.seed)

    def snapshot(next_iter: int) -> None:  # at-<seconds>s.pt once the training seconds pass each time
        while due and session.train_s >= due[0]:
            session.save(Path(out_dir) / snapshot_name(due.pop(0)))

    session = Session(
        step, model=model, optimizer=optimizer, max_iters=tcfg.max_iters, out=out_dir, config=model.config,
        kind="bert", seed=tcfg.seed, checkpoint_interval=tcfg.eval_interval, in_memory=False,
        time_budget_s=tcfg.time_budget_s, wall_start=wall_start, best_key="val_mlm_loss",
        after_step=snapshot, clock=clock,
        extra=lambda: {"vocab": vocab.to_dict(), "layout": layout, "train_config": asdict(tcfg),
                       "config_record": dict(config_record or {})},
        evaluate=evaluate, eval_interval=tcfg.eval_interval, live=live, log_interval=tcfg.log_interval,
        desc="bert", progress=progress, step_seed=tcfg.seed if model.config.dropout > 0 else None,
        divergence_hint="lower --lr (the peak learning rate) or turn clipping on (--grad-clip 1.0)")
    session.start(resume, overwrite=overwrite, history=history, next_iter=start_iter, train_s=train_s,
                  best_loss=best_val, wall_s=wall_s)  # resume=dict: the checkpoint lmlab train has read
    layout = session.restored_extra.get("layout", layout)  # a resumed run keeps its layout
    # a resumed run has passed the times below its seconds already (their files were written then)
    due = [t for t in tcfg.snapshot_times if t > session.train_s] if out_dir is not None else []
    result = session.fit()
    history = session.history
    metrics = {
        "mlm_loss": history.last("train_loss"), "val_mlm_loss": history.last("val_mlm_loss"),
        "masked_acc": history.last("val_masked_acc"),
        "best_val_mlm_loss": session.best_loss if math.isfinite(session.best_loss) else None,
        "tokens_per_sec": result.tokens_per_sec, "train_s": session.train_s,
        "wall_s": session.wall_s, "iters": result.next_iter,
        "stopped": result.stopped, "diverged_at": result.diverged_at,
        "params": sum(p.numel() for p in model.parameters()), "device": str(device),
        "precision": precision.name, "interrupted": result.interrupted, "out_of_time": result.out_of_time,
    }
    return BertTrainResult(metrics=metrics, history=history, optimizer=optimizer, next_iter=result.next_iter,
                           train_s=session.train_s, best_val=session.best_loss)

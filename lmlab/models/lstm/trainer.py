"""Train the LSTM language model with truncated BPTT over contiguous streams, on ``lmlab.train.Session``.

    run = train_lstm(LSTMTrainConfig(hidden=256), text, "runs/lstm")    # or preset_config("class")
    print(run.metrics["val_loss"], run.metrics["val_bpc"])

One step: take the next (B, T) chunk of every stream, start from the (h, c) the previous chunk left
(detached: gradients stop T steps back), predict each next token, clip the gradient norm, Adam step.
Under torchrun each rank trains its own streams (its rows of the global batch); rank 0 alone evaluates,
logs and writes ``OUT/ckpt.pt`` (kind "lstm"), ``OUT/best.pt`` (lowest validation loss) and
``OUT/metrics.json``. The flags -> objects layer of ``lmlab train lstm`` is ``lmlab.models.lstm.run``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from lmlab.checkpoint import open_run
from lmlab.device import autocast, pick_device, pick_precision, seed_everything
from lmlab.distributed import (
    all_reduce_mean,
    barrier,
    device_for,
    init_distributed,
    no_sync_unless,
    shard,
    shutdown,
    unwrap,
    wrap_ddp,
)
from lmlab.eval.language_model import bits_per_char, perplexity
from lmlab.models.lstm.model import LSTMLanguageModel, detach_state
from lmlab.models.lstm.streams import StreamBatches, stream_loss
from lmlab.models.lstm.threads import SMALL_HIDDEN, single_thread
from lmlab.presets import preset_values
from lmlab.recipes.lstm import LSTM_PRESETS, LSTMTrainConfig
from lmlab.train import History, Session, write_metrics
from lmlab.train.failures import WriteFailed, guarded_write
from lmlab.train.optim import adamw
from lmlab.train.schedule import scheduled_lr


def preset_config(preset: str, **overrides: Any) -> LSTMTrainConfig:
    """The preset's values with explicit overrides (None = not given) laid on top."""
    names = {f.name for f in fields(LSTMTrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown LSTM option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = preset_values(LSTM_PRESETS, preset, overrides)
    return LSTMTrainConfig(**values)


@dataclass
class LSTMRun:
    """What ``train_lstm`` hands back: the trained model (unwrapped), its tokenizer, history and metrics."""

    model: LSTMLanguageModel
    tokenizer: Any
    history: History
    metrics: dict[str, Any]
    config: LSTMTrainConfig


def make_tokenizer(kind: str, text: str) -> Any:
    """A tokenizer of ``kind`` ("char", "word", ...) fitted on ``text``."""
    from lmlab.tokenizers import get

    fitted = ("char", "word", "jieba")  # the kinds learnt from the corpus itself
    if kind not in fitted:
        raise ValueError(f"unknown LSTM tokenizer {kind!r} (--tokenizer); choose one of {', '.join(fitted)}")
    return get(kind).fit(text)


def lr_at(config: LSTMTrainConfig, it: int, elapsed_s: float) -> float:
    """lmlab's one schedule (``lmlab.train.schedule``): warm-up, then cosine to lr·min_lr_frac over
    ``max_iters``, or over the time budget when there is one."""
    return scheduled_lr(it, lr=config.lr, min_lr=config.lr * config.min_lr_frac,
                        warmup_iters=config.warmup_iters, decay_iters=config.max_iters,
                        elapsed_s=elapsed_s, budget_s=config.time_budget_s)


def _check_vocabulary(saved: dict[str, Any] | None, tokenizer: Any, where: Path) -> None:
    if saved is None or saved == tokenizer.to_dict():
        return
    old = saved.get("chars") or saved.get("vocab") or []
    new = tokenizer.to_dict().get("chars") or tokenizer.to_dict().get("vocab") or []
    extra = sorted(set(map(str, new)) - set(map(str, old)))[:10]
    missing = sorted(set(map(str, old)) - set(map(str, new)))[:10]
    raise ValueError(f"checkpoint {where} was trained with another vocabulary ({len(old)} entries vs "
                     f"{len(new)} here; new: {extra}, gone: {missing}); resume it on the corpus it was "
                     "trained on, or train into another --out")


def train_lstm(config: LSTMTrainConfig, text: str, out_dir: str | Path | None = None, *,
               val_text: str | None = None, tokenizer: Any = None, progress: bool = True, live: Any = None,
               sample_prompt: str | None = None, resume: bool = False, overwrite: bool = False) -> LSTMRun:
    """Train on ``text`` (split ``val_fraction`` off its end unless ``val_text`` is given).

    ``out_dir`` (or None: nothing written) receives ``ckpt.pt``, ``best.pt`` and ``metrics.json``. When it
    already holds a checkpoint, ``resume=True`` continues it (weights, optimizer, history, iteration and
    the recurrent state carried between batches; ``--resume``, as for every trainer), ``overwrite=True``
    replaces it, and neither is an error.
    """
    wall0 = time.perf_counter()
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True contradict each other; choose one")
    if not text:
        raise ValueError("the training text is empty; pass a corpus with some text")
    device = pick_device(config.device)
    ctx = init_distributed(device.type)
    try:
        return _train(config, text, out_dir, ctx=ctx, device=device, val_text=val_text, tokenizer=tokenizer,
                      resume=resume, overwrite=overwrite, progress=progress, live=live,
                      sample_prompt=sample_prompt, wall0=wall0)
    finally:
        shutdown(ctx)  # leave the process group together, as the GPT does


def _train(config: LSTMTrainConfig, text: str, out_dir: str | Path | None, *, ctx: Any, device: Any,
           val_text: str | None, tokenizer: Any, resume: bool, overwrite: bool, progress: bool, live: Any,
           sample_prompt: str | None, wall0: float) -> LSTMRun:
    device = device_for(ctx, device)
    precision = pick_precision(device, config.precision)
    seed_everything(config.seed)
    if ctx.enabled and config.time_budget_s:
        if ctx.is_main:
            print("note: a time budget is ignored under torchrun (ranks must stop together); "
                  f"training runs for max_iters={config.max_iters}", flush=True)
        config = LSTMTrainConfig(**{**asdict(config), "time_budget_s": None})

    if val_text is None:
        cut = int(len(text) * (1.0 - config.val_fraction))
        text, val_text = text[:cut], text[cut:]
    # characters: the vocabulary of the whole corpus (nothing to learn from it); words: training text only
    tokenizer = tokenizer or make_tokenizer(config.tokenizer, text + val_text if config.tokenizer == "char"
                                            else text)
    train_ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
    streams_total = config.batch_size * ctx.world_size * config.grad_accum
    batches = StreamBatches(train_ids, streams_total, config.block_size, seed=config.seed)
    if len(val_ids) < config.block_size + 2:
        raise ValueError(f"the validation text has {len(val_ids)} tokens, fewer than one block of "
                         f"{config.block_size + 2}; use a longer corpus or a smaller --block-size")

    model_config = config.model_config(tokenizer.vocab_size)
    model = LSTMLanguageModel(model_config).to(device)
    optimizer = adamw(model, lr=config.lr, weight_decay=config.weight_decay, device_type=device.type)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)

    payload = open_run(out_dir, kind="lstm", resume=resume, overwrite=overwrite, map_location=device)
    if payload is not None:
        _check_vocabulary(payload.get("tokenizer"), tokenizer, Path(out_dir) / "ckpt.pt")
    ddp_model = wrap_ddp(model, ctx)
    main = ctx.is_main
    B, A = config.batch_size, config.grad_accum
    state: list[Any] = [None] * A          # one (h, c) per micro-batch of streams, carried across steps

    def step(it: int) -> dict[str, Any]:
        lr = lr_at(config, it, session.train_s)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x_all, y_all, new_stream = batches.get(it)
        x_all, y_all = shard(x_all, ctx), shard(y_all, ctx)          # (B*A, T) rows of this rank
        total = 0.0
        for m in range(A):
            x = x_all[m * B:(m + 1) * B].to(device, non_blocking=True)   # (B, T)
            y = y_all[m * B:(m + 1) * B].to(device, non_blocking=True)   # (B, T)
            h0 = None if new_stream else detach_state(state[m])          # cut the graph: truncated BPTT
            with no_sync_unless(ddp_model, sync=(m == A - 1)):
                with autocast(device, precision):
                    logits, state[m] = ddp_model(x, h0)                  # (B, T, V)
                    loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten()) / A
                scaler.scale(loss).backward()
            total += loss.item()
        scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return {"loss": all_reduce_mean(total, ctx, device), "lr": lr, "grad_norm": float(grad_norm),
                "tokens": x_all.numel() * ctx.world_size}

    def evaluate() -> dict[str, float]:
        if not main:  # rank 0 evaluates alone (and writes best.pt when this loss is its best)
            return {}
        loss, _ = stream_loss(model, val_ids, batch_size=config.eval_batch_size, block_size=config.block_size,
                              device=device, max_tokens=config.max_eval_tokens,
                              autocast_fn=lambda: autocast(device, precision))
        return {"val_loss": loss}

    prompt = sample_prompt if sample_prompt is not None else ("\n" if "\n" in text else text[0])

    def sample() -> str:
        from lmlab.models.lstm.generate import generate

        return generate(model, tokenizer, prompt, 200, temperature=0.8, seed=config.seed)

    session = Session(
        step, model=model, optimizer=optimizer, max_iters=config.max_iters, out=out_dir, config=model_config,
        kind="lstm", tokenizer=tokenizer, seed=config.seed, in_memory=False, ctx=ctx, wall_start=wall0,
        checkpoint_interval=config.eval_interval,  # a crash loses at most one interval
        time_budget_s=config.time_budget_s or None,
        extra=lambda: {"train_config": asdict(config), "recurrent_state": _carried(state, ctx)},
        evaluate=evaluate, eval_interval=config.eval_interval,
        sample=sample if main and config.eval_interval else None, sample_interval=config.eval_interval,
        live=live, log_interval=10, desc="lstm", progress=progress,
        divergence_hint="lower --lr or clip harder (--grad-clip 0.5)")
    if payload is not None:
        session.restore(payload)
        carried = session.restored_extra.get("recurrent_state")
        if carried is not None and len(carried) == A and ctx.world_size == 1:
            # the streams go on where they stopped, so a resumed run follows the uninterrupted loss curve
            state[:] = [None if s is None else (s[0].to(device), s[1].to(device)) for s in carried]
    with single_thread(device, enabled=config.hidden <= SMALL_HIDDEN):  # small models: see threads.py
        result = session.fit()
    history = session.history
    barrier(ctx)

    metrics: dict[str, Any] = {}
    if main:
        val_loss = history.last("val_loss")
        recent = [r["train_loss"] for r in history.records[-5:] if r.get("train_loss") is not None]
        metrics = {
            # the mean of the last logged losses (nan when the run diverged: the divergence shows)
            "train_loss": sum(recent) / len(recent) if recent else None,
            "val_loss": val_loss,
            "val_perplexity": perplexity(val_loss) if val_loss is not None else None,
            # a word model's token spans several characters: bits per char rescales by tokens/chars
            "val_bpc": bits_per_char(val_loss, len(val_ids), len(val_text)) if val_loss is not None else None,
            "tokens_per_sec": result.tokens_per_sec,
            "wall_s": session.wall_s,
            "train_s": session.train_s,
            "iters": result.next_iter,
            "stopped": result.stopped,
            "diverged_at": result.diverged_at,
            "best_val_loss": session.best_loss if session.best_loss < float("inf") else None,
            "interrupted": result.interrupted,
            "out_of_time": result.out_of_time,
            "params": model.num_params(),
            "vocab_size": tokenizer.vocab_size,
            "device": str(device),
            "precision": precision.name,
            "world_size": ctx.world_size,
        }
        if out_dir is not None:
            try:
                with guarded_write("metrics", Path(out_dir) / "metrics.json", intact=session.path):
                    write_metrics(out_dir, asdict(config), **metrics)
            except WriteFailed as err:  # a notebook keeps the trained model: save it elsewhere or train on
                err.keep(model=model, history=history, optimizer=optimizer, tokenizer=tokenizer,
                         next_iter=session.next_iter, train_s=session.train_s)
                raise
    return LSTMRun(model=unwrap(ddp_model), tokenizer=tokenizer, history=history, metrics=metrics,
                   config=config)


def _carried(state: list[Any], ctx: Any) -> list[Any] | None:
    """The (h, c) each stream carries, as CPU tensors for the checkpoint (single process only: under DDP
    every rank has its own streams and rank 0 alone writes)."""
    if ctx.world_size != 1:
        return None
    return [None if s is None else [s[0].detach().cpu(), s[1].detach().cpu()] for s in state]


def load_run(path: str | Path, *, metrics: dict[str, Any] | None = None,
             config: LSTMTrainConfig | None = None) -> LSTMRun:
    """An :class:`LSTMRun` from a finished run's folder (``ckpt.pt``): what ``train_lstm`` handed back,
    the model in eval mode on CPU (a prepared run loads so)."""
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.lstm.generate import load_for_sampling

    payload = load_checkpoint(path)
    model, tokenizer = load_for_sampling(payload)
    return LSTMRun(model, tokenizer, History(payload.get("history") or []), metrics or {}, config)

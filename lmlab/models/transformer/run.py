"""From flags to a finished run: corpus, tokenizer, preset, resume, DDP, metrics.json (used by the CLI)."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lmlab.checkpoint import checkpoint_tokenizer, open_run
from lmlab.device import pick_device, pick_precision, seed_everything
from lmlab.distributed import device_for, init_distributed, shutdown
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT
from lmlab.models.transformer.trainer import (
    MODEL_KEYS,
    PRESETS,
    TokenData,
    TrainConfig,
    resume_state,
    train_gpt,
)
from lmlab.parallel.checks import check_parallel, check_resume
from lmlab.presets import resolve_preset
from lmlab.recipes import config_values, field_names, pick
from lmlab.tokenizers import CharTokenizer, Tokenizer
from lmlab.train import write_metrics
from lmlab.train.failures import guarded_write

TRAIN_KEYS = field_names(TrainConfig)


def make_tokenizer(kind: str, text: str, vocab_size: int | None = None) -> Tokenizer:
    """char (one id per character) or bpe (byte-level BPE learned on ``text``)."""
    if kind == "char":
        return CharTokenizer.fit(text)
    if kind == "bpe":
        from lmlab.tokenizers.bpe import FastBPETokenizer

        return FastBPETokenizer.train(text, vocab_size=vocab_size or 512)
    raise ValueError(f"unknown tokenizer {kind!r}; use char or bpe")


def run_from_flags(flags: dict[str, Any]) -> dict[str, Any] | None:
    """Train as the flags say; return the metrics (on rank 0; None on other ranks)."""
    from lmlab.data import load_splits

    wall_start = time.perf_counter()  # wall_s in metrics.json: the whole run, data loading included
    device = pick_device(flags.get("device"))
    ctx = init_distributed(device.type)
    device = device_for(ctx, device)
    try:
        preset = resolve_preset(flags.get("preset"), device)
        values = config_values(flags, PRESETS, preset, (*MODEL_KEYS, *TRAIN_KEYS))
        if flags.get("max_iters") is not None and flags.get("lr_decay_iters") is None:
            values["lr_decay_iters"] = flags["max_iters"]
        compile_flag = flags.get("compile")
        values["compile"] = device.type == "cuda" if compile_flag is None else compile_flag
        precision = pick_precision(device, flags.get("precision") or "auto")
        seed = flags.get("seed", 1337)
        seed_everything(seed + ctx.rank)

        train_text, val_text = load_splits(flags["corpus"])
        out = Path(flags["out"])
        payload = open_run(out, kind="gpt", resume=bool(flags.get("resume")),
                           overwrite=bool(flags.get("overwrite")))
        if payload is not None:
            check_resume(payload, ctx.world_size, flags.get("parallel"))
            tokenizer = checkpoint_tokenizer(payload)
            saved_cfg = asdict(GPTConfig.from_dict(payload["config"]))
            for k in MODEL_KEYS:  # a resumed run keeps its architecture unless a flag says otherwise
                if flags.get(k) is None and k in saved_cfg:
                    values[k] = saved_cfg[k]
        else:
            tokenizer = make_tokenizer(flags.get("tokenizer") or "char", train_text + val_text,
                                       flags.get("vocab_size"))
        data = TokenData.from_text(train_text, tokenizer, val_text=val_text)
        model_cfg = GPTConfig(vocab_size=tokenizer.vocab_size,
                              **{k: values[k] for k in MODEL_KEYS if k in values and values[k] is not None})
        data.check_block_size(model_cfg.block_size)
        tcfg = pick(values, TrainConfig, seed=seed)
        model = GPT(model_cfg)
        state: dict[str, Any] = {}
        if payload is not None:
            state = resume_state(model, payload, tcfg, device, out)  # checks the config before any change
        parallel = flags.get("parallel")
        check_parallel(parallel, model_cfg, ctx.world_size, tcfg.batch_size, tcfg.grad_accum)
        trainer = train_gpt
        if parallel not in (None, "ddp") and ctx.enabled:  # FSDP, tensor or pipeline parallel
            from lmlab.parallel.train import train_parallel_gpt

            trainer = functools.partial(train_parallel_gpt, scheme=parallel, sharded_dir=out / "dcp")
        record = {"corpus": flags["corpus"], "tokenizer": tokenizer.kind, "preset": preset,
                  "parallel": parallel or "ddp", "world_size": ctx.world_size,
                  "device": str(device), "precision": precision.name, "seed": seed,
                  **values, **asdict(model_cfg)}  # the model as built: positions, activation, vocab
        result = trainer(model, data, tcfg, tokenizer=tokenizer, device=device, precision=precision,
                         out_dir=out if ctx.is_main else None, ctx=ctx, progress=not flags.get("quiet"),
                         config_record=record, wall_start=wall_start, overwrite=True, **state)
        if not ctx.is_main:
            return None
        with guarded_write("metrics", out / "metrics.json", intact=out / "ckpt.pt"):
            write_metrics(out, record, **result.metrics)
        return result.metrics
    finally:
        shutdown(ctx)

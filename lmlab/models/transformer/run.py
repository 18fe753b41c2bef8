"""``lmlab train gpt``'s own part of a run: corpus, tokenizer, resume, DDP and the parallel engines (the
rest: ``lmlab.train.run``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from lmlab.checkpoint import checkpoint_tokenizer
from lmlab.device import pick_device
from lmlab.distributed import device_for, init_distributed, shutdown
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT
from lmlab.models.transformer.trainer import MODEL_KEYS, PRESETS, GPTRecipe, TokenData, TrainConfig
from lmlab.parallel.checks import check_parallel, check_resume
from lmlab.recipes import field_names, pick
from lmlab.tokenizers import CharTokenizer, Tokenizer
from lmlab.train.engine import train
from lmlab.train.run import finish_run, resume_state, start_run

TRAIN_KEYS = field_names(TrainConfig)


def make_tokenizer(kind: str, text: str, vocab_size: int | None = None) -> Tokenizer:
    """char (one id per character) or bpe (byte-level BPE learned on ``text``)."""
    if kind == "char":
        return CharTokenizer.fit(text)
    if kind == "bpe":
        from lmlab.tokenizers.bpe import FastBPETokenizer

        return FastBPETokenizer.train(text, vocab_size=vocab_size or 512)
    raise ValueError(f"unknown tokenizer {kind!r}; use char or bpe")


def run(flags: dict[str, Any]) -> dict[str, Any] | None:
    """Train as the flags say; return the metrics (on rank 0; None on other ranks)."""
    from lmlab.data import load_splits

    wall_start = time.perf_counter()  # wall_s in metrics.json: the whole run, data loading included
    device = pick_device(flags.get("device"))
    ctx = init_distributed(device.type)
    try:
        r = start_run(flags, PRESETS, (*MODEL_KEYS, *TRAIN_KEYS), kind="gpt", rank=ctx.rank,
                      device=device_for(ctx, device), wall_start=wall_start)
        values, device, out = r.values, r.device, r.out
        if flags.get("max_iters") is not None and flags.get("lr_decay_iters") is None:
            values["lr_decay_iters"] = flags["max_iters"]
        values["compile"] = device.type == "cuda" if flags.get("compile") is None else flags["compile"]
        train_text, val_text = load_splits(flags["corpus"])
        if r.payload is not None:
            check_resume(r.payload, ctx.world_size, flags.get("parallel"))
            tokenizer = checkpoint_tokenizer(r.payload)
            r.keep_saved(asdict(GPTConfig.from_dict(r.payload["config"])), MODEL_KEYS)
        else:
            tokenizer = make_tokenizer(flags.get("tokenizer") or "char", train_text + val_text,
                                       flags.get("vocab_size"))
        data = TokenData.from_text(train_text, tokenizer, val_text=val_text)
        model_cfg = GPTConfig(vocab_size=tokenizer.vocab_size,
                              **{k: values[k] for k in MODEL_KEYS if k in values and values[k] is not None})
        data.check_block_size(model_cfg.block_size)
        tcfg = pick(values, TrainConfig, seed=r.seed)
        model = GPT(model_cfg)
        parallel = flags.get("parallel")
        sharded = parallel not in (None, "ddp") and ctx.enabled  # FSDP, tensor or pipeline parallel
        check_parallel(parallel, model_cfg, ctx.world_size, tcfg.batch_size, tcfg.grad_accum)
        record = {"corpus": flags["corpus"], "tokenizer": tokenizer.kind, "preset": r.preset,
                  "parallel": parallel or "ddp", "world_size": ctx.world_size,
                  "device": str(device), "precision": r.precision.name, "seed": r.seed,
                  **values, **asdict(model_cfg)}  # the model as built: positions, activation, vocab
        common = {"device": device, "precision": r.precision, "ctx": ctx, "progress": r.progress,
                  "config_record": record, "wall_start": wall_start}
        if sharded:
            from lmlab.parallel.train import train_parallel_gpt

            state: dict[str, Any] = {}
            if r.payload is not None:  # its config checked before any weight changes
                recipe = GPTRecipe(tcfg, data)
                state = resume_state(model, r.payload, lambda kind: recipe.optimizer(model, kind),
                                     tcfg.max_iters, device, out,
                                     saved_config=asdict(GPTConfig.from_dict(r.payload["config"])))
            result = train_parallel_gpt(model, data, tcfg, scheme=parallel, sharded_dir=out / "dcp",
                                        tokenizer=tokenizer, out_dir=out if ctx.is_main else None,
                                        **common, **state)
        else:  # the session restores a checkpoint (its config checked before any weight changes)
            result = train(GPTRecipe(tcfg, data, tokenizer=tokenizer), model=model,
                           out=out if ctx.is_main else None, resume=r.payload or False, in_memory=False,
                           **common)
        return finish_run(out, record, result.metrics) if ctx.is_main else None
    finally:
        shutdown(ctx)

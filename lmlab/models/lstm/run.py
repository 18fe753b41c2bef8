"""``lmlab train lstm``'s own part of a run: its corpus, torchrun and the recipe (the rest:
``lmlab.train.run``)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from lmlab.models.lstm.trainer import LSTMRecipe
from lmlab.recipes.lstm import LSTM_PRESETS, LSTMTrainConfig


def load_corpus(name: str) -> tuple[str, str]:
    """(train, validation) text of a registered corpus, a path, or the Tang poems."""
    if name == "tang_poems":
        from lmlab.data import train_val_split
        from lmlab.models.lstm.poems import poem_corpus

        return train_val_split(poem_corpus()[0], 0.95)
    from lmlab.data import load_splits

    return load_splits(name)


def run(flags: dict[str, Any]) -> dict[str, Any]:
    """Train as the flags say and write ``OUT/metrics.json``; the metrics (empty on ranks other than 0
    under torchrun)."""
    from lmlab.device import pick_device
    from lmlab.distributed import device_for, init_distributed, shutdown
    from lmlab.recipes import field_names, pick
    from lmlab.train.engine import train
    from lmlab.train.run import finish_run, start_run

    device = pick_device(flags.get("device"))
    ctx = init_distributed(device.type)
    try:
        r = start_run(flags, LSTM_PRESETS, field_names(LSTMTrainConfig), kind="lstm", rank=ctx.rank,
                      device=device_for(ctx, device))
        config = pick(r.values, LSTMTrainConfig, corpus=flags.get("corpus", "tiny_shakespeare"), seed=r.seed,
                      device=flags.get("device") or "auto", precision=flags.get("precision") or "auto")
        if ctx.enabled and config.time_budget_s:
            if ctx.is_main:
                print("note: a time budget is ignored under torchrun (ranks must stop together); "
                      f"training runs for max_iters={config.max_iters}", flush=True)
            config = replace(config, time_budget_s=None)
        train_text, val_text = load_corpus(config.corpus)
        result = train(LSTMRecipe(config, train_text, val_text=val_text), out=r.out, device=r.device,
                       resume=r.payload or False, precision=r.precision, ctx=ctx, progress=r.progress,
                       in_memory=False, wall_start=r.wall_start)
        if not ctx.is_main:
            return {}
        return {**finish_run(r.out, asdict(config), result.metrics), "preset": r.preset}
    finally:
        shutdown(ctx)  # leave the process group together, as the GPT does

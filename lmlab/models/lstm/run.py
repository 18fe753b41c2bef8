"""From flags to a finished LSTM run: corpus, preset, resume, training, metrics.json (used by the CLI)."""

from __future__ import annotations

from typing import Any

from lmlab.models.lstm.trainer import LSTMRun, preset_config, train_lstm

# the CLI flags that override preset values (flag name = LSTMTrainConfig field)
OVERRIDES = ("tokenizer", "n_layer", "hidden", "n_embd", "dropout", "block_size", "batch_size", "grad_accum",
             "max_iters", "lr", "weight_decay", "grad_clip", "time_budget_s", "eval_interval",
             "max_eval_tokens")


def load_corpus(name: str) -> tuple[str, str]:
    """(train, validation) text of a registered corpus, a path, or the Tang poems."""
    if name == "tang_poems":
        from lmlab.data import train_val_split
        from lmlab.models.lstm.poems import poem_corpus

        return train_val_split(poem_corpus()[0], 0.95)
    from lmlab.data import load_splits

    return load_splits(name)


def run_from_flags(flags: dict[str, Any], **train_options: Any) -> LSTMRun:
    """Train as the flags say (``--resume`` continues ``--out``); ``train_options`` go to ``train_lstm``."""
    from lmlab.presets import resolve_preset

    device = flags.get("device") or "auto"
    preset = resolve_preset(flags.get("preset"), None if device == "auto" else device)
    overrides = {name: flags.get(name) for name in OVERRIDES}
    config = preset_config(preset, **overrides, corpus=flags.get("corpus", "tiny_shakespeare"),
                           seed=flags.get("seed", 1337), device=device,
                           precision=flags.get("precision") or "auto")
    budget = flags.get("time_budget_s")
    if budget == 0 or (flags.get("max_iters") is not None and budget is None):
        config.time_budget_s = None  # an explicit --max-iters means "this many", not "until the clock"
    if flags.get("no_tie"):
        config.tie_weights = False
    train_text, val_text = load_corpus(config.corpus)
    run = train_lstm(config, train_text, flags["out"], val_text=val_text, resume=bool(flags.get("resume")),
                     overwrite=bool(flags.get("overwrite")), progress=not flags.get("quiet"), **train_options)
    if run.metrics:
        run.metrics["preset"] = preset
    return run

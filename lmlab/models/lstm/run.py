"""From flags to a finished LSTM run: corpus, preset, resume, training, metrics.json (used by the CLI)."""

from __future__ import annotations

from typing import Any

from lmlab.models.lstm.trainer import LSTMRun, train_lstm
from lmlab.recipes.lstm import LSTM_PRESETS, LSTMTrainConfig


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
    from lmlab.recipes import config_values, field_names, pick

    device = flags.get("device") or "auto"
    preset = resolve_preset(flags.get("preset"), None if device == "auto" else device)
    values = config_values(flags, LSTM_PRESETS, preset, field_names(LSTMTrainConfig))
    config = pick(values, LSTMTrainConfig, corpus=flags.get("corpus", "tiny_shakespeare"),
                  seed=flags.get("seed", 1337), device=device, precision=flags.get("precision") or "auto")
    train_text, val_text = load_corpus(config.corpus)
    run = train_lstm(config, train_text, flags["out"], val_text=val_text, resume=bool(flags.get("resume")),
                     overwrite=bool(flags.get("overwrite")), progress=not flags.get("quiet"), **train_options)
    if run.metrics:
        run.metrics["preset"] = preset
    return run

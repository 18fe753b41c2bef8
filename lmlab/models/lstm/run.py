"""``lmlab train lstm``'s own part of a run: its corpus and ``train_lstm`` (the rest: ``lmlab.train.run``)."""

from __future__ import annotations

from typing import Any

from lmlab.models.lstm.trainer import train_lstm
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
    """Train as the flags say (``train_lstm`` opens ``--out`` and writes ``OUT/metrics.json``); the metrics
    (empty on ranks other than 0 under torchrun)."""
    from lmlab.recipes import field_names, pick
    from lmlab.train.run import start_run

    r = start_run(flags, LSTM_PRESETS, field_names(LSTMTrainConfig))
    config = pick(r.values, LSTMTrainConfig, corpus=flags.get("corpus", "tiny_shakespeare"), seed=r.seed,
                  device=flags.get("device") or "auto", precision=flags.get("precision") or "auto")
    train_text, val_text = load_corpus(config.corpus)
    result = train_lstm(config, train_text, r.out, val_text=val_text, resume=bool(flags.get("resume")),
                        overwrite=bool(flags.get("overwrite")), progress=r.progress)
    return {**result.metrics, "preset": r.preset} if result.metrics else {}

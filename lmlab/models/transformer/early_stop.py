"""Early stopping for the GPT trainer: stop when validation has not improved for ``patience``
evaluations, then put back the weights of the best evaluation (``best.pt``).

    result = train_early_stopping(model, data, TrainConfig(max_iters=5000, eval_interval=100),
                                  patience=3, out_dir="runs/gpt")
    result.extra["stopped_at"], result.extra["best_iter"]

It trains ``eval_interval`` iterations at a time with ``train_gpt``, resuming each chunk where the
last one ended (same optimizer, schedule and batches, so the curve is the uninterrupted one), and
looks at the validation loss after each chunk. ``train_gpt`` writes ``best.pt`` whenever validation
improves; stopping restores the model from it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.models.transformer.model import GPT
from lmlab.models.transformer.trainer import TokenData, TrainConfig, TrainResult, train_gpt


def train_early_stopping(model: GPT, data: TokenData, tcfg: TrainConfig, *, patience: int,
                         out_dir: str | os.PathLike, min_delta: float = 0.0, **kwargs: Any) -> TrainResult:
    """``train_gpt`` that stops after ``patience`` evaluations without a gain of ``min_delta`` and
    restores ``out_dir/best.pt``; ``result.extra`` says where it stopped and where the best was."""
    if patience < 1:
        raise ValueError(f"patience counts evaluations without improvement; it must be >= 1, got {patience}")
    out = Path(out_dir)
    result, history, optimizer, it, train_s = None, None, None, 0, 0.0
    best, best_iter, waited = math.inf, 0, 0
    while it < tcfg.max_iters:
        chunk_end = min(tcfg.max_iters, it + tcfg.eval_interval)
        chunk = TrainConfig(**{**tcfg.__dict__, "max_iters": chunk_end})
        result = train_gpt(model, data, chunk, out_dir=out, history=history, optimizer=optimizer,
                           start_iter=it, train_s=train_s, best_val=best, **kwargs)
        history, optimizer, it, train_s = result.history, result.optimizer, result.next_iter, result.train_s
        val = result.metrics["val_loss"]
        if val is not None and val < best - min_delta:
            best, best_iter, waited = val, it, 0
        else:
            waited += 1
        best = min(best, result.best_val)
        if waited >= patience or result.metrics.get("interrupted"):
            break
    if (out / "best.pt").exists():
        load_model_state(model, load_checkpoint(out / "best.pt"))  # the weights of the best evaluation
    result.extra.update(stopped_at=it, best_iter=best_iter, best_val=best, restored=str(out / "best.pt"))
    return result

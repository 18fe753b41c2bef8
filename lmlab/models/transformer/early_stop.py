"""Early stopping: stop when validation has not improved for ``patience`` evaluations, then put back the
weights of the best evaluation (``best.pt``).

    run = train_early_stopping(GPTRecipe(TrainConfig(max_iters=5000, eval_interval=100), data),
                               model=model, patience=3, out="runs/gpt")
    run.extra["stopped_at"], run.extra["best_iter"]

It fits the run ``eval_interval`` iterations at a time (``Run.fit``: the same session, so the curve is the
uninterrupted one) and looks at the validation loss after each chunk. The engine writes ``best.pt``
whenever validation improves; stopping restores the model from it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.train.engine import Recipe, Run, start


def train_early_stopping(recipe: Recipe, *, patience: int, out: str | os.PathLike, min_delta: float = 0.0,
                         **options: Any) -> Run:
    """``train`` that stops after ``patience`` evaluations without a gain of ``min_delta`` and restores
    ``out/best.pt``; ``run.extra`` says where it stopped and where the best was."""
    if patience < 1:
        raise ValueError(f"patience counts evaluations without improvement; it must be >= 1, got {patience}")
    out = Path(out)
    tcfg = recipe.tcfg
    run = start(recipe, out=out, **options)
    best, best_iter, waited = math.inf, 0, 0
    while run.next_iter < tcfg.max_iters:
        run.fit(max_iters=min(tcfg.max_iters, run.next_iter + tcfg.eval_interval))
        val = run.metrics["val_loss"]
        if val is not None and val < best - min_delta:
            best, best_iter, waited = val, run.next_iter, 0
        else:
            waited += 1
        best = min(best, run.best_loss)
        if waited >= patience or run.metrics.get("interrupted"):
            break
    if (out / "best.pt").exists():
        load_model_state(run.model, load_checkpoint(out / "best.pt"))  # the weights of the best evaluation
    run.extra.update(stopped_at=run.next_iter, best_iter=best_iter, best_val=best,
                     restored=str(out / "best.pt"))
    return run

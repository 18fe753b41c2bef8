"""Learning-rate schedules: linear warm-up, then cosine decay to ``min_lr`` (by iterations or by time)."""

from __future__ import annotations

import math


def cosine_lr(it: int, lr: float, min_lr: float, warmup_iters: int, decay_iters: int) -> float:
    """nanoGPT's schedule: lr·(it+1)/warmup during warm-up, cosine to min_lr at ``decay_iters``, then flat."""
    if it < warmup_iters:
        return lr * (it + 1) / (warmup_iters + 1)
    if it >= decay_iters:
        return min_lr
    progress = (it - warmup_iters) / max(1, decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def time_cosine_lr(it: int, elapsed_s: float, budget_s: float, lr: float, min_lr: float,
                   warmup_iters: int) -> float:
    """The same cosine, but its clock is training time: the decay ends exactly when the budget is spent.

    With a fixed number of minutes instead of iterations, this lands at ``min_lr`` on any machine speed.
    """
    if it < warmup_iters:
        return lr * (it + 1) / (warmup_iters + 1)
    progress = min(1.0, elapsed_s / budget_s) if budget_s > 0 else 1.0
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)

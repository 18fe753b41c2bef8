"""Learning-rate schedules, one module for every trainer.

GPT and LSTM: linear warm-up ``lr·(it+1)/(warmup+1)``, then a cosine from ``lr`` to ``min_lr``; progress
is counted in iterations, or, with a time budget, in seconds of training, so a timed run lands on
``min_lr`` exactly when its minutes are spent on any machine (nanoGPT's schedule on the clock).
word2vec: the C tool's straight line from ``alpha`` to ``min_alpha`` over all the words it will read.
"""

from __future__ import annotations

import math


def warmup_lr(it: int, lr: float, warmup_iters: int) -> float:
    """The one warm-up formula: lr·(it+1)/(warmup_iters+1) (nanoGPT's), never 0 at the first step."""
    return lr * (it + 1) / (warmup_iters + 1)


def cosine(progress: float, lr: float, min_lr: float) -> float:
    """Half a cosine from ``lr`` (progress 0) to ``min_lr`` (progress >= 1)."""
    progress = min(max(progress, 0.0), 1.0)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def cosine_lr(it: int, lr: float, min_lr: float, warmup_iters: int, decay_iters: int) -> float:
    """nanoGPT's schedule: warm-up, cosine to min_lr at ``decay_iters``, then flat."""
    if it < warmup_iters:
        return warmup_lr(it, lr, warmup_iters)
    if it >= decay_iters:
        return min_lr
    return cosine((it - warmup_iters) / max(1, decay_iters - warmup_iters), lr, min_lr)


def time_cosine_lr(it: int, elapsed_s: float, budget_s: float, lr: float, min_lr: float,
                   warmup_iters: int) -> float:
    """The same cosine on the clock: the decay ends exactly when the budget is spent."""
    if it < warmup_iters:
        return warmup_lr(it, lr, warmup_iters)
    progress = min(1.0, elapsed_s / budget_s) if budget_s > 0 else 1.0
    return cosine(progress, lr, min_lr)


def scheduled_lr(it: int, *, lr: float, min_lr: float, warmup_iters: int, decay_iters: int,
                 elapsed_s: float = 0.0, budget_s: float | None = None) -> float:
    """Every iteration-based trainer's learning rate: ``cosine_lr``, or ``time_cosine_lr`` with a budget
    (then the clock alone sets the progress, as in the GPT benchmark's reference loop)."""
    if budget_s:
        return time_cosine_lr(it, elapsed_s, budget_s, lr, min_lr, warmup_iters)
    return cosine_lr(it, lr, min_lr, warmup_iters, decay_iters)


def linear_lr(done: float, total: float, lr: float, min_lr: float) -> float:
    """word2vec's schedule: straight from ``lr`` to ``min_lr`` as ``done`` goes from 0 to ``total``."""
    return lr - (lr - min_lr) * done / total if total > 0 else min_lr

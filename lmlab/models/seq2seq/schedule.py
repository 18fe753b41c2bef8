"""The warm-up schedule of *Attention Is All You Need* (eq. 3), the "Noam" or inverse-square-root rule:

    lr(step) = factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)      (step counted from 1)

It rises linearly for ``warmup`` steps, peaks at factor · (d_model · warmup)^-0.5, then falls as 1/√step.
(Beside lmlab's cosine schedules in ``lmlab.models.transformer.schedule``.)
"""

from __future__ import annotations


def noam_lr(it: int, d_model: int, warmup_iters: int, factor: float = 1.0) -> float:
    """The paper's learning rate at iteration ``it`` (0-based, so the first step uses step = 1)."""
    if warmup_iters < 1:
        raise ValueError(f"warmup_iters must be >= 1, got {warmup_iters}")
    step = it + 1
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_iters ** -1.5)


def noam_factor_for_peak(peak_lr: float, d_model: int, warmup_iters: int) -> float:
    """The factor that makes the schedule peak at ``peak_lr`` (reached at step = warmup)."""
    return peak_lr * (d_model * warmup_iters) ** 0.5

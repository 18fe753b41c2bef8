"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a small student learns from a big teacher.

The student matches the teacher's softened distribution and the true next token at once:

    p_T = softmax(z / T)
    L   = alpha * T^2 * KL(p_T(teacher) || p_T(student)) + (1 - alpha) * CE(student, y)

A temperature ``T > 1`` flattens both distributions so the student also learns which *wrong*
tokens the teacher found plausible ("dark knowledge"); the ``T^2`` keeps the soft term's gradient on
the same scale as the hard term's when ``T`` changes. ``alpha = 0`` is ordinary training from labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lmlab.eval.language_model import evaluate_lm, model_logits
from lmlab.train import FitResult, History, fit

Batch = tuple[torch.Tensor, torch.Tensor]


def soft_targets(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T): T = 1 is the model's own distribution, larger T spreads the mass."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; 1 is plain softmax, 2-4 is usual")
    return torch.softmax(logits / temperature, dim=-1)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      *, temperature: float = 2.0, alpha: float = 0.5) -> dict[str, torch.Tensor]:
    """The blended loss and its two parts: ``{"loss", "soft", "hard"}``.

    Logits are (..., V) and targets (...) of class indices; teacher logits carry no gradient.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; 1 is plain softmax, 2-4 is usual")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}; it weighs the soft (teacher) term")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ: both models need the same tokenizer")
    vocab = student_logits.size(-1)
    s = student_logits.reshape(-1, vocab).float()  # (N, V)
    t = teacher_logits.detach().reshape(-1, vocab).float()  # (N, V)
    # KL(p_teacher || p_student) averaged over positions, on the softened distributions
    log_p_student = F.log_softmax(s / temperature, dim=-1)
    log_p_teacher = F.log_softmax(t / temperature, dim=-1)
    soft = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
    hard = F.cross_entropy(s, targets.reshape(-1))
    loss = alpha * temperature**2 * soft + (1.0 - alpha) * hard
    return {"loss": loss, "soft": soft, "hard": hard}


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass
class DistillConfig:
    """How the student is trained: temperature and soft-target weight, plus the usual optimizer knobs."""

    temperature: float = 2.0
    alpha: float = 0.5
    lr: float = 3e-3
    weight_decay: float = 0.0
    max_iters: int = 200
    grad_clip: float = 1.0


def distill(teacher: torch.nn.Module, student: torch.nn.Module, get_batch: Callable[[int], Batch],
            config: DistillConfig, *, device: torch.device | str = "cpu",
            val_batches: list[Batch] | None = None, eval_interval: int = 0,
            history: History | None = None, progress: bool = True, live: Any = None) -> FitResult:
    """Train ``student`` on ``get_batch(it) -> (x, y)`` against the frozen ``teacher`` with ``fit``.

    Logs ``train_loss`` (the blend), ``soft`` and ``hard`` every step, and ``val_loss`` (plain
    cross-entropy of the student) when ``val_batches`` are given. ``alpha = 0`` trains from labels only,
    the baseline a distilled student should beat.
    """
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student.train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def step(it: int) -> dict[str, Any]:
        x, y = (t.to(device) for t in get_batch(it))
        with torch.no_grad():
            teacher_logits = model_logits(teacher, x) if config.alpha > 0 else None
        student_logits = model_logits(student, x)
        if teacher_logits is None:  # labels only: no teacher forward needed
            teacher_logits = student_logits.detach()
        parts = distillation_loss(student_logits, teacher_logits, y,
                                  temperature=config.temperature, alpha=config.alpha)
        optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(student.parameters(), config.grad_clip)
        optimizer.step()
        return {"loss": parts["loss"].item(), "soft": parts["soft"].item(), "hard": parts["hard"].item(),
                "tokens": y.numel()}

    evaluate = (lambda: {"val_loss": evaluate_lm(student, val_batches, device)}) if val_batches else None
    return fit(step, max_iters=config.max_iters, history=history, evaluate=evaluate,
               eval_interval=eval_interval, live=live, progress=progress, desc="distil")

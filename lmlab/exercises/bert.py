"""Exercises of notebook 07: BERT's masking rule, the MLM loss over masked positions, pooling, macro-F1."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close, expect_equal, expect_shape


def _filled(result, what: str):
    """The learner's result, or specific feedback when the cell still returns ``...``."""
    if result is ...:
        raise ExerciseFailure(f"{what} still returns `...`: replace it with your code and run the cell again")
    return result


def _mask_decision(r: torch.Tensor) -> torch.Tensor:
    # r: uniform draws in [0, 1) for the chosen positions -> 0 = [MASK], 1 = random token, 2 = keep
    return torch.where(r < 0.8, 0, torch.where(r < 0.9, 1, 2))


@exercise("bert.mask_decision", solution=_mask_decision,
          hint="below 0.8 -> 0 ([MASK]); from 0.8 to below 0.9 -> 1 (random); 0.9 and above -> 2 (keep); "
               "two nested torch.where do it",
          success="80-10-10: the model cannot tell which visible tokens are real, so it keeps a good "
                  "representation of every token, not only of [MASK].")
def _check_mask_decision(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    r = torch.tensor([0.0, 0.5, 0.79, 0.8, 0.85, 0.8999, 0.9, 0.99])
    got = torch.as_tensor(_filled(student(r), "mask_decision(r)"))
    expect_shape(got, (8,), what="mask_decision(r) for 8 draws")
    want = _mask_decision(r)
    if torch.equal(got.long(), torch.where(r < 0.1, 2, torch.where(r < 0.2, 1, 0))):
        raise ExerciseFailure("your decisions are the right shares in the wrong order: the first 80% of "
                              "the interval (r < 0.8) becomes [MASK]")
    expect_equal(got.long().tolist(), want.tolist(), what="decisions for r = " + str(r.tolist()))
    big = torch.as_tensor(student(torch.rand(100_000, generator=torch.Generator().manual_seed(0)))).long()
    shares = [round(float((big == k).float().mean()), 2) for k in range(3)]
    expect_equal(shares, [0.8, 0.1, 0.1], what="the shares of 0, 1, 2 over 100,000 draws")


def _mlm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # logits (B, T, V); targets (B, T) with -100 where nothing was masked
    chosen = targets != -100
    return F.cross_entropy(logits[chosen], targets[chosen])


@exercise("bert.mlm_loss", solution=_mlm_loss,
          hint="keep the rows where targets != -100 (logits[chosen] is (N, V), targets[chosen] is (N,)), "
               "then F.cross_entropy on those only",
          success="Only ~15% of the positions carry a loss: that is why BERT needs many more steps than a "
                  "causal LM, which learns from every position.")
def _check_mlm_loss(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 11, generator=g)
    targets = torch.full((2, 6), -100)
    targets[0, 1], targets[1, 4], targets[1, 5] = 3, 7, 0
    got = torch.as_tensor(_filled(student(logits, targets), "mlm_loss(logits, targets)"))
    everywhere = F.cross_entropy(logits.view(-1, 11), torch.where(targets == -100, 0, targets).view(-1))
    if torch.allclose(got, everywhere, atol=1e-5):
        raise ExerciseFailure("that averages over every position (the -100s read as token 0); keep only "
                              "the masked positions")
    expect_close(got, _mlm_loss(logits, targets), what="the MLM loss of 3 masked positions", atol=1e-5)


def _mean_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


@exercise("bert.mean_pool", solution=_mean_pool,
          hint="multiply h (B, T, C) by mask[..., None], sum over T, divide by the number of real tokens "
               "mask.sum(1, keepdim=True)",
          success="Mean pooling: every token votes; [CLS] pooling uses one vector the pre-training never "
                  "asked to summarise anything (no next-sentence task here).")
def _check_mean_pool(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    got = torch.as_tensor(_filled(student(h, mask), "mean_pool(h, mask)"))
    expect_shape(got, (2, 3), what="mean_pool(h, mask) for h (2, 4, 3)")
    if torch.allclose(got, h.mean(1)):
        raise ExerciseFailure("the second sentence has two padding positions: leave them out of the mean "
                              "(multiply by the mask, divide by the number of real tokens)")
    expect_close(got, _mean_pool(h, mask), what="mean_pool(h, mask)")


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    f1 = []
    for c in range(n_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1))


@exercise("bert.macro_f1", solution=_macro_f1,
          hint="for each class c: tp, fp, fn from (y_pred == c) and (y_true == c); "
               "F1_c = 2tp / (2tp + fp + fn); the macro average is the plain mean over classes",
          success="Macro-F1 weighs every poet the same: a classifier that always says 白居易 scores high "
                  "accuracy on an unbalanced set but a low macro-F1.")
def _check_macro_f1(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 2, 2, 0])
    got = float(_filled(student(y, p, 3), "macro_f1(y_true, y_pred, 3)"))
    micro = float(np.mean(y == p))
    if abs(got - micro) < 1e-9:
        raise ExerciseFailure("that is the accuracy (micro average); macro-F1 is the mean of the three "
                              "per-class F1 scores")
    expect_close(got, _macro_f1(y, p, 3), what="macro-F1 of 8 predictions over 3 classes")
    always = float(student(y, np.zeros_like(y), 3))
    expect_close(always, _macro_f1(y, np.zeros_like(y), 3),
                 what="macro-F1 of a classifier that always says class 0 (classes never predicted count 0)")

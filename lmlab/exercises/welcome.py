"""Exercises of notebook 00: the loss a model starts from, and nats versus bits."""

from __future__ import annotations

import math

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close
from lmlab.i18n import _


def _uniform_loss(vocab_size: int) -> float:
    return math.log(vocab_size)


@exercise("welcome.uniform_loss", solution=_uniform_loss,
          hint="a uniform guess gives every token probability 1/V; the loss is -log of the right one's",
          success="An untrained model should start near this number: compare it with the first logged loss.")
def _check_uniform_loss(student) -> None:
    expect(callable(student), _("pass your function itself (check(..., uniform_loss)), not {student!r:.30}")
                                .format(student=student))
    for vocab_size in (2, 65, 50257):
        expect_close(student(vocab_size), math.log(vocab_size), what=f"uniform_loss({vocab_size})")


def _bits_per_char(loss_nats: float) -> float:
    return loss_nats / math.log(2)


@exercise("welcome.bits_per_char", solution=_bits_per_char,
          hint="log2(x) = ln(x) / ln(2); the loss is measured in nats (natural log)")
def _check_bits_per_char(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    for nats in (math.log(2), 1.0, 4.17):
        expect_close(student(nats), nats / math.log(2), what=f"bits_per_char({nats:.4g})")


def _worked_example_loss() -> float:
    """The 2-2-2 ReLU network of notebook 00, forward by hand: h = ReLU(W1 x + b1), z = W2 h + b2."""
    W1, b1 = ((0.1, 0.2), (0.3, 0.4)), (0.5, 0.6)
    W2, b2 = ((0.7, 0.8), (0.9, 1.0)), (0.1, 0.2)
    x, t = (0.5, 0.6), 1
    h = [max(0.0, sum(w * xi for w, xi in zip(row, x, strict=True)) + b)
         for row, b in zip(W1, b1, strict=True)]
    z = [sum(w * hi for w, hi in zip(row, h, strict=True)) + b for row, b in zip(W2, b2, strict=True)]
    return -(z[t] - math.log(sum(math.exp(zj) for zj in z)))


_WORKED_SLIPS = {  # answers a learner (or a tutorial) reaches by a known slip, with what went wrong
    0.932: "that is the loss for t = 0 (the first class); the target here is t = 1, the second",
    0.898: "that is -log(e^1.4 / (e^1.5 + e^1.7)), the tutorial's expression: its hidden layer and logits "
           "are miscomputed, b2 is added twice and e^1.4 is not a term of the denominator",
}


@exercise("welcome.worked_loss", solution=round(_worked_example_loss(), 4),
          hint="h = (0.67, 0.99), z = (1.361, 1.793); loss = -z[1] + log(e^z0 + e^z1)",
          success="A cross-entropy is -log of a probability in (0, 1]: never negative.")
def _check_worked_loss(student) -> None:
    expect(not callable(student), "this one asks for a number, e.g. worked_loss = 1.234")
    try:
        value = float(student)
    except (TypeError, ValueError):
        raise ExerciseFailure(f"expected a number, got {type(student).__name__} {student!r:.40}") from None
    expect(value >= 0, f"{value:g} is negative, and no cross-entropy can be: p_t is in (0, 1], so "
                       "-log p_t >= 0. Recompute h = ReLU(W1 x + b1) first")
    for slip, why in _WORKED_SLIPS.items():
        expect(abs(value - slip) > 2e-3, f"{value:g}: {why}")
    expect_close(value, _worked_example_loss(), what="the loss for t = 1", atol=1e-3, rtol=0)

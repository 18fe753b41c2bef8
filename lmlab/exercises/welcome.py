"""Exercises of notebook 00: the loss a model starts from, and nats versus bits."""

from __future__ import annotations

import math

from lmlab.exercises import exercise, expect, expect_close
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

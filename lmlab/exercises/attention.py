"""Exercises of notebook 04: attention arithmetic by hand, the causal mask, and scoring what a head does."""

from __future__ import annotations

import math

import torch

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close, expect_shape
from lmlab.i18n import _


def _answered(value, name: str):
    """The student's function ran but still returns the placeholder."""
    if value is ...:
        raise ExerciseFailure(_("{name} still returns `...`: replace it with your code and run the cell "
                                "again").format(name=name))
    return value


def _scaled_scores(q: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    return K @ q / math.sqrt(q.numel())


@exercise("attention.scaled_scores", solution=_scaled_scores,
          hint="one dot product per key: K @ q gives all of them; then divide by the square root of d_k "
               "(the length of q), not by d_k",
          success="These are the numbers in the 'q·kⱼ ÷ √d' column of the step-by-step view.")
def _check_scaled_scores(student) -> None:
    expect(callable(student), _("pass your function itself (check(..., scaled_scores)), not {student!r:.40}")
                                .format(student=student))
    g = torch.Generator().manual_seed(4)
    for T, d in ((5, 16), (1, 4), (9, 64)):
        q, K = torch.randn(d, generator=g), torch.randn(T, d, generator=g)
        got = _answered(student(q, K), "scaled_scores")
        expect_shape(got, (T,), what=f"scaled_scores(q of shape ({d},), K of shape ({T}, {d}))")
        if torch.allclose(torch.as_tensor(got, dtype=torch.float32), K @ q, atol=1e-4) and d > 1:
            raise ExerciseFailure("you return q·kⱼ without the scaling: divide by √d_k "
                                  "(keeps the softmax from saturating when d_k is large)")
        if torch.allclose(torch.as_tensor(got, dtype=torch.float32), K @ q / d, atol=1e-4):
            raise ExerciseFailure(_("you divide by d_k = {d}; the formula divides by √d_k = {v1:.3g}")
                                    .format(d=d, v1=math.sqrt(d)))
        expect_close(got, _scaled_scores(q, K), what=f"scaled_scores for T={T}, d_k={d}")


def _causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    T = scores.size(-1)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


@exercise("attention.causal_softmax", solution=_causal_softmax,
          hint="set the scores above the diagonal (j > i: the future) to -inf with masked_fill, then "
               "softmax over the last dimension; torch.ones(T, T).tril() is the allowed pattern",
          success="Row i now spreads its attention over tokens 0..i only: a GPT cannot peek ahead.")
def _check_causal_softmax(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    g = torch.Generator().manual_seed(7)
    scores = torch.randn(6, 6, generator=g) * 3
    got = torch.as_tensor(_answered(student(scores.clone()), "causal_softmax"), dtype=torch.float32)
    expect_shape(got, (6, 6), what="causal_softmax of a (6, 6) score matrix")
    expect(bool(torch.all(got.triu(diagonal=1).abs() < 1e-6)),
           "some weights above the diagonal are not 0: token i must not attend to tokens j > i")
    if torch.allclose(got, torch.softmax(scores, -1).tril(), atol=1e-4):
        raise ExerciseFailure("you zeroed the future *after* the softmax, so the rows no longer sum to 1; "
                              "mask with -inf *before* the softmax")
    expect_close(got.sum(-1), torch.ones(6), what="the sum of each row (a softmax row sums to 1)")
    expect_close(got, _causal_softmax(scores), what="causal_softmax(scores)")
    big = torch.tensor([[1000.0, 0.0], [1000.0, 999.0]])
    expect_close(torch.as_tensor(student(big), dtype=torch.float32), _causal_softmax(big),
                 what="causal_softmax with scores near 1000 (use torch.softmax, which is stable)")


def _previous_token_score(weights: torch.Tensor) -> float:
    return float(torch.diagonal(weights, offset=-1).mean())


@exercise("attention.previous_token_score", solution=_previous_token_score,
          hint="the weight that token i gives to token i-1 sits at weights[i, i-1]: the diagonal just "
               "below the main one, torch.diagonal(weights, offset=-1); average it",
          success="A head scoring near 1 copies the previous token's information forward: a previous-token "
                  "head, one half of an induction circuit.")
def _check_previous_token_score(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    T = 6
    shifted = torch.zeros(T, T)
    shifted[0, 0] = 1.0
    shifted[torch.arange(1, T), torch.arange(T - 1)] = 1.0  # a perfect previous-token head
    expect_close(_answered(student(shifted), "previous_token_score"), 1.0,
                 what="score of a perfect previous-token head")
    expect_close(student(torch.eye(T)), 0.0, what="score of a head that only looks at itself")
    uniform = torch.ones(T, T).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    expect_close(student(uniform), _previous_token_score(uniform),
                 what="score of a head spreading evenly over the past (mean of 1/i for i = 2..6)")

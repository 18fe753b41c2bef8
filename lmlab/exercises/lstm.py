"""Exercises of notebook 02: an LSTM step from the equations, its parameter count, the forget gate."""

from __future__ import annotations

import math

import torch

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close
from lmlab.i18n import _


def _lstm_step(x, h_prev, c_prev, W, U, b):
    """Reference: W (4H, C), U (4H, H), b (4H,) stacked as input, forget, candidate, output (torch order)."""
    z = x @ W.T + h_prev @ U.T + b                                   # (B, 4H)
    i, f, g, o = z.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def _wrong_variants(x, h_prev, c_prev, W, U, b):
    """Answers that a common slip produces, with what to say about each."""
    z = x @ W.T + h_prev @ U.T + b
    i, f, g, o = z.chunk(4, dim=-1)
    si, sf, so, tg = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(g)
    c = sf * c_prev + si * tg
    yield (so * c, c), "h_t = o_t ⊙ tanh(c_t): the cell state goes through tanh before the output gate"
    c_swap = si * c_prev + sf * tg
    yield (so * torch.tanh(c_swap), c_swap), ("the forget gate multiplies the old cell state c_{t-1}, "
                                               "the input gate the candidate g_t")
    c_ifog = sf * c_prev + si * torch.sigmoid(g)
    yield (torch.tanh(o) * torch.tanh(c_ifog), c_ifog), ("the rows are stacked i, f, g, o (torch's order): "
                                                         "the third block is the candidate (tanh), the "
                                                         "fourth the output gate (sigmoid)")
    c_plus = c_prev + si * tg
    yield (so * torch.tanh(c_plus), c_plus), "the old cell state must be scaled by the forget gate f_t"


@exercise("lstm.step", solution=_lstm_step,
          hint="z = x W^T + h_prev U^T + b, split z into 4 blocks (i, f, g, o), then the two state equations",
          success="This is exactly what torch.nn.LSTM computes per step (checked against it).")
def _check_lstm_step(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    g = torch.Generator().manual_seed(7)
    B, C, H = 3, 5, 4
    x, h, c = torch.randn(B, C, generator=g), torch.randn(B, H, generator=g), torch.randn(B, H, generator=g)
    W, U = torch.randn(4 * H, C, generator=g), torch.randn(4 * H, H, generator=g)
    b = torch.randn(4 * H, generator=g)
    got = student(x, h, c, W, U, b)
    expect(got is not None, "your function returned None: compute h_t and c_t and `return h_t, c_t`")
    expect(isinstance(got, tuple | list) and len(got) == 2, "return a pair (h_t, c_t)")
    expected = _lstm_step(x, h, c, W, U, b)
    reference = torch.nn.LSTMCell(C, H, bias=True)
    with torch.no_grad():
        reference.weight_ih.copy_(W)
        reference.weight_hh.copy_(U)
        reference.bias_ih.copy_(b)
        reference.bias_hh.zero_()
        torch_h, torch_c = reference(x, (h, c))
    assert torch.allclose(torch_h, expected[0], atol=1e-5)  # the reference itself agrees with PyTorch
    try:
        expect_close(got[1], expected[1], what="c_t (the new cell state)", atol=1e-5)
        expect_close(got[0], expected[0], what="h_t (the new hidden state)", atol=1e-5)
    except ExerciseFailure:
        for wrong, why in _wrong_variants(x, h, c, W, U, b):
            if all(torch.allclose(torch.as_tensor(a), w, atol=1e-5) for a, w in zip(got, wrong, strict=True)):
                raise ExerciseFailure(why) from None
        raise


def _param_count(input_size: int, hidden_size: int) -> int:
    return 4 * (hidden_size * input_size + hidden_size * hidden_size + 2 * hidden_size)


@exercise("lstm.param_count", solution=_param_count,
          hint="four gates, each with W (H×C), U (H×H) and, in PyTorch, two bias vectors b_ih and b_hh",
          success="Now check it: sum(p.numel() for p in torch.nn.LSTM(C, H).parameters()).")
def _check_param_count(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    for C, H in ((1, 1), (16, 32), (256, 512)):
        got, want = student(C, H), _param_count(C, H)
        expect(got is not None, "your function returned None: `return` the count")
        actual = sum(p.numel() for p in torch.nn.LSTM(C, H).parameters())
        assert want == actual
        if got == want - 4 * H:
            raise ExerciseFailure(_("param_count({C}, {H}) = {got}: PyTorch keeps two bias vectors per "
                                    "gate (b_ih and b_hh), 4H numbers more").format(C=C, H=H, got=got))
        if got == want // 4:
            raise ExerciseFailure(_("param_count({C}, {H}) = {got}: that is one gate; an LSTM has four")
                                    .format(C=C, H=H, got=got))
        expect(got == want, _("param_count({C}, {H}): expected {want}, got {got}")
                              .format(C=C, H=H, want=want, got=got))


def _half_life(forget: float) -> float:
    return math.log(0.5) / math.log(forget)


@exercise("lstm.half_life", solution=_half_life,
          hint="with i_t = 0, c_t = f^k c_{t-k}; solve f^k = 1/2 for k",
          success="A forget gate of 0.99 keeps half of a memory for about 69 steps; 0.5 for one step.")
def _check_half_life(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    for f in (0.5, 0.9, 0.99):
        got = student(f)
        expect(got is not None, "your function returned None: `return` the number of steps")
        if abs(float(got) - 1 / (1 - f)) < 1e-6:
            raise ExerciseFailure(_("half_life({f}) = {got} is 1/(1-f), the mean lifetime; the half-life "
                                    "solves f^k = 1/2").format(f=f, got=got))
        expect_close(got, _half_life(f), what=f"half_life({f})", rtol=1e-4)


@exercise("lstm.direct_path_share", solution=0.9**10,
          hint="each step back along c multiplies the gradient by f_t; ten steps: f^10",
          success="About a third survives ten steps; with f = 0.99 it is 90 %. An RNN's share falls far "
                  "faster.")
def _check_direct_path_share(student) -> None:
    expect(not callable(student), "this one asks for a number, e.g. direct_path_share = 0.5")
    try:
        value = float(student)
    except (TypeError, ValueError):
        raise ExerciseFailure(f"expected a number, got {type(student).__name__} {student!r:.40}") from None
    if math.isclose(value, 0.9 * 10, rel_tol=1e-6):
        raise ExerciseFailure("9 is 0.9 × 10: the factors multiply, one per step, 0.9 ** 10")
    if math.isclose(value, 0.1**10, rel_tol=1e-3):
        raise ExerciseFailure("that is (1 - f)^10: the gradient is multiplied by f itself, the share kept")
    expect_close(value, 0.9**10, what="the share after 10 steps with f = 0.9", rtol=1e-3)

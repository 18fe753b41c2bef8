"""The LSTM exercises accept the reference answers and name the common slips."""

from __future__ import annotations

import math

import torch

from lmlab.exercises import check
from lmlab.exercises.lstm import _half_life, _lstm_step, _param_count


def test_reference_answers_pass(capsys):
    assert check("lstm.step", _lstm_step) and check("lstm.param_count", _param_count)
    assert check("lstm.half_life", _half_life)
    assert _half_life(0.5) == 1.0 and math.isclose(_half_life(0.99), 68.97, rel_tol=1e-3)


def test_missing_tanh_on_the_cell_is_named(capsys):
    def no_tanh(x, h, c, W, U, b):
        i, f, g, o = (x @ W.T + h @ U.T + b).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * c, c

    assert not check("lstm.step", no_tanh)
    assert "tanh(c_t)" in capsys.readouterr().out


def test_swapped_gates_and_one_bias_are_named(capsys):
    def swapped(x, h, c, W, U, b):
        i, f, g, o = (x @ W.T + h @ U.T + b).chunk(4, -1)
        c = torch.sigmoid(i) * c + torch.sigmoid(f) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    assert not check("lstm.step", swapped)
    assert "forget gate multiplies the old cell state" in capsys.readouterr().out
    assert not check("lstm.param_count", lambda C, H: 4 * (H * C + H * H + H))
    assert "two bias vectors" in capsys.readouterr().out
    assert not check("lstm.half_life", lambda f: 1 / (1 - f))
    assert "mean lifetime" in capsys.readouterr().out

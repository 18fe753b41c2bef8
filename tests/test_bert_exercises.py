"""Notebook 07's exercises: right answers pass, the typical wrong ones get specific feedback."""

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.exercises import check
from lmlab.exercises.bert import _macro_f1, _mask_decision, _mean_pool, _mlm_loss


def test_solutions_pass():
    for name, fn in (("bert.mask_decision", _mask_decision), ("bert.mlm_loss", _mlm_loss),
                     ("bert.mean_pool", _mean_pool), ("bert.macro_f1", _macro_f1)):
        assert check(name, fn, quiet=True), name


def test_typical_mistakes_get_specific_feedback(capsys):
    assert not check("bert.mask_decision", lambda r: torch.where(r < 0.1, 2, torch.where(r < 0.2, 1, 0)))
    assert "wrong order" in capsys.readouterr().out
    assert not check("bert.mlm_loss", lambda lg, t: F.cross_entropy(lg.flatten(0, 1),
                                                                   torch.where(t == -100, 0, t).flatten()))
    assert "every position" in capsys.readouterr().out
    assert not check("bert.mean_pool", lambda h, m: h.mean(1))
    assert "padding" in capsys.readouterr().out
    assert not check("bert.macro_f1", lambda y, p, k: float(np.mean(y == p)))
    assert "accuracy" in capsys.readouterr().out


def test_unfilled_cell_says_so(capsys):
    for name, fn in (("bert.mask_decision", lambda r: ...), ("bert.mlm_loss", lambda lg, t: ...),
                     ("bert.mean_pool", lambda h, m: ...), ("bert.macro_f1", lambda y, p, k: ...)):
        assert not check(name, fn)
        assert "still returns `...`" in capsys.readouterr().out, name

"""Notebook 04's exercises: the reference solutions pass, and typical mistakes get specific feedback."""

from __future__ import annotations

import pytest
import torch

from lmlab.exercises import check
from lmlab.exercises.attention import _causal_softmax, _previous_token_score, _scaled_scores

NAMES = ["attention.scaled_scores", "attention.causal_softmax", "attention.previous_token_score"]


SOLUTIONS = [_scaled_scores, _causal_softmax, _previous_token_score]


@pytest.mark.parametrize("name,answer", list(zip(NAMES, SOLUTIONS, strict=True)))
def test_reference_solutions_pass(name, answer, capsys):
    assert check(name, answer) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("name,wrong,message", [
    ("attention.scaled_scores", lambda q, K: K @ q, "without the scaling"),
    ("attention.scaled_scores", lambda q, K: K @ q / q.numel(), "you divide by d_k"),
    ("attention.scaled_scores", lambda q, K: ..., "still returns `...`"),
    ("attention.causal_softmax", lambda s: torch.softmax(s, -1).tril(), "*after* the softmax"),
    ("attention.causal_softmax", lambda s: torch.softmax(s, -1), "above the diagonal are not 0"),
    ("attention.previous_token_score", lambda w: float(w.diagonal().mean()), "perfect previous-token head"),
    ("attention.previous_token_score", lambda w: float(w.diagonal(-1).sum()), "perfect previous-token"),
])
def test_typical_mistakes_get_specific_feedback(name, wrong, message, capsys):
    assert check(name, wrong) is False
    assert message in capsys.readouterr().out

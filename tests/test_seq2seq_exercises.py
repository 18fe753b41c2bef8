"""Notebook 06's exercises: the reference solutions pass, and typical mistakes get specific feedback."""

from __future__ import annotations

import math

import torch

from lmlab.exercises import check, solution


def test_solutions_pass(capsys, monkeypatch):
    monkeypatch.setenv("LMLAB_TEACHER", "1")
    for name in ("cross_attention", "masks", "label_smoothing", "beam_step", "bleu"):
        assert check(f"seq2seq.{name}", solution(f"seq2seq.{name}"), quiet=True), name


def test_typical_mistakes_get_specific_feedback(capsys, monkeypatch):
    monkeypatch.setenv("LMLAB_TEACHER", "1")
    reference_bleu = solution("seq2seq.bleu")
    def no_mask(y, m, mask):
        return torch.softmax(y @ m.transpose(-2, -1) / math.sqrt(y.size(-1)), -1) @ m

    assert not check("seq2seq.cross_attention", no_mask)
    assert "padded source positions still get weight" in capsys.readouterr().out

    def inverted(src, T):
        return torch.ones(T, T, dtype=torch.bool).tril(), (src == 0)[:, None, :].expand(-1, T, -1)

    assert not check("seq2seq.masks", inverted)
    assert "inverted" in capsys.readouterr().out

    def alone(scores, logp, width):
        top = torch.topk(logp.view(-1), width).indices
        return top // logp.size(-1), top % logp.size(-1), scores[top // logp.size(-1)]

    assert not check("seq2seq.beam_step", alone)
    assert "add each prefix's score" in capsys.readouterr().out

    def fraction(hyp, ref):
        return reference_bleu(hyp, ref) / 100

    assert not check("seq2seq.bleu", fraction)
    assert "multiply by 100" in capsys.readouterr().out

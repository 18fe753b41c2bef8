"""Perplexity and bits per character follow from the loss in nats."""

from __future__ import annotations

import math

import pytest

from lmlab.eval.language_model import bits_per_char, bits_per_token, lm_scores, perplexity


def test_uniform_guess_over_v_tokens():
    loss = math.log(65)                      # a uniform guess over 65 characters
    assert perplexity(loss) == pytest.approx(65)
    assert bits_per_token(loss) == pytest.approx(math.log2(65))
    assert bits_per_char(loss) == pytest.approx(math.log2(65))


def test_bits_per_char_rescales_by_tokens_per_char():
    # a word model at 5 nats/token on text of 1000 tokens and 5000 characters
    assert bits_per_char(5.0, n_tokens=1000, n_chars=5000) == pytest.approx(5.0 / math.log(2) / 5)
    scores = lm_scores(1.5, 100, 100)
    assert scores["bits_per_char"] == pytest.approx(1.5 / math.log(2))
    assert scores["perplexity"] == pytest.approx(math.exp(1.5))


def test_overflow_and_bad_values():
    assert perplexity(1000.0) == math.inf
    with pytest.raises(ValueError, match="non-negative"):
        perplexity(-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        bits_per_token(float("nan"))
    with pytest.raises(ValueError, match="both"):
        bits_per_char(1.0, n_tokens=10)
    with pytest.raises(ValueError, match="positive"):
        bits_per_char(1.0, n_tokens=0, n_chars=10)

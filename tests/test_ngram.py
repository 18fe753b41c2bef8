"""The count-based n-gram baseline (interpolated Kneser–Ney): a proper distribution that learns."""

from __future__ import annotations

import math
import random

import pytest

from lmlab.models.ngram import KneserNey


def test_probabilities_sum_to_one_in_every_context():
    ids = [0, 1, 2, 0, 1, 3, 0, 1, 2, 2, 4]
    for n in (1, 2, 3):
        lm = KneserNey.fit(ids, vocab_size=6, n=n)  # id 5 never seen
        for context in ([], [0], [1], [5], [0, 1], [5, 5]):
            total = sum(lm.prob(context, w) for w in range(6))
            assert total == pytest.approx(1.0, abs=1e-9), (n, context)
            assert lm.prob(context, 5) > 0  # an unseen token keeps some probability


def test_a_bigram_learns_what_follows_and_beats_the_uniform_guess():
    rng = random.Random(0)
    # a Markov chain: after token t comes t + 1 (mod 5) nine times in ten
    ids = [0]
    for _ in range(3000):
        ids.append((ids[-1] + 1) % 5 if rng.random() < 0.9 else rng.randrange(5))
    train, test = ids[:2500], ids[2500:]
    bigram, unigram = KneserNey.fit(train, 5, n=2), KneserNey.fit(train, 5, n=1)
    assert bigram.prob([3], 4) > 0.8 and bigram.prob([3], 1) < 0.1
    nats = {lm.n: sum(lm.token_nll(test)) / len(test) for lm in (bigram, unigram)}
    assert nats[2] < 0.6 < math.log(5) - 0.05 < nats[1] < math.log(5) + 0.05
    assert len(bigram.token_nll(test)) == len(test)


def test_bad_input_says_what_to_fix():
    with pytest.raises(ValueError, match="outside a vocabulary of 3"):
        KneserNey.fit([0, 1, 3], vocab_size=3)
    with pytest.raises(ValueError, match="n >= 1"):
        KneserNey.fit([0, 1], vocab_size=2, n=0)
    with pytest.raises(ValueError, match="too few"):
        KneserNey.fit([0], vocab_size=2, n=2)

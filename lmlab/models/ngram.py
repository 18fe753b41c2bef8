"""A count-based n-gram language model: the baseline a neural language model has to beat.

It counts which token follows which n − 1 tokens in the training ids, and smooths the counts with
interpolated Kneser–Ney (Kneser & Ney 1995; Chen & Goodman 1998): every seen count gives up a discount D,
and the mass set free goes to the next shorter context, whose counts are *continuation* counts (in how
many different contexts a token was seen, not how often), down to a uniform guess over the vocabulary:

    p(w | h) = max(c(h w) − D, 0) / c(h)  +  D · N₁₊(h •) / c(h) · p(w | h′)

where h′ is h without its first token and N₁₊(h •) the number of different tokens seen after h.
A context never seen hands all of its mass to p(w | h′). D = n₁ / (n₁ + 2 n₂) per order (kept within
0.1 … 0.9), from the number of n-grams seen once (n₁) and twice (n₂). Every probability is above zero,
so held-out text always has a finite loss, and the probabilities of the vocabulary sum to one in every
context.

    lm = KneserNey.fit(train_ids, vocab_size=V, n=2)
    nats = lm.token_nll(val_ids)       # one loss per token of val_ids (the first ones with a shorter context)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from lmlab.errors import UsageError


@dataclass
class KneserNey:
    """Interpolated Kneser–Ney n-gram model over token ids ``0 .. vocab_size - 1``."""

    n: int
    vocab_size: int
    # counts[k][context of k ids] = Counter of the next id: raw counts for the longest context (k = n - 1),
    # continuation counts for the shorter ones
    counts: list[dict[tuple[int, ...], Counter]] = field(default_factory=list)
    discounts: list[float] = field(default_factory=list)
    totals: list[dict[tuple[int, ...], int]] = field(default_factory=list)  # c(h) per order and context

    @classmethod
    def fit(cls, ids: Sequence[int], vocab_size: int, n: int = 2) -> KneserNey:
        """Count the n-grams of ``ids`` (a bigram model for ``n=2``)."""
        if n < 1:
            raise UsageError(f"an n-gram model needs n >= 1, got n={n}")
        ids = [int(i) for i in ids]
        if len(ids) < n:
            raise UsageError(f"{len(ids)} training token(s) is too few for a {n}-gram model")
        if vocab_size <= max(ids):
            raise UsageError(f"token id {max(ids)} is outside a vocabulary of {vocab_size}")
        top: dict[tuple[int, ...], Counter] = defaultdict(Counter)
        for i in range(n - 1, len(ids)):
            top[tuple(ids[i - n + 1:i])][ids[i]] += 1
        counts = [top]
        grams = {h + (w,) for h, c in top.items() for w in c}  # the distinct n-grams
        for _ in range(n - 1):  # continuation counts: in how many contexts each shorter n-gram was seen
            lower: dict[tuple[int, ...], Counter] = defaultdict(Counter)
            for g in grams:
                lower[g[1:-1]][g[-1]] += 1
            counts.insert(0, lower)
            grams = {g[1:] for g in grams}
        model = cls(n, vocab_size, counts=[dict(c) for c in counts])
        model.discounts = [model._discount(c) for c in model.counts]
        model.totals = [{h: sum(c.values()) for h, c in order.items()} for order in model.counts]
        return model

    @staticmethod
    def _discount(counts: dict[tuple[int, ...], Counter]) -> float:
        of = Counter(v for c in counts.values() for v in c.values())  # count of counts
        n1, n2 = of.get(1, 0), of.get(2, 0)
        return min(0.9, max(0.1, n1 / (n1 + 2 * n2))) if n1 else 0.5

    def prob(self, context: Sequence[int], token: int) -> float:
        """p(token | the last n − 1 ids of ``context``), interpolated down to the uniform 1 / vocab_size."""
        history = tuple(int(i) for i in context)[-(self.n - 1):] if self.n > 1 else ()
        p = 1.0 / self.vocab_size
        for k in range(len(history) + 1):  # from the empty context up to the longest one available
            h = history[len(history) - k:]
            c = self.counts[k].get(h) if k < len(self.counts) else None
            if not c:  # never seen: the shorter context's guess stands
                continue
            total, d = self.totals[k][h], self.discounts[k]
            p = max(c.get(token, 0) - d, 0.0) / total + d * len(c) / total * p
        return p

    def token_nll(self, ids: Sequence[int]) -> list[float]:
        """The loss in nats of every token of ``ids`` given the ones before it (at most n − 1 of them)."""
        ids = [int(i) for i in ids]
        return [-math.log(self.prob(ids[max(0, i - self.n + 1):i], w)) for i, w in enumerate(ids)]

"""GloVe (Pennington et al., 2014): count co-occurrences once, then fit vectors to their logarithms.

    X_ij  = Σ over the corpus of 1/d for each time word j occurs d ≤ window words from word i
    J     = Σ_ij f(X_ij) (w_i · w̃_j + b_i + b̃_j − log X_ij)²,   f(x) = min(1, (x / x_max)^α)

fitted with AdaGrad over the non-zero X_ij; the word vectors are w + w̃. A count-based method next to
word2vec's predictive one: both end up factorising (shifted) co-occurrence statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from lmlab.models.word2vec.vectors import WordVectors
from lmlab.models.word2vec.vocab import Vocab
from lmlab.threads import thread_share
from lmlab.train import History, fit


@dataclass
class GloVeConfig:
    dim: int = 100
    window: int = 10
    min_count: int = 5
    epochs: int = 25
    x_max: float = 10.0  # the paper uses 100 for billions of words; 10 suits a corpus of 0.5 M
    alpha: float = 0.75  # the exponent of the weighting f, not a learning rate
    learning_rate: float = 0.05
    threads: int = 0  # 0: one per core of this process's share (Hogwild, as the reference implementation)
    seed: int = 1


def cooccurrence(ids: np.ndarray, bounds: np.ndarray, vocab_size: int,
                 window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric co-occurrence counts weighted 1/d: (rows i, columns j, X_ij) of the non-zero entries."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    sentence = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    keys, weights = [], []
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]
        a, b = ids[:-d][same].astype(np.int64), ids[d:][same].astype(np.int64)
        keys += [a * vocab_size + b, b * vocab_size + a]
        weights += [np.full(2 * len(a), 1.0 / d)]
    if not keys or sum(len(k) for k in keys) == 0:
        raise ValueError(f"no two known words within window={window} of each other; use a bigger corpus")
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    X = np.bincount(inverse, weights=np.concatenate(weights))
    return unique // vocab_size, unique % vocab_size, X


@njit(nogil=True, cache=True, fastmath=True)
def _glove_epoch(rows, cols, logX, fX, order, W, W_ctx, b, b_ctx, gW, gW_ctx, gb, gb_ctx, lr):
    dim = W.shape[1]
    loss = 0.0
    for t in range(order.shape[0]):
        k = order[t]
        i, j = rows[k], cols[k]
        diff = b[i] + b_ctx[j] - logX[k]
        for d in range(dim):
            diff += W[i, d] * W_ctx[j, d]
        loss += 0.5 * fX[k] * diff * diff
        g = fX[k] * diff  # ∂J/∂(w_i·w̃_j)
        for d in range(dim):
            gi = g * W_ctx[j, d]
            gj = g * W[i, d]
            W[i, d] -= lr * gi / np.sqrt(gW[i, d])  # AdaGrad: per-coordinate step sizes
            W_ctx[j, d] -= lr * gj / np.sqrt(gW_ctx[j, d])
            gW[i, d] += gi * gi
            gW_ctx[j, d] += gj * gj
        b[i] -= lr * g / np.sqrt(gb[i])
        b_ctx[j] -= lr * g / np.sqrt(gb_ctx[j])
        gb[i] += g * g
        gb_ctx[j] += g * g
    return loss / max(order.shape[0], 1)


@dataclass
class GloVeResult:
    vectors: WordVectors
    history: History
    nonzeros: int
    wall_s: float


def train_glove(sentences: Sequence[Sequence[str]], config: GloVeConfig | None = None, *,
                vocab: Vocab | None = None, progress: bool = True, live: object = None) -> GloVeResult:
    """Count, then fit; one ``fit`` iteration is one pass over the non-zero co-occurrences."""
    config = config or GloVeConfig()
    vocab = vocab or Vocab.build(sentences, config.min_count)
    ids, bounds = vocab.encode(sentences)
    if len(ids) == 0:
        raise ValueError("no training words left after min_count; lower min_count or use a bigger corpus")
    rows, cols, X = cooccurrence(ids, bounds, len(vocab), config.window)
    logX = np.log(X).astype(np.float32)
    fX = np.minimum(1.0, (X / config.x_max) ** config.alpha).astype(np.float32)
    rng = np.random.default_rng(config.seed)
    V, D = len(vocab), config.dim
    W = ((rng.random((V, D)) - 0.5) / D).astype(np.float32)
    W_ctx = ((rng.random((V, D)) - 0.5) / D).astype(np.float32)
    b, b_ctx = np.zeros(V, np.float32), np.zeros(V, np.float32)
    gW, gW_ctx = np.ones((V, D), np.float32), np.ones((V, D), np.float32)
    gb, gb_ctx = np.ones(V, np.float32), np.ones(V, np.float32)
    history = History()

    threads = config.threads or thread_share().threads  # a class server's share, not every core
    pool = ThreadPoolExecutor(max_workers=threads)

    def step(it: int) -> dict:
        order = rng.permutation(len(X))
        parts = np.array_split(order, threads)  # each thread fits its share; updates race, rarely collide
        lr = np.float32(config.learning_rate)
        losses = list(pool.map(lambda part: _glove_epoch(rows, cols, logX, fX, part, W, W_ctx, b, b_ctx,
                                                         gW, gW_ctx, gb, gb_ctx, lr), parts))
        loss = float(np.average(losses, weights=[len(p) for p in parts]))
        return {"loss": loss, "lr": config.learning_rate, "tokens": len(X)}

    try:
        result = fit(step, max_iters=config.epochs, history=history, desc="GloVe", progress=progress,
                     live=live)
    finally:
        pool.shutdown()
    return GloVeResult(vectors=WordVectors(vocab.words, W + W_ctx), history=history, nonzeros=len(X),
                       wall_s=result.train_s)

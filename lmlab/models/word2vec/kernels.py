"""The CPU inner loops, compiled with numba: the same arithmetic as Mikolov's C tool, one job at a time.

A job is a run of sentences. Jobs release the GIL (``nogil=True``), so several threads update the shared
tables at once without locks ("Hogwild"): collisions are rare because each update touches few rows.

Notation (as in the notebook): ``W_in[w]`` is the input vector v_w, ``W_out[w]`` the output vector u_w.
For a (context c, centre o) pair and K negatives n_k drawn from P_n, the loss is

    L = -log σ(u_o · v_c) - Σ_k log σ(-u_{n_k} · v_c)

and its gradient for each output row is (label - σ(u · v_c)) v_c, with label 1 for o and 0 for n_k.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MAX_EXP = 6.0  # beyond |x| > 6, σ(x) is taken as 0 or 1 (as the C tool)
SIGMOID_TABLE_SIZE = 1000
# σ(x) tabulated on [-MAX_EXP, MAX_EXP], as the C tool's expTable: a look-up is cheaper than exp()
SIGMOID_TABLE = (1.0 / (1.0 + np.exp(-(np.arange(SIGMOID_TABLE_SIZE, dtype=np.float64) / SIGMOID_TABLE_SIZE
                                         * 2 - 1) * MAX_EXP))).astype(np.float32)
LOSS_EVERY = 8  # the loss is only reported, not trained on: estimate it on every 8th centre word
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # lets LLVM vectorise the dot products
_LCG_A = np.uint64(25214903917)
_LCG_C = np.uint64(11)


@njit(inline="always", fastmath=FASTMATH)
def _next(state):
    return state * _LCG_A + _LCG_C  # the C tool's linear congruential generator (wraps at 2^64)


@njit(inline="always", fastmath=FASTMATH)
def _uniform(state):
    return np.float32((state >> np.uint64(16)) & np.uint64(0xFFFF)) / np.float32(65536.0)


@njit(inline="always", fastmath=FASTMATH)
def _draw_negative(state, noise_table):
    # a word from P_n: a random slot of the unigram table (each word fills a share P_n(w) of the slots)
    return noise_table[(state >> np.uint64(16)) % np.uint64(noise_table.shape[0])]


@njit(inline="always", fastmath=FASTMATH)
def _sigmoid_grad(f, label, alpha):
    # (label - σ(f)) · α, with σ saturated at ±MAX_EXP
    if f >= MAX_EXP:
        return np.float32((label - 1.0) * alpha)
    if f <= -MAX_EXP:
        return np.float32(label * alpha)
    sigma = SIGMOID_TABLE[int((f + MAX_EXP) * (SIGMOID_TABLE_SIZE / MAX_EXP / 2))]
    return np.float32((label - sigma) * alpha)


@njit(inline="always", fastmath=FASTMATH)
def _neg_log_sigmoid(x):
    x = min(max(x, -MAX_EXP * 3), MAX_EXP * 3)
    return math.log1p(math.exp(-x))


@njit(inline="always", fastmath=FASTMATH)
def _negative_sampling_update(l1, target, W_out, neu1e, noise_table, negative, alpha, state, compute_loss):
    """One positive (target) and ``negative`` noise words for input vector ``l1``; updates W_out rows
    and accumulates the input gradient in ``neu1e``. Returns (state, loss)."""
    dim = l1.shape[0]
    loss = 0.0
    for d in range(negative + 1):
        if d == 0:
            word = target
            label = np.float32(1.0)
        else:
            state = _next(state)
            word = _draw_negative(state, noise_table)
            if word == target:
                continue
            label = np.float32(0.0)
        row = W_out[word]
        f = np.float32(0.0)
        for k in range(dim):
            f += l1[k] * row[k]
        g = _sigmoid_grad(f, label, alpha)
        if compute_loss:
            loss += _neg_log_sigmoid(f if d == 0 else -f)
        for k in range(dim):
            neu1e[k] += g * row[k]
            row[k] += g * l1[k]
    return state, loss


@njit(inline="always", fastmath=FASTMATH)
def _subsample(ids, start, end, keep, out, state):
    n = 0
    for p in range(start, end):
        w = ids[p]
        state = _next(state)
        if keep[w] < 1.0 and keep[w] < _uniform(state):
            continue  # dropped this time: frequent words are seen less often
        out[n] = w
        n += 1
    return n, state


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def train_job(ids, bounds, s0, s1, W_in, W_out, keep, noise_table, window, negative, cbow,
              alpha_start, alpha_end, seed, compute_loss):
    """Train on sentences ``s0 .. s1-1`` with the learning rate going linearly from alpha_start to
    alpha_end over the job. Returns (words seen, summed loss, number of loss terms)."""
    dim = W_in.shape[1]
    state = np.uint64(seed) * np.uint64(2654435761) + np.uint64(1)
    job_words = bounds[s1] - bounds[s0]
    sentence = np.empty(10_000 if job_words > 10_000 else max(job_words, 1), dtype=np.int32)
    neu1 = np.zeros(dim, dtype=np.float32)
    neu1e = np.zeros(dim, dtype=np.float32)
    done = 0
    loss = 0.0
    terms = 0
    for s in range(s0, s1):
        start, end = bounds[s], bounds[s + 1]
        if end - start > sentence.shape[0]:
            sentence = np.empty(end - start, dtype=np.int32)
        alpha = np.float32(alpha_start + (alpha_end - alpha_start) * done / max(job_words, 1))
        n, state = _subsample(ids, start, end, keep, sentence, state)
        done += end - start
        for i in range(n):
            track = compute_loss and (i % LOSS_EVERY == 0)
            state = _next(state)
            b = np.int64(state % np.uint64(window))  # dynamic window: nearer words count more
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            if cbow:
                # h = mean of the context input vectors; predict the centre word from h
                count = 0
                neu1[:] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        row = W_in[sentence[j]]
                        for k in range(dim):
                            neu1[k] += row[k]
                        count += 1
                if count == 0:
                    continue
                inv = np.float32(1.0 / count)
                for k in range(dim):
                    neu1[k] *= inv
                neu1e[:] = 0.0
                state, l = _negative_sampling_update(neu1, sentence[i], W_out, neu1e, noise_table,
                                                     negative, alpha, state, track)
                if track:
                    loss += l
                    terms += 1
                for j in range(lo, hi):
                    if j != i:
                        row = W_in[sentence[j]]
                        for k in range(dim):
                            row[k] += neu1e[k]
            else:
                # skip-gram: each context word's input vector predicts the centre word
                for j in range(lo, hi):
                    if j == i:
                        continue
                    l1 = W_in[sentence[j]]
                    neu1e[:] = 0.0
                    state, l = _negative_sampling_update(l1, sentence[i], W_out, neu1e, noise_table,
                                                         negative, alpha, state, track)
                    if track:
                        loss += l
                        terms += 1
                    for k in range(dim):
                        l1[k] += neu1e[k]
    return done, loss, terms

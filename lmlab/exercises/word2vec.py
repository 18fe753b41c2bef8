"""Exercises of notebook 01: sub-sampling, skip-gram pairs, the negative-sampling loss, CBOW, GloVe."""

from __future__ import annotations

import math

import numpy as np

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close
from lmlab.i18n import _


def _filled(result, what: str):
    """The learner's return value, or feedback when the cell still returns ``...`` or nothing."""
    expect(result is not ..., _("{what} still returns `...`: replace the `...` with your code")
                                .format(what=what))
    expect(result is not None, _("{what} returned None: did you forget a `return`?").format(what=what))
    return result


def _keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    f = np.asarray(counts, dtype=np.float64) / np.sum(counts)
    return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)


@exercise("word2vec.keep_probability", solution=_keep_probability,
          hint="f = count / total; P_keep = (sqrt(f / t) + 1) · t / f, and never more than 1",
          success="Frequent words are now seen less often, rare words always: look at the plot below.")
def _check_keep_probability(student) -> None:
    expect(callable(student), _("pass your function itself (check(..., keep_probability)), not "
                                "{student!r:.40}").format(student=student))
    counts = np.array([5000, 1200, 300, 40, 3])
    got = np.asarray(_filled(student(counts, 1e-3), "keep_probability(counts, 1e-3)"), dtype=np.float64)
    want = _keep_probability(counts, 1e-3)
    expect(got.shape == want.shape, _("keep_probability(counts, 1e-3) should give one number per word "
                                      "({v0}), got shape {v1}").format(v0=want.shape, v1=got.shape))
    if np.allclose(got, 1.0 - want, atol=1e-6):
        raise ExerciseFailure("you returned the probability of DROPPING each word; return 1 minus that")
    raw = (np.sqrt(counts / counts.sum() / 1e-3) + 1.0) * 1e-3 / (counts / counts.sum())
    if np.allclose(got, raw, atol=1e-6):
        raise ExerciseFailure(_("rare words get {v0:.1f} > 1: a probability must be capped with min(1, ·)")
                                .format(v0=got[-1]))
    if np.allclose(got, np.minimum(1.0, np.sqrt(1e-3 / (counts / counts.sum()))), atol=1e-6):
        raise ExerciseFailure("that is the paper's simpler 1 - sqrt(t/f) drop rule turned around; use the C "
                              "tool's formula (sqrt(f / t) + 1) · t / f, which keeps a little more")
    if np.allclose(got, np.minimum(1, (np.sqrt(counts / 1e-3) + 1) * 1e-3 / counts), atol=1e-6):
        raise ExerciseFailure("use the frequency f = count / total, not the raw count")
    expect_close(got, want, what="keep_probability([5000, 1200, 300, 40, 3], 1e-3)")


def _skipgram_pairs(sentence: list[str], window: int) -> list[tuple[str, str]]:
    pairs = []
    for i, centre in enumerate(sentence):
        for j in range(max(0, i - window), min(len(sentence), i + window + 1)):
            if j != i:
                pairs.append((centre, sentence[j]))
    return pairs


@exercise("word2vec.skipgram_pairs", solution=_skipgram_pairs,
          hint="for each position i, every j with 0 < |i - j| <= window and 0 <= j < len(sentence)",
          success="These (centre, context) pairs are exactly what skip-gram trains on.")
def _check_skipgram_pairs(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    sentence = ["the", "quick", "brown", "fox", "jumps"]
    got = [tuple(p) for p in _filled(student(sentence, 2), "skipgram_pairs(sentence, 2)")]
    want = _skipgram_pairs(sentence, 2)
    expect(len(got) > 0, "skipgram_pairs returned no pairs: append (centre, context) for every word "
                         "within the window of each position")
    expect(all(len(p) == 2 for p in got), "each pair should be (centre word, context word)")
    self_pairs = [p for p in got if p[0] == p[1]]
    expect(not self_pairs,
           _("{v0}: a word is not its own context; skip j == i")
             .format(v0=self_pairs[0] if self_pairs else ''))
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    expect(not missing, _("missing {v0} pair(s), e.g. {v1}: remember the window reaches both left and "
                          "right, and stops at the sentence edges").format(v0=len(missing), v1=missing[:2]))
    expect(not extra, _("{v0} pair(s) too many, e.g. {v1}: only words at most `window` away")
                        .format(v0=len(extra), v1=extra[:2]))
    expect(len(got) == len(want), _("expected {v0} pairs, got {v1} (duplicates?)")
                                    .format(v0=len(want), v1=len(got)))


def _sgns_loss(v_c: np.ndarray, u_o: np.ndarray, U_neg: np.ndarray) -> float:
    def log_sigmoid(x):
        return -np.logaddexp(0.0, -x)

    return float(-log_sigmoid(u_o @ v_c) - np.sum(log_sigmoid(-(U_neg @ v_c))))


@exercise("word2vec.sgns_loss", solution=_sgns_loss,
          hint="L = -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c); σ(x) = 1 / (1 + e^(-x))",
          success="This is the loss the numba kernel and the torch path compute for every pair.")
def _check_sgns_loss(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.40}").format(student=student))
    rng = np.random.default_rng(0)
    v_c, u_o, U_neg = rng.normal(size=4), rng.normal(size=4), rng.normal(size=(3, 4))
    want = _sgns_loss(v_c, u_o, U_neg)
    got = float(_filled(student(v_c, u_o, U_neg), "sgns_loss(v_c, u_o, U_neg)"))
    sig = lambda x: 1 / (1 + np.exp(-x))
    wrong_sign = float(-np.log(sig(u_o @ v_c)) - np.sum(np.log(sig(U_neg @ v_c))))
    if math.isclose(got, wrong_sign, rel_tol=1e-4):
        raise ExerciseFailure("the noise words should score LOW: use log σ(-u_k·v_c) (note the minus)")
    if math.isclose(got, -want, rel_tol=1e-4):
        raise ExerciseFailure("the sign is flipped: the loss is the NEGATIVE log-likelihood "
                              "(a positive number)")
    expect_close(got, want, what="sgns_loss(v_c, u_o, U_neg) on random vectors")
    zero = float(student(np.zeros(4), np.zeros(4), np.zeros((3, 4))))
    expect_close(zero, 4 * math.log(2), what="the loss with all-zero vectors (1 + 3 terms of log 2)")


def _cbow_loss(V_context: np.ndarray, u_c: np.ndarray, U_neg: np.ndarray) -> float:
    h = np.mean(V_context, axis=0)  # (D,): the averaged context stands where skip-gram has v_c
    return _sgns_loss(h, u_c, U_neg)


@exercise("word2vec.cbow_loss", solution=_cbow_loss,
          hint="h = V_context.mean(axis=0); then L = -log σ(u_c·h) - Σ_k log σ(-u_k·h)",
          success="CBOW: the context, averaged, predicts the centre; skip-gram: the centre predicts each "
                  "context word.")
def _check_cbow_loss(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.40}")
    rng = np.random.default_rng(1)
    V_ctx, u_c, U_neg = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(3, 5))
    got = float(_filled(student(V_ctx, u_c, U_neg), "cbow_loss(V_context, u_c, U_neg)"))
    summed = _sgns_loss(V_ctx.sum(axis=0), u_c, U_neg)
    if math.isclose(got, summed, rel_tol=1e-4):
        raise ExerciseFailure("you summed the context vectors; CBOW averages them (divide by the number of "
                              "context words, V_context.mean(axis=0))")
    per_pair = sum(_sgns_loss(v, u_c, U_neg) for v in V_ctx)
    if math.isclose(got, per_pair, rel_tol=1e-4):
        raise ExerciseFailure("that is skip-gram's loss summed over the context words, one pair each; CBOW "
                              "averages the context first and makes one prediction")
    expect_close(got, _cbow_loss(V_ctx, u_c, U_neg), what="cbow_loss on random vectors")


@exercise("word2vec.which_predicts_centre", solution="cbow",
          hint="find the u in each loss: u is the word being predicted. Skip-gram's is u_o (a context word), "
               "CBOW's is u_c",
          success="The input of CBOW is the bag of context words (averaged into h); the input of "
                  "skip-gram is one word, the centre.")
def _check_which_predicts_centre(student) -> None:
    expect(isinstance(student, str), f"answer with a string, \"cbow\" or \"skipgram\", not {student!r:.30}")
    answer = student.strip().lower().replace("-", "").replace(" ", "")
    expect(answer in {"cbow", "skipgram"}, f"{student!r}: answer \"cbow\" or \"skipgram\"")
    if answer == "skipgram":
        raise ExerciseFailure("the two are easy to swap, but skip-gram goes the other way: its input is the "
                              "centre word (v_c) and it predicts each context word (u_o in its loss). CBOW's "
                              "loss predicts u_c, the centre, from h, the averaged context")


def _glove_weight(X: np.ndarray, x_max: float, alpha: float) -> np.ndarray:
    return np.minimum(1.0, (np.asarray(X, dtype=np.float64) / x_max) ** alpha)


@exercise("word2vec.glove_weight", solution=_glove_weight,
          hint="f(x) = (x / x_max)^alpha below x_max, and 1 from x_max on: np.minimum(1, ...)")
def _check_glove_weight(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.40}")
    X = np.array([0.5, 1.0, 5.0, 10.0, 250.0])
    got = np.asarray(_filled(student(X, 10.0, 0.75), "glove_weight(X, 10, 0.75)"), dtype=np.float64)
    if np.allclose(got, (X / 10.0) ** 0.75, atol=1e-6):
        raise ExerciseFailure("a count of 250 got a weight above 1: GloVe caps the weight at 1 "
                              "(np.minimum(1, ...)) so frequent pairs cannot dominate")
    expect_close(got, _glove_weight(X, 10.0, 0.75), what="glove_weight([0.5, 1, 5, 10, 250], 10, 0.75)")

"""Confidence intervals by the bootstrap: resample the test set with replacement, recompute the score.

    lo, hi = bootstrap_ci(y_true, y_pred, "macro_f1", n_classes=3)   # the middle 95% of 1000 resamples
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmlab.eval.classification import ClassificationReport, confusion_matrix

SCORES = ("accuracy", "macro_f1")


def score(y_true: Sequence[int], y_pred: Sequence[int], name: str, n_classes: int) -> float:
    """``accuracy`` or ``macro_f1`` of predictions, from the confusion matrix."""
    if name not in SCORES:
        raise ValueError(f"unknown score {name!r}; use one of {', '.join(SCORES)}")
    names = [str(i) for i in range(n_classes)]
    report = ClassificationReport(confusion_matrix(y_true, y_pred, n_classes), names)
    return float(getattr(report, name))


def bootstrap_ci(y_true: Sequence[int], y_pred: Sequence[int], name: str, *, n_classes: int,
                 n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """The (1-level)/2 and (1+level)/2 quantiles of the score over ``n_boot`` resamples of the test pairs."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(f"need one prediction per label (and at least one), got {len(y_pred)} predictions "
                         f"for {len(y_true)} labels")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95, got {level}")
    if name not in SCORES:
        raise ValueError(f"unknown score {name!r}; use one of {', '.join(SCORES)}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(y_true), size=(n_boot, len(y_true)))  # (n_boot, n): one resample per row
    scores = resampled_scores(y_true[idx], y_pred[idx], name, n_classes)
    return _middle(scores, level)


def resampled_scores(y_true: np.ndarray, y_pred: np.ndarray, name: str, n_classes: int) -> np.ndarray:
    """``score`` of every row of (n_boot, n) label arrays at once: one confusion matrix per row."""
    K, n_boot = n_classes, len(y_true)
    cell = (np.arange(n_boot)[:, None] * K + y_true) * K + y_pred  # (n_boot, n): flat (row, true, pred)
    C = np.bincount(cell.ravel(), minlength=n_boot * K * K).reshape(n_boot, K, K).astype(np.float64)
    tp = np.diagonal(C, axis1=1, axis2=2)  # (n_boot, K)
    if name == "accuracy":
        return tp.sum(1) / C.sum((1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 -> 0, as ClassificationReport's _safe_div
        precision = np.nan_to_num(tp / C.sum(1))
        recall = np.nan_to_num(tp / C.sum(2))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return f1.mean(1)


def resample_counts(n: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_boot, n): how often each item is drawn in each resample (n draws with replacement)."""
    if n < 1:
        raise ValueError("cannot resample an empty test set; give at least one item")
    rng = np.random.default_rng(seed)
    idx = rng.integers(n, size=(n_boot, n))
    return np.stack([np.bincount(row, minlength=n) for row in idx])


def _middle(values: np.ndarray, level: float) -> tuple[float, float]:
    """The middle ``level`` of the resampled values: the percentile interval."""
    return float(np.quantile(values, (1 - level) / 2)), float(np.quantile(values, (1 + level) / 2))


def bootstrap_mean(values: Sequence[float], *, n_boot: int = 1000, level: float = 0.95,
                   seed: int = 0) -> tuple[float, float]:
    """Interval of the mean of per-item values (a per-line score) over ``n_boot`` resamples."""
    v = np.asarray(values, dtype=np.float64)
    means = resample_counts(len(v), n_boot, seed) @ v / len(v)
    return _middle(means, level)


def bootstrap_corpus(stats: np.ndarray, corpus_score, *, n_boot: int = 1000, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float]:
    """Interval of a corpus score computed from summed per-item statistics (n, k), as BLEU and chrF are:
    ``corpus_score(summed (k,)) -> float`` on every resample's sum."""
    stats = np.asarray(stats, dtype=np.float64)
    sums = resample_counts(len(stats), n_boot, seed) @ stats  # (n_boot, k)
    scores = np.array([corpus_score(row) for row in sums])
    return _middle(scores, level)


def bootstrap_corpus_difference(stats_a: np.ndarray, stats_b: np.ndarray, corpus_score, *, n_boot: int = 1000,
                                level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Interval of ``corpus_score(a) - corpus_score(b)`` when a and b answer the same items: each resample
    draws the same items for both (a paired bootstrap), so what the two share cancels and the interval is
    far narrower than two separate intervals; it leaves out 0 when one system is better on these items."""
    stats_a, stats_b = np.asarray(stats_a, dtype=np.float64), np.asarray(stats_b, dtype=np.float64)
    if stats_a.shape != stats_b.shape:
        raise ValueError(f"a paired bootstrap needs both systems' statistics on the same items, got shapes "
                         f"{stats_a.shape} and {stats_b.shape}")
    counts = resample_counts(len(stats_a), n_boot, seed)
    diffs = np.array([corpus_score(a) - corpus_score(b) for a, b in zip(counts @ stats_a, counts @ stats_b,
                                                                         strict=True)])
    return _middle(diffs, level)

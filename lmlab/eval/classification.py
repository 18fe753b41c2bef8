"""Classification metrics from the confusion matrix up: accuracy, precision, recall, F1.

Everything is computed from one table, ``C[i, j]`` = how many examples of true class ``i`` were
predicted as class ``j``, so a learner can check each number by hand:

    precision_k = C[k, k] / sum_i C[i, k]      (of what we called k, how much was k)
    recall_k    = C[k, k] / sum_j C[k, j]      (of what was k, how much did we find)
    F1_k        = 2 * precision_k * recall_k / (precision_k + recall_k)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int],
                     n_classes: int | None = None) -> np.ndarray:
    """``C[i, j]``: the number of examples with true class ``i`` predicted as ``j``. Shape (K, K)."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}; "
                         "pass one prediction per example")
    if t.size == 0:
        raise ValueError("no examples: y_true and y_pred are empty")
    if (t < 0).any() or (p < 0).any():
        raise ValueError("labels must be class indices 0..K-1; map names to indices first")
    k = int(max(t.max(), p.max()) + 1) if n_classes is None else int(n_classes)
    if t.max() >= k or p.max() >= k:
        raise ValueError(f"a label is >= n_classes={k}; pass the right n_classes or check the labels")
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # a class never predicted (or never present) gets 0, as scikit-learn's zero_division=0
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


@dataclass
class ClassificationReport:
    """Per-class precision/recall/F1/support, their macro averages, accuracy and the confusion matrix."""

    confusion: np.ndarray
    labels: list[str]
    precision: np.ndarray = field(init=False)
    recall: np.ndarray = field(init=False)
    f1: np.ndarray = field(init=False)
    support: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        c = self.confusion.astype(np.float64)
        tp = np.diag(c)
        self.precision = _safe_div(tp, c.sum(axis=0))
        self.recall = _safe_div(tp, c.sum(axis=1))
        self.f1 = _safe_div(2 * self.precision * self.recall, self.precision + self.recall)
        self.support = self.confusion.sum(axis=1)

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def macro_precision(self) -> float:
        return float(self.precision.mean())

    @property
    def macro_recall(self) -> float:
        return float(self.recall.mean())

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean())

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for metrics.json: accuracy, macro averages, per-class rows, the matrix."""
        return {
            "accuracy": self.accuracy,
            "precision": self.macro_precision,
            "recall": self.macro_recall,
            "f1": self.macro_f1,
            "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f),
                                 "support": int(s)}
                          for name, p, r, f, s in zip(self.labels, self.precision, self.recall,
                                                      self.f1, self.support, strict=True)},
            "confusion_matrix": self.confusion.tolist(),
        }

    def __str__(self) -> str:
        width = max(9, *(len(n) for n in self.labels))
        lines = [f"{'':>{width}}  precision  recall     f1  support"]
        for name, p, r, f, s in zip(self.labels, self.precision, self.recall, self.f1, self.support,
                                    strict=True):
            lines.append(f"{name:>{width}}  {p:9.3f}  {r:6.3f}  {f:5.3f}  {s:7d}")
        lines.append(f"{'macro avg':>{width}}  {self.macro_precision:9.3f}  {self.macro_recall:6.3f}  "
                     f"{self.macro_f1:5.3f}  {int(self.support.sum()):7d}")
        lines.append(f"{'accuracy':>{width}}  {self.accuracy:.3f}")
        return "\n".join(lines)


def classification_report(y_true: Sequence[int], y_pred: Sequence[int],
                          labels: Sequence[str] | None = None) -> ClassificationReport:
    """Accuracy, per-class and macro precision/recall/F1 and the confusion matrix in one object."""
    n = len(labels) if labels is not None else None
    table = confusion_matrix(y_true, y_pred, n)
    names = list(labels) if labels is not None else [str(i) for i in range(table.shape[0])]
    return ClassificationReport(confusion=table, labels=names)


def plot_confusion(report: ClassificationReport, *, title: str = "confusion matrix", ax: Any = None) -> Any:
    """The matrix as a heat map with the counts written in each cell (rows: truth, columns: prediction)."""
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(3.2, 2.8), dpi=90, layout="constrained")
        ax = fig.subplots()
    c = report.confusion
    ax.imshow(c, cmap="Blues", vmin=0)
    ax.grid(False)  # a style's grid lines would cut through the cells
    k = len(report.labels)
    ax.set(xticks=range(k), yticks=range(k), xticklabels=report.labels, yticklabels=report.labels,
           xlabel="predicted", ylabel="true", title=title)
    for i in range(k):
        for j in range(k):
            dark = c[i, j] > c.max() / 2
            ax.text(j, i, str(c[i, j]), ha="center", va="center", color="white" if dark else "black")
    return ax.figure


# --- few labels: the same probe on several feature sets, averaged over label subsets -----------------

def label_subsets(labels: Sequence[int], n: int | None, n_subsets: int = 5,
                  seed: int = 0) -> list[np.ndarray]:
    """``n_subsets`` index sets of ``n`` labels each, stratified (classes as equal as the pool allows).

    ``n=None`` (or at least the pool size) gives the whole pool once: every subset of "all labels" is the
    same one.
    """
    y = np.asarray(labels).reshape(-1)
    classes = np.unique(y)
    n = len(y) if n is None else n
    if n < len(classes):
        raise ValueError(f"n={n} labels cannot cover {len(classes)} classes; use n >= {len(classes)}")
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be >= 1, got {n_subsets}")
    if n >= len(y):
        return [np.arange(len(y))]
    out = []
    for s in range(n_subsets):
        rng = np.random.default_rng([seed, n, s])
        pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
        take = [0] * len(classes)
        left = n
        while left:  # round robin over the classes that still have examples: balanced where possible
            for k, pool in enumerate(pools):
                if left and take[k] < len(pool):
                    take[k] += 1
                    left -= 1
        out.append(np.sort(np.concatenate([pool[:t] for pool, t in zip(pools, take, strict=True)])))
    return out


def mean_interval(scores: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): Student's t interval of the mean over independent repeats (seeds, label subsets)."""
    from scipy import stats

    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no scores to average; run at least one repeat")
    m = float(x.mean())
    if x.size == 1:
        return m, m, m
    half = float(stats.t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return m, m - half, m + half


def probe_predict(train_x: Any, train_y: np.ndarray, test_x: Any) -> np.ndarray:
    """Logistic regression (class-balanced) fitted on ``train_x``; dense features are standardised first,
    sparse ones (TF-IDF) are used as they are."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    clf = LogisticRegression(max_iter=2000, class_weight="balanced", C=0.5 if not sparse.issparse(train_x)
                             else 10.0)
    if not sparse.issparse(train_x):
        scaler = StandardScaler().fit(train_x)
        train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    return clf.fit(train_x, train_y).predict(test_x)


def tfidf_features(texts: Sequence[str], fit_on: Sequence[int], *, analyzer: str = "word",
                   ngram_range: tuple[int, int] = (1, 2)) -> Any:
    """TF-IDF rows (sparse) for every text, the vocabulary and IDF learned from ``fit_on`` texts only."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = {"token_pattern": r"(?u)\b\w+\b"} if analyzer == "word" else {}  # one-letter words count too
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True, **words)
    vec.fit([texts[i] for i in fit_on])
    return vec.transform(texts)


def few_label_curve(features: dict[str, Any], labels: Sequence[int], train_idx: Sequence[int],
                    test_idx: Sequence[int], sizes: Sequence[int | None], *, n_subsets: int = 5,
                    seed: int = 0, level: float = 0.95) -> list[dict[str, Any]]:
    """For each feature set (name -> one row per text) and label count in ``sizes`` (None: all): a probe
    fitted on ``n_subsets`` stratified subsets of the training labels, scored on the fixed test split.

    Each row: method, n_labels, accuracy and macro_f1 (mean over subsets) with ``level`` t-intervals over
    the subsets, ``*_scores`` (one per subset) and ``interval`` saying what the interval is over. With all
    the labels there is one subset only: the interval then comes from resampling the test set (bootstrap).
    """
    from lmlab.eval.bootstrap import bootstrap_ci

    y = np.asarray(labels).reshape(-1)
    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    k = int(y.max()) + 1
    rows = []
    for n in sizes:
        subsets = label_subsets(y[train_idx], n, n_subsets, seed)
        for method, X in features.items():
            preds = [probe_predict(X[train_idx[s]], y[train_idx[s]], X[test_idx]) for s in subsets]
            row: dict[str, Any] = {"method": method, "n_labels": len(subsets[0]), "n_subsets": len(subsets),
                                   "interval": "label subsets" if len(subsets) > 1 else "test bootstrap"}
            for name in ("accuracy", "macro_f1"):
                scores = [getattr(classification_report(y[test_idx], p, [str(c) for c in range(k)]),
                                  name) for p in preds]
                if len(subsets) > 1:
                    m, lo, hi = mean_interval(scores, level)
                    lo, hi = max(lo, 0.0), min(hi, 1.0)  # a score lives in [0, 1]; the t-interval may not
                else:
                    m = scores[0]
                    lo, hi = bootstrap_ci(y[test_idx], preds[0], name, n_classes=k, level=level, seed=seed)
                row.update({name: m, f"{name}_lo": lo, f"{name}_hi": hi, f"{name}_scores": scores})
            rows.append(row)
    return rows


def format_curve(rows: Sequence[dict[str, Any]], metric: str = "accuracy") -> str:
    """A table: one line per method, one column per label count, ``mean [lo, hi]``."""
    sizes = sorted({r["n_labels"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = max(12, *(len(m) for m in methods))
    lines = [f"{metric:<{width}}" + "".join(f"{f'{n} labels':>20}" for n in sizes)]
    for m in methods:
        cells = []
        for n in sizes:
            r = next((r for r in rows if r["method"] == m and r["n_labels"] == n), None)
            cell = "—" if r is None else f"{r[metric]:.2f} [{r[metric + '_lo']:.2f}, {r[metric + '_hi']:.2f}]"
            cells.append(f"{cell:>20}")
        lines.append(f"{m:<{width}}" + "".join(cells))
    return "\n".join(lines)


def plot_label_curve(rows: Sequence[dict[str, Any]], *, metric: str = "accuracy", chance: float | None = None,
                     title: str = "", ax: Any = None, colors: dict[str, str] | None = None) -> Any:
    """Score against the number of labels (log scale), one line per method, its interval as a band;
    ``colors`` (method -> colour) where the axes already hold other methods' lines."""
    from matplotlib.figure import Figure

    if ax is None:
        ax = Figure(figsize=(5, 3.2), dpi=90, layout="constrained").subplots()
    for method in dict.fromkeys(r["method"] for r in rows):
        own = sorted((r for r in rows if r["method"] == method), key=lambda r: r["n_labels"])
        n = [r["n_labels"] for r in own]
        (line,) = ax.plot(n, [r[metric] for r in own], marker="o", label=method,
                          color=(colors or {}).get(method))
        ax.fill_between(n, [r[f"{metric}_lo"] for r in own], [r[f"{metric}_hi"] for r in own],
                        color=line.get_color(), alpha=0.2)
    if chance is not None:
        ax.axhline(chance, color="0.6", linestyle=":", label="chance")
    ax.set(xscale="log", xlabel="training labels", ylabel=metric.replace("_", "-"))
    if title:  # drawn over another plot: keep its title
        ax.set_title(title)
    ticks = sorted({r["n_labels"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    return ax.figure

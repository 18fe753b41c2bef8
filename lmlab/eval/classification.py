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

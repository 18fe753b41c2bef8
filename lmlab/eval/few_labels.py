"""Few labels: the same probe on several feature sets, averaged over random label subsets, with intervals.

    rows = few_label_curve({"TF-IDF": tfidf_features(texts, train_idx), "MiniLM": vectors}, labels,
                           train_idx, test_idx, sizes=(16, 50, None), n_subsets=5)
    print(format_curve(rows))      # mean [lo, hi] per method and label count
    plot_label_curve(rows, chance=0.5)

With few labels, *which* labels you drew moves the score as much as the method: each count is drawn
``n_subsets`` times (stratified) and the interval is a t-interval over the draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lmlab.eval.bootstrap import bootstrap_ci
from lmlab.eval.classification import classification_report
from lmlab.i18n import N_, _

# what a metric is called on screen
METRIC_NAMES = {"accuracy": N_("accuracy"), "macro_f1": N_("macro-F1")}


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
    y = np.asarray(labels).reshape(-1)
    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    k = int(y.max()) + 1
    rows = []
    for n in sizes:
        subsets = label_subsets(y[train_idx], n, n_subsets, seed)
        for method, X in features.items():
            preds = [probe_predict(X[train_idx[s]], y[train_idx[s]], X[test_idx]) for s in subsets]
            rows.append(curve_row(method, len(subsets[0]), y[test_idx], preds, k, level=level, seed=seed))
    return rows


def curve_row(method: str, n_labels: int, y_test: np.ndarray, preds: Sequence[np.ndarray], n_classes: int, *,
              level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """One row of a few-label curve from the test predictions of each label subset: the mean score with a
    t-interval over the subsets, or, for a single subset, a bootstrap interval over the test set."""
    row: dict[str, Any] = {"method": method, "n_labels": n_labels, "n_subsets": len(preds),
                           "interval": "label subsets" if len(preds) > 1 else "test bootstrap"}
    for name in ("accuracy", "macro_f1"):
        scores = [getattr(classification_report(y_test, p, [str(c) for c in range(n_classes)]), name)
                  for p in preds]
        if len(preds) > 1:
            m, lo, hi = mean_interval(scores, level)
            lo, hi = max(lo, 0.0), min(hi, 1.0)  # a score lives in [0, 1]; the t-interval may not
        else:
            m = scores[0]
            lo, hi = bootstrap_ci(y_test, preds[0], name, n_classes=n_classes, level=level, seed=seed)
        row.update({name: m, f"{name}_lo": lo, f"{name}_hi": hi, f"{name}_scores": scores})
    return row


def format_curve(rows: Sequence[dict[str, Any]], metric: str = "accuracy") -> str:
    """A table: one line per method, one column per label count, ``mean [lo, hi]``."""
    sizes = sorted({r["n_labels"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = max(12, *(len(m) for m in methods))
    shown = _(METRIC_NAMES.get(metric, metric))
    lines = [f"{shown:<{width}}" + "".join(f"{_('{n} labels').format(n=n):>20}" for n in sizes)]
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
        ax.axhline(chance, color="0.6", linestyle=":", label=_("chance"))
    ax.set(xscale="log", xlabel=_("training labels"), ylabel=_(METRIC_NAMES.get(metric, metric)))
    if title:  # drawn over another plot: keep its title
        ax.set_title(title)
    ticks = sorted({r["n_labels"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    return ax.figure

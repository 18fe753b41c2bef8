"""Fine-tuning lmlab's own encoder on a small labelled task, against a random-init twin and a linear probe.

    texts, labels, names = poet_dataset(("白居易", "杜甫", "李白"), per_poet=400)
    rows = learning_curve(pretrained, vocab, texts, labels, fractions=(0.01, 0.1, 1.0))

Poet attribution: which of the most prolific Tang poets wrote this poem? One poem is one example, so
the train/test split is by poem; the test split is drawn once (stratified) and never trained on.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.device import Precision
from lmlab.distributed import DistContext
from lmlab.eval.bootstrap import bootstrap_ci, score
from lmlab.models.bert.vocab import BertVocab
from lmlab.models.classifier import mean_pool, stratified_split
from lmlab.say import say
from lmlab.train.engine import Recipe, Run, train
from lmlab.train.optim import decay_groups

TOP_POETS = ("白居易", "杜甫", "李白")  # the three with the most poems in the collection
METHODS = ("fine-tuned", "random init", "linear probe")


def check_labels(labels: Sequence[str], known: Counter) -> None:
    """Every label name must exist, and there must be at least two classes."""
    for name in labels:
        if name not in known:
            top = ", ".join(f"{n} ({c})" for n, c in known.most_common(5))
            raise ValueError(f"unknown label {name!r}: no example has it; the most frequent are {top}")
    if len(set(labels)) < 2:
        raise ValueError(f"a classifier needs at least two classes, got {sorted(set(labels))}; "
                         "add another label (e.g. poets=('白居易', '杜甫'))")


def poet_dataset(poets: Sequence[str] = TOP_POETS, *, script: str | None = None,
                 per_poet: int | None = None, seed: int = 0,
                 fallback: bool = False) -> tuple[list[str], np.ndarray, list[str]]:
    """(poem texts, label ids, poet names): each poem's lines joined by newlines, at most ``per_poet`` each
    (drawn at random: with equal counts the classes are balanced; without, weight the loss).

    ``script``: the poems' characters, by default the edition's (simplified in the Chinese edition), so
    fine-tuning reads what pre-training read. ``fallback=True``: without the corpus, the built-in
    ``FALLBACK_POEMS`` (with a printed note)."""
    from lmlab.data.corpora import edition_script, load_tang_poems, to_simplified

    script = edition_script(script)
    try:
        poems = [p for p in load_tang_poems(script) if p["paragraphs"]]
    except FileNotFoundError as err:
        if not fallback:
            raise
        from lmlab.models.bert.poems import FALLBACK_POEMS

        say("note: the Tang poems are not available here ({err}); using the 18 poems built into lmlab "
            "instead: the scores below will mean little. Set LMLAB_DATA_DIR to a mirror for the real run.",
            err=err)
        poems = [{"author": a, "paragraphs": p.split("\n")} for a, ps in FALLBACK_POEMS.items() for p in ps]
        if script == "simplified":  # the poets' names are the same in both scripts
            poems = [{**p, "paragraphs": to_simplified(p["paragraphs"])} for p in poems]
    check_labels(poets, Counter(p["author"] for p in poems))
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for k, poet in enumerate(poets):
        own = ["\n".join(p["paragraphs"]) for p in poems if p["author"] == poet]
        if per_poet is not None and len(own) > per_poet:
            own = [own[i] for i in sorted(rng.choice(len(own), per_poet, replace=False))]
        texts += own
        labels += [k] * len(own)
    return texts, np.asarray(labels, dtype=np.int64), list(poets)


def encode_batch(vocab: BertVocab, texts: Sequence[str],
                 block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (N, T) = [CLS] text [SEP] padded with [PAD], attention mask (N, T) 1 for real tokens."""
    rows = [vocab.wrap(vocab.encode(t), block_size) for t in texts]
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), vocab.pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def pool(h: torch.Tensor, mask: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """Sentence vector (B, C) from token vectors (B, T, C): the [CLS] vector or the mean over real tokens."""
    if how == "cls":
        return h[:, 0]
    if how == "mean":
        return mean_pool(h, mask)
    raise ValueError(f"unknown pooling {how!r}; use 'mean' or 'cls'")


class EncoderClassifier(nn.Module):
    """encoder -> pooled sentence vector -> dropout -> linear: logits (B, n_classes)."""

    def __init__(self, encoder: nn.Module, n_classes: int, pooling: str = "mean",
                 dropout: float = 0.1) -> None:
        super().__init__()
        pool(torch.zeros(1, 1, 1), torch.ones(1, 1), pooling)  # a bad name fails here, not mid-training
        self.encoder, self.pooling = encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.n_embd, n_classes)

    def features(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, _ = self.encoder.encode(ids, mask)  # (B, T, C)
        return pool(h, mask, self.pooling)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(ids, mask)))


@dataclass
class FineTuneConfig:
    """A fixed number of steps whatever the label count (equal compute at 1%, 10% and 100%)."""

    steps: int = 150
    batch_size: int = 16
    encoder_lr: float = 3e-4
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    pooling: str = "mean"
    block_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("encoder_lr", "head_lr"):  # the head's rate is a multiple of the encoder's (lr_scale)
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}; freeze the encoder with a "
                                 "linear probe (linear_probe) instead of a zero rate")


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """w_k = N / (K · N_k): every class weighs the same in the loss however many examples it has."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    return torch.tensor(len(labels) / (n_classes * np.maximum(counts, 1)), dtype=torch.float32)


class ClassifierRecipe(Recipe):
    """Class-weighted cross-entropy; batches drawn with replacement (the padding no row needs cropped);
    lmlab's AdamW policy (decay on matrices only) with the new head at ``head_lr``, the encoder at
    ``encoder_lr``; no evaluation, no gradient clipping."""

    kind = "classifier"
    default_precision = "fp32"
    max_iters = property(lambda self: self.tcfg.steps)
    desc = "fine-tune"

    def __init__(self, tcfg: FineTuneConfig, ids: torch.Tensor, mask: torch.Tensor,
                 labels: np.ndarray) -> None:
        if len(set(labels.tolist())) < 2:
            raise ValueError(f"the training labels hold one class only ({sorted(set(labels.tolist()))}); "
                             "use a larger fraction of the labels")
        super().__init__(tcfg, config={})
        self.ids, self.mask, self.y = ids, mask, torch.as_tensor(labels, dtype=torch.long)

    def setup(self, model: nn.Module, device: torch.device, precision: Precision, ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        self.weight = class_weights(self.y.numpy(), model.head.out_features).to(device)

    def optimizer(self, model: nn.Module, device_type: str) -> torch.optim.Optimizer:
        t = self.tcfg  # the engine sets encoder_lr times each group's lr_scale
        parts = ((model.head, t.head_lr / t.encoder_lr), (model.encoder, 1.0))
        return torch.optim.AdamW([{**g, "lr_scale": scale} for part, scale in parts
                                  for g in decay_groups(part, t.weight_decay)])

    def lr(self, it: int, train_s: float) -> float:
        return self.tcfg.encoder_lr

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        idx = torch.randint(len(self.y), (self.tcfg.batch_size,), generator=generator)
        m = self.mask[idx]
        T = int(m.sum(1).max())  # crop the padding no row of this batch needs
        return self.ids[idx, :T].to(device), m[:, :T].to(device), self.y[idx].to(device)

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        x, m, y = batch
        return F.cross_entropy(net(x, m), y, weight=self.weight)

    def tokens(self, batch: Any) -> int:
        return int(batch[1].sum())


def train_classifier(model: EncoderClassifier, ids: torch.Tensor, mask: torch.Tensor, labels: np.ndarray,
                     cfg: FineTuneConfig, *, device: torch.device | str = "cpu",
                     progress: bool = False) -> Run:
    """``model`` fine-tuned by ``ClassifierRecipe``: the engine's ``Run``."""
    return train(ClassifierRecipe(cfg, ids, mask, labels), model=model, device=device, progress=progress)


@torch.no_grad()
def encode_features(model: EncoderClassifier, ids: torch.Tensor, mask: torch.Tensor, batch_size: int = 128,
                    device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(sentence vectors (N, C), logits (N, K)) in eval mode."""
    was = model.training
    model.eval().to(device)
    feats, logits = [], []
    for k in range(0, len(ids), batch_size):
        m = mask[k:k + batch_size]
        T = int(m.sum(1).max())
        f = model.features(ids[k:k + batch_size, :T].to(device), m[:, :T].to(device))
        feats.append(f.float().cpu())
        logits.append(model.head(f).float().cpu())
    model.train(was)
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Logistic regression on frozen, standardised features (class-balanced); predictions for test_x."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000, class_weight="balanced", C=0.5)
    return probe.fit(scaler.transform(train_x), train_y).predict(scaler.transform(test_x))


def label_subset(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of ``fraction`` of the labels, stratified, at least one per class."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.extend(rng.permutation(idx)[:max(1, round(len(idx) * fraction))])
    return np.sort(np.asarray(keep))


def _row(method: str, fraction: float, n: int, y_true: np.ndarray, y_pred: np.ndarray, k: int,
         seconds: float) -> dict[str, Any]:
    row = {"method": method, "fraction": fraction, "n_labels": n, "seconds": seconds}
    for name in ("accuracy", "macro_f1"):
        lo, hi = bootstrap_ci(y_true, y_pred, name, n_classes=k)
        row.update({name: score(y_true, y_pred, name, k), f"{name}_lo": lo, f"{name}_hi": hi})
    row["y_pred"] = y_pred.tolist()
    return row


def learning_curve(pretrained: nn.Module, vocab: BertVocab, texts: Sequence[str], labels: np.ndarray, *,
                   random_init: nn.Module, fractions: Sequence[float] = (0.01, 0.1, 1.0),
                   cfg: FineTuneConfig | None = None, test_fraction: float = 0.25,
                   device: torch.device | str = "cpu", progress: bool = False) -> dict[str, Any]:
    """For each fraction of the training labels: fine-tune a copy of ``pretrained``, train a copy of
    ``random_init`` (same architecture, untrained) the same way, and fit a linear probe on the
    pretrained model's frozen features. Scores (with 95% bootstrap intervals) on one fixed test split."""
    import time

    cfg = cfg or FineTuneConfig()
    k = int(labels.max()) + 1
    if len(np.unique(labels)) < 2:
        raise ValueError(f"a classifier needs at least two classes, got labels {np.unique(labels).tolist()}")
    train_idx, test_idx = stratified_split(labels, test_fraction, seed=cfg.seed)
    ids, mask = encode_batch(vocab, texts, cfg.block_size)
    frozen = EncoderClassifier(copy.deepcopy(pretrained), k, cfg.pooling)
    feats, _ = encode_features(frozen, ids, mask, device=device)
    rows = []
    for fraction in fractions:
        sub = train_idx[label_subset(labels[train_idx], fraction, seed=cfg.seed)]
        for method, base in (("fine-tuned", pretrained), ("random init", random_init)):
            t0 = time.perf_counter()
            torch.manual_seed(cfg.seed)
            model = EncoderClassifier(copy.deepcopy(base), k, cfg.pooling)
            train_classifier(model, ids[sub], mask[sub], labels[sub], cfg, device=device, progress=progress)
            _, logits = encode_features(model, ids[test_idx], mask[test_idx], device=device)
            rows.append(_row(method, fraction, len(sub), labels[test_idx], logits.argmax(-1), k,
                             time.perf_counter() - t0))
        t0 = time.perf_counter()
        pred = linear_probe(feats[sub], labels[sub], feats[test_idx])
        rows.append(_row("linear probe", fraction, len(sub), labels[test_idx], pred, k,
                         time.perf_counter() - t0))
    return {"rows": rows, "test_idx": test_idx.tolist(), "train_idx": train_idx.tolist(), "features": feats}


def fine_tune_curve(encoders: dict[str, nn.Module], vocab: BertVocab, texts: Sequence[str],
                    labels: np.ndarray, train_idx: Sequence[int], test_idx: Sequence[int],
                    sizes: Sequence[int | None], *,
                    n_subsets: int = 5, cfg: FineTuneConfig | None = None,
                    device: torch.device | str = "cpu") -> list[dict[str, Any]]:
    """Fine-tune a copy of each encoder (name -> model) on ``n_subsets`` stratified label subsets of each
    size in ``sizes`` (None: all), scored on ``test_idx``: rows as
    :func:`lmlab.eval.few_labels.few_label_curve` (mean over subsets, 95% t-interval; all labels: one run,
    a bootstrap interval)."""
    from lmlab.eval.few_labels import curve_row, label_subsets

    cfg = cfg or FineTuneConfig()
    y = np.asarray(labels).reshape(-1)
    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    k = int(y.max()) + 1
    ids, mask = encode_batch(vocab, texts, cfg.block_size)
    rows = []
    for n in sizes:
        subsets = label_subsets(y[train_idx], n, n_subsets, cfg.seed)
        for method, base in encoders.items():
            preds = []
            for s in subsets:
                sub = train_idx[s]
                torch.manual_seed(cfg.seed)  # the same head for every encoder
                model = EncoderClassifier(copy.deepcopy(base), k, cfg.pooling)
                train_classifier(model, ids[sub], mask[sub], y[sub], cfg, device=device)
                _, logits = encode_features(model, ids[test_idx], mask[test_idx], device=device)
                preds.append(logits.argmax(-1))
            rows.append(curve_row(method, len(subsets[0]), y[test_idx], preds, k, seed=cfg.seed))
    return rows

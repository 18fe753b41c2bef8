"""Pre-train, then fine-tune: a sentence classifier on top of the pretrained MiniLM encoder.

    tokenizer, encoder = load_minilm()
    model = SentenceClassifier(encoder, n_classes=2)
    fine_tune(model, tokenizer, texts, labels, ClassifierConfig())

The sentence vector is the mean of the encoder's token vectors (padding masked out), exactly the
pooling all-MiniLM-L6-v2 was trained with; a linear layer maps it to class logits:

    h = sum_t m_t * H_t / sum_t m_t        logits = W h + b

Data: gensim's built-in sample of the Pang & Lee movie-review polarity corpus (100 negative and 100
positive one-sentence reviews), so the task runs offline with nothing to download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.train import FitResult, History, fit

POLARITY_LABELS = ("negative", "positive")


def polarity_path() -> Path:
    """gensim's ``pang_lee_polarity.cor``: one ``__label__neg|__label__pos sentence`` per line."""
    try:
        import gensim
    except ImportError as err:
        raise FileNotFoundError("the polarity sample ships with gensim; pip install gensim") from err
    path = Path(gensim.__file__).parent / "test" / "test_data" / "pang_lee_polarity.cor"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall gensim (its test data holds the sample)")
    return path


def load_polarity(path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """(sentences, labels) with label 0 = negative, 1 = positive, in file order."""
    path = Path(path) if path is not None else polarity_path()
    texts, labels = [], []
    # the file is Latin-1 (a few accented names), not UTF-8
    for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        tag, _, sentence = line.partition(" ")
        if tag not in {"__label__neg", "__label__pos"}:
            raise ValueError(f"{path}:{n}: expected '__label__neg' or '__label__pos', got {tag!r}")
        texts.append(sentence.strip())
        labels.append(int(tag == "__label__pos"))
    return texts, np.asarray(labels, dtype=np.int64)


def stratified_split(labels: np.ndarray, test_fraction: float = 0.25,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with every class in the same proportion in both parts."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = max(1, round(len(idx) * test_fraction))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return rng.permutation(np.asarray(train)), np.sort(np.asarray(test))


def load_minilm(device: torch.device | str = "cpu") -> tuple[Any, torch.nn.Module]:
    """(tokenizer, encoder) of all-MiniLM-L6-v2 (6 layers, 384 wide, 22.7 M parameters), fully offline.

    A fresh copy every call: fine-tuning changes the weights, so this never hands out the shared, cached
    encoder of ``lmlab.models.pretrained.load_minilm`` (which the attention views keep pristine).
    """
    from transformers import AutoModel, AutoTokenizer

    from lmlab.models.pretrained import minilm_path, quiet_transformers

    path = minilm_path()  # a clear FileNotFoundError when the package is missing
    with quiet_transformers():  # no "Loading weights" bar in the notebook
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        encoder = AutoModel.from_pretrained(path, local_files_only=True).to(device)
    return tokenizer, encoder


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of real tokens: (B, T, C), (B, T) -> (B, C)."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class SentenceClassifier(torch.nn.Module):
    """Encoder -> mean pooling -> dropout -> linear head."""

    def __init__(self, encoder: torch.nn.Module, n_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, n_classes)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B,T,C)
        return mean_pool(hidden, attention_mask)  # (B, C)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(input_ids, attention_mask)))  # (B, n_classes)


def head_from_probe(model: SentenceClassifier, coef: np.ndarray, intercept: np.ndarray) -> None:
    """Start the head from a fitted logistic-regression probe (scikit-learn's ``coef_``, ``intercept_``).

    "Linear probe, then fine-tune" (LP-FT, Kumar et al. 2022): a random head sends large, random gradients
    into the pretrained encoder in the first steps and distorts its features; a probed head does not.
    A binary probe's one score s = w.h + b becomes the two logits (-s/2, s/2), the same softmax.
    """
    coef = np.asarray(coef, dtype=np.float32)
    intercept = np.asarray(intercept, dtype=np.float32).reshape(-1)
    n_classes, hidden = model.head.weight.shape
    if coef.shape == (1, hidden) and n_classes == 2:
        coef = np.concatenate([-coef / 2, coef / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    if coef.shape != (n_classes, hidden) or intercept.shape != (n_classes,):
        raise ValueError(f"probe coefficients {coef.shape} do not fit a head of {n_classes} classes x "
                         f"{hidden} features; fit the probe on this encoder's sentence_embeddings")
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(coef))
        model.head.bias.copy_(torch.from_numpy(intercept))


@dataclass
class ClassifierConfig:
    """Fine-tuning knobs: a small learning rate for the pretrained encoder, a larger one for the new head."""

    epochs: int = 4
    batch_size: int = 16
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    train_layers: int | None = None  # top encoder layers to update: None = all, 0 = frozen (linear probe)
    max_length: int = 64
    seed: int = 0


def set_trainable_layers(encoder: torch.nn.Module, n: int | None) -> list[torch.nn.Parameter]:
    """Freeze the encoder except its top ``n`` Transformer layers (None: train all); returns what trains.

    Updating only the top layers keeps most of the pretrained features and skips most of the backward
    pass: the cheap middle ground between a linear probe (n = 0) and full fine-tuning.
    """
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)  # BERT-style: encoder.encoder.layer
    if n is not None and (n < 0 or (layers is not None and n > len(layers))):
        limit = len(layers) if layers is not None else "the number of layers"
        raise ValueError(f"train_layers must be between 0 and {limit}, got {n}; None trains every layer")
    for p in encoder.parameters():
        p.requires_grad_(n is None)
    if n is None:
        return list(encoder.parameters())
    if layers is None and n > 0:
        raise ValueError("this encoder has no .encoder.layer list; use train_layers=None or 0")
    trainable = [p for layer in (list(layers)[len(layers) - n:] if n else []) for p in layer.parameters()]
    for p in trainable:
        p.requires_grad_(True)
    return trainable


def _encode(tokenizer: Any, texts: list[str], max_length: int, device: torch.device | str) -> dict:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device)}


def fine_tune(model: SentenceClassifier, tokenizer: Any, texts: list[str], labels: np.ndarray,
              config: ClassifierConfig, *, device: torch.device | str = "cpu",
              history: History | None = None, progress: bool = True) -> FitResult:
    """Cross-entropy for ``config.epochs`` passes; each epoch's order is seeded by (seed, epoch)."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels; pass one label per text")
    if config.batch_size < 1 or config.epochs < 1:
        raise ValueError(f"batch_size and epochs must be >= 1, got {config.batch_size} and {config.epochs}")
    trainable = set_trainable_layers(model.encoder, config.train_layers)
    groups = [{"params": model.head.parameters(), "lr": config.head_lr}]
    if trainable:
        groups.append({"params": trainable, "lr": config.encoder_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    per_epoch = -(-len(texts) // config.batch_size)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    model.train()

    def step(it: int) -> dict[str, Any]:
        epoch, k = divmod(it, per_epoch)
        g = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = torch.randperm(len(texts), generator=g)
        idx = order[k * config.batch_size:(k + 1) * config.batch_size].tolist()
        batch = _encode(tokenizer, [texts[i] for i in idx], config.max_length, device)
        loss = F.cross_entropy(model(**batch), y_all[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "epoch": epoch + (k + 1) / per_epoch,
                "tokens": int(batch["attention_mask"].sum())}

    return fit(step, max_iters=config.epochs * per_epoch, history=history, progress=progress,
               desc="fine-tune")


@torch.no_grad()
def _by_length(fn: Any, model: SentenceClassifier, tokenizer: Any, texts: list[str], batch_size: int,
               max_length: int, device: torch.device | str) -> torch.Tensor:
    """Run ``fn(**batch)`` over batches of similar length (less padding), results in the input order."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = []
    for k in range(0, len(order), batch_size):
        chunk = [texts[i] for i in order[k:k + batch_size]]
        out.append(fn(**_encode(tokenizer, chunk, max_length, device)).float().cpu())
    model.train(was_training)
    result = torch.cat(out)
    return result[torch.argsort(torch.tensor(order))]


def predict(model: SentenceClassifier, tokenizer: Any, texts: list[str], *, batch_size: int = 64,
            max_length: int = 64, device: torch.device | str = "cpu") -> np.ndarray:
    """Predicted class index for every text."""
    return _by_length(model, model, tokenizer, texts, batch_size, max_length, device).argmax(-1).numpy()


def sentence_embeddings(model: SentenceClassifier, tokenizer: Any, texts: list[str], *, batch_size: int = 64,
                        max_length: int = 64, device: torch.device | str = "cpu") -> np.ndarray:
    """Mean-pooled encoder vectors (N, C): the features a frozen-encoder linear probe learns from."""
    return _by_length(model.embed, model, tokenizer, texts, batch_size, max_length, device).numpy()

"""Notebook 08's models and sizes, shared by the notebook and ``lmlab prepare`` (which trains them in
``lmlab.cli.prepare_compress``): built and seeded as its cells build them, loaded back, and hashed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# notebook 08's SIZE rows for the two models (a test keeps them equal to the notebook's table)
SIZES = {"smoke": dict(iters=20, gpt=(2, 64)), "class": dict(iters=600, gpt=(4, 128)),
         "full": dict(iters=2000, gpt=(6, 384))}
CHARS = 300_000  # the notebook trains on the first 300,000 characters
LSTM_HIDDEN = 256


def spec(preset: str) -> dict[str, Any]:
    """Every setting the two models depend on."""
    return {**SIZES[preset], "chars": CHARS, "lstm_hidden": LSTM_HIDDEN, "lstm_layers": 2, "seed": 0}


def models(vocab_size: int, preset: str) -> tuple[Any, Any]:
    """The untrained (LSTM, GPT) of notebook 08 (seeded as its cell seeds them)."""
    import torch

    from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel
    from lmlab.models.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    lstm = LSTMLanguageModel(LSTMConfig(vocab_size=vocab_size, hidden=LSTM_HIDDEN, n_layer=2, dropout=0.0))
    n_layer, width = SIZES[preset]["gpt"]
    gpt = GPT(GPTConfig(vocab_size=vocab_size, block_size=64, n_layer=n_layer, n_head=4, n_embd=width))
    return lstm, gpt


def load(path: Path, vocab_size: int, preset: str) -> tuple[Any, Any]:
    """The prepared (LSTM, GPT) from ``path``, in eval mode."""
    import torch

    lstm, gpt = models(vocab_size, preset)
    for name, model in (("lstm", lstm), ("gpt", gpt)):
        model.load_state_dict(torch.load(Path(path) / f"{name}.pt", map_location="cpu", weights_only=True))
    return lstm.eval(), gpt.eval()


# notebook 08's SIZE rows for its later trainings (the same test keeps them equal to the notebook's table)
LATER = {"smoke": dict(prune_ft=5, prune=(0.0, 0.5, 0.9), distill_iters=20, hygiene_iters=40, grid=False),
         "class": dict(prune_ft=60, prune=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9), distill_iters=300,
                       hygiene_iters=500, grid=True),
         "full": dict(prune_ft=200, prune=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9), distill_iters=1000,
                      hygiene_iters=1500, grid=True)}
GRID = [(dropout, wd) for dropout in (0.0, 0.2) for wd in (0.0, 0.1)]


def small_spec(preset: str) -> dict[str, Any]:
    """The pruning sweep, the pruned teacher and the distilled student: the models' settings and theirs."""
    row = LATER[preset]
    return {**spec(preset), **{k: row[k] for k in ("prune_ft", "prune", "distill_iters")}, "student": "1x/2"}


def hygiene_spec(preset: str) -> dict[str, Any]:
    """The over-fitting run, early stopping and the dropout x weight-decay grid on 20,000 characters."""
    row = LATER[preset]
    return {**spec(preset), "hygiene_iters": row["hygiene_iters"], "grid": row["grid"], "small_chars": 20_000,
            "val_chars": [200_000, 210_000], "patience": 2}


def student_model(vocab_size: int, preset: str) -> Any:
    """The distilled student: one layer, half the teacher's width."""
    from lmlab.models.transformer import GPT, GPTConfig

    width = SIZES[preset]["gpt"][1]
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=64, n_layer=1, n_head=4, n_embd=width // 2))


def load_small(path: Path, teacher_pruned: Any, student: Any) -> None:
    """Put the prepared pruned teacher's and student's weights into the notebook's two models."""
    import torch

    for name, model in (("teacher_pruned", teacher_pruned), ("student", student)):
        model.load_state_dict(torch.load(Path(path) / f"{name}.pt", map_location="cpu", weights_only=True))


def small_gpt(vocab_size: int, preset: str, dropout: float = 0.0) -> Any:
    """Notebook 08's GPT for the hygiene runs (seeded as its cell seeds it)."""
    import torch

    from lmlab.models.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    n_layer, width = SIZES[preset]["gpt"]
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=64, n_layer=n_layer, n_head=4, n_embd=width,
                         dropout=dropout))


def hygiene_config(preset: str, weight_decay: float = 0.1) -> Any:
    """Notebook 08's ``hygiene_config``."""
    from lmlab.models.transformer.trainer import TrainConfig

    n = LATER[preset]["hygiene_iters"]
    return TrainConfig(batch_size=16, max_iters=n, lr=3e-3, min_lr=3e-4, warmup_iters=20, lr_decay_iters=n,
                       eval_interval=max(10, n // 12), eval_iters=4, weight_decay=weight_decay)


# notebook 08's SIZE rows for the augmentation comparison (the same test keeps them equal)
AUGMENT = {"smoke": dict(aug_copies=1, aug_seeds=1, aug_examples=40),
           "class": dict(aug_copies=3, aug_seeds=3, aug_examples=None),
           "full": dict(aug_copies=3, aug_seeds=5, aug_examples=None)}
POLARITY = "pang_lee_polarity"  # the corpus name the notebook looks the run up by


def augment_spec(preset: str) -> dict[str, Any]:
    """The augmentation comparison: frozen MiniLM features, a logistic regression, per seed of the split."""
    return {**AUGMENT[preset], "test_fraction": 0.25, "encoder": "all-MiniLM-L6-v2", "max_iter": 2000}

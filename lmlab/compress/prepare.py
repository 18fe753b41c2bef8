"""Notebook 08's LSTM and GPT, the models it quantizes, prunes and distils, for ``lmlab prepare``."""

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


def _save_state(model: Any, path: Path) -> None:
    """The model's weights at ``path``, written whole or not at all."""
    import torch

    from lmlab.atomic import atomic_write

    payload = model.state_dict()
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def compress_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Train notebook 08's LSTM and GPT (CPU, as the notebook does) into ``out/{lstm,gpt}.pt``."""

    from lmlab.compress.measure import train_lm, val_batches, val_loss
    from lmlab.models.transformer.trainer import TokenData
    from lmlab.tokenizers import CharTokenizer

    text = text[:CHARS]
    tok = CharTokenizer.fit(text)
    data = TokenData.from_text(text, tok)
    lstm, gpt = models(tok.vocab_size, preset)
    batches = val_batches(data, block_size=64)
    metrics = {"iters": SIZES[preset]["iters"], "vocab_size": tok.vocab_size}
    for name, model in (("lstm", lstm), ("gpt", gpt)):
        train_lm(model, data, SIZES[preset]["iters"])
        _save_state(model, Path(out) / f"{name}.pt")
        metrics[f"{name}_val_loss"] = val_loss(model, batches)
    return metrics, []


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


def _shakespeare(text: str) -> tuple[Any, Any]:
    from lmlab.models.transformer.trainer import TokenData
    from lmlab.tokenizers import CharTokenizer

    text = text[:CHARS]
    tok = CharTokenizer.fit(text)
    return tok, TokenData.from_text(text, tok)


def student_model(vocab_size: int, preset: str) -> Any:
    """The distilled student: one layer, half the teacher's width."""
    from lmlab.models.transformer import GPT, GPTConfig

    width = SIZES[preset]["gpt"][1]
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=64, n_layer=1, n_head=4, n_embd=width // 2))


def small_models_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Prune the prepared LSTM (a sweep), prune and fine-tune its GPT, distil a student, as 08 does."""
    import copy

    import torch

    from lmlab.compress import magnitude_prune, sparsity
    from lmlab.compress.measure import train_lm, val_batches, val_loss
    from lmlab.models.distill import DistillConfig, distill
    from lmlab.prepared import is_current, job_config

    base = Path(out).parent / "08_compress_models"
    if not is_current(base, job_config("08_compress_models", preset, corpus)):
        raise ValueError(f"08_small_models starts from the prepared 08_compress_models, and {base} holds "
                         f"none: run 'lmlab prepare 08_compress_models 08_small_models --preset {preset}'")
    tok, data = _shakespeare(text)
    batches = val_batches(data, block_size=64)
    lstm, gpt = load(base, tok.vocab_size, preset)
    row = LATER[preset]
    sweep = []
    for s in row["prune"]:
        pruned = magnitude_prune(copy.deepcopy(lstm), s, permanent=False)
        before = val_loss(pruned, batches)
        train_lm(pruned, data, row["prune_ft"], lr=1e-3, seed=7)
        sweep.append([s, before, val_loss(pruned, batches), sparsity(pruned)])
    teacher_pruned = magnitude_prune(copy.deepcopy(gpt), 0.5, permanent=False)
    train_lm(teacher_pruned, data, row["prune_ft"], lr=1e-3, seed=7)
    _save_state(teacher_pruned, Path(out) / "teacher_pruned.pt")
    torch.manual_seed(0)
    student = student_model(tok.vocab_size, preset)
    distill(gpt, student, lambda it: data.batch("train", 16, 64, torch.Generator().manual_seed(50_000 + it)),
            DistillConfig(max_iters=row["distill_iters"], temperature=2.0, alpha=0.5, lr=3e-3),
            progress=False)
    _save_state(student, Path(out) / "student.pt")
    return {"sweep": sweep, "student_val_loss": val_loss(student, batches)}, []


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


def hygiene_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 08's hygiene runs: the full run's evaluations, early stopping's result, the grid's losses."""
    import tempfile

    from lmlab.models.transformer.early_stop import train_early_stopping
    from lmlab.models.transformer.trainer import TokenData, train_gpt

    tok, _ = _shakespeare(text)
    small = TokenData.from_text(text[:20_000], tok, val_text=text[200_000:210_000])
    vocab = tok.vocab_size
    full_run = train_gpt(small_gpt(vocab, preset), small, hygiene_config(preset), progress=False)
    with tempfile.TemporaryDirectory(prefix="lmlab08_early_") as tmp:  # best.pt is not needed afterwards
        stopped = train_early_stopping(small_gpt(vocab, preset), small, hygiene_config(preset), patience=2,
                                       out_dir=tmp, progress=False)
    grid = {}
    for dropout, wd in GRID if LATER[preset]["grid"] else ():
        r = train_gpt(small_gpt(vocab, preset, dropout), small, hygiene_config(preset, wd), progress=False)
        grid[f"{dropout} {wd}"] = {k: r.metrics[k] for k in ("best_val_loss", "val_loss", "eval_train_loss")}
    evals = [r for r in full_run.history.records if "val_loss" in r]
    stop = {k: stopped.extra[k] for k in ("best_iter", "stopped_at", "best_val")}
    return {"evals": evals, "stopped": stop, "grid": grid}, []


# notebook 08's SIZE rows for the augmentation comparison (the same test keeps them equal)
AUGMENT = {"smoke": dict(aug_copies=1, aug_seeds=1, aug_examples=40),
           "class": dict(aug_copies=3, aug_seeds=3, aug_examples=None),
           "full": dict(aug_copies=3, aug_seeds=5, aug_examples=None)}
POLARITY = "pang_lee_polarity"  # the corpus name the notebook looks the run up by


def augment_spec(preset: str) -> dict[str, Any]:
    """The augmentation comparison: frozen MiniLM features, a logistic regression, per seed of the split."""
    return {**AUGMENT[preset], "test_fraction": 0.25, "encoder": "all-MiniLM-L6-v2", "max_iter": 2000}


def polarity(preset: str) -> tuple[str, str]:
    """Nothing to hand over (the job reads the reviews itself, as the notebook does), and their name."""
    return "", POLARITY


def augment_scores(preset: str) -> dict[str, list[float]]:
    """Test accuracy per seed, from the originals and from the originals plus edited copies."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from lmlab.models.augment import augment
    from lmlab.models.classifier import (
        SentenceClassifier,
        load_minilm,
        load_polarity,
        sentence_embeddings,
        stratified_split,
    )

    size = AUGMENT[preset]
    texts, labels = load_polarity()
    mini_tok, encoder = load_minilm("cpu")
    clf = SentenceClassifier(encoder, n_classes=2)
    scores: dict[str, list[float]] = {"originals": [], "with augmentation": []}
    for seed in range(size["aug_seeds"]):
        train_idx, test_idx = stratified_split(labels, test_fraction=0.25, seed=seed)
        train_idx = train_idx[:size["aug_examples"]]
        aug_t, aug_y = augment([texts[i] for i in train_idx], labels[train_idx].tolist(),
                               copies=size["aug_copies"], seed=seed)
        test_x = sentence_embeddings(clf, mini_tok, [texts[i] for i in test_idx])
        for name, (tx, ty) in {"originals": (aug_t[:len(train_idx)], aug_y[:len(train_idx)]),
                               "with augmentation": (aug_t, aug_y)}.items():
            probe = LogisticRegression(max_iter=2000).fit(sentence_embeddings(clf, mini_tok, tx), ty)
            scores[name].append(float(np.mean(probe.predict(test_x) == labels[test_idx])))
    return scores


def augment_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 08's augmentation comparison: {"scores": {"originals": [...], "with augmentation": [...]}}."""
    return {"scores": augment_scores(preset)}, []

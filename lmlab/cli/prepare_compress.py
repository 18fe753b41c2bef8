"""Notebook 08's trainings for ``lmlab prepare``: its LSTM and GPT, the pruning sweep, the distilled student,
the hygiene runs and the augmentation comparison (the models and sizes are ``lmlab.compress.prepare``'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmlab.prepared import start_from


def _save_state(model: Any, path: Path) -> None:
    """The model's weights at ``path``, written whole or not at all."""
    import torch

    from lmlab.atomic import atomic_write

    payload = model.state_dict()
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def compress_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Train notebook 08's LSTM and GPT (CPU, as the notebook does) into ``out/{lstm,gpt}.pt``."""
    from lmlab.compress.measure import train_lm, val_batches
    from lmlab.compress.prepare import CHARS, SIZES, models
    from lmlab.eval.language_model import evaluate_lm
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
        metrics[f"{name}_val_loss"] = evaluate_lm(model, batches)
    return metrics, []


def _shakespeare(text: str) -> tuple[Any, Any]:
    from lmlab.compress.prepare import CHARS
    from lmlab.models.transformer.trainer import TokenData
    from lmlab.tokenizers import CharTokenizer

    text = text[:CHARS]
    tok = CharTokenizer.fit(text)
    return tok, TokenData.from_text(text, tok)


def small_models_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Prune the prepared LSTM (a sweep), prune and fine-tune its GPT, distil a student, as 08 does."""
    import copy

    import torch

    from lmlab.compress import magnitude_prune, sparsity
    from lmlab.compress.measure import train_lm, val_batches
    from lmlab.compress.prepare import LATER, load, student_model
    from lmlab.eval.language_model import evaluate_lm
    from lmlab.models.distill import DistillConfig, distill

    base = start_from("08_compress_models", out, preset, corpus)
    tok, data = _shakespeare(text)
    batches = val_batches(data, block_size=64)
    lstm, gpt = load(base, tok.vocab_size, preset)
    row = LATER[preset]
    sweep = []
    for s in row["prune"]:
        pruned = magnitude_prune(copy.deepcopy(lstm), s, permanent=False)
        before = evaluate_lm(pruned, batches)
        train_lm(pruned, data, row["prune_ft"], lr=1e-3, seed=7)
        sweep.append([s, before, evaluate_lm(pruned, batches), sparsity(pruned)])
    teacher_pruned = magnitude_prune(copy.deepcopy(gpt), 0.5, permanent=False)
    train_lm(teacher_pruned, data, row["prune_ft"], lr=1e-3, seed=7)
    _save_state(teacher_pruned, Path(out) / "teacher_pruned.pt")
    torch.manual_seed(0)
    student = student_model(tok.vocab_size, preset)
    distill(gpt, student, lambda it: data.batch("train", 16, 64, torch.Generator().manual_seed(50_000 + it)),
            DistillConfig(max_iters=row["distill_iters"], temperature=2.0, alpha=0.5, lr=3e-3),
            progress=False)
    _save_state(student, Path(out) / "student.pt")
    return {"sweep": sweep, "student_val_loss": evaluate_lm(student, batches)}, []


def hygiene_job(preset: str, text: str, corpus: str, out: Path, device: Any) -> tuple[dict, list]:
    """Notebook 08's hygiene runs: the full run's evaluations, early stopping's result, the grid's losses."""
    import tempfile

    from lmlab.compress.prepare import GRID, LATER, hygiene_config, small_gpt
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


def polarity(preset: str) -> tuple[str, str]:
    """Nothing to hand over (the job reads the reviews itself, as the notebook does), and their name."""
    from lmlab.compress.prepare import POLARITY

    return "", POLARITY


def augment_scores(preset: str) -> dict[str, list[float]]:
    """Test accuracy per seed, from the originals and from the originals plus edited copies."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from lmlab.compress.prepare import AUGMENT
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

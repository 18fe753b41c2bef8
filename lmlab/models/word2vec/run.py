"""From flags to a finished word2vec run: corpus, preset, resume, training, vectors.txt, metrics.json."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lmlab.train.failures import guarded_write


def first_words(sentences: list[list[str]], limit: int) -> list[list[str]]:
    """The leading sentences holding ``limit`` words in all (the last one cut)."""
    out, n = [], 0
    for s in sentences:
        if n >= limit:
            break
        out.append(s[: limit - n])
        n += len(out[-1])
    return out


def run_from_flags(flags: dict[str, Any], **train_options: Any) -> dict[str, Any]:
    """Train as the flags say, write ``OUT/vectors.txt`` and ``OUT/metrics.json``; return the metrics."""
    from lmlab.data import load_text_or_fallback
    from lmlab.device import pick_device
    from lmlab.models.word2vec import PRESETS, Word2VecConfig, tokenize, tokenize_chars, train_word2vec
    from lmlab.presets import resolve_preset
    from lmlab.recipes import config_values, field_names, pick
    from lmlab.train import write_metrics

    wall0 = time.perf_counter()  # wall_s: the whole run, reading the corpus and evaluating included
    device = pick_device(flags.get("device"))
    preset = resolve_preset(flags.get("preset"), device)
    values = config_values(flags, PRESETS, preset, field_names(Word2VecConfig))
    text, corpus = load_text_or_fallback(flags["corpus"])
    chars = bool(flags.get("chars"))
    sentences = tokenize_chars(text) if chars else tokenize(text)
    if values.get("max_words"):
        sentences = first_words(sentences, values["max_words"])
    config = pick(values, Word2VecConfig, seed=flags.get("seed", 1337))
    out = Path(flags["out"])
    result = train_word2vec(sentences, config, device=device, out_dir=out, resume=bool(flags.get("resume")),
                            overwrite=bool(flags.get("overwrite")), progress=not flags.get("quiet"),
                            wall_start=wall0, **train_options)
    metrics: dict[str, Any] = {}
    if result.stopped != "diverged":  # diverged vectors are no export: keep the last good ones on disk
        with guarded_write("vectors", out / "vectors.txt", intact=out / "ckpt.pt"):
            result.vectors.save_word2vec_format(out / "vectors.txt")
        if not flags.get("no_eval") and not chars:
            from lmlab.eval.word_vectors import evaluate_all

            metrics.update(evaluate_all(result.vectors))  # a score on too few pairs is nan: null in JSON
    resolved = {"corpus": corpus, "preset": preset, "device": str(device), "chars": chars, **vars(config)}
    wall_s = result.wall_before_s + time.perf_counter() - wall0
    metrics = {"words_per_sec": result.words_per_sec, "wall_s": wall_s,
               "train_s": result.train_s, "vocab_size": len(result.vocab),
               "raw_words": result.vocab.raw_words,
               "final_loss": result.history.last("train_loss"), "best_loss": result.best_loss,
               "params": 2 * len(result.vocab) * config.dim, "iters": result.next_iter,
               "interrupted": result.interrupted, "stopped": result.stopped,
               "diverged_at": result.diverged_at, **metrics}
    with guarded_write("metrics", out / "metrics.json", intact=out / "ckpt.pt"):
        write_metrics(out, resolved, **metrics)
    return metrics

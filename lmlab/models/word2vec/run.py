"""``lmlab train word2vec``'s own part of a run: corpus, tokens, vectors.txt and the evaluation (the rest:
``lmlab.train.run``)."""

from __future__ import annotations

import time
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


def run(flags: dict[str, Any]) -> dict[str, Any]:
    """Train as the flags say, write ``OUT/vectors.txt`` and ``OUT/metrics.json``; return the metrics."""
    from lmlab.data import load_text_or_fallback
    from lmlab.models.word2vec import PRESETS, Word2VecConfig, tokenize, tokenize_chars, train_word2vec
    from lmlab.recipes import field_names, pick
    from lmlab.train.run import finish_run, start_run

    r = start_run(flags, PRESETS, field_names(Word2VecConfig))  # train_word2vec opens --out itself
    text, corpus = load_text_or_fallback(flags["corpus"])
    chars = bool(flags.get("chars"))
    sentences = tokenize_chars(text) if chars else tokenize(text)
    if r.values.get("max_words"):
        sentences = first_words(sentences, r.values["max_words"])
    config = pick(r.values, Word2VecConfig, seed=r.seed)
    out = r.out
    result = train_word2vec(sentences, config, device=r.device, out_dir=out, resume=bool(flags.get("resume")),
                            overwrite=bool(flags.get("overwrite")), progress=r.progress,
                            wall_start=r.wall_start)
    metrics: dict[str, Any] = {}
    if result.stopped != "diverged":  # diverged vectors are no export: keep the last good ones on disk
        with guarded_write("vectors", out / "vectors.txt", intact=out / "ckpt.pt"):
            result.vectors.save_word2vec_format(out / "vectors.txt")
        if flags.get("eval") is not False and not chars:
            from lmlab.eval.word_vectors import evaluate_all

            metrics.update(evaluate_all(result.vectors))  # a score on too few pairs is nan: null in JSON
    resolved = {"corpus": corpus, "preset": r.preset, "device": str(r.device), "chars": chars, **vars(config)}
    metrics = {"words_per_sec": result.words_per_sec,
               "wall_s": result.wall_before_s + time.perf_counter() - r.wall_start,
               "train_s": result.train_s, "vocab_size": len(result.vocab),
               "raw_words": result.vocab.raw_words,
               "final_loss": result.history.last("train_loss"), "best_loss": result.best_loss,
               "params": 2 * len(result.vocab) * config.dim, "iters": result.next_iter,
               "interrupted": result.interrupted, "stopped": result.stopped,
               "diverged_at": result.diverged_at, **metrics}
    return finish_run(out, resolved, metrics)

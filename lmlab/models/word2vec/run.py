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
    from lmlab.models.word2vec import PRESETS, Word2VecConfig, Word2VecRecipe, tokenize, tokenize_chars
    from lmlab.recipes import field_names, pick
    from lmlab.train.engine import train
    from lmlab.train.run import finish_run, start_run

    r = start_run(flags, PRESETS, field_names(Word2VecConfig))  # train() opens --out itself
    text, corpus = load_text_or_fallback(flags["corpus"])
    chars = bool(flags.get("chars"))
    sentences = tokenize_chars(text) if chars else tokenize(text)
    if r.values.get("max_words"):
        sentences = first_words(sentences, r.values["max_words"])
    config = pick(r.values, Word2VecConfig, seed=r.seed)
    out = r.out
    run = train(Word2VecRecipe(config, sentences), device=r.device, out=out, resume=bool(flags.get("resume")),
                overwrite=bool(flags.get("overwrite")), progress=r.progress, wall_start=r.wall_start,
                in_memory=False)
    m, scores = run.metrics, {}
    if m["stopped"] != "diverged":  # diverged vectors are no export: keep the last good ones on disk
        with guarded_write("vectors", out / "vectors.txt", intact=out / "ckpt.pt"):
            run.recipe.vectors.save_word2vec_format(out / "vectors.txt")
        if flags.get("eval") is not False and not chars:
            from lmlab.eval.word_vectors import evaluate_all

            scores = evaluate_all(run.recipe.vectors)  # a score on too few pairs is nan: null in JSON
    resolved = {"corpus": corpus, "preset": r.preset, "device": str(r.device), "chars": chars, **vars(config)}
    metrics = {"words_per_sec": m["words_per_sec"],
               "wall_s": m["wall_before_s"] + time.perf_counter() - r.wall_start,
               "train_s": m["train_s"], "vocab_size": m["vocab_size"], "raw_words": m["raw_words"],
               "final_loss": m["train_loss"], "best_loss": m["best_loss"],
               "params": 2 * m["vocab_size"] * config.dim, "iters": m["iters"],
               "interrupted": m["interrupted"], "stopped": m["stopped"], "diverged_at": m["diverged_at"],
               **scores}
    return finish_run(out, resolved, metrics)

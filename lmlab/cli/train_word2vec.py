"""``lmlab train word2vec``: skip-gram or CBOW vectors, written as DIR/vectors.txt + DIR/metrics.json."""

from __future__ import annotations

import argparse

from lmlab.cli.common import add_train_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_train_arguments(p, default_corpus="wiki_sample")
    p.add_argument("--model", choices=["skipgram", "cbow"], default="skipgram")
    p.add_argument("--dim", type=int, default=None,
                   help="vector size (preset: 32 smoke, 100 class, 200 full)")
    p.add_argument("--window", type=int, default=5, help="largest distance to a context word")
    p.add_argument("--negative", type=int, default=5, help="noise words per pair")
    p.add_argument("--min-count", type=int, default=None, help="ignore words seen fewer times (preset: 5)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the corpus (preset: 1/5/10)")
    p.add_argument("--sample", type=float, default=1e-3, help="sub-sampling threshold t (0 turns it off)")
    p.add_argument("--alpha", type=float, default=0.025, help="starting learning rate (falls linearly)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per core)")
    p.add_argument("--backend", choices=["auto", "numba", "torch"], default="auto",
                   help="numba kernels (CPU) or batched torch (CUDA); auto picks by device")
    p.add_argument("--chars", action="store_true", help="character tokens (for Chinese text)")
    p.add_argument("--no-eval", action="store_true", help="skip the analogy/similarity evaluation")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmlab.data import load_text_or_fallback
    from lmlab.device import pick_device
    from lmlab.models.word2vec import PRESETS, Word2VecConfig, tokenize, tokenize_chars, train_word2vec
    from lmlab.presets import preset_values, resolve_preset
    from lmlab.train import write_metrics

    device = pick_device(args.device)
    preset = resolve_preset(args.preset, device)
    sizes = preset_values(PRESETS, preset, {"dim": args.dim, "epochs": args.epochs,
                                            "min_count": args.min_count})
    text, corpus = load_text_or_fallback(args.corpus)
    sentences = tokenize_chars(text) if args.chars else tokenize(text)
    if sizes["max_words"]:
        sentences = _first_words(sentences, sizes["max_words"])
    config = Word2VecConfig(model=args.model, dim=sizes["dim"], window=args.window, negative=args.negative,
                            min_count=sizes["min_count"], epochs=sizes["epochs"], sample=args.sample,
                            alpha=args.alpha, threads=args.threads, backend=args.backend, seed=args.seed)
    result = train_word2vec(sentences, config, device=device)
    out = Path(args.out)
    result.vectors.save_word2vec_format(out / "vectors.txt")
    scores = {}
    if not args.no_eval and not args.chars:
        from lmlab.eval.word_vectors import evaluate_all

        # a score on too few covered pairs is NaN; JSON has no NaN, so it becomes null
        scores = {k: (None if v != v else v) for k, v in evaluate_all(result.vectors).items()}
    resolved = {"corpus": corpus, "preset": preset, "device": str(device), "chars": args.chars,
                **vars(config)}
    write_metrics(out, resolved, words_per_sec=result.words_per_sec, wall_s=result.wall_s,
                  vocab_size=len(result.vocab), raw_words=result.vocab.raw_words,
                  final_loss=result.history.last("train_loss"), params=2 * len(result.vocab) * config.dim,
                  interrupted=result.interrupted, **scores)
    print(f"wrote {out / 'vectors.txt'} ({len(result.vocab)} words × {config.dim}) and "
          f"{out / 'metrics.json'}: "
          f"{result.words_per_sec:,.0f} words/s" + (
              f", WordSim353 ρ={scores['wordsim353_spearman']:.3f}"
              if scores.get("wordsim353_spearman") is not None else ""))
    return 0


def _first_words(sentences: list[list[str]], limit: int) -> list[list[str]]:
    out, n = [], 0
    for s in sentences:
        if n >= limit:
            break
        out.append(s[: limit - n])
        n += len(out[-1])
    return out

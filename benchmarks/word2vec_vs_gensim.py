"""lmlab word2vec vs gensim: same corpus, same hyper-parameters, same threads, one process; prints JSON.

    python benchmarks/word2vec_vs_gensim.py                       # built-in Wikipedia sample, skip-gram
    python benchmarks/word2vec_vs_gensim.py --model cbow --epochs 5 --threads 2

words/sec = raw corpus words (before min_count and sub-sampling) × epochs ÷ training seconds, for both
(gensim's log uses the same definition). Vocabulary building is not timed for either; turning the word
lists into ids is timed for both (gensim does it inside ``train``). On a shared machine, run it twice
and read the ratio, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="wiki_sample")
    p.add_argument("--model", choices=["skipgram", "cbow"], default="skipgram")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per system with seeds seed, seed+1, ...; the report gives their means "
                        "(WordSim353 on 0.5 M words moves by about ±0.01 from seed to seed)")
    p.add_argument("--order", choices=["lmlab-first", "gensim-first"], default="gensim-first",
                   help="which system runs first (numba compilation is warmed up before timing either)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be at least 1, got {args.repeats}")

    import numpy as np
    from gensim.models import Word2Vec

    from lmlab.data import load_text_or_fallback
    from lmlab.eval.word_vectors import evaluate_all
    from lmlab.models.word2vec import Vocab, Word2VecConfig, WordVectors, tokenize, train_word2vec

    text, used = load_text_or_fallback(args.corpus)
    sentences = tokenize(text)
    raw_words = sum(map(len, sentences))
    # warm-up: compile the numba kernels (cached on disk after the first run) outside the timing
    train_word2vec(sentences[:2], Word2VecConfig(min_count=1, epochs=1, dim=8, threads=1), progress=False)

    def run_lmlab(seed: int) -> dict:
        cfg = Word2VecConfig(model=args.model, dim=args.dim, window=args.window, negative=args.negative,
                             min_count=args.min_count, epochs=args.epochs, sample=args.sample,
                             threads=args.threads, seed=seed)
        vocab = Vocab.build(sentences, args.min_count)
        cpu0 = time.process_time()
        r = train_word2vec(sentences, cfg, vocab=vocab, progress=False)
        cpu_s = time.process_time() - cpu0
        return {"words_per_sec": r.words_per_sec, "train_s": r.wall_s, "vocab_size": len(vocab),
                "words_per_cpu_sec": raw_words * args.epochs / cpu_s,
                **evaluate_all(r.vectors)}

    def run_gensim(seed: int) -> dict:
        model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negative, hs=0,
                         min_count=args.min_count, sample=args.sample, sg=int(args.model == "skipgram"),
                         workers=args.threads, seed=seed, epochs=args.epochs)
        model.build_vocab(sentences)
        t0, cpu0 = time.perf_counter(), time.process_time()
        model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
        train_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        wv = WordVectors(list(model.wv.index_to_key), np.asarray(model.wv.vectors))
        return {"words_per_sec": raw_words * args.epochs / train_s, "train_s": train_s,
                "words_per_cpu_sec": raw_words * args.epochs / cpu_s,
                "vocab_size": len(wv), **evaluate_all(wv)}

    order = [("gensim", run_gensim), ("lmlab", run_lmlab)]
    if args.order == "lmlab-first":
        order.reverse()
    runs: dict[str, list[dict]] = {"gensim": [], "lmlab": []}
    for k in range(args.repeats):  # alternate the systems so both see the same machine load
        for name, fn in order:
            runs[name].append(fn(args.seed + k))
    results = {name: {key: float(np.mean([r[key] for r in rs])) for key in rs[0]}
               for name, rs in runs.items()}
    if args.repeats > 1:
        for name, rs in runs.items():
            results[name]["runs"] = rs
    report = {
        "corpus": used, "raw_words": raw_words, "config": vars(args),
        "lmlab": results["lmlab"], "gensim": results["gensim"],
        "words_per_sec_ratio": results["lmlab"]["words_per_sec"] / results["gensim"]["words_per_sec"],
        # CPU seconds (all threads) are less disturbed by other processes than wall-clock seconds
        "words_per_cpu_sec_ratio": (results["lmlab"]["words_per_cpu_sec"]
                                    / results["gensim"]["words_per_cpu_sec"]),
        "wordsim353_delta": (results["lmlab"]["wordsim353_spearman"]
                             - results["gensim"]["wordsim353_spearman"]),
        "target": "words_per_sec_ratio >= 1.0 and wordsim353_delta >= -0.02",
        "cpu_count": os.cpu_count(),
    }
    report["target_met"] = bool(report["words_per_sec_ratio"] >= 1.0 and report["wordsim353_delta"] >= -0.02)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``lmlab train word2vec``: skip-gram or CBOW vectors, written as DIR/vectors.txt + DIR/metrics.json."""

from __future__ import annotations

import argparse

from lmlab.cli.common import add_train_arguments, fmt_loss, report_write_failures, train_exit_status


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
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out (same flags)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    return report_write_failures(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from lmlab.models.word2vec.run import run_from_flags

    m = run_from_flags(vars(args))
    ws = m.get("wordsim353_spearman")
    score = f", WordSim353 ρ={ws:.3f}" if ws is not None and ws == ws else ""
    print(f"word2vec: {m['vocab_size']} words, {m['words_per_sec']:,.0f} words/s, loss "
          f"{fmt_loss(m['final_loss'], 3)}{score} -> {args.out}/vectors.txt and metrics.json")
    return train_exit_status(m)

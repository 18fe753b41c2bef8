"""``lmlab train word2vec``: skip-gram or CBOW vectors, written as DIR/vectors.txt + DIR/metrics.json."""

from __future__ import annotations

import argparse

from lmlab.cli.common import fmt_loss, report_write_failures, train_exit_status
from lmlab.cli.flags import add_common_flags, add_config_flags
from lmlab.recipes.word2vec import PRESETS, Word2VecConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_flags(p, corpus="wiki_sample")
    add_config_flags(p, Word2VecConfig, PRESETS)
    p.add_argument("--chars", action="store_true", help="character tokens (for Chinese text)")
    p.add_argument("--no-eval", action="store_true", help="skip the analogy/similarity evaluation")


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

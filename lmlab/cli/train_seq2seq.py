"""``lmlab train seq2seq``: an encoder–decoder that answers a 上联 with a 下联 (couplets of the Tang poems,
or your own ``source<TAB>target`` pairs); writes OUT/ckpt.pt, best.pt and metrics.json.

    lmlab train seq2seq --arch transformer --preset class --out runs/couplets
    lmlab translate runs/couplets --text 白日依山盡
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lmlab.cli.flags import add_common_flags, add_config_flags
    from lmlab.recipes.seq2seq import PRESETS, Seq2SeqSizes, TrainConfig

    p.add_argument("--arch", choices=["transformer", "rnn-attention", "rnn"], default="transformer",
                   help="transformer (encoder–decoder with cross-attention), rnn-attention (GRU + Bahdanau "
                        "attention), rnn (GRU, one vector between encoder and decoder)")
    p.add_argument("--pairs", default=None, metavar="FILE.tsv",
                   help="your own pairs, one 'source<TAB>target' per line (default: Tang-poem couplets)")
    p.add_argument("--pairs-kind", choices=["middle", "all"], default="middle", dest="couplets",
                   help="middle: the 颔联 and 颈联 of eight-line regulated poems, the pairs that must be "
                        "parallel (default); all: every pair of the Tang poems (ignored with --pairs)")
    p.add_argument("--constrained", action="store_true",
                   help="also score the test answers decoded under the couplet rules' logit mask")
    p.add_argument("--script", choices=["traditional", "simplified"], default=None,
                   help="characters of the Tang poems (converted with OpenCC for simplified; default: "
                        "simplified under LMLAB_LANG=zh, else traditional)")
    add_common_flags(p, precision=False)
    add_config_flags(p, Seq2SeqSizes, PRESETS)
    add_config_flags(p, TrainConfig, PRESETS)
    p.add_argument("--post-ln", dest="norm_first", action="store_false", default=None,
                   help="the paper's post-LN layout LN(x + Sublayer(x)) (default: pre-LN)")
    for name, help_text in (("max_vocab", "train on the pairs written in the N most common characters "
                                          "(others: <unk>)"),
                            ("max_pairs", "train on at most N pairs"),
                            ("test_pairs", "test pairs scored at the end (BLEU/chrF)")):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None, help=help_text)


def run(args: argparse.Namespace) -> int:
    from lmlab.cli.common import report_write_failures

    return report_write_failures(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from lmlab.cli.common import fmt_loss, train_exit_status
    from lmlab.models.seq2seq.run import run_from_flags

    m = run_from_flags(vars(args))
    line = (f"seq2seq {m['arch']}: {m['iters']} iters, train {fmt_loss(m['train_loss'], 3)}, val "
            f"{fmt_loss(m['val_loss'], 3)}, {m['tokens_per_sec']:,.0f} tokens/s, "
            f"{m['train_s']:.0f} s of training")
    test = m.get("test")
    if test:
        g, near = test["greedy"], test["baselines"]["nearest_pair"]
        line += (f"; test chrF {g['chrf']} BLEU {g['bleu']} (nearest pair chrF {near['chrf']}, copy chrF "
                 f"{test['baselines']['copy_source']['chrf']})")
    print(line + f" -> {args.out}/metrics.json")
    return train_exit_status(m)

"""``lmlab train seq2seq``: an encoder–decoder that answers a 上联 with a 下联 (couplets of the Tang poems,
or your own ``source<TAB>target`` pairs); writes OUT/ckpt.pt, best.pt and metrics.json.

    lmlab train seq2seq --arch transformer --preset class --out runs/couplets
    lmlab translate runs/couplets --text 白日依山盡
"""

from __future__ import annotations

import argparse

FLAGS = {
    "d_model": (int, "width C (the RNN's embedding and hidden size)"),
    "n_head": (int, "attention heads (must divide d_model)"),
    "n_layer": (int, "encoder blocks = decoder blocks (Transformer)"),
    "dropout": (float, "dropout probability"),
    "max_len": (int, "longest source / target + </s> (default: the data's longest)"),
    "batch_size": (int, "pairs per step"),
    "max_iters": (int, "optimizer steps (turns off the preset's time budget)"),
    "lr": (float, "peak learning rate of the warm-up schedule (reached at --warmup-iters)"),
    "warmup_iters": (int, "steps of linear warm-up; then lr falls as 1/sqrt(step) (the paper's schedule)"),
    "label_smoothing": (float, "ε of the label-smoothed loss (0: plain cross-entropy; paper: 0.1)"),
    "grad_clip": (float, "clip the gradient norm to this (0: off; default 1.0)"),
    "weight_decay": (float, "AdamW weight decay on matrices (default 0, as the paper's Adam)"),
    "eval_interval": (int, "validate (and checkpoint) every N steps"),
    "eval_pairs": (int, "validation pairs per evaluation"),
    "max_vocab": (int, "train on the pairs written in the N most common characters (others: <unk>)"),
    "max_pairs": (int, "train on at most N pairs"),
    "test_pairs": (int, "test pairs scored at the end (BLEU/chrF)"),
    "log_interval": (int, "log the training loss every N steps"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lmlab.presets import PRESETS

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
    p.add_argument("--script", choices=["traditional", "simplified"], default="traditional",
                   help="characters of the Tang poems (converted with OpenCC for simplified)")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="size preset (default: $LMLAB_PRESET, else 'full' on CUDA and 'class' elsewhere)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out", required=True, help="output directory (checkpoint, metrics.json)")
    for name, (typ, help_text) in FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=help_text)
    p.add_argument("--time-budget", type=float, default=None, dest="time_budget_s",
                   help="seconds of training, then stop")
    p.add_argument("--post-ln", dest="norm_first", action="store_false", default=None,
                   help="the paper's post-LN layout LN(x + Sublayer(x)) (default: pre-LN)")
    p.add_argument("--pos-encoding", choices=["sinusoidal", "learned"], default=None)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


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

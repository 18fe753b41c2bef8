"""``lmlab train lstm``: an LSTM language model, char- or word-level, truncated BPTT over streams.

    lmlab train lstm --corpus tiny_shakespeare --tokenizer char --n-layer 2 --hidden 512 --block-size 128 \\
        --batch-size 32 --max-iters 2000 --lr 2e-3 --dropout 0.2 --device cpu --out runs/lstm
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import add_train_arguments, fmt_loss, report_write_failures, train_exit_status


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_train_arguments(p, default_corpus="tiny_shakespeare")
    p.add_argument("--tokenizer", default=None, help="char (default) or word")
    p.add_argument("--n-layer", type=int, default=None, help="stacked LSTM layers")
    p.add_argument("--hidden", type=int, default=None, help="LSTM units per layer")
    p.add_argument("--n-embd", type=int, default=None,
                   help="embedding size (default: --hidden, which lets input and output embeddings be tied)")
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--block-size", type=int, default=None,
                   help="tokens per stream per step (how far back gradients flow in truncated BPTT)")
    p.add_argument("--batch-size", type=int, default=None, help="parallel streams per rank")
    p.add_argument("--grad-accum", type=int, default=None, help="micro-batches per optimizer step")
    p.add_argument("--max-iters", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (AdamW; warm-up then cosine)")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm to this value")
    p.add_argument("--time-budget", type=float, default=None, dest="time_budget_s",
                   help="stop after this many seconds of training (0: none; an explicit --max-iters also "
                        "turns off the preset's budget); the LR schedule follows time")
    p.add_argument("--eval-interval", type=int, default=None)
    p.add_argument("--max-eval-tokens", type=int, default=None,
                   help="evaluate on this many validation tokens (default: the whole validation split)")
    p.add_argument("--no-tie", action="store_true", help="do not tie input and output embeddings")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    group.add_argument("--overwrite", action="store_true", help="replace the checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    return report_write_failures(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from lmlab.models.lstm.run import run_from_flags

    m = run_from_flags(vars(args)).metrics
    if m:  # rank 0 (other ranks under torchrun report nothing)
        val = ""
        if m["val_loss"] is not None:
            val = f", val {fmt_loss(m['val_loss'], 3)} nats/token ({fmt_loss(m['val_bpc'], 3)} bits/char)"
        print(f"lstm [{m['preset']}]: {m['iters']} iterations, train {fmt_loss(m['train_loss'], 3)}{val}, "
              f"{m['tokens_per_sec']:.0f} tokens/s, {m['params']:,} parameters -> {args.out}/ckpt.pt")
    return train_exit_status(m)

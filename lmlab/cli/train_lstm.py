"""``lmlab train lstm``: an LSTM language model, char- or word-level, truncated BPTT over streams.

    lmlab train lstm --corpus tiny_shakespeare --tokenizer char --n-layer 2 --hidden 512 --block-size 128 \\
        --batch-size 32 --max-iters 2000 --lr 2e-3 --dropout 0.2 --device cpu --out runs/lstm
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import add_train_arguments


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
    from lmlab.data import load_splits
    from lmlab.models.lstm.trainer import preset_config, train_lstm
    from lmlab.presets import resolve_preset

    preset = resolve_preset(args.preset, None if args.device == "auto" else args.device)
    names = ("tokenizer", "n_layer", "hidden", "n_embd", "dropout", "block_size", "batch_size", "grad_accum",
             "max_iters", "lr", "weight_decay", "grad_clip", "time_budget_s", "eval_interval",
             "max_eval_tokens")
    overrides = {name: getattr(args, name) for name in names}
    config = preset_config(preset, **overrides, corpus=args.corpus, seed=args.seed, device=args.device,
                           precision=args.precision)
    if args.time_budget_s == 0 or (args.max_iters is not None and args.time_budget_s is None):
        config.time_budget_s = None  # an explicit --max-iters means "this many", not "until the clock"
    if args.no_tie:
        config.tie_weights = False
    if args.corpus == "tang_poems":
        from lmlab.data import train_val_split
        from lmlab.models.lstm.poems import poem_corpus

        train_text, val_text = train_val_split(poem_corpus()[0], 0.95)
    else:
        train_text, val_text = load_splits(args.corpus)
    if_exists = "resume" if args.resume else "overwrite" if args.overwrite else "error"
    result = train_lstm(config, train_text, args.out, val_text=val_text, if_exists=if_exists,
                        progress=not args.quiet)
    m = result.metrics
    if m:
        val = f"val {m['val_loss']:.3f} nats/token ({m['val_bpc']:.3f} bits/char)" if m["val_loss"] else ""
        print(f"lstm [{preset}]: {m['iters']} iterations, train {m['train_loss']:.3f}, {val}, "
              f"{m['tokens_per_sec']:.0f} tokens/s, {m['params']:,} parameters -> {args.out}/ckpt.pt")
    return 0

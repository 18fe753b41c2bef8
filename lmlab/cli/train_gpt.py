"""``lmlab train gpt``: nanoGPT's hyper-parameters as flags; writes OUT/ckpt.pt, best.pt, metrics.json.

    lmlab train gpt --corpus tiny_shakespeare --tokenizer char --n-layer 4 --n-head 4 --n-embd 128 \\
        --block-size 64 --batch-size 12 --max-iters 2000 --lr 1e-3 --min-lr 1e-4 --warmup-iters 100 \\
        --lr-decay-iters 2000 --dropout 0.0 --eval-interval 500 --eval-iters 20 --device cpu --out runs/gpt
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import fmt_loss, report_write_failures, train_exit_status
from lmlab.cli.flags import add_common_flags, add_config_flags
from lmlab.parallel.checks import SCHEMES
from lmlab.recipes.gpt import PRESETS, GPTSizes, TrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_flags(p, corpus="tiny_shakespeare")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                   help="char: one id per character; bpe: byte-level BPE learned on the corpus "
                        "(Hugging Face tokenizers, --vocab-size tokens)")
    p.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary size for --tokenizer bpe "
                   "(default 512)")
    add_config_flags(p, GPTSizes, PRESETS)
    add_config_flags(p, TrainConfig, PRESETS)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the model (default: on for CUDA, off elsewhere)")
    p.add_argument("--parallel", choices=SCHEMES, default=None,
                   help="under torchrun: ddp (default) copies the model to every rank; fsdp shards it; "
                        "tp splits heads and MLP units; pp splits the layers (see lmlab.parallel)")


def run(args: argparse.Namespace) -> int:
    return report_write_failures(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from lmlab.models.transformer.run import run_from_flags

    metrics = run_from_flags(vars(args))
    if metrics is None:  # a non-zero rank under torchrun
        return 0
    print(f"gpt: {metrics['iters']} iters, train {fmt_loss(metrics['train_loss'])}, "
          f"val {fmt_loss(metrics['val_loss'])} (best {fmt_loss(metrics['best_val_loss'])}), "
          f"{metrics['tokens_per_sec']:,.0f} tokens/s, {metrics['train_s']:.1f} s of training "
          f"({metrics['wall_s']:.1f} s in all) -> {args.out}/metrics.json")
    return train_exit_status(metrics)

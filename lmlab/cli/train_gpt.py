"""``lmlab train gpt``: nanoGPT's hyper-parameters as flags; writes OUT/ckpt.pt, best.pt, metrics.json.

    lmlab train gpt --corpus tiny_shakespeare --tokenizer char --n-layer 4 --n-head 4 --n-embd 128 \\
        --block-size 64 --batch-size 12 --max-iters 2000 --lr 1e-3 --min-lr 1e-4 --warmup-iters 100 \\
        --lr-decay-iters 2000 --dropout 0.0 --eval-interval 500 --eval-iters 20 --device cpu --out runs/gpt
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import fmt_loss, report_write_failures, train_exit_status
from lmlab.cli.flags import add_common_flags, add_time_budget
from lmlab.parallel.checks import SCHEMES

# flag name -> (type, help); None defaults mean "take the preset's value"
FLAGS = {
    "n_layer": (int, "Transformer blocks"),
    "n_head": (int, "attention heads per block (must divide n_embd)"),
    "n_embd": (int, "model width C"),
    "block_size": (int, "context length T"),
    "dropout": (float, "dropout probability (0 for short runs)"),
    "batch_size": (int, "sequences per step per process (per rank under torchrun)"),
    "max_iters": (int, "optimizer steps"),
    "lr": (float, "peak learning rate"),
    "min_lr": (float, "learning rate at the end of the cosine"),
    "warmup_iters": (int, "linear warm-up steps"),
    "lr_decay_iters": (int, "steps of cosine decay (usually = max_iters)"),
    "eval_interval": (int, "evaluate (and checkpoint) every N steps"),
    "eval_iters": (int, "batches per evaluation"),
    "weight_decay": (float, "AdamW weight decay on matrices (default 0.1)"),
    "beta1": (float, "AdamW beta1 (default 0.9)"),
    "beta2": (float, "AdamW beta2 (default 0.99)"),
    "grad_clip": (float, "clip the gradient norm to this (0: off; default 1.0)"),
    "grad_accum": (int, "micro-batches per optimizer step (default 1)"),
    "log_interval": (int, "log the training loss every N steps (default 10)"),
    "vocab_size": (int, "BPE vocabulary size for --tokenizer bpe (default 512)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_flags(p, corpus="tiny_shakespeare")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                   help="char: one id per character; bpe: byte-level BPE learned on the corpus "
                        "(Hugging Face tokenizers, --vocab-size tokens)")
    for name, (typ, help_text) in FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=help_text)
    add_time_budget(p)
    p.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None,
                   help="biases in Linear and LayerNorm (default off)")
    p.add_argument("--pos-encoding", choices=["rope", "learned", "sinusoidal"], default=None,
                   help="rope: rotary embeddings turn q and k (default); learned: GPT-2's trained table "
                        "(nanoGPT's model exactly); sinusoidal: the fixed table of Attention Is All You Need")
    p.add_argument("--activation", choices=["relu", "gelu", "relu2", "silu"], default=None,
                   help="the MLP's non-linearity: relu (default, as the original Transformer); gelu as GPT-2 "
                        "and nanoGPT; relu2 = ReLU(x)^2 (Primer)")
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

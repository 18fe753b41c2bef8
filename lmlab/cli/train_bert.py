"""``lmlab train bert``: masked-language-model pre-training; writes OUT/ckpt.pt, best.pt, metrics.json.

    lmlab train bert --corpus tang_poems --preset class --out runs/bert
    lmlab train bert --corpus wiki_sample --tokenizer bpe --vocab-size 2000 --out runs/bert_en
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import fmt_loss, report_write_failures, train_exit_status
from lmlab.cli.flags import add_common_flags, add_time_budget

FLAGS = {
    "n_layer": (int, "Transformer blocks"),
    "n_head": (int, "attention heads per block (must divide n_embd)"),
    "n_embd": (int, "model width C"),
    "block_size": (int, "tokens per window, [CLS] and [SEP] included"),
    "dropout": (float, "dropout probability"),
    "batch_size": (int, "windows per step"),
    "max_iters": (int, "optimizer steps"),
    "lr": (float, "peak learning rate (warm-up, then cosine)"),
    "min_lr": (float, "learning rate at the end of the cosine"),
    "warmup_iters": (int, "linear warm-up steps"),
    "weight_decay": (float, "AdamW weight decay on matrices (default 0.01)"),
    "grad_clip": (float, "clip the gradient norm to this (0: off; default 1.0)"),
    "eval_interval": (int, "evaluate (and checkpoint) every N steps"),
    "eval_iters": (int, "batches per evaluation"),
    "log_interval": (int, "log the training loss every N steps (default 10)"),
    "mask_prob": (float, "share of tokens (or words) chosen for prediction (BERT: 0.15)"),
    "max_chars": (int, "use only the first N characters of the corpus (smoke preset: 100000)"),
    "vocab_size": (int, "BPE vocabulary size for --tokenizer bpe (default 512)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_flags(p, corpus="tang_poems")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                   help="char: one id per character (Chinese); bpe: byte-level BPE learned on the corpus")
    p.add_argument("--layout", choices=["bert", "prenorm"], default=None,
                   help="bert: Devlin et al.'s post-LN layout, exports to transformers (default); prenorm: "
                        "lmlab's pre-LN encoder with RoPE and ReLU")
    p.add_argument("--whole-word", action="store_true",
                   help="mask whole jieba-segmented words instead of single characters (--tokenizer char)")
    for name, (typ, help_text) in FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=help_text)
    add_time_budget(p)


def run(args: argparse.Namespace) -> int:
    return report_write_failures(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from lmlab.models.bert.run import run_from_flags

    m = run_from_flags(vars(args))

    def fmt(key: str) -> str:
        return fmt_loss(m.get(key))

    print(f"bert: {m['iters']} iters, MLM loss {fmt('mlm_loss')}, val {fmt('val_mlm_loss')}, masked-token "
          f"accuracy {fmt('masked_acc')}, {m['tokens_per_sec']:,.0f} tokens/s, {m['train_s']:.1f} s training "
          f"({m['wall_s']:.1f} s in all) -> {args.out}/metrics.json")
    return train_exit_status(m)

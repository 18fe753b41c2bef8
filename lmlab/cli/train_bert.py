"""``lmlab train bert``: masked-language-model pre-training; writes OUT/ckpt.pt, best.pt, metrics.json.

    lmlab train bert --corpus tang_poems --preset class --out runs/bert
    lmlab train bert --corpus wiki_sample --tokenizer bpe --vocab-size 2000 --out runs/bert_en
"""

from __future__ import annotations

import argparse

from lmlab.cli.common import fmt_loss, report_write_failures, train_exit_status
from lmlab.cli.flags import add_common_flags, add_config_flags
from lmlab.recipes.bert import PRESETS, BertSizes, BertTrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_flags(p, corpus="tang_poems")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                   help="char: one id per character (Chinese); bpe: byte-level BPE learned on the corpus")
    p.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary size for --tokenizer bpe "
                   "(default 512)")
    p.add_argument("--layout", choices=["bert", "prenorm"], default=None,
                   help="bert: Devlin et al.'s post-LN layout, exports to transformers (default); prenorm: "
                        "lmlab's pre-LN encoder with RoPE and ReLU")
    p.add_argument("--whole-word", action="store_true",
                   help="mask whole jieba-segmented words instead of single characters (--tokenizer char)")
    p.add_argument("--max-chars", type=int, default=None,
                   help="use only the first N characters of the corpus (smoke preset: 100000)")
    add_config_flags(p, BertSizes, PRESETS)
    add_config_flags(p, BertTrainConfig, PRESETS)


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

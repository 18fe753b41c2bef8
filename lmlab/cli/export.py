"""``lmlab export DIR --to hf OUT``: a trained GPT (nanoGPT layout) or BERT as a transformers folder.

    lmlab export runs/gpt --to hf hf/gpt  # GPT2LMHeadModel; AutoModelForCausalLM.from_pretrained("hf/gpt")
    lmlab export runs/bert --to hf hf/bert  # BertForMaskedLM; AutoModelForMaskedLM.from_pretrained("hf/bert")
"""

from __future__ import annotations

import argparse

from lmlab.i18n import _


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="a run folder (its ckpt.pt) or a checkpoint file")
    p.add_argument("--to", choices=["hf"], default="hf", help="hf: Hugging Face transformers (safetensors)")
    p.add_argument("out", help="a new (or empty) folder for config.json, model.safetensors and the tokenizer")


def run(args: argparse.Namespace) -> int:
    from lmlab.export import export_hf

    out = export_hf(args.src, args.out)
    print(_("exported {src} -> {out} (load it with transformers' from_pretrained({path!r}))").format(
        src=args.src, out=out, path=str(out)))
    return 0

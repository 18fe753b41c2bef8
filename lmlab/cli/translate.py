"""``lmlab translate DIR --text 白日依山盡``: answer a line with a trained sequence-to-sequence model
(``lmlab sample`` continues text with a language model; ``translate`` maps a source to a target)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", metavar="DIR", help="a 'lmlab train seq2seq' --out folder or a .pt file")
    p.add_argument("--text", action="append", required=True,
                   help="the source line (a 上联); repeat --text for several")
    p.add_argument("--method", choices=["beam", "greedy", "sample"], default="beam")
    p.add_argument("--beam", type=int, default=4, help="beam width (>= 1; 1 is greedy)")
    p.add_argument("--alpha", type=float, default=0.6, help="length penalty α of the beam's ranking")
    p.add_argument("--temperature", type=float, default=1.0, help="for --method sample")
    p.add_argument("--top-k", type=int, default=None, help="for --method sample")
    p.add_argument("--seed", type=int, default=None, help="repeatable samples")
    p.add_argument("--n-best", type=int, default=1, help="print the N best beam hypotheses")
    p.add_argument("--best", action="store_true", help="use DIR/best.pt (lowest validation loss)")
    p.add_argument("--constrained", action="store_true",
                   help="mask what the couplet rules forbid: the source's length, no character of the source "
                        "at its position, no repeat inside the line where the source has none")


def run(args: argparse.Namespace) -> int:

    from lmlab.models.seq2seq.translate import load_translator, translate

    if args.beam < 1:
        raise ValueError(f"--beam must be >= 1, got {args.beam}; use 1 for greedy decoding")
    model, vocab, saved = load_translator(args.checkpoint, best=args.best)
    for text in args.text:
        t = translate(model, vocab, text, method=args.method, width=args.beam, alpha=args.alpha,
                      temperature=args.temperature, top_k=args.top_k, seed=args.seed,
                      script=saved.get("script", "traditional"), constrained=args.constrained)
        for note in t.notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"{t.source} -> {t.output}")
        for alt, score in t.alternatives[1:args.n_best]:
            print(f"    {alt}  ({score:.3f})")
    return 0

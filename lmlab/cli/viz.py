"""``lmlab viz``: attention and embedding figures without a notebook, as .html (offline), .png or .svg.

    lmlab viz attention runs/gpt --text "ROMEO: But soft" --view head -o head.html
    lmlab viz attention minilm --text "The cat sat." --text-b "It purred." --view model -o model.html
    lmlab viz attention runs/gpt --text "To be" --view steps --layer 1 --head 2 --token -1 -o steps.svg
    lmlab viz embeddings vectors.txt --words king,queen,man,woman -o words.png
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

VIEWS = ("head", "model", "grid", "steps")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    a = sub.add_parser("attention", help="attention of an lmlab checkpoint or the packaged MiniLM",
                       description="Draw the attention of a model on a text.")
    a.add_argument("model", metavar="CKPT_OR_MODEL",
                   help="an lmlab checkpoint (directory with ckpt.pt, or the .pt file) or 'minilm'")
    a.add_argument("--text", required=True, help="the text to look at")
    a.add_argument("--text-b", default=None, help="second sentence of a pair (minilm only)")
    a.add_argument("--view", choices=VIEWS, default="head",
                   help="head/model: bertviz views; grid: layer x head heatmaps; steps: the arithmetic "
                        "for one token (default: head)")
    a.add_argument("-o", "--out", required=True, help="output file: .html (self-contained), .png or .svg")
    a.add_argument("--layer", type=int, default=0, help="layer for head/grid/steps (default 0)")
    a.add_argument("--head", type=int, default=0, help="head for grid detail and steps (default 0)")
    a.add_argument("--token", type=int, default=-1, help="query token index for steps (default -1: last)")
    a.add_argument("--average-heads", action="store_true", help="grid: show the mean over heads")
    a.add_argument("--max-tokens", type=int, default=None, help="crop longer inputs to this many tokens")
    a.set_defaults(_viz=run_attention)
    e = sub.add_parser("embeddings", help="word vectors in 2-D (the word2vec engineer's command)",
                       description="Draw word vectors projected to 2-D.")
    embeddings = _embeddings_module()
    if embeddings is not None:
        embeddings.add_arguments(e)
        e.set_defaults(_viz=embeddings.run)
    else:
        e.add_argument("rest", nargs=argparse.REMAINDER)
        e.set_defaults(_viz=_no_embeddings)


def _embeddings_module() -> Any:
    try:
        return importlib.import_module("lmlab.cli.viz_embeddings")
    except ModuleNotFoundError as err:
        if err.name != "lmlab.cli.viz_embeddings":
            raise
        return None


def _no_embeddings(args: argparse.Namespace) -> int:
    from lmlab.errors import UsageError

    raise UsageError("'lmlab viz embeddings' is not available in this install (lmlab.cli.viz_embeddings "
                       "is missing); update lmlab")


def run(args: argparse.Namespace) -> int:
    return int(args._viz(args) or 0)


def load_model(name: str) -> tuple[Any, Any]:
    """(model, tokenizer) for 'minilm' or an lmlab GPT checkpoint; tokenizer is None for minilm."""
    from lmlab.models.pretrained import NAMES, load_pretrained

    if name.lower() in {n.lower() for n in NAMES}:
        return load_pretrained(name), None
    path = Path(name)
    if not path.exists():
        raise FileNotFoundError(f"{name!r} is neither a checkpoint nor a packaged model; give a directory "
                                "written by 'lmlab train gpt --out DIR' or 'minilm'")
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.transformer.generate import load_for_sampling

    payload = load_checkpoint(path)
    if payload.get("kind") != "gpt":
        raise ValueError(f"{name} holds a {payload.get('kind')!r} model, which has no attention to draw; "
                         "use a checkpoint from 'lmlab train gpt'")
    return load_for_sampling(payload)


def run_attention(args: argparse.Namespace) -> int:
    from lmlab.viz.attention import attention_of, grid_view, head_view, model_view, steps_view
    from lmlab.viz.attention._html import SAVE_FORMATS

    out = Path(args.out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"--out {args.out!r}: use a file name ending in {', '.join(SAVE_FORMATS)}")
    if args.text_b is not None and args.model.lower() != "minilm":
        raise ValueError("--text-b (a sentence pair) works with the pretrained encoder: use model 'minilm'")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be >= 1, got {args.max_tokens}; leave it out to see the "
                         "whole text")
    if args.text_b is not None and args.view == "steps":
        raise ValueError("--view steps works on one text; leave out --text-b")
    model, tokenizer = load_model(args.model)
    if args.view == "steps":
        view = steps_view(model, args.text, tokenizer, layer=args.layer, head=args.head, token=args.token)
    else:
        maps = attention_of(model, args.text, tokenizer, text_b=args.text_b, max_tokens=args.max_tokens)
        if args.view == "head":
            view = head_view(maps, layer=args.layer, max_tokens=args.max_tokens)
        elif args.view == "model":
            view = model_view(maps, max_tokens=args.max_tokens)
        else:
            view = grid_view(maps, layer=args.layer, head=None if args.average_heads else args.head,
                             average_heads=args.average_heads, max_tokens=args.max_tokens)
    view.save(out)
    print(f"wrote {out} ({args.view} view, {out.stat().st_size / 1024:.0f} KiB)")
    return 0

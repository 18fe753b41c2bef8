"""``lmlab train MODEL``: one command for every model, built from its recipe (``lmlab/recipes/MODEL.py``).

Every model gets the same common flags (``add_common_flags``), one flag per config field that carries help
(``add_config_flags``), and the same end: its summary line, exit 0 (done), 1 (diverged or a write failed)
or 130 (Ctrl-C).

    lmlab train gpt --corpus tiny_shakespeare --n-layer 4 --n-head 4 --n-embd 128 \\
        --max-iters 2000 --out runs/gpt
    lmlab train bert --corpus tang_poems --preset class --out runs/bert
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from lmlab.cli.flags import add_common_flags, add_config_flags
from lmlab.recipes import recipe


def add_arguments(p: argparse.ArgumentParser, model: str) -> None:
    """``lmlab train MODEL``'s flags: the common ones, then one per field of the recipe's configs."""
    r = recipe(model)
    add_common_flags(p, corpus=r.corpus, precision=r.precision)
    for config in r.configs:
        add_config_flags(p, config, r.presets)
    p.set_defaults(_run=run, _model=model)  # not "model": word2vec has --model


def run(args: argparse.Namespace) -> int:
    """Train the model as the flags say, print its summary line; the exit status: 0 for a finished run, 1
    when it diverged (fit printed why) or a checkpoint/metrics/export write failed (one stderr line), 130
    after a clean Ctrl-C."""
    from lmlab.train.failures import EXIT_FAILED, EXIT_INTERRUPTED, WriteFailed

    r = recipe(args._model)
    flags = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    try:
        metrics: dict[str, Any] | None = importlib.import_module(f"lmlab.models.{r.package}.run").run(flags)
    except WriteFailed as err:
        print(f"lmlab: error: {err}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    if not metrics:  # a rank other than 0 under torchrun reports nothing
        return 0
    print(r.summary(metrics, args.out), flush=True)
    if metrics.get("stopped") == "diverged":
        return EXIT_FAILED
    return EXIT_INTERRUPTED if metrics.get("interrupted") else 0


def main(model: str, argv: list[str]) -> int:
    """``lmlab train MODEL ARGV...`` in this process (a notebook runs its commands so)."""
    parser = argparse.ArgumentParser(prog=f"lmlab train {model}")
    add_arguments(parser, model)
    return run(parser.parse_args(argv))

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

from lmlab.cli.common import report_write_failures, train_exit_status
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
    """Train ``args.model`` as the flags say, print its summary line; the exit status."""
    r = recipe(args._model)

    def train() -> int:
        flags = {k: v for k, v in vars(args).items() if not k.startswith("_")}
        metrics = importlib.import_module(f"lmlab.models.{r.package}.run").run(flags)
        if metrics:  # rank 0 (other ranks under torchrun report nothing)
            print(r.summary(metrics, args.out), flush=True)
        return train_exit_status(metrics)

    return report_write_failures(train)


def main(model: str, argv: list[str]) -> int:
    """``lmlab train MODEL ARGV...`` in this process (``lmlab prepare`` runs the lessons' commands so)."""
    parser = argparse.ArgumentParser(prog=f"lmlab train {model}")
    add_arguments(parser, model)
    return run(parser.parse_args(argv))

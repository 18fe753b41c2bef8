"""The lmlab command: lab, doctor, data, train, sample, viz, site.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``; heavy
imports (torch, matplotlib) happen inside ``run`` so ``lmlab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "lab": ("lmlab.cli.lab", "open JupyterLab on the notebooks (127.0.0.1, token on)"),
    "doctor": ("lmlab.cli.doctor", "show versions, device, preset, offline data, fonts, bertviz"),
    "data": ("lmlab.cli.data", "list or fetch corpora"),
    "sample": ("lmlab.cli.sample", "generate text from a trained checkpoint"),
    "viz": ("lmlab.cli.viz", "draw attention or embedding figures to HTML/PNG/SVG"),
    "site": ("lmlab.cli.site", "execute the notebooks and render an offline HTML site for a class"),
    "i18n": ("lmlab.i18n.cli", "update, build or check the Chinese edition of the notebooks"),
}
TRAINERS = {
    "word2vec": ("lmlab.cli.train_word2vec", "skip-gram / CBOW word vectors"),
    "lstm": ("lmlab.cli.train_lstm", "an LSTM language model"),
    "gpt": ("lmlab.cli.train_gpt", "a GPT (decoder-only Transformer)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        _add(sub, name, module, help_text)
    train = sub.add_parser("train", help="train a model and write OUT/metrics.json")
    train_sub = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, (module, help_text) in TRAINERS.items():
        _add(train_sub, name, module, help_text)
    return parser


def _add(sub: argparse._SubParsersAction, name: str, module_name: str, help_text: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return
    p = sub.add_parser(name, help=help_text, description=help_text)
    module.add_arguments(p)
    p.set_defaults(_run=module.run)


def _version() -> str:
    from lmlab import __version__

    return f"lmlab {__version__}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        # bad input: one clear line, no traceback (set LMLAB_DEBUG=1 to see it)
        import os

        if os.environ.get("LMLAB_DEBUG"):
            raise
        print(f"lmlab: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The lmlab command: lab, doctor, data, train, sample, viz, site.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``; heavy
imports (torch, matplotlib) happen inside ``run`` so ``lmlab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lmlab.recipes import MODELS, recipe

COMMANDS = {
    "lab": ("lmlab.cli.lab", "open JupyterLab on the notebooks (127.0.0.1, token on)"),
    "doctor": ("lmlab.cli.doctor", "show versions, device, preset, offline data, fonts, bertviz"),
    "data": ("lmlab.cli.data", "list or fetch corpora"),
    "sample": ("lmlab.cli.sample", "generate text from a trained checkpoint"),
    "viz": ("lmlab.cli.viz", "draw attention or embedding figures to HTML/PNG/SVG"),
    "site": ("lmlab.cli.site", "execute the notebooks and render an offline HTML site for a class"),
    "translate": ("lmlab.cli.translate", "answer a source line with a trained sequence-to-sequence model"),
    "prepare": ("lmlab.cli.prepare", "train ahead of a lesson every model the notebooks train"),
    "export": ("lmlab.cli.export", "write a trained GPT or BERT as a Hugging Face transformers folder"),
    "assign": ("lmlab.cli.assign", "write an nbgrader course folder from notebooks' exercises"),
    "grades": ("lmlab.cli.grades", "after nbgrader autograde: who solved what, and the common slips"),
    "i18n": ("lmlab.i18n.cli", "update, build or check the Chinese edition of the notebooks"),
    "hub": ("lmlab.cli.hub", "run a class server: JupyterHub with lmlab's kernel and a read-only mirror"),
}
TRAINERS = MODELS  # lmlab train MODEL, one recipe each (lmlab/recipes/MODEL.py)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lmlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        _add(sub, name, module, help_text)
    train = sub.add_parser("train", help="train a model and write OUT/metrics.json")
    train_sub = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    from lmlab.cli import train as train_command

    for name in TRAINERS:
        help_text = recipe(name).help
        train_command.add_arguments(train_sub.add_parser(name, help=help_text, description=help_text), name)
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (``lmlab sample: error: ...``) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input: one line, exit 2; an OSError: one line, exit 1; anything else (a bug,
    CUDA out of memory) keeps its traceback. ``LMLAB_DEBUG=1`` shows every traceback (lmlab.errors)."""
    import os

    args = build_parser().parse_args(argv)
    debug = bool(os.environ.get("LMLAB_DEBUG"))
    try:
        from lmlab.threads import apply_thread_share

        apply_thread_share()  # before any command imports torch: it reads OMP_NUM_THREADS when it loads
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError) as err:  # bad input (lmlab.errors.UsageError is a ValueError)
        if debug:
            raise
        print(f"lmlab: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine said no: a full disk, a read-only or vanished folder
        if debug:
            raise
        from lmlab.errors import describe_os_error

        print(f"lmlab: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        if debug or not _is_download_error(err):
            raise  # an internal error: the traceback is what a bug report needs
        print(f"lmlab: error: {_one_line(err)}", file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError) and err.filename is not None and err.strerror:
        from lmlab.errors import describe_os_error

        return describe_os_error(err)
    return " ".join(str(err).split()) or type(err).__name__


def _is_download_error(err: BaseException) -> bool:
    """A download that failed for good (network, checksum) is the machine's answer, not a bug."""
    module = sys.modules.get("lmlab.data.download")
    return module is not None and isinstance(err, module.DownloadError)


if __name__ == "__main__":
    sys.exit(main())

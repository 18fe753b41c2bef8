"""The translator's three commands.

- ``update [NB...]``: merge the English notebooks' new or changed cells into ``notebooks/zh/po/*.po``
  (changed ones marked fuzzy, with the previous English), rebuild the twins, list what to translate;
- ``build [NB...]``: rebuild the twins ``notebooks/zh/NN_name.py`` + ``.ipynb`` and compile the library
  catalogue ``lmlab/i18n/locale/zh/LC_MESSAGES/lmlab.mo``;
- ``check [NB...]``: exit 1, naming the command to run, when anything is out of step (what CI runs).

``update --from-rev BRANCH`` (or ``--src DIR``) adds the English text of another branch or folder to the
catalogues here without building twins or dropping anything, so translations are ready before a merge.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from lmlab.i18n import messages
from lmlab.i18n import notebooks as nbs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("update", "build", "check"),
                   help="update: merge English changes into the catalogues and rebuild; build: rebuild the "
                        "twins; check: fail when a catalogue or twin is behind")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="e.g. 03 or 03_transformer (default: every notebook)")
    p.add_argument("--lang", default="zh", choices=nbs.EDITIONS, help="edition (default zh)")
    p.add_argument("--from-rev", metavar="REV",
                   help="update: take the English notebooks from this git branch or commit (keeps every "
                        "entry)")
    p.add_argument("--src", metavar="DIR", type=Path,
                   help="update: take the English notebooks from this folder (keeps every entry)")
    p.add_argument("--prune", action="store_true",
                   help="update: drop entries waiting for English text that is not in this tree")


def update_from(args: argparse.Namespace) -> int:
    label = f"{args.from_rev}:notebooks" if args.from_rev else args.src.name
    if args.from_rev:
        left = messages.update_from(args.from_rev, args.lang)
        print(f"{args.from_rev}:lmlab -> {messages.po_file(args.lang).relative_to(nbs.ROOT)}: "
              + (f"{len(left)} message(s) to translate" if left else "ready"))
        for line in left[:40]:
            print(f"    {line}")
    with tempfile.TemporaryDirectory() as tmp:
        for src in nbs.foreign_sources(Path(tmp), rev=args.from_rev, folder=args.src, names=args.notebooks):
            left = nbs.update_from(src, label, args.lang)
            status = "ready" if not left else f"{len(left)} to translate"
            po = nbs.po_path(nbs.NOTEBOOKS / src.name, args.lang).relative_to(nbs.ROOT)
            print(f"{label}/{src.name} -> {po}: {status}")
            for line in left[:20]:
                print(f"    {line}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.from_rev or args.src:
        if args.action != "update":
            raise ValueError(f"--from-rev/--src go with update, not {args.action}")
        return update_from(args)
    chosen = nbs.sources(args.notebooks)
    if args.action == "check":
        problems = [p for src in chosen for p in nbs.check(src, args.lang)] + messages.check()
        for note in nbs.waiting(args.lang):
            print(f"note: {note}")
        for p in problems:
            print(f"✗ {p}")
        if not problems:
            print(f"✓ {len(chosen)} Chinese twins and the message catalogue are in step with the English "
                  "source")
        return 1 if problems else 0
    if args.action == "update":
        left = messages.update_catalogue(args.lang, prune=args.prune)
        print(f"{messages.po_file(args.lang).relative_to(nbs.ROOT)}: "
              + (f"{len(left)} message(s) to translate" if left else "in step"))
        for line in left[:20]:
            print(f"    {line}")
    messages.compile_catalogue(args.lang)
    for src in chosen:
        left = (nbs.update(src, args.lang, prune=args.prune) if args.action == "update"
                else nbs.todo(src, args.lang))
        py, _ = nbs.build(src, args.lang)
        status = "in step" if not left else f"{len(left)} to translate in {nbs.po_path(src, args.lang)}"
        print(f"{src.name} -> {py.relative_to(nbs.ROOT) if py.is_relative_to(nbs.ROOT) else py}: {status}")
        for line in left[:20]:
            print(f"    {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmlab.i18n", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except ValueError as err:
        print(f"lmlab i18n: error: {err}", file=sys.stderr)
        return 2

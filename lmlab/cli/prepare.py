"""``lmlab prepare``: train ahead of a lesson every model the notebooks train, by running the notebooks.

    lmlab data fetch --all --dest /share/lmlab         # the corpora
    lmlab prepare --preset class --dest /share/lmlab    # the models (overnight on a laptop, or on a GPU)
    lmlab prepare 06_seq2seq --preset class              # one notebook (or a run: 06_quality_curve)
    lmlab prepare --edition zh --preset class           # the Chinese edition's runs that read the poems

Each notebook that trains (a cell calling ``lmlab.prepared.cached``) runs top to bottom in the preset, in a
scratch folder, with ``$LMLAB_PREPARE_INTO`` set: each named fit then trains into
``DEST/prepared/PRESET/NAME/`` and writes ``prepared.json`` last. The notebooks are the one source of what
a lesson trains. A run already prepared with today's configuration is found by its cell and loaded, so an
interrupted ``prepare`` goes on with the first unfinished run (a staged one, such as 06's quality curve,
from its last checkpoint). Students point ``LMLAB_DATA_DIR`` at DEST.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from lmlab.presets import PRESETS

FIT = re.compile(r"\bcached\(")  # a notebook that trains through the cache
RUN_NAME = re.compile(r"^(\d\d)_\w+$")  # a run is named after its notebook's number: 06_quality_curve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="notebooks to run (06_seq2seq, or 06), or runs (06_quality_curve: its notebook runs, "
                        "and with --force only that run is trained again); default: every notebook that "
                        "trains")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="preset the notebooks will run in (default: $LMLAB_PRESET, else from the device)")
    p.add_argument("--dest", default=None,
                   help="the classroom mirror to write into (default: $LMLAB_DATA_DIR, else the cache)")
    p.add_argument("--force", action="store_true",
                   help="train again the runs that are already prepared and current")
    p.add_argument("--list", action="store_true",
                   help="list the prepared runs of each notebook (whether one is current is decided when its "
                        "notebook runs: its configuration's hash); run nothing")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--edition", choices=("en", "zh"), default="en",
                   help="en: notebooks/; zh: the Chinese twins (notebooks/zh/), whose runs that read the "
                        "poems go to prepared/PRESET/zh/")
    p.add_argument("--notebooks", default=None, help="notebook folder (default: the lab's notebooks/)")


def training_notebooks(folder: Path) -> list[Path]:
    """The notebooks of ``folder`` that train through the cache, in order."""
    return [p for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
            if FIT.search(p.with_suffix(".py").read_text(encoding="utf-8")
                          if p.with_suffix(".py").exists() else p.read_text(encoding="utf-8"))]


def choose(names: list[str], folder: Path) -> tuple[list[Path], list[str]]:
    """(the notebooks to run, the runs named): each NAME is a notebook (``06_seq2seq`` or ``06``) or a run
    its notebook names (``06_quality_curve``); anything else is a one-line error naming the choices."""
    from lmlab.errors import UsageError

    every = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    chosen, runs = [], []
    for name in names:
        stem = Path(name).stem
        by_stem = [p for p in every if p.stem == stem or p.stem[:2] == stem]
        match = RUN_NAME.match(stem)
        if not by_stem and match:
            source = [p for p in every if p.stem[:2] == match[1]]
            text = source[0].with_suffix(".py") if source and source[0].with_suffix(".py").exists() else None
            if text is not None and f'"{stem}"' in text.read_text(encoding="utf-8"):
                by_stem, runs = source, [*runs, stem]
        if not by_stem:
            raise UsageError(f"no notebook or prepared run called {name!r}; name a notebook "
                             f"({', '.join(p.stem for p in training_notebooks(folder))}) or a run of one "
                             "(06_quality_curve); 'lmlab prepare --list' shows what is prepared")
        chosen += [p for p in by_stem if p not in chosen]
    return chosen, runs


def list_prepared(root: Path, preset: str, notebooks: list[Path], edition: str) -> None:
    """One line per prepared run of each notebook: when it was made, how long it trained, or what is wrong."""
    from lmlab.prepared import EDITION_DIR, STARTED, _trained_for, read_record, record_problem

    base = root / "prepared" / preset
    folders = [p for p in sorted(base.iterdir()) if p.is_dir() and p.name != EDITION_DIR] \
        if base.is_dir() else []
    if edition == "zh" and (base / EDITION_DIR).is_dir():
        folders += sorted(p for p in (base / EDITION_DIR).iterdir() if p.is_dir())
    print(f"lmlab prepare: prepared runs of the {preset} preset in {base}", flush=True)
    for nb in notebooks:
        own = [p for p in folders if p.name[:2] == nb.stem[:2]]
        print(f"{nb.stem}: {len(own) or 'no'} run(s)", flush=True)
        for path in own:
            record, where = read_record(path), path.relative_to(base)
            if record is not None:
                print(f"  {where}: prepared {record.get('created', '?')}, trained {_trained_for(record)}",
                      flush=True)
            elif why := record_problem(path):
                print(f"  {where}: {why}", flush=True)
            elif (path / STARTED).exists():
                print(f"  {where}: unfinished ('lmlab prepare {nb.stem}' goes on with it)", flush=True)


def _echo(state: dict[str, Any]) -> Any:
    """What the kernel prints, shown here while a run is prepared (its trainer's progress) and for the
    cache's own lines (loaded, stale, training)."""
    def show(text: str) -> None:
        for line in text.splitlines():
            if line.startswith("lmlab prepare: training") or line.startswith("lmlab prepare: going on"):
                state["inside"] = True
            # the cache's own lines, in either edition's punctuation
            if state["inside"] or line.startswith(("lmlab:", "lmlab：")):
                print(f"  {line}", flush=True)
            if line.startswith("lmlab prepare: ") and " done in " in line:
                state["inside"] = False
    return show


def run(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    import nbformat

    from lmlab.cli.lab import default_notebook_dir
    from lmlab.cli.site import execute
    from lmlab.errors import UsageError
    from lmlab.prepared import LOG_ENV, NOTEBOOK_ENV, PREPARE_ENV, RETRAIN_ENV, default_root, read_log
    from lmlab.presets import resolve_preset

    base = Path(args.notebooks).expanduser().resolve() if args.notebooks else default_notebook_dir()
    folder = base / "zh" if args.edition == "zh" else base
    if not folder.is_dir():
        raise UsageError(f"notebook folder {str(folder)!r} does not exist; pass --notebooks FOLDER")
    notebooks, runs = choose(args.names, folder) if args.names else (training_notebooks(folder), [])
    preset = resolve_preset(args.preset, args.device)
    root = Path(args.dest).expanduser().resolve() if args.dest else default_root()
    if args.list:
        list_prepared(root, preset, notebooks, args.edition)
        return 0
    from lmlab.mirror import refuse_mirror_write

    refuse_mirror_write(root, "prepare runs in")
    env = {**os.environ, "LMLAB_PRESET": preset, PREPARE_ENV: str(root)}
    if args.dest and not os.environ.get("LMLAB_DATA_DIR") and root.is_dir():
        # the corpora `lmlab data fetch --all --dest DEST` put there: read what the students will read
        env["LMLAB_DATA_DIR"] = str(root)
    if args.device:
        env["LMLAB_DEVICE"] = args.device
    if args.edition == "zh":
        env["LMLAB_LANG"] = "zh"
    env.pop(RETRAIN_ENV, None)
    if args.force:
        env[RETRAIN_ENV] = ",".join(runs) if runs else "1"
    where = f", Chinese edition (runs that read the poems go to {preset}/zh/)" if args.edition == "zh" else ""
    print(f"lmlab prepare: {len(notebooks)} notebook(s), preset {preset}{where}, into {root / 'prepared'}",
          flush=True)
    t_all, failed = time.perf_counter(), []
    for k, path in enumerate(notebooks, 1):
        print(f"[{k}/{len(notebooks)}] {path.stem}: running ... ({time.perf_counter() - t_all:.0f} s so far)",
              flush=True)
        t0 = time.perf_counter()
        # in a scratch folder: no runs/ left beside the notebooks, none of theirs read
        with tempfile.TemporaryDirectory(prefix="lmlab-prepare-") as scratch:
            copy = Path(scratch) / path.name
            shutil.copy(path, copy)
            nb = nbformat.read(copy, as_version=4)
            log = Path(scratch) / "prepared-log"
            try:
                errors = execute(nb, Path(scratch), {**env, NOTEBOOK_ENV: path.stem, LOG_ENV: str(log)}, None,
                                 on_output=_echo({"inside": False}))
            except KeyboardInterrupt:
                print(f"[{k}/{len(notebooks)}] {path.stem}: interrupted after "
                      f"{time.perf_counter() - t0:.0f} s; the same command skips the runs already prepared "
                      "and goes on with the others", file=sys.stderr, flush=True)
                return 130
            fits = read_log(log)
        loaded, trained = sum(fits.values()), len(fits) - sum(fits.values())
        state = f"{len(errors)} error(s): {errors[0]}" if errors else "ok"
        print(f"[{k}/{len(notebooks)}] {path.stem}: {state}; {trained} run(s) trained, {loaded} already "
              f"prepared, {time.perf_counter() - t0:.0f} s", flush=True)
        if errors:
            failed.append(path.stem)
    print(f"lmlab prepare: {len(notebooks) - len(failed)} of {len(notebooks)} notebook(s) ran, "
          f"{time.perf_counter() - t_all:.0f} s; students set LMLAB_DATA_DIR={root}"
          + (f"; errors in {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0

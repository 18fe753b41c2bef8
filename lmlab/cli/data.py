"""``lmlab data list`` and ``lmlab data fetch NAME... | --all [--dest DIR]``.

A teacher preparing an offline classroom runs ``lmlab data fetch --all --dest /share/lmlab-data`` once
online, then students set ``LMLAB_DATA_DIR=/share/lmlab-data``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="registered corpora: name, size, available offline?, source")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    fetch = sub.add_parser("fetch", help="download (and verify) corpora into the cache or a folder")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="corpora to fetch (see 'lmlab data list')")
    fetch.add_argument("--all", action="store_true", help="every registered corpus")
    fetch.add_argument("--dest", default=None,
                       help="also copy the files here, ready to serve as an LMLAB_DATA_DIR mirror")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "-"  # pragma: no cover


def _where(row: dict) -> str:
    if row["available"]:
        return row["available"]
    return "no: download" if row["url"] else "no: mirror only"


def _list(as_json: bool) -> int:
    from lmlab.data import list_corpora

    rows = list_corpora()
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    header = ("name", "size", "available", "source")
    table = [(r["name"], _size(r["size"]), _where(r), r["url"] or r["source"]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=True)]
    for row in (header, *table):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    mirror = os.environ.get("LMLAB_DATA_DIR")
    from lmlab.data import cache_dir

    print(f"\nmirror (LMLAB_DATA_DIR): {mirror or 'not set'}\ncache (LMLAB_CACHE_DIR): {cache_dir()}")
    return 0


def _copy_atomic(src: Path, dest_dir: Path) -> Path:
    from lmlab.atomic import atomic_write

    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    if dest.exists() and dest.resolve() == src.resolve():
        return dest
    with open(src, "rb") as source, atomic_write(dest, "wb") as f:
        shutil.copyfileobj(source, f)
    return dest


def _fetch(names: list[str], fetch_all: bool, dest: str | None) -> int:
    from lmlab.data import CORPORA, DownloadError, fetch, get_corpus

    if fetch_all and names:
        raise ValueError("give corpus names or --all, not both")
    if not fetch_all and not names:
        raise ValueError(f"name the corpora to fetch ({', '.join(CORPORA)}) or pass --all")
    for name in names:
        get_corpus(name)  # every name checked before anything is downloaded
    if dest:
        from lmlab.mirror import refuse_mirror_write

        refuse_mirror_write(Path(dest), "copy corpora into")
    failed = []
    for name in (list(CORPORA) if fetch_all else names):
        try:
            path = fetch(name)
            if dest:
                path = _copy_atomic(path, Path(dest).expanduser())
            corpus = get_corpus(name)
            how = "sha256 verified" if corpus.sha256 else "built from installed data"
            print(f"ok      {name}: {path} ({how})", flush=True)
        except (FileNotFoundError, ValueError, DownloadError) as err:
            failed.append(name)
            print(f"FAILED  {name}: {err}", flush=True)
    if failed:
        print(f"{len(failed)} of {len(CORPORA) if fetch_all else len(names)} failed: {', '.join(failed)}")
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args.json)
    return _fetch(args.names, args.all, args.dest)

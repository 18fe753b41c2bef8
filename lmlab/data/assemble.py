"""Corpora rebuilt from many upstream files: download each one verified, then assemble the mirror's file.

The Tang poems are 58 JSON files of the chinese-poetry collection at a pinned commit, listed with their
sizes and sha256s in a manifest shipped with lmlab (``lmlab/data/tang_poems.upstream.tsv``). Online,
:func:`assemble` downloads them into ``<cache>/<file>.parts/`` (each one https, retried, sha256-checked,
atomic), skipping those already there and verified, so an interrupted run resumes where it stopped;
then it writes, for every poem of every file in manifest order,
``json.dumps({"title", "author", "paragraphs"}, ensure_ascii=False)`` and a newline, gzip-compressed, and
checks the *uncompressed* bytes against the registered sha256 (the gzip wrapper depends on the
compressor, the content does not). Only then is the result renamed into the cache and the parts removed.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from lmlab.data.download import DownloadError, download, sha256_file

PACKAGE_DATA = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Part:
    path: str  # inside the upstream repository, e.g. 全唐诗/poet.tang.0.json
    size: int
    sha256: str


def read_manifest(manifest: str | Path) -> list[Part]:
    """The ``path<TAB>bytes<TAB>sha256`` rows of a manifest (a name inside lmlab/data, or a path)."""
    path = Path(manifest)
    if not path.is_absolute():
        path = PACKAGE_DATA / path
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or set(rows[0]) != {"path", "bytes", "sha256"}:
        raise ValueError(f"{path} is not a manifest: expected the columns path, bytes, sha256")
    return [Part(r["path"], int(r["bytes"]), r["sha256"].lower()) for r in rows]


def part_url(base: str, part: Part) -> str:
    """Raw URL of one upstream file, its path percent-encoded (全唐诗 -> %E5%85%A8...)."""
    return base.rstrip("/") + "/" + urllib.parse.quote(part.path)


def _verified(path: Path, part: Part) -> bool:
    return path.is_file() and path.stat().st_size == part.size and sha256_file(path) == part.sha256


def download_parts(base: str, parts: list[Part], folder: Path, *, progress: bool | None = None,
                   retries: int = 3, timeout: float = 30.0) -> list[Path]:
    """Every part in ``folder``, verified; those already there are kept. One progress bar, in bytes."""
    from tqdm.auto import tqdm

    if progress is None:
        progress = sys.stderr.isatty() or "ipykernel" in sys.modules
    from lmlab.mirror import refuse_mirror_write

    refuse_mirror_write(folder, "download into")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / Path(p.path).name for p in parts]
    with tqdm(total=sum(p.size for p in parts), desc=f"{len(parts)} files", unit="B", unit_scale=True,
              unit_divisor=1024, disable=not progress, file=sys.stderr) as bar:
        for part, path in zip(parts, paths, strict=True):
            bar.set_postfix_str(Path(part.path).name, refresh=False)
            if not _verified(path, part):
                try:
                    download(part_url(base, part), path, part.sha256, retries=retries, timeout=timeout,
                             progress=False)
                except DownloadError as err:
                    done = sum(_verified(p, q) for q, p in zip(parts, paths, strict=True))
                    raise DownloadError(f"{err} ({done} of {len(parts)} files are downloaded and kept in "
                                        f"{folder}; run the same command again to resume)",
                                        reason=f"{part.path}: {err.reason}; {done} of {len(parts)} files "
                                               "kept, run the same command again to resume") from None
            bar.update(part.size)
    return paths


def write_poems_jsonl(paths: list[Path], dest: Path, content_sha256: str) -> Path:
    """The mirror's ``tang_poems.jsonl.gz`` from the upstream JSON files (the recipe above), atomically."""
    from lmlab.atomic import atomic_write

    digest = hashlib.sha256()
    with atomic_write(dest, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        for path in paths:
            with open(path, encoding="utf-8") as f:
                poems = json.load(f)
            for p in poems:
                poem = {"title": p["title"], "author": p["author"], "paragraphs": p["paragraphs"]}
                line = (json.dumps(poem, ensure_ascii=False) + "\n").encode("utf-8")
                digest.update(line)
                gz.write(line)
        if digest.hexdigest() != content_sha256:  # raising inside atomic_write leaves nothing behind
            raise DownloadError(f"the poems assembled from {len(paths)} verified files do not match the "
                                f"registered content sha256 {content_sha256} (got {digest.hexdigest()}); "
                                "the build recipe and the manifest disagree, nothing was saved",
                                reason="assembled content checksum mismatch")
    return dest


def assemble(base: str, manifest: str | Path, dest: Path, content_sha256: str, *,
             progress: bool | None = None, retries: int = 3, timeout: float = 30.0) -> Path:
    """Download the manifest's files (resumable) and build ``dest`` from them; the parts go afterwards."""
    folder = dest.with_name(dest.name + ".parts")
    paths = download_parts(base, read_manifest(manifest), folder, progress=progress, retries=retries,
                           timeout=timeout)
    write_poems_jsonl(paths, dest, content_sha256)
    shutil.rmtree(folder, ignore_errors=True)
    return dest


def gzip_content_sha256(path: Path) -> str:
    """sha256 of a gzip file's uncompressed bytes."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

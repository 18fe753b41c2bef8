"""Files that are either the old version or the new one, never half of each.

Write to a temporary file beside the target, then rename over it: a process killed mid-write leaves the
previous file intact (and at worst a stale ``.NAME.*.part`` that the next writer cleans up).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lmlab.mirror import refuse_mirror_write


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, suffix: str = ".part",
                 durable: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` when the block succeeds.

    ``durable`` also fsyncs the file and its folder, so the rename survives a power cut.
    """
    path = Path(path)
    refuse_mirror_write(path)  # a shared classroom mirror stays as the teacher made it
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as err:
        err.filename = str(path)  # name the file being written, not the temporary's random name
        raise
    try:
        encoding = None if "b" in mode else "utf-8"
        os.close(fd)  # reopened by name, so ``f.name`` is the temporary's path (for writers that want one)
        with open(tmp, mode, encoding=encoding) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())  # mkstemp's 0o600 would hide the file from a shared classroom
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename in (None, tmp):
            # a failed write() or close() names no file, a failed rename the temporary: name the target
            err.filename, err.filename2 = str(path), None
        raise


def default_file_mode() -> int:
    """0o666 minus the umask: what ``open()`` would give (``mkstemp`` files are 0o600, too private
    for a classroom mirror on a shared drive)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_dir(folder: Path) -> None:
    """Make a rename durable across a power cut (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_parts(dest: Path, suffix: str, max_age_s: float = 600.0) -> list[Path]:
    """Delete temporary files that a killed process left beside ``dest`` (``.NAME.*SUFFIX``).

    A live writer touches its file with every block, so one untouched for ``max_age_s`` is abandoned.
    """
    removed = []
    now = time.time()
    for part in dest.parent.glob(f".{dest.name}.*{suffix}"):
        try:
            if now - part.stat().st_mtime > max_age_s:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:  # another process cleaned it first
            pass
    return removed


def atomic_copy(src: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy ``src`` over ``dest`` through a temporary file: ``dest`` is the old file or the new, whole."""
    import shutil

    with open(src, "rb") as fin, atomic_write(dest, "wb", suffix=".tmp", durable=True) as fout:
        shutil.copyfileobj(fin, fout)
    return Path(dest)

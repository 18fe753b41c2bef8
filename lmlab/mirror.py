"""The classroom mirror read-only: every lookup reads it, no lmlab write lands in it.

On a class server the teacher's mirror (``$LMLAB_DATA_DIR``: corpora and prepared runs) is shared by every
student and must not change. It counts as read-only when ``LMLAB_DATA_READONLY=1`` (``lmlab hub`` sets it
for every user) or when this user cannot write it. Then lmlab's writers (``atomic_write``, downloads,
``lmlab prepare`` and ``lmlab data fetch --dest``) refuse a path inside it with one line before touching
anything, and per-user files (runs, caches, figures) go to the user's own folders: ``runs/`` beside the
notebook and the cache (``$LMLAB_CACHE_DIR``, else ``~/.cache/lmlab``).

``check_read_only(path)`` is the test a class server runs before it starts: is the mirror really read-only
for students (a read-only mount, or no write permission bit anywhere in it)?
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

READONLY_ENV = "LMLAB_DATA_READONLY"


def readonly_requested() -> bool:
    """True when ``LMLAB_DATA_READONLY`` asks for a read-only mirror."""
    return os.environ.get(READONLY_ENV, "").strip().lower() in ("1", "yes", "true", "on")


def readonly_mirror() -> Path | None:
    """The classroom mirror (resolved) when it is read-only for this process, else None."""
    env = os.environ.get("LMLAB_DATA_DIR")
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_dir():
        return None
    if readonly_requested() or not os.access(path, os.W_OK):
        return path.resolve()
    return None


def inside(path: str | os.PathLike, folder: Path) -> bool:
    target = Path(path).expanduser().resolve()
    return target == folder or folder in target.parents


def refuse_mirror_write(path: str | os.PathLike, what: str = "write") -> None:
    """Raise ``ReadOnlyMirror`` (one line, nothing written) when ``path`` lies in the read-only mirror."""
    mirror = readonly_mirror()
    if mirror is None or not inside(path, mirror):
        return
    from lmlab.errors import ReadOnlyMirror

    why = f"{READONLY_ENV}=1" if readonly_requested() else "this user cannot write it"
    raise ReadOnlyMirror(errno.EROFS, f"refusing to {what} {os.fspath(path)!r}: it is inside the read-only "
                         f"classroom mirror LMLAB_DATA_DIR={mirror} ({why}); write to your own folder "
                         "instead (runs/ beside the notebook, or LMLAB_CACHE_DIR)", os.fspath(path))


def is_read_only_mount(path: Path) -> bool:
    """True when ``path``'s file system is mounted read-only (a ``ro`` bind mount, a read-only volume)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def first_writable_entry(path: Path) -> Path | None:
    """The first file or folder in ``path`` (itself included) with any write permission bit, else None."""
    write_bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for folder, dirs, files in os.walk(path):
        for entry in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            try:
                if os.lstat(entry).st_mode & write_bits and not os.path.islink(entry):
                    return Path(entry)
            except OSError:
                continue
    return None


def check_read_only(path: str | os.PathLike) -> str:
    """How ``path`` is read-only ("read-only mount" or "no write permission"), or ``UsageError``."""
    from lmlab.errors import UsageError

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UsageError(f"the classroom mirror {os.fspath(path)!r} is not a folder; give the folder that "
                         "'lmlab data fetch --all --dest DIR' and 'lmlab prepare --dest DIR' filled")
    if is_read_only_mount(folder):
        return "read-only mount"
    writable = first_writable_entry(folder)
    if writable is None:
        return "no write permission"
    raise UsageError(f"the classroom mirror {os.fspath(folder)!r} is writable ({os.fspath(writable)} has "
                     f"mode {stat.filemode(os.lstat(writable).st_mode)}) but --read-only was asked; make it "
                     f"read-only with 'chmod -R a-w {os.fspath(folder)}' or a read-only mount, or pass "
                     "--no-read-only")

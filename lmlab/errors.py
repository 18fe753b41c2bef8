"""The two kinds of failure the ``lmlab`` command tells apart, and how it words an operating-system error.

- :class:`UsageError` (a ``ValueError``): the input was wrong (a flag, a path, a setting). The command
  prints one line naming the value and the fix, and exits 2. Plain ``ValueError`` and
  ``FileNotFoundError`` are treated the same way, so library code can raise either.
- ``OSError`` (a full disk, a read-only or vanished folder): one line saying what failed and where,
  exit 1.
- Anything else (a ``RuntimeError`` such as CUDA out of memory, or a bug) keeps its traceback.

``LMLAB_DEBUG=1`` shows the traceback in every case.
"""

from __future__ import annotations

import errno
import os

# what to do about the common operating-system failures, by errno
_FIXES = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free some space or write somewhere else",
    errno.EFBIG: "the file is larger than this system allows (a file-size limit): write somewhere else "
                 "or raise the limit (ulimit -f)",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "operation not permitted: choose a folder you can write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "the path is a folder: give a file name",
    errno.ENOENT: "the file or folder does not exist (it may have been removed): check the path",
    errno.EEXIST: "something that is not a folder already has that name: check the path",
}


class UsageError(ValueError):
    """Bad input from the user: the ``lmlab`` command prints ``lmlab: error: MESSAGE`` and exits 2."""


class ReadOnlyMirror(PermissionError):
    """A write into the read-only classroom mirror (``$LMLAB_DATA_DIR``), refused before anything changed.

    Its message is the whole line: what was refused, why, and where to write instead."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def describe_os_error(err: OSError) -> str:
    """One line for an ``OSError``: what failed, on which path, and what to do."""
    if isinstance(err, ReadOnlyMirror):
        return str(err)
    where = " -> ".join(repr(os.fspath(p)) for p in (err.filename, err.filename2) if p is not None)
    what = err.strerror or str(err)
    code = errno.errorcode.get(err.errno, "") if err.errno is not None else ""
    fix = _FIXES.get(err.errno, "")
    return (f"{what}{f' ({code})' if code else ''}{f': {where}' if where else ''}"
            f"{f'; {fix}' if fix else ''}")

"""Downloads done right: https, a timeout, retries, a progress bar, sha256 checked, atomic rename.

Where files live:
- ``$LMLAB_DATA_DIR``: an offline mirror (a classroom share, CI's ``../shared/data``), consulted first;
- ``$LMLAB_CACHE_DIR``, else the platform cache folder (``~/.cache/lmlab`` on Linux): downloads land here.

A download is written to a temporary file beside its destination, hashed while it streams, checked
against the expected sha256 once complete, and only then renamed into place: no partial or corrupt
file is ever left under the final name.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from lmlab.atomic import default_file_mode, fsync_dir, remove_stale_parts
from lmlab.mirror import refuse_mirror_write

CHUNK = 1 << 16
USER_AGENT = "lmlab (https://github.com/lmlab; teaching lab for language models)"


class DownloadError(RuntimeError):
    """A download failed for good (after retries), or its bytes were not the expected ones.

    ``reason`` is the short cause ("HTTP 404 Not Found", "checksum mismatch ...") for callers that
    word their own message.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def cache_dir() -> Path:
    """``$LMLAB_CACHE_DIR``, else the platform's user cache folder for lmlab (created on demand)."""
    env = os.environ.get("LMLAB_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lmlab", appauthor=False))


def mirror_dir() -> Path | None:
    """``$LMLAB_DATA_DIR`` (an offline mirror of the corpora), or None when unset."""
    env = os.environ.get("LMLAB_DATA_DIR")
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"LMLAB_DATA_DIR={env!r} is not a folder; point it at a mirror of the "
                                "corpora (e.g. one prepared with 'lmlab data fetch --all') or unset it")
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> None:
    """Only https leaves the machine; plain http is accepted for 127.0.0.1/localhost (tests, a LAN proxy
    run on the same machine)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    raise ValueError(f"refusing to download {url!r}: only https URLs are fetched "
                     "(plain http only from 127.0.0.1/localhost)")


def _progress(total: int | None, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=not enabled, file=sys.stderr, leave=False)


def _fetch_once(url: str, tmp: Path, timeout: float, show_progress: bool, desc: str) -> tuple[int, str]:
    """Stream ``url`` into ``tmp``; return (bytes, sha256). Raises on HTTP errors and short bodies."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    n = 0
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with open(tmp, "wb") as f, _progress(total, desc, show_progress) as bar:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                f.write(block)
                digest.update(block)
                n += len(block)
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
    if total is not None and n != total:
        raise http.client.IncompleteRead(b"", total - n)
    return n, digest.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str | None, *, timeout: float = 30.0,
             retries: int = 3, backoff: float = 1.0, progress: bool | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically and verify its sha256 after the last byte arrived.

    Network failures (refused, timed out, truncated body, 5xx) are retried ``retries`` times with
    exponential ``backoff``; a 4xx answer or a wrong checksum fails at once. ``sha256=None`` skips the
    check (only for files whose upstream changes; every registered corpus has one).
    """
    check_url(url)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    dest = Path(dest)
    refuse_mirror_write(dest, "download into")
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(dest, ".part")
    if progress is None:
        progress = sys.stderr.isatty() or "ipykernel" in sys.modules
    last_error: BaseException | None = None
    for attempt in range(retries + 1):
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        os.chmod(tmp, default_file_mode())
        try:
            n, got = _fetch_once(url, tmp, timeout, progress, dest.name)
            if sha256 is not None and got != sha256.lower():
                raise DownloadError(
                    f"checksum mismatch for {url}: expected sha256 {sha256}, got {got} ({n:,} bytes). "
                    "The file changed upstream or was corrupted in transit; nothing was saved. "
                    "Try again later, or place a verified copy in LMLAB_DATA_DIR.",
                    reason=f"checksum mismatch: expected sha256 {sha256}, got {got}")
            os.replace(tmp, dest)
            fsync_dir(dest.parent)
            return dest
        except urllib.error.HTTPError as err:
            if 400 <= err.code < 500 and err.code not in (408, 429):
                raise DownloadError(f"download of {url} failed: HTTP {err.code} {err.reason}. "
                                    "The address may have moved; check 'lmlab data list' for the "
                                    "source and fetch it by hand into LMLAB_DATA_DIR.",
                                    reason=f"HTTP {err.code} {err.reason} from {url}") from None
            last_error = err
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as err:
            last_error = err
            if _host_unknown(err):  # no DNS answer at all: offline, retrying will not help
                break
        finally:
            tmp.unlink(missing_ok=True)
        if attempt < retries:
            time.sleep(backoff * 2**attempt)
    reason = getattr(last_error, "reason", None) or last_error
    raise DownloadError(f"could not download {url} after {attempt + 1} attempt(s): {reason}. "
                        "Check the network (or a proxy via HTTPS_PROXY), or work offline with "
                        "LMLAB_DATA_DIR pointing at a mirror.",
                        reason=f"{url}: {reason} ({attempt + 1} attempt(s))")


def _host_unknown(err: BaseException) -> bool:
    reason = getattr(err, "reason", None)
    return isinstance(reason, socket.gaierror) and reason.errno in (socket.EAI_NONAME,
                                                                    getattr(socket, "EAI_NODATA", None))

"""Downloads against a local HTTP server: success, 404, truncated body, wrong checksum, server down."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import sys
import time

import pytest

from lmlab.data import DownloadError, download, fetch, load_text, load_text_or_fallback
from lmlab.data import registry as reg

BODY = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 200).encode()
SHA = hashlib.sha256(BODY).hexdigest()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_success_writes_verified_file(http_server, tmp_path):
    url = http_server.add("/corpus.txt", BODY)
    dest = download(url, tmp_path / "corpus.txt", SHA, retries=0, progress=False)
    assert dest.read_bytes() == BODY
    assert leftovers(tmp_path) == ["corpus.txt"]  # no temporary file left behind


def test_downloaded_file_is_readable_by_others(http_server, tmp_path):
    old = os.umask(0o022)
    try:
        dest = download(http_server.add("/m.txt", BODY), tmp_path / "m.txt", SHA, progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # not mkstemp's 0o600: mirrors are shared


def test_parts_left_by_a_killed_download_are_cleaned(http_server, tmp_path):
    stale, live = tmp_path / ".m.txt.abc.part", tmp_path / ".m.txt.def.part"
    stale.write_bytes(b"half")
    live.write_bytes(b"another process, still writing")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    download(http_server.add("/m.txt", BODY), tmp_path / "m.txt", SHA, progress=False)
    assert leftovers(tmp_path) == [".m.txt.def.part", "m.txt"]


def test_404_fails_at_once_naming_the_status(http_server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(http_server.url("/missing.txt"), tmp_path / "x.txt", SHA, retries=3, backoff=0)
    assert http_server.hits == ["/missing.txt"]  # a 4xx is not retried
    assert leftovers(tmp_path) == []


def test_truncated_body_is_retried_then_refused(http_server, tmp_path):
    url = http_server.add("/cut.txt", BODY, send_bytes=len(BODY) // 2)
    with pytest.raises(DownloadError, match="after 3 attempt"):
        download(url, tmp_path / "cut.txt", SHA, retries=2, backoff=0, progress=False)
    assert len(http_server.hits) == 3
    assert leftovers(tmp_path) == []  # no partial file, not even under a temporary name


def test_silent_truncation_without_length_is_caught_by_the_checksum(http_server, tmp_path):
    url = http_server.add("/nolength.txt", BODY, send_bytes=len(BODY) - 7, send_length=False)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(url, tmp_path / "n.txt", SHA, retries=0, progress=False)
    assert leftovers(tmp_path) == []


def test_progress_bar_names_the_file(http_server, tmp_path, capsys):
    url = http_server.add("/corpus.txt", BODY)
    download(url, tmp_path / "corpus.txt", SHA, retries=0, progress=True)
    assert "corpus.txt" in capsys.readouterr().err


def test_default_cache_is_the_platform_cache(monkeypatch, tmp_path):
    from lmlab.data import cache_dir

    monkeypatch.delenv("LMLAB_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_dir() == tmp_path / "xdg" / "lmlab"
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_truncated_then_complete_succeeds_on_retry(http_server, tmp_path):
    url = http_server.add("/flaky.txt", BODY, send_bytes=10)

    real = http_server.routes["/flaky.txt"]
    calls = []

    class HealOnSecondHit(dict):
        def get(self, key, default=None):
            calls.append(key)
            if len(calls) > 1:
                real.send_bytes = None
            return super().get(key, default)

    http_server.routes = HealOnSecondHit(http_server.routes)
    dest = download(url, tmp_path / "flaky.txt", SHA, retries=2, backoff=0, progress=False)
    assert dest.read_bytes() == BODY and len(calls) == 2


def test_wrong_checksum_refused_and_nothing_saved(http_server, tmp_path):
    url = http_server.add("/tampered.txt", BODY.replace(b"hear", b"HEAR"))
    with pytest.raises(DownloadError, match=f"expected sha256 {SHA}"):
        download(url, tmp_path / "t.txt", SHA, retries=2, backoff=0, progress=False)
    assert leftovers(tmp_path) == []


def test_checksum_failure_keeps_previous_good_copy(http_server, tmp_path):
    dest = tmp_path / "c.txt"
    dest.write_bytes(b"old good copy")
    url = http_server.add("/c.txt", b"evil")
    with pytest.raises(DownloadError):
        download(url, dest, SHA, retries=0, progress=False)
    assert dest.read_bytes() == b"old good copy"


def test_server_down(dead_url, tmp_path):
    with pytest.raises(DownloadError, match="could not download .* after 2 attempt"):
        download(dead_url, tmp_path / "x.txt", SHA, retries=1, backoff=0, timeout=2)
    assert leftovers(tmp_path) == []


def test_server_error_5xx_is_retried(http_server, tmp_path):
    url = http_server.add("/busy.txt", b"busy", status=503)
    with pytest.raises(DownloadError, match="after 2 attempt"):
        download(url, tmp_path / "b.txt", SHA, retries=1, backoff=0, progress=False)
    assert len(http_server.hits) == 2


@pytest.mark.parametrize("url", ["http://example.com/x.txt", "ftp://127.0.0.1/x", "file:///etc/passwd"])
def test_only_https_leaves_the_machine(url, tmp_path):
    with pytest.raises(ValueError, match="only https"):
        download(url, tmp_path / "x", SHA)


def test_negative_retries_rejected(http_server, tmp_path):
    with pytest.raises(ValueError, match="retries"):
        download(http_server.url("/a"), tmp_path / "a", SHA, retries=-1)


@pytest.fixture
def served_corpus(http_server, isolated_data, monkeypatch):
    """Register a corpus whose upstream is the local server, online."""
    corpus = reg.Corpus(name="tiny_test", description="test", filename="tiny_test.txt",
                        url=http_server.add("/tiny_test.txt", BODY), sha256=SHA, size=len(BODY),
                        source="local test server", license="-", language="en")
    monkeypatch.setitem(reg.CORPORA, "tiny_test", corpus)
    monkeypatch.delenv("LMLAB_OFFLINE")
    return corpus


def test_fetch_downloads_into_cache_once(served_corpus, http_server, isolated_data):
    path = fetch("tiny_test", progress=False)
    assert path == isolated_data / "tiny_test.txt"
    assert load_text("tiny_test") == BODY.decode()
    assert fetch("tiny_test") == path
    assert http_server.hits == ["/tiny_test.txt"]  # the second time came from the cache


def test_fetch_replaces_corrupt_cache(served_corpus, http_server, isolated_data):
    (isolated_data / "tiny_test.txt").write_bytes(b"corrupted")
    assert fetch("tiny_test", progress=False).read_bytes() == BODY
    assert http_server.hits == ["/tiny_test.txt"]


def test_mirror_is_consulted_first(served_corpus, http_server, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "tiny_test.txt").write_bytes(BODY)
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    assert fetch("tiny_test") == mirror / "tiny_test.txt"
    assert http_server.hits == []


def test_corrupt_mirror_copy_is_named(served_corpus, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "tiny_test.txt").write_bytes(b"not it")
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    with pytest.raises(ValueError, match="does not match the registered sha256"):
        fetch("tiny_test")


def test_missing_mirror_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="LMLAB_DATA_DIR=.*nope.* is not a folder"):
        fetch("tiny_shakespeare")


def test_offline_and_not_cached_says_how_to_fix(served_corpus, monkeypatch):
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="lmlab data fetch tiny_test.*LMLAB_DATA_DIR"):
        load_text("tiny_test")


def test_unreachable_and_not_cached_says_how_to_fix(served_corpus, dead_url, monkeypatch):
    monkeypatch.setitem(reg.CORPORA, "tiny_test", dataclasses.replace(served_corpus, url=dead_url))
    with pytest.raises(FileNotFoundError, match="could not be downloaded.*lmlab data fetch tiny_test"):
        fetch("tiny_test", retries=0)


def test_fallback_prints_a_note_and_names_the_corpus_used(served_corpus, monkeypatch, capsys):
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    text, used = load_text_or_fallback("tiny_test")
    assert used == "wiki_sample" and len(text.split()) > 100_000
    out = capsys.readouterr().out
    assert "note: corpus 'tiny_test' is not available" in out and "wiki_sample" in out


def test_fallback_returns_the_real_corpus_when_available(served_corpus, capsys):
    text, used = load_text_or_fallback("tiny_test")
    assert (text, used) == (BODY.decode(), "tiny_test")
    assert "note:" not in capsys.readouterr().out


def test_fallback_does_not_hide_a_typo(isolated_data):
    with pytest.raises(ValueError, match="unknown corpus 'tiny_shakespear'"):
        load_text_or_fallback("tiny_shakespear")


def test_unknown_host_fails_fast_without_retries(monkeypatch, tmp_path):
    import socket
    import urllib.error
    import urllib.request

    calls = []

    def no_dns(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", no_dns)
    with pytest.raises(DownloadError, match="after 1 attempt") as err:
        download("http://127.0.0.1:9/x.txt", tmp_path / "x.txt", SHA, retries=3, backoff=0)
    assert len(calls) == 1 and "Name or service not known" in err.value.reason

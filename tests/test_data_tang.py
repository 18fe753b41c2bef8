"""The Tang poems, downloadable: 58 upstream files fetched one by one (verified, resumable), then assembled
into the mirror's file; tested against 127.0.0.1 with small fake files and their own manifest."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import urllib.parse

import pytest

from lmlab.data import fetch
from lmlab.data import registry as reg
from lmlab.data.assemble import read_manifest

POEMS = [[{"title": f"詩{i}-{j}", "author": "李白", "paragraphs": [f"床前明月光{i}，疑是地上霜{j}。"],
           "id": f"x{i}{j}"} for j in range(3)] for i in range(3)]
FILES = {f"全唐诗/poet.tang.{i * 1000}.json": json.dumps(p, ensure_ascii=False, indent=1).encode() for i, p in
         enumerate(POEMS)}
CONTENT = b"".join((json.dumps({k: p[k] for k in ("title", "author", "paragraphs")}, ensure_ascii=False)
                    + "\n").encode() for ps in POEMS for p in ps)


@pytest.fixture
def tang(http_server, isolated_data, tmp_path, monkeypatch):
    """tang_poems pointed at a local server with three fake files and a manifest listing them."""
    manifest = tmp_path / "fake.upstream.tsv"
    manifest.write_text("path\tbytes\tsha256\n" + "".join(
        f"{p}\t{len(b)}\t{hashlib.sha256(b).hexdigest()}\n" for p, b in FILES.items()), encoding="utf-8")
    corpus = dataclasses.replace(reg.CORPORA["tang_poems"], url=http_server.base + "/pinned",
                                 manifest=str(manifest), content_sha256=hashlib.sha256(CONTENT).hexdigest())
    monkeypatch.setitem(reg.CORPORA, "tang_poems", corpus)
    monkeypatch.setenv("LMLAB_OFFLINE", "0")
    return http_server


def serve(server, path, body=None, **kw):
    server.add("/pinned/" + urllib.parse.quote(path), FILES[path] if body is None else body, **kw)


def test_assembles_the_poems_and_caches_them(tang, isolated_data):
    for path in FILES:
        serve(tang, path)
    out = fetch("tang_poems", progress=False, retries=0)
    assert out == isolated_data / "tang_poems.jsonl.gz"
    assert gzip.decompress(out.read_bytes()) == CONTENT  # the recipe: title, author, paragraphs, in order
    assert not (isolated_data / "tang_poems.jsonl.gz.parts").exists()  # parts removed once assembled
    hits = len(tang.hits)
    assert fetch("tang_poems") == out and len(tang.hits) == hits  # cached, verified by its content sha256
    from lmlab.data import load_tang_poems

    assert load_tang_poems("simplified")[0]["title"] == "诗0-0"


def test_wrong_checksum_names_the_file_and_saves_nothing(tang, isolated_data):
    for path in FILES:
        serve(tang, path)
    bad = FILES["全唐诗/poet.tang.1000.json"].replace("李白".encode(), b"??")
    serve(tang, "全唐诗/poet.tang.1000.json", bad)
    with pytest.raises(FileNotFoundError, match=r"poet\.tang\.1000\.json.*checksum mismatch"):
        fetch("tang_poems", progress=False, retries=0)
    assert not (isolated_data / "tang_poems.jsonl.gz").exists()
    kept = sorted(p.name for p in (isolated_data / "tang_poems.jsonl.gz.parts").iterdir())
    assert kept == ["poet.tang.0.json"]


def test_missing_file_is_named_with_its_status(tang, isolated_data):
    serve(tang, "全唐诗/poet.tang.0.json")
    with pytest.raises(FileNotFoundError, match=r"poet\.tang\.1000\.json: HTTP 404"):
        fetch("tang_poems", progress=False, retries=0)
    assert not (isolated_data / "tang_poems.jsonl.gz").exists()


def test_cut_short_body_is_retried_then_refused(tang, isolated_data):
    for path in FILES:
        serve(tang, path)
    cut = "全唐诗/poet.tang.2000.json"
    serve(tang, cut, send_bytes=len(FILES[cut]) // 2)
    with pytest.raises(FileNotFoundError, match=r"poet\.tang\.2000\.json"):
        fetch("tang_poems", progress=False, retries=1, timeout=5)
    quoted = "/pinned/" + urllib.parse.quote(cut)
    assert tang.hits.count(quoted) == 2  # one retry
    assert not (isolated_data / "tang_poems.jsonl.gz").exists()


def test_resume_downloads_only_what_is_missing(tang, isolated_data):
    serve(tang, "全唐诗/poet.tang.0.json")
    serve(tang, "全唐诗/poet.tang.1000.json")
    with pytest.raises(FileNotFoundError, match="run the same command again to resume"):
        fetch("tang_poems", progress=False, retries=0)
    serve(tang, "全唐诗/poet.tang.2000.json")  # the server is back
    before = list(tang.hits)
    out = fetch("tang_poems", progress=False, retries=0)
    assert gzip.decompress(out.read_bytes()) == CONTENT
    assert tang.hits[len(before):] == ["/pinned/" + urllib.parse.quote("全唐诗/poet.tang.2000.json")]


def test_assembled_content_is_checked(tang, isolated_data, monkeypatch):
    for path in FILES:
        serve(tang, path)
    monkeypatch.setitem(reg.CORPORA, "tang_poems",
                        dataclasses.replace(reg.CORPORA["tang_poems"], content_sha256="0" * 64))
    with pytest.raises(FileNotFoundError, match="content checksum mismatch"):
        fetch("tang_poems", progress=False, retries=0)
    assert [p.name for p in isolated_data.iterdir() if p.name.startswith(("tang", ".tang"))] == [
        "tang_poems.jsonl.gz.parts"]  # verified parts kept, no half-built corpus


def test_list_shows_tang_poems_downloadable(isolated_data, capsys):
    from lmlab.cli import main

    assert main(["data", "list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tang_poems "))
    assert "no: download" in line and "raw.githubusercontent.com/chinese-poetry" in line


def test_shipped_manifest_pins_the_58_upstream_files():
    parts = read_manifest(reg.CORPORA["tang_poems"].manifest)
    assert len(parts) == 58 and parts[0].path == "全唐诗/poet.tang.0.json"
    assert [int(p.path.split(".")[-2]) for p in parts] == list(range(0, 58_000, 1000))
    assert sum(p.size for p in parts) > 20_000_000 and all(len(p.sha256) == 64 for p in parts)
    url = reg.CORPORA["tang_poems"].url
    assert url.startswith("https://") and "99ebbef7e1345c0985c44b9fd96a3f9e776f117b" in url


# ---------------------------------------------------------------- issue 12: a failing cached copy is kept

@pytest.fixture
def small(http_server, isolated_data, monkeypatch):
    body = b"the good bytes\n" * 100
    corpus = reg.Corpus(name="tiny_cached", description="test", filename="tiny_cached.txt", source="test",
                        license="test", language="en", url=http_server.url("/tiny.txt"),
                        sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    monkeypatch.setitem(reg.CORPORA, "tiny_cached", corpus)
    cached = isolated_data / "tiny_cached.txt"
    cached.write_bytes(b"an older or damaged copy\n")
    return http_server, body, cached


def test_offline_a_failing_cached_copy_is_kept(small, monkeypatch):
    _server, _body, cached = small
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="fails its sha256 check and is kept"):
        fetch("tiny_cached")
    assert cached.read_bytes() == b"an older or damaged copy\n"


def test_a_failing_cached_copy_survives_a_bad_download(small, monkeypatch):
    server, body, cached = small
    monkeypatch.setenv("LMLAB_OFFLINE", "0")
    server.add("/tiny.txt", body.replace(b"good", b"evil"))
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        fetch("tiny_cached", retries=0, progress=False)
    assert cached.read_bytes() == b"an older or damaged copy\n"
    server.add("/tiny.txt", body)
    assert fetch("tiny_cached", retries=0, progress=False).read_bytes() == body  # replaced once verified

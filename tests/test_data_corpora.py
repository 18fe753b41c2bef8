"""Corpora: registry, own files, the built-in offline corpus, evaluation sets, splits, Tang poems."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from pathlib import Path

import pytest

from lmlab.data import (
    CORPORA,
    eval_set_path,
    list_corpora,
    load_splits,
    load_tang_poems,
    load_text,
    poems_to_text,
    train_val_split,
)

SHARED = Path(os.environ.get("LMLAB_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mirror = pytest.mark.skipif(not (SHARED / "tinyshakespeare.txt").exists(),
                                  reason="the shared offline mirror (../shared/data) is not on this machine")


def test_registry_has_the_promised_corpora():
    assert {"tiny_shakespeare", "tang_poems", "text8", "wikitext2", "wiki_sample"} <= set(CORPORA)
    for corpus in CORPORA.values():
        if not corpus.builtin:
            assert corpus.sha256 and len(corpus.sha256) == 64 and corpus.size
        if corpus.url:
            assert corpus.url.startswith("https://")
    assert CORPORA["text8"].url and CORPORA["wikitext2"].url  # online only


def test_own_txt_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("naïve café 中文 🙂\r\nline two\n", encoding="utf-8")
    assert load_text(path) == "naïve café 中文 🙂\nline two\n"
    assert load_text(str(path)) == load_text(path)


def test_own_txt_gz_file(tmp_path):
    path = tmp_path / "mine.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("床前明月光\n")
    assert load_text(path) == "床前明月光\n"


@pytest.mark.parametrize("make, error, match", [
    (lambda p: p / "missing.txt", FileNotFoundError, "no such corpus file"),
    (lambda p: p, ValueError, "is a folder"),
    (lambda p: _write(p / "data.csv", b"a,b"), ValueError, r"not a \.txt or \.txt\.gz"),
    (lambda p: _write(p / "latin1.txt", "café".encode("latin-1")), ValueError, "not valid UTF-8.*iconv"),
    (lambda p: _write(p / "empty.txt", b"  \n"), ValueError, "is empty"),
    (lambda p: _write(p / "fake.txt.gz", b"plain"), ValueError, "not a gzip file"),
])
def test_bad_files_get_clear_errors(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        load_text(make(tmp_path))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'.*tiny_shakespeare.*own UTF-8"):
        load_text("shakespeare")
    with pytest.raises(ValueError, match="did you mean 'tiny_shakespeare'"):
        load_text("tiny_shakspeare")


def test_name_given_as_path_object(isolated_data):
    assert load_text(Path("wiki_sample")) == load_text("wiki_sample")


def test_wiki_sample_is_clean_lower_case_words(isolated_data):
    text = load_text("wiki_sample")
    words = text.split()
    assert 300_000 < len(words) < 600_000
    assert text == text.lower()
    assert all(w.isalpha() for w in words[:5000])
    assert {"the", "of", "king", "queen", "man", "woman"} <= set(words)
    assert "<" not in text and "[[" not in text and "{{" not in text  # markup stripped


def test_wiki_sample_is_built_once_and_cached(tmp_path, monkeypatch, wiki_sample_file):
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path))
    cached = tmp_path / CORPORA["wiki_sample"].filename
    cached.write_text("prebuilt words only\n", encoding="utf-8")
    assert load_text("wiki_sample") == "prebuilt words only\n"  # read from cache, not rebuilt


@pytest.mark.parametrize("name, first", [
    ("google_analogies", ": capital-common-countries"),
    ("wordsim353", "#"),
    ("simlex999", "#"),
])
def test_eval_sets_ship_with_gensim(name, first):
    path = eval_set_path(name)
    assert path.read_text(encoding="utf-8").startswith(first)


def test_eval_set_alias():
    assert eval_set_path("analogies") == eval_set_path("google_analogies")


def test_unknown_eval_set():
    with pytest.raises(ValueError, match="unknown evaluation set 'simlex'.*simlex999"):
        eval_set_path("simlex")


def test_train_val_split_is_first_90_percent():
    train, val = train_val_split("abcdefghij", 0.9)
    assert (train, val) == ("abcdefghi", "j")
    with pytest.raises(ValueError, match="train_fraction"):
        train_val_split("abc", 1.0)


def test_poems_to_text_format():
    a, b, c = "床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。", "白日依山盡，黃河入海流。"
    poems = [{"title": "t", "author": "x", "paragraphs": [a, b]},
             {"title": "u", "author": "y", "paragraphs": [c]},
             {"title": "empty", "author": "z", "paragraphs": []}]
    assert poems_to_text(poems) == f"{a}\n{b}\n\n{c}\n"


def test_tang_poems_from_a_mirror(tmp_path, monkeypatch):
    import hashlib

    from lmlab.data import registry as reg

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path = mirror / "tang_poems.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"title": "靜夜思", "author": "李白", "paragraphs": ["床前明月光，疑是地上霜。"]},
                           ensure_ascii=False) + "\n")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(reg.CORPORA, "tang_poems", dataclasses.replace(reg.CORPORA["tang_poems"], sha256=sha))
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    poem = {"title": "靜夜思", "author": "李白", "paragraphs": ["床前明月光，疑是地上霜。"]}
    assert load_tang_poems() == [poem]
    assert load_text("tang_poems") == "床前明月光，疑是地上霜。\n"
    monkeypatch.setitem(reg.CORPORA, "tang_poems_simplified",
                        dataclasses.replace(reg.CORPORA["tang_poems_simplified"], sha256=sha))
    assert load_tang_poems("simplified") == [{"title": "静夜思", "author": "李白",
                                              "paragraphs": ["床前明月光，疑是地上霜。"]}]
    with pytest.raises(ValueError, match="unknown script 'pinyin'"):
        load_tang_poems("pinyin")


def test_simplified_conversion():
    from lmlab.data import to_simplified

    assert to_simplified(["舉頭望明月", "低頭思故鄉", ""]) == ["举头望明月", "低头思故乡", ""]


def test_tang_poems_without_mirror_explains(isolated_data):
    with pytest.raises(FileNotFoundError, match="LMLAB_OFFLINE is set.*'lmlab data fetch tang_poems'"):
        load_tang_poems()


def test_list_corpora_reports_availability(isolated_data):
    rows = {r["name"]: r for r in list_corpora()}
    assert rows["wiki_sample"]["available"] == "cache"
    assert rows["text8"]["available"] is None and rows["text8"]["url"].startswith("https://")
    assert rows["tiny_shakespeare"]["size"] == 1_115_394


@needs_mirror
def test_real_mirror_tiny_shakespeare_and_nanogpt_split(monkeypatch):
    monkeypatch.setenv("LMLAB_DATA_DIR", str(SHARED))
    text = load_text("tiny_shakespeare")
    assert len(text) == 1_115_394 and len(set(text)) == 65
    train, val = load_splits("tiny_shakespeare")
    assert (len(train), len(val)) == (1_003_854, 111_540)
    assert {r["name"]: r["available"] for r in list_corpora()}["tiny_shakespeare"] == "mirror"


@needs_mirror
def test_real_mirror_tang_poems(monkeypatch):
    monkeypatch.setenv("LMLAB_DATA_DIR", str(SHARED))
    poems = load_tang_poems()
    assert len(poems) == 57_607
    assert set(poems[0]) == {"title", "author", "paragraphs"}
    text = load_text("tang_poems")
    assert text.count("\n\n") == sum(1 for p in poems if p["paragraphs"]) - 1
    simplified = load_text("tang_poems_simplified")
    assert len(simplified) == len(text) and "舉頭" in text
    assert "举头" in simplified and "舉頭" not in simplified


def _mirror_with(tmp_path, monkeypatch, name: str, write) -> Path:
    """A mirror holding a stand-in file for ``name`` (registry sha256 pointed at it)."""
    import hashlib

    from lmlab.data import registry as reg

    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    path = mirror / reg.CORPORA[name].filename
    write(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(reg.CORPORA, name, dataclasses.replace(reg.CORPORA[name], sha256=sha))
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    return path


def test_wikitext2_zip_official_splits(tmp_path, monkeypatch):
    import zipfile

    def write(path):
        with zipfile.ZipFile(path, "w") as zf:
            for split in ("train", "valid", "test"):
                zf.writestr(f"wikitext-2-raw/wiki.{split}.raw", f" = {split} = \r\n text of {split}\r\n")

    _mirror_with(tmp_path, monkeypatch, "wikitext2", write)
    assert load_text("wikitext2") == "".join(f" = {s} = \n text of {s}\n" for s in ("train", "valid", "test"))
    train, val = load_splits("wikitext2")
    assert (train, val) == (" = train = \n text of train\n", " = valid = \n text of valid\n")


def test_text8_zip_member(tmp_path, monkeypatch):
    import zipfile

    def write(path):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("text8", " anarchism originated as a term of abuse")

    _mirror_with(tmp_path, monkeypatch, "text8", write)
    assert load_text("text8").split()[:2] == ["anarchism", "originated"]


def test_own_file_split_is_90_10(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("0123456789" * 10, encoding="utf-8")
    train, val = load_splits(path)
    assert (len(train), len(val)) == (90, 10)

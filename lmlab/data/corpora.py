"""Load a corpus as text: by registered name (mirror, then cache, then download) or from your own file.

Where a named corpus comes from, in order:
1. ``$LMLAB_DATA_DIR/<file>`` (an offline mirror; checked against the registered sha256),
2. the cache (``$LMLAB_CACHE_DIR`` or the platform cache folder),
3. a download into the cache (https, sha256-verified, atomic), unless ``LMLAB_OFFLINE=1``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from lmlab.data.builtin import WIKI_DUMP, build_wiki_sample, gensim_test_data
from lmlab.data.download import DownloadError, cache_dir, download, mirror_dir, sha256_file
from lmlab.data.registry import CORPORA, FALLBACK, Corpus, get_corpus, get_unknown_message
from lmlab.i18n import _

_verified: dict[tuple, str] = {}  # (path, size, mtime_ns) -> sha256, hashed once per run


def offline() -> bool:
    """True when ``LMLAB_OFFLINE`` is set to 1/true/yes: never try the network."""
    return os.environ.get("LMLAB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _sha256_cached(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_file(path)
    return _verified[key]


def _verify(corpus: Corpus, path: Path) -> bool:
    """The registered file, or (for a corpus rebuilt from upstream) a gzip file with the same content."""
    if corpus.sha256 is None or _sha256_cached(path) == corpus.sha256:
        return True
    if corpus.content_sha256 is None:
        return False
    from lmlab.data.assemble import gzip_content_sha256

    st = path.stat()
    key = ("content", str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        try:
            _verified[key] = gzip_content_sha256(path)
        except (OSError, EOFError):  # not gzip, or cut short
            _verified[key] = ""
    return _verified[key] == corpus.content_sha256


def local_path(name: str) -> tuple[Path, str] | None:
    """Where a registered corpus already is on this machine, as (path, 'mirror'|'cache'|'built-in')."""
    corpus = get_corpus(name)
    if corpus.builtin:
        mirror = mirror_dir()
        if mirror is not None and (mirror / corpus.filename).exists():
            return mirror / corpus.filename, "mirror"
        cached = cache_dir() / corpus.filename
        if cached.exists():
            return cached, "cache"
        return (gensim_test_data() / WIKI_DUMP, "built-in") if (gensim_test_data() / WIKI_DUMP).exists() \
            else None
    mirror = mirror_dir()
    if mirror is not None and (mirror / corpus.filename).exists():
        return mirror / corpus.filename, "mirror"
    if (cache_dir() / corpus.filename).exists():
        return cache_dir() / corpus.filename, "cache"
    return None


def fetch(name: str, *, progress: bool | None = None, retries: int = 3, timeout: float = 30.0) -> Path:
    """Path to a registered corpus file: from the mirror, the cache, or downloaded into the cache."""
    corpus = get_corpus(name)
    mirror = mirror_dir()
    if corpus.builtin:  # a classroom mirror may carry it ready-made; else build it once into the cache
        if mirror is not None and (mirror / corpus.filename).exists():
            return mirror / corpus.filename
        path = cache_dir() / corpus.filename
        return path if path.exists() else build_wiki_sample(path)
    if mirror is not None and (mirror / corpus.filename).exists():
        path = mirror / corpus.filename
        if not _verify(corpus, path):
            raise ValueError(f"{path} does not match the registered sha256 of {name!r} ({corpus.sha256}); "
                             "the mirror copy is corrupt or another version: replace it with "
                             f"'lmlab data fetch {name}' run online")
        return path
    cached = cache_dir() / corpus.filename
    corrupt = cached.exists() and not _verify(corpus, cached)
    if cached.exists() and not corrupt:
        return cached
    # a corrupt or outdated cached copy stays until a verified one replaces it (download renames over it)
    kept = (f" (the cached copy {cached} fails its sha256 check and is kept until a verified one "
            "replaces it)") if corrupt else ""
    how = _("run 'lmlab data fetch {name}' on a machine that is online and copy {filename} into "
            "LMLAB_DATA_DIR, or set LMLAB_DATA_DIR to a mirror that has it").format(name=name,
                                                                                   filename=corpus.filename)
    if corpus.url is None:
        raise FileNotFoundError(f"corpus {name!r} is not downloadable (source: {corpus.source}); put "
                                f"{corpus.filename} in a folder and set LMLAB_DATA_DIR to it")
    if offline():
        raise FileNotFoundError(_("corpus {name!r} is not in the mirror or the cache ({cache}) and "
                                  "LMLAB_OFFLINE is set{kept}; unset LMLAB_OFFLINE, or {how}").format(
            name=name, cache=cache_dir(), kept=kept, how=how))
    try:
        if corpus.manifest:  # rebuilt from many verified upstream files, resumable
            from lmlab.data.assemble import assemble

            return assemble(corpus.url, corpus.manifest, cached, corpus.content_sha256 or "",
                            progress=progress, retries=retries, timeout=timeout)
        return download(corpus.url, cached, corpus.sha256, progress=progress, retries=retries,
                        timeout=timeout)
    except DownloadError as err:
        raise FileNotFoundError(f"corpus {name!r} is not cached and could not be downloaded "
                                f"({err.reason}){kept}. To fix: {how}.") from None


def _read_path(path: Path) -> str:
    """A user's UTF-8 .txt or .txt.gz file as text (newlines normalised to \\n)."""
    name = path.name.lower()
    if not (name.endswith(".txt") or name.endswith(".txt.gz")):
        raise ValueError(f"{str(path)!r} is not a .txt or .txt.gz file; save your corpus as UTF-8 plain "
                         "text with a .txt (or gzip-compressed .txt.gz) name")
    try:
        if name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                text = f.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not valid UTF-8 (byte {err.start}: {err.reason}); convert it first, "
                         "e.g. iconv -f latin1 -t utf-8 in.txt > out.txt") from None
    except gzip.BadGzipFile:
        raise ValueError(f"{path} is not a gzip file although its name ends in .gz; "
                         "rename it to .txt or compress it with gzip") from None
    if not text.strip():
        raise ValueError(f"{path} is empty; a corpus needs some text")
    return text


def poems_to_text(poems: list[dict[str, Any]]) -> str:
    """One verse line per line, a blank line between poems (titles and authors left out)."""
    return "\n\n".join("\n".join(p["paragraphs"]) for p in poems if p.get("paragraphs")) + "\n"


def _read_registered(corpus: Corpus, path: Path) -> str:
    if corpus.filename == CORPORA["tang_poems"].filename:
        return poems_to_text(_read_poems(path, corpus.variant or "traditional"))
    if corpus.filename.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            members = (corpus.member or zf.namelist()[0]).split(",")
            return "".join(io.TextIOWrapper(zf.open(m), encoding="utf-8", newline=None).read()
                           for m in members)
    if corpus.filename.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_text(name_or_path: str | os.PathLike, *, retries: int = 3, timeout: float = 30.0) -> str:
    """A whole corpus as one string, by registered name (``lmlab data list``) or path to a UTF-8 file.

    ``tang_poems`` comes as one verse line per line with a blank line between poems; ``wiki_sample`` as
    one article per line of lower-cased words; ``wikitext2`` as its train, valid and test files joined.
    """
    key = os.fspath(name_or_path)
    if key in CORPORA:
        corpus = CORPORA[key]
        return _read_registered(corpus, fetch(key, retries=retries, timeout=timeout))
    path = Path(key).expanduser()
    if path.is_file():
        return _read_path(path)
    if path.exists():
        raise ValueError(f"{key!r} is a folder; pass a .txt or .txt.gz file or a registered corpus name")
    if os.sep in key or "." in Path(key).name:
        raise FileNotFoundError(f"no such corpus file: {key!r}; check the path, or use a registered "
                                f"corpus name: {', '.join(CORPORA)}")
    raise ValueError(get_unknown_message(key))


def load_text_or_fallback(name: str | os.PathLike, fallback: str = FALLBACK) -> tuple[str, str]:
    """``(text, name used)``: the corpus asked for, or the built-in offline corpus with a printed note.

    Falls back only when the corpus cannot be had (not in the mirror, not cached, not downloadable);
    a bad name or a corrupt file still raises, since falling back would hide a mistake.
    """
    try:  # one quick retry: a notebook without network should reach its fallback in seconds
        return load_text(name, retries=1, timeout=10.0), os.fspath(name)
    except FileNotFoundError as err:
        if os.fspath(name) not in CORPORA:
            raise
        print(_("note: corpus {name!r} is not available here; using the built-in offline corpus {fallback!r} "
                "instead (results will differ).").format(name=os.fspath(name), fallback=fallback)
              + "\n      " + _("why: {err}").format(err=err), flush=True)
        return load_text(fallback), fallback


SCRIPTS = ("traditional", "simplified")


def edition_script(script: str | None = None) -> str:
    """``script`` when given, else the edition's: "simplified" in the Chinese edition (``LMLAB_LANG=zh``,
    which ``setup(lang="zh")`` sets), "traditional" (the collection's own characters) in the English one.
    Every function that reads the Tang poems takes ``script=None`` and asks here, so one edition reads one
    script end to end: pre-training, fine-tuning, examples and widgets."""
    if script is None:
        from lmlab.i18n import lang

        return "simplified" if lang() == "zh" else "traditional"
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; use 'traditional' (as collected) or 'simplified'")
    return script


def tang_poems_name(script: str | None = None) -> str:
    """The registered name of the Tang poems in ``script`` (default: the edition's): ``tang_poems`` or
    ``tang_poems_simplified``."""
    return "tang_poems_simplified" if edition_script(script) == "simplified" else "tang_poems"


def to_simplified(texts: list[str]) -> list[str]:
    """Traditional to simplified Chinese characters with OpenCC's ``t2s`` table (舉頭 -> 举头)."""
    import opencc

    converter = opencc.OpenCC("t2s")
    # one call over the joined text rather than one per line (\x00 does not occur in the poems)
    joined = converter.convert("\x00".join(texts))
    out = joined.split("\x00")
    if len(out) != len(texts):  # pragma: no cover - OpenCC keeps control characters
        return [converter.convert(t) for t in texts]
    return out


def _read_poems(path: Path, script: str = "traditional") -> list[dict[str, Any]]:
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; use 'traditional' (as collected) or 'simplified'")
    poems = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                poems.append({"title": d.get("title", ""), "author": d.get("author", ""),
                              "paragraphs": list(d.get("paragraphs", []))})
    if script == "simplified":
        flat = [s for p in poems for s in (p["title"], p["author"], *p["paragraphs"])]
        it = iter(to_simplified(flat))
        poems = [{"title": next(it), "author": next(it), "paragraphs": [next(it) for _ in p["paragraphs"]]}
                 for p in poems]
    return poems


def load_tang_poems(script: str | None = None) -> list[dict[str, Any]]:
    """The 57,607 Tang poems as dicts with ``title``, ``author`` and ``paragraphs`` (verse lines),
    in the collection's traditional characters or converted to ``script="simplified"`` (default: the
    edition's script, :func:`edition_script`)."""
    script = edition_script(script)
    return _read_poems(fetch("tang_poems"), script)


def tang_poems_or_builtin(builtin: list[list[str]], script: str | None = None) -> tuple[list[Any], str]:
    """(poems, name used): the Tang poems in ``script`` (default: the edition's), or, when they are not
    available here, the ``builtin`` poems (lists of couplets, in ``script``) with a note saying so."""
    script = edition_script(script)
    try:
        return load_tang_poems(script), tang_poems_name(script)
    except FileNotFoundError as err:
        print(_("note: the Tang-poem corpus is not available here; using the 18 built-in quatrains instead "
                "(enough to run the code, far too few to learn poetry).")
              + "\n      " + _("why: {err}").format(err=err), flush=True)
        return [to_simplified(p) for p in builtin] if script == "simplified" else builtin, "builtin_poems"


def train_val_split(text: str, train_fraction: float = 0.9) -> tuple[str, str]:
    """First ``train_fraction`` of the characters for training, the rest for validation (as nanoGPT)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be between 0 and 1 (exclusive), got {train_fraction}")
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]


def load_splits(name_or_path: str | os.PathLike) -> tuple[str, str]:
    """The standard (train, validation) split of a corpus.

    wikitext2 uses its official train / valid files; text8 the first 90 M / next 5 M characters
    (Mikolov's split); every other corpus, and your own files, the first 90% / last 10% of characters.
    """
    key = os.fspath(name_or_path)
    if key == "wikitext2":
        corpus = CORPORA[key]
        with zipfile.ZipFile(fetch(key)) as zf:
            train_m, valid_m = corpus.member.split(",")[:2]
            train, val = (io.TextIOWrapper(zf.open(m), encoding="utf-8", newline=None).read()
                          for m in (train_m, valid_m))
        return train, val
    text = load_text(name_or_path)
    if key == "text8":
        return text[:90_000_000], text[90_000_000:95_000_000]
    return train_val_split(text, 0.9)


def list_corpora() -> list[dict[str, Any]]:
    """Every registered corpus: name, description, size, where it is available offline, source, url."""
    rows = []
    for corpus in CORPORA.values():
        try:
            where = local_path(corpus.name)
        except FileNotFoundError:  # LMLAB_DATA_DIR set to a missing folder
            where = None
        size = corpus.size
        if size is None and where and where[1] != "built-in":
            size = where[0].stat().st_size  # a built corpus: report what is on disk
        rows.append({
            "name": corpus.name, "description": corpus.description, "size": size,
            "available": where[1] if where else None, "path": str(where[0]) if where else None,
            "source": corpus.source, "url": corpus.url, "license": corpus.license,
            "language": corpus.language,
        })
    return rows

"""The corpora lmlab knows by name: where each comes from, its size, its checksum, its licence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Corpus:
    """One registered corpus.

    ``filename`` is the file's name in the mirror (``$LMLAB_DATA_DIR``) and in the cache; ``sha256`` and
    ``size`` are of that file. ``url`` is None for a corpus that is only available from a mirror, and
    ``builtin`` marks a corpus built on this machine from data shipped by an installed package.
    """

    name: str
    description: str
    filename: str
    source: str
    license: str
    language: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    builtin: bool = False
    member: str | None = None  # for a .zip: the member(s) holding the text, comma separated
    variant: str | None = None  # a view of another corpus's file, e.g. "simplified" Chinese characters
    manifest: str | None = None  # rebuilt from many upstream files under ``url`` (lmlab.data.assemble)
    content_sha256: str | None = None  # sha256 of a .gz file's uncompressed bytes (a rebuilt copy's check)


# chinese-poetry at commit 99ebbef (2026-05-06); the 58 files and their sha256s: tang_poems.upstream.tsv
TANG_POEMS_UPSTREAM = ("https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/"
                       "99ebbef7e1345c0985c44b9fd96a3f9e776f117b")
TANG_POEMS_CONTENT = "7cba48fef237fa10c5f54f2b81838e8b467e2b3f95b73183369ea792e10d14ad"  # uncompressed

CORPORA: dict[str, Corpus] = {c.name: c for c in [
    Corpus(
        name="tiny_shakespeare",
        description="Tiny Shakespeare: 40,000 lines of plays, 1.1 M characters, 65 symbols",
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
        source="karpathy/char-rnn (data/tinyshakespeare/input.txt)",
        license="public domain (Shakespeare); compiled by Andrej Karpathy",
        language="en",
    ),
    Corpus(
        name="tang_poems",
        description="57,607 Tang poems (全唐诗, traditional characters), 3.67 M characters",
        filename="tang_poems.jsonl.gz",
        url=TANG_POEMS_UPSTREAM,
        sha256="370f84e4e3f2c7a44f6491ab37ebeb720a38598f810916b62fbde7283cd4db92",
        size=6_918_461,
        manifest="tang_poems.upstream.tsv",
        content_sha256=TANG_POEMS_CONTENT,
        source="chinese-poetry/chinese-poetry (全唐诗/poet.tang.*.json, 58 files at a pinned commit), "
               "one JSON poem a line",
        license="MIT (chinese-poetry)",
        language="zh",
    ),
    Corpus(
        name="tang_poems_simplified",
        description="the same 57,607 Tang poems in simplified characters (converted with OpenCC t2s)",
        filename="tang_poems.jsonl.gz",
        url=TANG_POEMS_UPSTREAM,
        sha256="370f84e4e3f2c7a44f6491ab37ebeb720a38598f810916b62fbde7283cd4db92",
        size=6_918_461,
        manifest="tang_poems.upstream.tsv",
        content_sha256=TANG_POEMS_CONTENT,
        source="tang_poems, converted on load",
        license="MIT (chinese-poetry)",
        language="zh",
        variant="simplified",
    ),
    Corpus(
        name="text8",
        description="text8: first 10^8 bytes of cleaned English Wikipedia (Mahoney), 17 M words",
        filename="text8.zip",
        url="https://mattmahoney.net/dc/text8.zip",
        sha256="a6640522afe85d1963ad56c05b0ede0a0c000dddc9671758a6cc09b7a38e5232",
        size=31_344_016,
        member="text8",
        source="Matt Mahoney, mattmahoney.net/dc/textdata.html",
        license="CC BY-SA (Wikipedia text)",
        language="en",
    ),
    Corpus(
        name="wikitext2",
        description="WikiText-2 (raw): 2 M words of Good/Featured articles, official splits",
        filename="wikitext-2-raw-v1.zip",
        url=("https://huggingface.co/datasets/ggml-org/ci/resolve/"
             "927b3642933080f1b0e811e2f916e14c292992f9/wikitext-2-raw-v1.zip"),
        sha256="ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11",
        size=4_721_645,
        member="wikitext-2-raw/wiki.train.raw,wikitext-2-raw/wiki.valid.raw,wikitext-2-raw/wiki.test.raw",
        source="Merity et al. 2016 (Salesforce), copy pinned in huggingface.co/datasets/ggml-org/ci",
        license="CC BY-SA 3.0",
        language="en",
    ),
    Corpus(
        name="wiki_sample",
        description="built-in offline English: gensim's shortened Wikipedia dump, cleaned, lower-cased words "
                    "(~470 k words, one article a line)",
        filename="wiki_sample-v1.txt",
        builtin=True,
        source="gensim test data (enwiki-latest-pages-articles1...-shortened.bz2), built on first use",
        license="CC BY-SA (Wikipedia text)",
        language="en",
    ),
]}

# The corpus every notebook falls back to when the one it asked for cannot be had offline.
FALLBACK = "wiki_sample"


def get_corpus(name: str) -> Corpus:
    """The registered corpus called ``name``; a ValueError listing the known names otherwise."""
    try:
        return CORPORA[name]
    except KeyError:
        raise ValueError(get_unknown_message(name)) from None


def get_unknown_message(name: str) -> str:
    """The error for a name that is neither a registered corpus nor a file."""
    import difflib

    close = difflib.get_close_matches(name, list(CORPORA), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"unknown corpus {name!r}{hint}; known corpora: {', '.join(CORPORA)} "
            "(or pass a path to your own UTF-8 .txt / .txt.gz file)")

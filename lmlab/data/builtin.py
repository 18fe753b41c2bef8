"""Data that installed packages already ship, so the lab works with no network at all.

- ``wiki_sample``: gensim's shortened English Wikipedia dump, cleaned to lower-cased words (one article
  a line), built once and cached;
- evaluation sets for word vectors: Google analogies, WordSim353, SimLex-999 (gensim's test data).
"""

from __future__ import annotations

import bz2
import os
from pathlib import Path

from lmlab.atomic import atomic_write

WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_SAMPLE_VERSION = 1  # bump when the cleaning changes, so stale caches are rebuilt

EVAL_SETS = {
    "google_analogies": "questions-words.txt",  # ": section" headers, then "a b c d" (a:b :: c:d)
    "wordsim353": "wordsim353.tsv",  # word1 <tab> word2 <tab> human score 0-10
    "simlex999": "simlex999.txt",  # word1 <tab> word2 <tab> human score 0-10
}
ALIASES = {"analogies": "google_analogies"}


def gensim_test_data() -> Path:
    """The folder of test data that gensim installs (found without importing gensim, which is slow)."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("gensim is not installed, so the built-in offline data is missing; "
                                "run: pip install gensim")
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data"


def eval_set_path(name: str) -> Path:
    """Path of a word-vector evaluation set: google_analogies, wordsim353 or simlex999."""
    name = ALIASES.get(name, name)
    if name not in EVAL_SETS:
        raise ValueError(f"unknown evaluation set {name!r}; choose one of {', '.join(EVAL_SETS)}")
    path = gensim_test_data() / EVAL_SETS[name]
    if not path.exists():
        raise FileNotFoundError(f"evaluation set {name!r} should be at {path} (shipped by gensim) but is "
                                "missing; reinstall gensim: pip install --force-reinstall gensim")
    return path


def clean_wiki_articles(dump: str | os.PathLike) -> list[str]:
    """Articles of a Wikipedia XML dump as lower-cased alphabetic words joined by spaces (no redirects)."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki, tokenize

    articles = []
    with bz2.open(dump, "rb") as f:
        for _title, text, _pageid in extract_pages(f, filter_namespaces=("0",)):
            if text.lstrip().lower().startswith("#redirect"):
                continue
            words = tokenize(filter_wiki(text), token_min_len=1, token_max_len=30, lower=True)
            if len(words) >= 50:  # skip stubs
                articles.append(" ".join(words))
    return articles


def build_wiki_sample(dest: Path) -> Path:
    """Clean gensim's Wikipedia sample into ``dest`` (atomically; takes a few seconds, done once)."""
    dump = gensim_test_data() / WIKI_DUMP
    if not dump.exists():
        raise FileNotFoundError(f"gensim's Wikipedia sample is missing ({dump}); "
                                "reinstall gensim: pip install --force-reinstall gensim")
    text = "\n".join(clean_wiki_articles(dump)) + "\n"
    with atomic_write(dest) as f:
        f.write(text)
    return dest

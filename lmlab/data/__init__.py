"""Corpora: a registry of named data sets, downloads with checksums, an offline mirror, and splits.

    text = load_text("tiny_shakespeare")          # or a path to your own .txt / .txt.gz
    text, used = load_text_or_fallback("tiny_shakespeare")   # never fails offline: falls back to wiki_sample
    train, val = train_val_split(text, 0.9)

Environment: ``LMLAB_DATA_DIR`` (offline mirror, read first), ``LMLAB_CACHE_DIR`` (downloads),
``LMLAB_OFFLINE=1`` (never touch the network).
"""

from lmlab.data.builtin import EVAL_SETS, eval_set_path
from lmlab.data.corpora import (
    SCRIPTS,
    edition_script,
    fetch,
    list_corpora,
    load_splits,
    load_tang_poems,
    load_text,
    load_text_or_fallback,
    local_path,
    offline,
    poems_to_text,
    tang_poems_name,
    to_simplified,
    train_val_split,
)
from lmlab.data.download import DownloadError, cache_dir, download, mirror_dir, sha256_file
from lmlab.data.registry import CORPORA, FALLBACK, Corpus, get_corpus

__all__ = [
    "CORPORA", "EVAL_SETS", "FALLBACK", "SCRIPTS", "Corpus", "DownloadError", "cache_dir", "download",
    "eval_set_path", "edition_script", "fetch", "get_corpus", "list_corpora", "load_splits",
    "load_tang_poems", "load_text", "load_text_or_fallback", "local_path", "mirror_dir", "offline",
    "poems_to_text", "sha256_file", "tang_poems_name", "to_simplified", "train_val_split",
]

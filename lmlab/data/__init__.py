"""Corpora: a registry of named data sets, downloads with checksums, an offline mirror, and splits.

    text = load_text("tiny_shakespeare")          # or a path to your own .txt / .txt.gz
    train, val = train_val_split(text, 0.9)
"""

from lmlab.data.corpora import load_text, train_val_split

__all__ = ["load_text", "train_val_split"]

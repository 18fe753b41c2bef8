"""Flags that every ``lmlab train ...`` command shares."""

from __future__ import annotations

import argparse

from lmlab.choices import PRECISIONS, PRESETS


def add_train_arguments(p: argparse.ArgumentParser, default_corpus: str) -> None:
    """--corpus, --preset, --device, --precision, --seed, --out (explicit flags beat the preset)."""
    p.add_argument("--corpus", default=default_corpus,
                   help="a registered corpus name (see 'lmlab data list') or a path to a UTF-8 .txt/.txt.gz")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="size preset (default: $LMLAB_PRESET, else 'full' on CUDA and 'class' elsewhere)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out", required=True, help="output directory (checkpoint, metrics.json)")

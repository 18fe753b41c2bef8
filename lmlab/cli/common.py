"""Flags that every ``lmlab train ...`` command shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from lmlab.presets import PRESETS


def add_train_arguments(p: argparse.ArgumentParser, default_corpus: str) -> None:
    """--corpus, --preset, --device, --precision, --seed, --out (explicit flags beat the preset)."""
    p.add_argument("--corpus", default=default_corpus,
                   help="a registered corpus name (see 'lmlab data list') or a path to a UTF-8 .txt/.txt.gz")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="size preset (default: $LMLAB_PRESET, else 'full' on CUDA and 'class' elsewhere)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out", required=True, help="output directory (checkpoint, metrics.json)")


def train_exit_status(metrics: dict[str, Any] | None) -> int:
    """0 for a finished run, 1 when it diverged (fit printed why), 130 after a clean Ctrl-C."""
    from lmlab.train.failures import EXIT_FAILED, EXIT_INTERRUPTED

    if not metrics:
        return 0
    if metrics.get("stopped") == "diverged":
        return EXIT_FAILED
    return EXIT_INTERRUPTED if metrics.get("interrupted") else 0


def report_write_failures(run: Callable[[], int]) -> int:
    """Run a trainer; a checkpoint/metrics/export write that failed becomes one stderr line and exit 1."""
    from lmlab.train.failures import EXIT_FAILED, WriteFailed

    try:
        return run()
    except WriteFailed as err:
        print(f"lmlab: error: {err}", file=sys.stderr, flush=True)
        return EXIT_FAILED


def fmt_loss(value: Any, digits: int = 4) -> str:
    """A loss for the summary line: 'n/a' before the first log, 'nan' after a divergence."""
    return "n/a" if value is None else f"{float(value):.{digits}f}"

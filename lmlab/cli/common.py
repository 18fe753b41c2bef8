"""What every ``lmlab train ...`` command shares besides its flags (those: ``lmlab.cli.flags``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


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

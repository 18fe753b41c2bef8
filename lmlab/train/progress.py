"""The training loop's progress display: tqdm's bar in a terminal or a notebook, a plain line now and then
anywhere else (a file, a pipe, a CI log).

tqdm redraws its bar about ten times a second with a carriage return. In a terminal that is one line that
moves; in ``lmlab train ... > log`` it is thousands of updates glued into one huge line. Outside a terminal
``fit`` therefore writes a whole line at the start, every ``LINE_INTERVAL_S`` seconds and at the end:

    train: 1200/5000 iterations (24%) [00:30<01:35, 39.9it/s, val_loss=2.113]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from lmlab.i18n import N_, _

# Every 30 s: a 5-minute run writes about a dozen lines and a 2-hour run about 240 (a log one reads
# whole), while someone tailing a CI log still sees progress twice a minute, well inside the 10 minutes
# of silence after which some CI services give up on a job.
LINE_INTERVAL_S = 30.0

BAR_FORMATS = {  # (terminal or notebook bar, plain line); tqdm's fields in braces, translated by _()
    "iterations": (None, N_("{desc}: {n_fmt}/{total_fmt} iterations ({percentage:.0f}%) "
                            "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")),
    # with a time budget the clock decides when training ends: the bar counts seconds of training
    "seconds": (N_("{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of training "
                   "[{elapsed}<{remaining}{postfix}]"),
                N_("{desc}: {n:.0f}/{total:.0f} s of training ({percentage:.0f}%) "
                   "[{elapsed}<{remaining}{postfix}]")),
}


def now() -> float:
    """The clock lines are timed by (a test replaces it)."""
    return time.monotonic()


class LineProgress:
    """tqdm's interface as ``fit`` uses it (``update``, ``set_postfix``, ``close``, ``n``, ``total``),
    writing one plain line at the start, then at most one per ``interval`` seconds of ``clock``, and one at
    the end."""

    def __init__(self, total: float, *, initial: float = 0, desc: str = "", line_format: str,
                 stream: TextIO, clock: Callable[[], float] | None = None,
                 interval: float = LINE_INTERVAL_S) -> None:
        clock = clock if clock is not None else now
        self.total, self.n, self.initial, self.desc = total, initial, initial, desc
        self.line_format, self.stream, self.clock, self.interval = line_format, stream, clock, interval
        self.postfix = ""
        self.closed = False
        self.start = self.last = clock()
        self._write(self.start)

    def update(self, n: float = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self._write(now)

    def set_postfix(self, values: dict[str, Any]) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._write(self.clock())

    def _write(self, now: float) -> None:
        from tqdm.std import tqdm

        line = tqdm.format_meter(self.n, self.total, now - self.start, prefix=self.desc, initial=self.initial,
                                 postfix=self.postfix or None, bar_format=self.line_format)
        self.stream.write(line + "\n")
        self.stream.flush()
        self.last = now


def progress_bar(total: float, *, initial: float = 0, desc: str = "", counts: str = "iterations",
                 disable: bool = False, stream: TextIO | None = None,
                 clock: Callable[[], float] | None = None) -> Any:
    """tqdm's bar where it redraws in place (a terminal, a notebook), else a ``LineProgress`` on ``stream``
    (default: stderr, like tqdm). ``counts`` is "iterations" or "seconds" (of a time budget)."""
    from tqdm.auto import tqdm as auto_tqdm
    from tqdm.autonotebook import tqdm as notebook_or_std
    from tqdm.std import tqdm as std_tqdm

    bar_format, line_format = (_(f) if f else None for f in BAR_FORMATS[counts])
    in_notebook = notebook_or_std is not std_tqdm  # tqdm chose its widget: a Jupyter kernel
    out = sys.stderr if stream is None else stream
    if disable or in_notebook or _is_terminal(out):
        kw = {} if stream is None else {"file": stream}
        return auto_tqdm(total=total, initial=initial, desc=desc, disable=disable, dynamic_ncols=True,
                         bar_format=bar_format, **kw)
    return LineProgress(total, initial=initial, desc=desc, line_format=line_format, stream=out, clock=clock)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False

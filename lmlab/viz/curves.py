"""Training curves: a live view that redraws one small PNG in place, and the same figure for print."""

from __future__ import annotations

import io
import time
from typing import Any

import matplotlib

from lmlab.train.history import History


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where a live view makes sense)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def plot_history(history: History, *, title: str = "", fig: Any = None) -> Any:
    """Loss (train and validation), learning rate and throughput against iteration."""
    from matplotlib.figure import Figure

    fig = fig or Figure(figsize=(9, 2.8), dpi=80, layout="constrained")
    fig.clear()
    ax_loss, ax_lr, ax_speed = fig.subplots(1, 3)
    for key, style in (("train_loss", "-"), ("val_loss", "o-")):
        xs, ys = history.series(key)
        if xs:
            ax_loss.plot(xs, ys, style, label=key.replace("_", " "), markersize=3)
    ax_loss.set(xlabel="iteration", ylabel="loss (nats)", title=title or "loss")
    if ax_loss.lines:
        ax_loss.legend(fontsize="small")
    xs, ys = history.series("lr")
    ax_lr.plot(xs, ys)
    ax_lr.set(xlabel="iteration", title="learning rate")
    xs, ys = history.series("tokens_per_sec")
    ax_speed.plot(xs, ys)
    ax_speed.set(xlabel="iteration", title="tokens / second")
    return fig


class LiveView:
    """Redraws one figure in place in a notebook (a PNG of a few tens of KB, not a growing SVG).

    Updates are throttled to one per ``every_s`` seconds; the last picture stays in the saved notebook.
    Outside a notebook it does nothing, so scripts and the CLI can pass it unconditionally.
    """

    def __init__(self, title: str = "", every_s: float = 2.0, enabled: bool | None = None) -> None:
        self.title = title
        self.every_s = every_s
        self.enabled = in_notebook() if enabled is None else enabled
        self._handle: Any = None
        self._text_handle: Any = None
        self._last = 0.0
        self._fig: Any = None

    def _png(self, history: History) -> bytes:
        self._fig = plot_history(history, title=self.title, fig=self._fig)
        buf = io.BytesIO()
        with matplotlib.rc_context({"savefig.dpi": 80}):
            self._fig.savefig(buf, format="png")
        return buf.getvalue()

    def _show(self, history: History, samples: list[tuple[int, str]]) -> None:
        from IPython.display import Image, Pretty, display

        image = Image(self._png(history))
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        if samples:
            it, text = samples[-1]
            shown = Pretty(f"sample at iteration {it}:\n{text}")
            if self._text_handle is None:
                self._text_handle = display(shown, display_id=True)
            else:
                self._text_handle.update(shown)
        self._last = time.monotonic()

    def update(self, history: History, samples: list[tuple[int, str]] | None = None) -> None:
        if self.enabled and time.monotonic() - self._last >= self.every_s:
            self._show(history, samples or [])

    def close(self, history: History, samples: list[tuple[int, str]] | None = None) -> None:
        if self.enabled:
            self._show(history, samples or [])

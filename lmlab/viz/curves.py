"""Training curves: a live view that redraws one small PNG in place, and the same figure for print."""

from __future__ import annotations

import io
import os
import time
from typing import Any

from lmlab.i18n import _
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
            ax_loss.plot(xs, ys, style, label=_label(key), markersize=3)
    ax_loss.set(xlabel=_("iteration"), ylabel=_("loss (nats)"), title=title or _("loss"))
    mark_divergence(ax_loss, history)
    if ax_loss.lines:
        ax_loss.legend(fontsize="small")
    xs, ys = history.series("lr")
    ax_lr.plot(xs, ys)
    ax_lr.set(xlabel=_("iteration"), title=_("learning rate"))
    xs, ys = history.series("tokens_per_sec")
    ax_speed.plot(xs, ys)
    ax_speed.set(xlabel=_("iteration"), title=_("tokens / second"))
    return fig


def _label(key: str) -> str:
    """The legend entry of a logged series."""
    return {"train_loss": _("train loss"), "val_loss": _("val loss")}.get(key, key.replace("_", " "))


def mark_divergence(ax: Any, history: History) -> Any:
    """A red dashed line where the loss became nan/inf (a nan point itself is not drawn), or None."""
    at = history.first_nonfinite("train_loss")
    if at is None:
        return None
    return ax.axvline(at, color="tab:red", linestyle="--", linewidth=1.2,
                      label=_("diverged at {at}").format(at=at))


def status_line(history: History) -> str:
    """One line with the latest numbers, e.g. ``live view · iteration 200 · train loss 2.310 · ...``."""
    parts = [_("live view · iteration {it}").format(it=history.last("iter", 0))]
    for key, fmt in (("train_loss", _("train loss {:.3f}")), ("val_loss", _("val loss {:.3f}")),
                     ("lr", "lr {:.2e}"), ("tokens_per_sec", _("{:,.0f} tokens/s"))):
        value = history.last(key)
        if value is not None:
            parts.append(fmt.format(value))
    at = history.first_nonfinite("train_loss")
    if at is not None:
        parts.append(f"DIVERGED at iteration {at}")
    return " · ".join(parts)


class _LiveFigure:
    """The live view's figure, built once: each update moves line data and rescales; no re-layout."""

    SERIES = (("train_loss", 0, "-"), ("val_loss", 0, "o-"), ("lr", 1, "-"), ("tokens_per_sec", 2, "-"))

    def __init__(self, title: str) -> None:
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(9, 2.6), dpi=72)
        self.fig.subplots_adjust(left=0.07, right=0.985, bottom=0.2, top=0.88, wspace=0.28)
        self.axes = self.fig.subplots(1, 3)
        for ax, name in zip(self.axes, (title or _("loss"), _("learning rate"), _("tokens / second")),
                            strict=True):
            ax.set_title(name)
            ax.set_xlabel(_("iteration"))
        self.axes[0].set_ylabel(_("loss (nats)"))
        self.lines = {key: self.axes[i].plot([], [], style, markersize=3, label=_label(key))[0]
                      for key, i, style in self.SERIES}
        self.axes[0].legend(fontsize="small", loc="upper right")
        self.divergence: Any = None

    def draw(self, history: History) -> bytes:
        for key, line in self.lines.items():
            line.set_data(*history.series(key))
        if self.divergence is None:
            self.divergence = mark_divergence(self.axes[0], history)
            if self.divergence is not None:
                self.axes[0].legend(fontsize="small", loc="upper right")
        for ax in self.axes:
            ax.relim()
            ax.autoscale_view()
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=72)
        return buf.getvalue()


class LiveView:
    """Redraws one figure in place in a notebook (a PNG of a few tens of KB, not a growing SVG).

    Updates are throttled to one per ``every_s`` seconds, and drawing never takes more than about a tenth
    of the training time (a slow machine redraws less often). The last picture stays in the saved
    notebook; ``path`` also leaves it as a PNG file. Outside a notebook it does nothing, so scripts and
    the CLI can pass it unconditionally.
    """

    def __init__(self, title: str = "", every_s: float = 2.0, enabled: bool | None = None,
                 path: str | None = None, max_draw_share: float | None = 0.1) -> None:
        self.title = title
        self.max_draw_share = max_draw_share  # None: redraw every ``every_s`` however slow drawing is
        # when given, close() also leaves the final figure there as a PNG (`lmlab prepare` names one for
        # the run it prepares, through $LMLAB_LIVE_FIGURE, so a lesson that loads the run shows it)
        self.path = path or os.environ.get("LMLAB_LIVE_FIGURE") or None
        self.every_s = every_s
        self.enabled = in_notebook() if enabled is None else enabled
        self.draw_s = 0.0
        self._handle: Any = None
        self._text_handle: Any = None
        self._last = 0.0
        self._live: _LiveFigure | None = None

    def _png(self, history: History) -> bytes:
        if self._live is None:
            self._live = _LiveFigure(self.title)
        return self._live.draw(history)

    def _show(self, history: History, samples: list[tuple[int, str]]) -> None:
        from IPython.display import Image, Pretty, display

        t0 = time.monotonic()
        image = Image(self._png(history))
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        text = status_line(history)
        if samples:
            it, sample = samples[-1]
            text += "\n" + _("sample at iteration {it}:").format(it=it) + f"\n{sample}"
        shown = Pretty(text)
        if self._text_handle is None:
            self._text_handle = display(shown, display_id=True)
        else:
            self._text_handle.update(shown)
        self._last = time.monotonic()
        self.draw_s = self._last - t0

    def update(self, history: History, samples: list[tuple[int, str]] | None = None) -> None:
        wait = self.every_s
        if self.max_draw_share:  # draw for at most this share of the time: wait draw_s * (1/share - 1)
            wait = max(wait, self.draw_s * (1 / self.max_draw_share - 1))
        if self.enabled and time.monotonic() - self._last >= wait:
            self._show(history, samples or [])

    def close(self, history: History, samples: list[tuple[int, str]] | None = None) -> None:
        if self.enabled:
            self._show(history, samples or [])
        if self.path is not None:
            from lmlab.viz.style import save_figure

            save_figure(plot_history(history, title=self.title), self.path)

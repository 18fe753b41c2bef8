"""Pictures of a recurrent network at work: gradient decay, gate heatmaps, one neuron colouring the text it
reads, and the hidden-state trajectory under PCA. Every function returns a matplotlib ``Figure`` (shown
inline in a notebook; ``save(fig, "x.png")`` or ``.svg`` for print), except ``text_heat_html``.

Text is drawn character by character, Chinese included (``lmlab.viz.style`` sets up a CJK font).
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from lmlab.i18n import N_, _
from lmlab.viz.style import ensure_cjk_font, save_figure

ensure_cjk_font()  # Chinese labels draw with a CJK font, not boxes

VISIBLE = {"\n": "⏎", " ": "␣", "\t": "⇥"}


def visible(ch: str) -> str:
    """A printable stand-in for whitespace, so a tick label or a cell shows something."""
    return VISIBLE.get(ch, ch)


def save(fig: Figure, path: str | os.PathLike) -> Path:
    """Save as .png or .svg (or .pdf) with the lab's settings."""
    return save_figure(fig, path)


# what ``analysis.rnn_vs_lstm`` (lmlab/models, which shows nothing itself) names its curves
CURVE_NAMES = (N_("RNN (tanh)"), N_("LSTM, forget bias {bias}"))
GATE_NAMES = {"input_gate": N_("input gate"), "forget_gate": N_("forget gate"),
              "output_gate": N_("output gate"), "cell_state": N_("cell state"), "candidate": N_("candidate"),
              "hidden_state": N_("hidden state")}


def _curve_label(name: str) -> str:
    """A curve's name in the learner's language (``LSTM, forget bias 3`` and names given by the caller)."""
    import re

    bias = re.fullmatch(r"LSTM, forget bias (\S+)", name)
    return _(CURVE_NAMES[1]).format(bias=bias[1]) if bias else _(name)


def plot_gradient_decay(curves: Mapping[str, Sequence[float]], *, title: str = "") -> Figure:
    """‖∂h_T/∂x_{T-k}‖ against k, one line per network, on a log scale (from ``analysis.rnn_vs_lstm``)."""
    if not curves:
        raise ValueError("no curves to draw; pass {'name': norms_by_steps_back}")
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.subplots()
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        k = np.arange(len(values))
        keep = values > 0                                  # log scale: exact zeros (underflow) are left out
        ax.semilogy(k[keep], values[keep], label=_curve_label(name))
    ax.set(xlabel=_("k: steps back from the last position"),
           ylabel=r"$\| \partial h_T / \partial x_{T-k} \|$",
           title=title or _("how far back gradients reach"))
    ax.legend(fontsize="small")
    return fig


def plot_gates(text: str, layer_internals: Mapping[str, np.ndarray], *, units: Sequence[int] | None = None,
               names: Sequence[str] = ("input_gate", "forget_gate", "output_gate", "cell_state"),
               max_chars: int = 80) -> Figure:
    """Heatmaps (units × characters) of each gate and the cell state of one layer while reading ``text``.

    ``layer_internals`` maps a name to an array (T, H), e.g. ``{k: v[0] for k, v in internals(...).items()}``.
    """
    text = text[:max_chars]
    T = len(text)
    units = list(units) if units is not None else list(range(min(16, layer_internals[names[0]].shape[1])))
    fig = Figure(figsize=(min(2 + 0.16 * T, 16), 1.0 + 1.1 * len(names) * max(len(units), 4) / 12),
                 layout="constrained")
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, names, strict=True):
        values = np.asarray(layer_internals[name])[:T, units].T                   # (units, T)
        if name in ("cell_state", "candidate", "hidden_state"):
            bound = float(np.abs(values).max()) or 1.0
            image = ax.imshow(values, aspect="auto", cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -bound, bound),
                              interpolation="nearest")
        else:
            image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0,
                              interpolation="nearest")
        ax.set_ylabel(_(GATE_NAMES.get(name, name.replace("_", " "))), fontsize="small")
        ax.set_yticks(range(len(units)), [str(u) for u in units], fontsize=6)
        ax.set_xticks(range(T), [visible(c) for c in text], fontsize=7)
        ax.grid(False)
        fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    axes[0].set_title(_("gates (0 = closed, 1 = open) and cell state while reading the text"),
                      fontsize="small")
    return fig


def _cell_colours(values: np.ndarray, cmap: str) -> tuple[Any, Any]:
    bound = float(np.abs(values).max()) or 1.0
    if values.min() < 0:
        norm: Any = TwoSlopeNorm(0.0, -bound, bound)
    else:
        norm = Normalize(0.0, bound)
    return colormaps[cmap], norm


def plot_text_heat(text: str, values: Sequence[float], *, width: int = 64, cmap: str = "RdBu_r",
                   title: str = "", max_chars: int = 1200) -> Figure:
    """The text laid out in a grid, each character on a background coloured by its value (one neuron)."""
    values = np.asarray(values, dtype=float)
    if len(values) != len(text):
        raise ValueError(f"{len(values)} values for {len(text)} characters; give one value per character")
    text, values = text[:max_chars], values[:max_chars]
    rows: list[list[int]] = [[]]
    for i, ch in enumerate(text):                       # wrap at newlines and at ``width``
        if len(rows[-1]) >= width:
            rows.append([])
        rows[-1].append(i)
        if ch == "\n":
            rows.append([])
    rows = [r for r in rows if r] or [[]]
    colour, norm = _cell_colours(values, cmap)
    grid = np.full((len(rows), width), np.nan)                    # empty cells stay blank
    for y, row in enumerate(rows):
        grid[y, : len(row)] = values[row]
    fig = Figure(figsize=(0.13 * width + 0.6, 0.22 * len(rows) + 0.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(grid, cmap=colour, norm=norm, aspect="auto", interpolation="nearest",
                      extent=(0, width, len(rows), 0))
    for y, row in enumerate(rows):
        for x, i in enumerate(row):
            r, g, b, _alpha = colour(norm(values[i]))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(x + 0.5, y + 0.5, visible(text[i]), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize="small")
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    return fig


def text_heat_html(text: str, values: Sequence[float], *, cmap: str = "RdBu_r") -> str:
    """The same colouring as HTML spans (for ``IPython.display.HTML``): crisp, selectable, any script."""
    values = np.asarray(values, dtype=float)
    if len(values) != len(text):
        raise ValueError(f"{len(values)} values for {len(text)} characters; give one value per character")
    colour, norm = _cell_colours(values, cmap)
    spans = []
    for ch, v in zip(text, values, strict=True):
        r, g, b, _alpha = colour(norm(v))
        shown = "⏎<br>" if ch == "\n" else html.escape(ch)
        spans.append(f'<span title="{v:.3f}" style="background:rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})'
                     f'">{shown}</span>')
    return ('<div style="font-family:monospace;line-height:1.5;white-space:pre-wrap;color:#111">'
            + "".join(spans) + "</div>")


def pca_2d(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project (T, H) states onto their first two principal components: (T, 2) and explained ratios."""
    states = np.asarray(states, dtype=float)
    if states.ndim != 2 or states.shape[0] < 3:
        raise ValueError(f"need (T, H) states with T >= 3 to find principal components, got {states.shape}")
    centred = states - states.mean(0)
    _u, s, vt = np.linalg.svd(centred, full_matrices=False)
    explained = s**2 / max(float((s**2).sum()), 1e-12)
    return centred @ vt[:2].T, explained[:2]


def plot_pca_trajectory(states: np.ndarray, text: str, *, label_every: int = 1, title: str = "") -> Figure:
    """The path of the hidden state through its two main directions, one labelled point per character."""
    points, explained = pca_2d(states)
    T = len(points)
    fig = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(points[:, 0], points[:, 1], "-", color="0.75", linewidth=0.8, zorder=1)
    scatter = ax.scatter(points[:, 0], points[:, 1], c=np.arange(T), cmap="viridis", s=14, zorder=2)
    for t in range(0, min(T, len(text)), max(label_every, 1)):
        ax.annotate(visible(text[t]), points[t], fontsize=7, xytext=(2, 2), textcoords="offset points")
    ax.set(xlabel=_("PC 1 ({share:.0%} of variance)").format(share=explained[0]),
           ylabel=f"PC 2 ({explained[1]:.0%})",
           title=title or _("hidden state, step by step"))
    fig.colorbar(scatter, ax=ax, label=_("position in the text"), fraction=0.04)
    return fig


def plot_next_char_probs(text: str, probs: np.ndarray, itos: Sequence[str], *, top: int = 5,
                         max_chars: int = 40) -> Figure:
    """After each character, the model's top guesses for the next one (columns), shaded by probability."""
    text = text[:max_chars]
    probs = np.asarray(probs)[: len(text)]
    order = np.argsort(-probs, axis=1)[:, :top]                                      # (T, top)
    fig = Figure(figsize=(min(1 + 0.28 * len(text), 16), 0.5 + 0.3 * (top + 1)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(np.take_along_axis(probs, order, 1).T, aspect="auto", cmap="Blues", vmin=0, vmax=1)
    for t in range(len(text)):
        for r in range(top):
            ax.text(t, r, visible(itos[order[t, r]]), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(text)), [visible(c) for c in text], fontsize=7)
    ax.set_yticks(range(top), [f"#{r + 1}" for r in range(top)], fontsize=7)
    ax.grid(False)
    ax.set_title(_("after each character (bottom): the top guesses for the next one"), fontsize="small")
    return fig

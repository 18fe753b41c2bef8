"""Static (matplotlib) drawings of the attention views, for .png/.svg export and print.

The head-view picture keeps bertviz's visual language: tokens in two columns, one line per
(query, key) pair whose opacity is the weight, one colour per head.
"""

from __future__ import annotations

from typing import Any

import torch

from lmlab.i18n import _
from lmlab.viz.attention.maps import AttentionMaps
from lmlab.viz.style import ensure_cjk_font

ensure_cjk_font()  # Chinese labels draw with a CJK font, not boxes

HEAD_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def head_view_figure(maps: AttentionMaps, layer: int = 0, heads: list[int] | None = None,
                     min_weight: float = 0.05) -> Any:
    """One layer: left column attends (query) to right column (key); line alpha = weight."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgb

    maps._check(layer, None)
    heads = list(range(maps.n_head)) if heads is None else heads
    T = maps.n_tokens
    fig = _figure(4.2, max(2.0, 0.22 * T + 0.8))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set(xlim=(-0.6, 1.6), ylim=(T - 0.5, -1.2))
    size = 9 if T <= 40 else 7
    for i, tok in enumerate(maps.tokens):
        ax.text(0, i, tok, ha="right", va="center", fontsize=size)
        ax.text(1, i, tok, ha="left", va="center", fontsize=size)
    fade = max(1, len(heads)) ** 0.5  # many heads overlap: keep the picture readable
    for h in heads:
        w = maps.head(layer, h)
        pairs = (w > min_weight).nonzero().tolist()
        rgb = to_rgb(HEAD_COLORS[h % len(HEAD_COLORS)])
        segments = [[(0.05, i), (0.95, j)] for i, j in pairs]
        colors = [(*rgb, min(1.0, float(w[i, j]) / fade)) for i, j in pairs]
        # one artist per head; rasterised in SVG so a slide file stays small while the text stays vector
        ax.add_collection(LineCollection(segments, colors=colors, linewidths=1.5, rasterized=True))
    shown = (_("all heads") if len(heads) == maps.n_head
             else _("heads {heads}").format(heads=", ".join(map(str, heads))))
    ax.set_title(_("layer {layer}, {shown}").format(layer=layer, shown=shown), fontsize=10)
    return fig


def model_view_figure(maps: AttentionMaps) -> Any:
    """Every layer × head as a small heatmap (bertviz's model view, printable)."""
    return grid_figure(maps, labels=maps.n_tokens <= 24, cell=1.1)


def grid_figure(maps: AttentionMaps, layers: list[int] | None = None, heads: list[int] | None = None,
                average_heads: bool = False, labels: bool = True, cell: float = 1.9,
                cmap: str = "viridis") -> Any:
    """A layer × head grid of (query, key) heatmaps; masked (future) cells are hatched grey."""
    layers = list(range(maps.n_layer)) if layers is None else layers
    if average_heads:
        columns: list[int | None] = [None]
    else:
        columns = list(range(maps.n_head)) if heads is None else list(heads)
    fig = _figure(cell * len(columns) + 0.8, cell * len(layers) + 0.6)
    axes = fig.subplots(len(layers), len(columns), squeeze=False)
    T = maps.n_tokens
    mask = torch.ones(T, T).triu(diagonal=1).bool() if maps.causal else None
    image = None
    for r, layer in enumerate(layers):
        for c, head in enumerate(columns):
            ax = axes[r][c]
            w = maps.head(layer, head).clone()
            if mask is not None:
                w[mask] = float("nan")  # the causal mask: drawn as hatch, not as a weight of 0
            image = ax.imshow(w.numpy(), vmin=0.0, vmax=1.0, cmap=cmap, interpolation="nearest")
            if mask is not None:
                ax.set_facecolor("#dddddd")
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            if labels and c == 0:
                ax.set_yticks(range(T), maps.tokens, fontsize=max(4, 9 - T // 12))
            if labels and r == len(layers) - 1:
                ax.set_xticks(range(T), maps.tokens, fontsize=max(4, 9 - T // 12), rotation=90)
            if r == 0:
                name = _("mean of heads") if head is None else _("head {head}").format(head=head)
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(_("layer {layer}").format(layer=layer), fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label=_("weight (row: query → column: key)"))
    return fig

"""lmlab's own attention grid: every layer × head as a heatmap, a detail panel with token labels,
hover values, head averaging and the causal mask shown in grey. Plain JavaScript, no library, offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmlab.viz.attention._html import View, esc, new_id, note_html, script_json
from lmlab.viz.attention.maps import MAX_TOKENS, AttentionMaps

_JS = (Path(__file__).with_name("grid.js")).read_text(encoding="utf-8")


class GridView(View):
    """Layer × head heatmaps (click one for a labelled detail, hover for values)."""

    title = "attention grid"

    def __init__(self, maps: AttentionMaps, layer: int = 0, head: int | None = 0,
                 average_heads: bool = False) -> None:
        maps._check(layer, head)
        self.maps, self.layer, self.head, self.average_heads = maps, layer, head, average_heads

    def to_html(self) -> str:
        root = new_id("lmlab-grid")
        pad = 12 + 7 * min(16, max(len(t) for t in self.maps.tokens))
        params = {"id": root, "w": self.maps.weights.mul(1000).round().div(1000).tolist(),
                  "tokens": self.maps.tokens, "causal": self.maps.causal, "layer": self.layer,
                  "head": -1 if self.head is None else self.head, "pad": pad}
        checked = " checked" if self.average_heads else ""
        src = f" — {self.maps.source}" if self.maps.source else ""
        return (f'<div id="{root}" class="lmlab-attention lmlab-grid-view" style="font:12px sans-serif;">'
                f'<div style="color:#555;">{esc(self.title)}{esc(src)}: {self.maps.n_layer} layers × '
                f'{self.maps.n_head} heads, {self.maps.n_tokens} tokens'
                f'{"; grey = causal mask (a token cannot see the future)" if self.maps.causal else ""}</div>'
                f'{note_html(self.maps.note)}'
                f'<label><input type="checkbox" class="lmlab-avg"{checked}> average the heads</label>'
                '<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap;">'
                '<div class="lmlab-grid"></div><div class="lmlab-detail"></div></div>'
                '<div class="lmlab-status" style="min-height:1.3em;color:#333;">hover a cell for its weight; '
                'click a heatmap to enlarge it</div>'
                f'<script type="text/javascript">{_JS.replace("__PARAMS__", script_json(params))}'
                '</script></div>')

    def figure(self) -> Any:
        from lmlab.viz.attention.static import grid_figure

        return grid_figure(self.maps, average_heads=self.average_heads)


def grid_view(maps: AttentionMaps, *, layer: int = 0, head: int | None = 0, average_heads: bool = False,
              max_tokens: int | None = None) -> GridView:
    """Every layer × head of ``maps`` as heatmaps with token labels (``head=None``: the mean of heads)."""
    return GridView(maps.crop(max_tokens or MAX_TOKENS["grid"]), layer, head, average_heads)

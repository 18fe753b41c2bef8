"""lmlab's own attention grid: every layer × head as a heatmap, a detail panel with token labels,
hover values, head averaging and the causal mask shown in grey. Plain JavaScript, no library, offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmlab.i18n import N_, _
from lmlab.viz.attention._html import View, esc, new_id, note_html, script_json
from lmlab.viz.attention.maps import MAX_TOKENS, AttentionMaps

_JS = (Path(__file__).with_name("grid.js")).read_text(encoding="utf-8")


class GridView(View):
    """Layer × head heatmaps (click one for a labelled detail, hover for values)."""

    title = N_("attention grid")

    def __init__(self, maps: AttentionMaps, layer: int = 0, head: int | None = 0,
                 average_heads: bool = False) -> None:
        maps._check(layer, head)
        self.maps, self.layer, self.head, self.average_heads = maps, layer, head, average_heads

    def to_html(self) -> str:
        root = new_id("lmlab-grid")
        pad = 12 + 7 * min(16, max(len(t) for t in self.maps.tokens))
        words = {"mean": _("mean of heads"), "head": _("head {h}"), "layer": _("layer {l}"),
                 "axes": _(" (row: query, column: key)"), "future": _("masked (future token)"),
                 "masked": _("masked")}
        params = {"id": root, "w": self.maps.weights.mul(1000).round().div(1000).tolist(),
                  "tokens": self.maps.tokens, "causal": self.maps.causal, "layer": self.layer,
                  "head": -1 if self.head is None else self.head, "pad": pad, "t": words}
        checked = " checked" if self.average_heads else ""
        src = f" — {self.maps.source}" if self.maps.source else ""
        shape = _("{layers} layers × {heads} heads, {tokens} tokens").format(
            layers=self.maps.n_layer, heads=self.maps.n_head, tokens=self.maps.n_tokens)
        grey = _("; grey = causal mask (a token cannot see the future)") if self.maps.causal else ""
        return (f'<div id="{root}" class="lmlab-attention lmlab-grid-view" style="font:12px sans-serif;">'
                f'<div style="color:#555;">{esc(_(self.title))}{esc(src)}: {esc(shape)}{esc(grey)}</div>'
                f'{note_html(self.maps.note)}'
                f'<label><input type="checkbox" class="lmlab-avg"{checked}> '
                f'{esc(_("average the heads"))}</label>'
                '<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap;">'
                '<div class="lmlab-grid"></div><div class="lmlab-detail"></div></div>'
                '<div class="lmlab-status" style="min-height:1.3em;color:#333;">'
                f'{esc(_("hover a cell for its weight; click a heatmap to enlarge it"))}</div>'
                f'<script type="text/javascript">{_JS.replace("__PARAMS__", script_json(params))}'
                '</script></div>')

    def figure(self) -> Any:
        from lmlab.viz.attention.static import grid_figure

        return grid_figure(self.maps, average_heads=self.average_heads)


def grid_view(maps: AttentionMaps, *, layer: int = 0, head: int | None = 0, average_heads: bool = False,
              max_tokens: int | None = None) -> GridView:
    """Every layer × head of ``maps`` as heatmaps with token labels (``head=None``: the mean of heads)."""
    return GridView(maps.crop(max_tokens or MAX_TOKENS["grid"]), layer, head, average_heads)

"""bertviz's head view and model view, fed from any lmlab model, drawn with no network.

bertviz draws; lmlab supplies the numbers (rounded, so a page stays small), checks sizes (crops long
inputs with a visible note instead of freezing the tab), and runs bertviz's script offline
(see ``_assets``). ``.save("x.png")`` draws the same picture with matplotlib (bertviz cannot export).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lmlab.i18n import N_, _
from lmlab.viz.attention._assets import offline_bertviz_script
from lmlab.viz.attention._html import View, esc, new_id, note_html, script_json
from lmlab.viz.attention.maps import MAX_MODEL_VIEW_CELLS, MAX_TOKENS, AttentionMaps, as_attention_maps

DECIMALS = 4
# bertviz sizes a thumbnail for 12 heads: 7 px a token, 1/12 of the width. Told the true count of a small
# model (2 heads), it makes each thumbnail 42 px a token and half the page wide: 2 x 2 heads of 26 tokens
# stood 2,200 px tall. Laid out as if for at least 8 heads, it is as tall as its click-to-enlarge detail.
MIN_MODEL_VIEW_COLUMNS = 8


def model_view_columns(n_head: int) -> int:
    """The ``total_heads`` bertviz's model view lays out: the heads, but never fewer than 8 columns."""
    return max(n_head, MIN_MODEL_VIEW_COLUMNS)


def _pretty(tokens: list[str]) -> list[str]:
    from bertviz.util import format_special_chars

    return format_special_chars(tokens)


def _rounded(weights: Any) -> list:
    return weights.mul(10 ** DECIMALS).round().div(10 ** DECIMALS).tolist()


def _attn_data(maps: AttentionMaps) -> list[dict[str, Any]]:
    """bertviz's ``attention`` parameter: all pairs, plus A->A, B->B, A->B, B->A for a sentence pair."""
    w, tokens = maps.weights, _pretty(maps.tokens)
    data = [{"name": "All" if maps.sentence_b_start else None, "attn": _rounded(w),
             "left_text": tokens, "right_text": tokens}]
    b = maps.sentence_b_start
    if b:
        a_, b_ = slice(0, b), slice(b, len(tokens))
        for name, left, right in (("Sentence A -> Sentence A", a_, a_), ("Sentence B -> Sentence B", b_, b_),
                                  ("Sentence A -> Sentence B", a_, b_), ("Sentence B -> Sentence A", b_, a_)):
            data.append({"name": name, "attn": _rounded(w[:, :, left, right]),
                         "left_text": tokens[left], "right_text": tokens[right]})
    return data


class _BertvizView(View):
    kind = ""

    def __init__(self, maps: AttentionMaps, layer: int | None = None, heads: list[int] | None = None) -> None:
        self.maps, self.layer, self.heads = maps, layer, heads
        if layer is not None:
            maps._check(layer, None)
        for h in heads or []:
            maps._check(0, h)

    def _header(self) -> str:
        src = f" — {self.maps.source}" if self.maps.source else ""
        shape = _("{layers} layers × {heads} heads, {tokens} tokens").format(
            layers=self.maps.n_layer, heads=self.maps.n_head, tokens=self.maps.n_tokens)
        causal = _(" (causal)") if self.maps.causal else ""
        return (f'<div style="font:13px sans-serif;color:#555;margin:2px 0;">{esc(_(self.title))}{esc(src)}: '
                f'{esc(shape)}{esc(causal)}</div>')

    def _params(self, root_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def to_html(self) -> str:
        root_id = new_id("lmlab-bertviz")
        data = self.maps.sentence_b_start
        select = ""
        if data:
            options = "".join(f'<option value="{i}">{esc(name)}</option>' for i, name in enumerate(
                [_("All"), _("Sentence A -> Sentence A"), _("Sentence B -> Sentence B"),
                 _("Sentence A -> Sentence B"), _("Sentence B -> Sentence A")]))
            select = f'{esc(_("Attention:"))} <select id="filter">{options}</select>'
        layer_select = (f'{esc(_("Layer:"))} <select id="layer"></select>' if self.kind == "head_view"
                        else "")
        params = self._params(root_id)
        script = offline_bertviz_script(self.kind, script_json(params))
        return (f'<div class="lmlab-attention lmlab-{self.kind}">{self._header()}{note_html(self.maps.note)}'
                f'<div id="{root_id}" style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;">'
                f'<span style="user-select:none">{layer_select} {select}</span><div id="vis"></div></div>'
                f'<script type="text/javascript">\n{script}</script></div>')


class HeadView(_BertvizView):
    """bertviz's head view: one layer, a line from each token to what it attends to, a colour per head."""

    kind = "head_view"
    title = N_("bertviz head view")

    def _params(self, root_id: str) -> dict[str, Any]:
        return {"attention": _attn_data(self.maps), "default_filter": "0", "root_div_id": root_id,
                "layer": self.layer, "heads": self.heads, "include_layers": list(range(self.maps.n_layer))}

    def figure(self) -> Any:
        from lmlab.viz.attention.static import head_view_figure

        return head_view_figure(self.maps, layer=self.layer or 0, heads=self.heads)


class ModelView(_BertvizView):
    """bertviz's model view: a thumbnail for every layer × head; click one to enlarge it."""

    kind = "model_view"
    title = N_("bertviz model view")

    def _params(self, root_id: str) -> dict[str, Any]:
        return {"attention": _attn_data(self.maps), "default_filter": "0", "display_mode": "light",
                "root_div_id": root_id, "include_layers": list(range(self.maps.n_layer)),
                "include_heads": list(range(self.maps.n_head)),
                "total_heads": model_view_columns(self.maps.n_head)}

    def figure(self) -> Any:
        from lmlab.viz.attention.static import model_view_figure

        return model_view_figure(self.maps)


def _prepare(attention: Any, tokens: list[str] | None, sentence_b_start: int | None,
             max_tokens: int | None, default_max: int) -> AttentionMaps:
    if isinstance(attention, AttentionMaps):
        maps = attention
        if sentence_b_start is not None:
            maps = replace(maps, sentence_b_start=sentence_b_start)
    else:
        if tokens is None:
            raise ValueError("tokens are required with a raw attention list: head_view(attention, tokens)")
        maps = as_attention_maps(attention, tokens, sentence_b_start=sentence_b_start)
    return maps.crop(max_tokens or default_max)


def head_view(attention: Any, tokens: list[str] | None = None, *, sentence_b_start: int | None = None,
              layer: int | None = None, heads: list[int] | None = None,
              max_tokens: int | None = None) -> HeadView:
    """bertviz ``head_view`` for lmlab ``AttentionMaps`` (or a Hugging Face attention tuple + tokens)."""
    maps = _prepare(attention, tokens, sentence_b_start, max_tokens, MAX_TOKENS["head"])
    return HeadView(maps, layer, heads)


def model_view(attention: Any, tokens: list[str] | None = None, *, sentence_b_start: int | None = None,
               max_tokens: int | None = None) -> ModelView:
    """bertviz ``model_view``: all layers and heads at once (long inputs are cropped with a note)."""
    maps = _prepare(attention, tokens, sentence_b_start, max_tokens, MAX_TOKENS["model"])
    cells_per_token2 = maps.n_layer * maps.n_head
    fit = int((MAX_MODEL_VIEW_CELLS / cells_per_token2) ** 0.5)
    if max_tokens is None and maps.n_tokens > fit:
        maps = maps.crop(max(fit, 2))
    return ModelView(maps)

"""Attention of an encoder–decoder, offline: cross-attention heatmaps (Transformer heads, the RNN's
alignment), bertviz's head and model views with encoder, decoder and cross attention, and the arithmetic
of one cross-attention head step by step (Q from the decoder, K and V from the encoder).

    maps = seq2seq_attention(model, vocab, "白日依山盡")         # the model's own answer as the target
    cross_view(maps).save("cross.png");  seq2seq_head_view(maps);  cross_steps_view(model, vocab, ...)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from lmlab.i18n import N_, _
from lmlab.viz.attention._assets import offline_bertviz_script
from lmlab.viz.attention._html import View, esc, new_id, note_html, script_json
from lmlab.viz.attention.bertviz_views import model_view_columns
from lmlab.viz.attention.steps import AttentionSteps


@dataclass
class Seq2SeqMaps:
    """Per-layer weights, each (n_layer, n_head, rows, cols): encoder (S, S), decoder (T, T), cross (T, S).

    Target rows are the decoder's inputs ``<s> y_1 .. y_{n-1}``: row t is where the model looks while it
    chooses y_{t+1} (``predicted`` holds those: y_1 .. y_n, </s>)."""

    source_tokens: list[str]
    target_tokens: list[str]
    predicted: list[str]
    encoder: torch.Tensor | None
    decoder: torch.Tensor | None
    cross: torch.Tensor | None
    arch: str = "transformer"
    note: str = ""

    @property
    def n_layer(self) -> int:
        return 0 if self.cross is None else self.cross.size(0)

    @property
    def n_head(self) -> int:
        return 0 if self.cross is None else self.cross.size(1)

    @property
    def n_tokens(self) -> int:
        return len(self.source_tokens) + len(self.target_tokens)


def _stack(weights: list[torch.Tensor]) -> torch.Tensor | None:
    return torch.stack([w[0] for w in weights]).float() if weights else None  # (L, nh, rows, cols)


@torch.no_grad()
def seq2seq_attention(model: Any, vocab: Any, source: str, target: str | None = None) -> Seq2SeqMaps:
    """Run ``model`` on ``source`` and ``target`` (teacher forcing; default: its own greedy answer) and
    keep every attention weight."""
    from lmlab.models.seq2seq.decode import greedy
    from lmlab.models.seq2seq.translate import encode_source
    from lmlab.models.seq2seq.vocab import BOS

    model.eval()
    src, notes = encode_source(vocab, source, model.config.max_len)
    if target is None:
        target = vocab.decode(greedy(model, src, model.config.max_len)[0])
        notes.append(f"target = the model's own greedy answer {target!r}")
    target = "".join(target.split())
    if not target:
        raise ValueError("the target is empty (the model answered nothing); give target=... to draw")
    tgt_in = torch.tensor([[BOS, *vocab.encode(target)]])[:, :model.config.max_len]
    _, attn = model.forward_with_attention(src, tgt_in)
    source_tokens = [vocab.token(i) for i in src[0].tolist()]
    target_tokens = [vocab.token(i) for i in tgt_in[0].tolist()]
    predicted = (list(target) + ["</s>"])[:tgt_in.size(1)]  # what row t chooses: y_{t+1}, finally </s>
    return Seq2SeqMaps(source_tokens, target_tokens, predicted, _stack(attn["encoder"]),
                       _stack(attn["decoder"]), _stack(attn["cross"]), model.config.arch, "; ".join(notes))


class CrossView(View):
    """Target × source heatmaps: one per head and layer (Transformer) or the alignment α (RNN)."""

    title = N_("cross-attention")

    def __init__(self, maps: Seq2SeqMaps, layers: list[int] | None = None) -> None:
        if maps.cross is None:
            raise ValueError(f"a {maps.arch!r} model has no attention between decoder and encoder: its "
                             "decoder reads one fixed vector (train --arch rnn-attention or transformer)")
        self.maps = maps
        self.layers = layers if layers is not None else list(range(maps.cross.size(0)))

    def _row_labels(self) -> list[str]:
        return [f"{p} ←{t}" for p, t in zip(self.maps.predicted, self.maps.target_tokens, strict=False)]

    def to_html(self) -> str:
        m = self.maps
        parts = []
        for layer in self.layers:
            w = m.cross[layer].mean(0)  # (T, S): the heads' mean, per layer
            head = "".join(f"<th>{esc(t)}</th>" for t in m.source_tokens)
            rows = "".join(
                f"<tr><th style='text-align:right'>{esc(label)}</th>" + "".join(
                    f"<td title='{float(v):.3f}' style='width:22px;height:22px;"
                    f"background:rgba(0,114,178,{float(v):.3f})'></td>" for v in w[t]) + "</tr>"
                for t, label in enumerate(self._row_labels()))
            caption = esc(_("layer {layer} (mean of {heads} heads)").format(layer=layer,
                                                                           heads=m.cross.size(1)))
            parts.append(f"<div style='display:inline-block;margin:4px 12px'><div>{caption}"
                         f"</div><table style='border-collapse:collapse'>"
                         f"<tr><th></th>{head}</tr>{rows}</table></div>")
        return (f"<div class='lmlab-attention lmlab-cross' style='font:13px sans-serif'>"
                f"<b>{esc(_(self.title))}</b>: "
                + esc(_("row = output character (← decoder input), column = source character"))
                + f"{note_html(m.note)}{''.join(parts)}</div>")

    def figure(self) -> Any:
        from matplotlib.figure import Figure

        from lmlab.viz.style import ensure_cjk_font

        ensure_cjk_font()  # Chinese tokens get a font

        m = self.maps
        n_head = m.cross.size(1)
        fig = Figure(figsize=(1.0 + 1.9 * n_head, 0.4 + 2.0 * len(self.layers)), dpi=100,
                     layout="constrained")
        axes = fig.subplots(len(self.layers), n_head, squeeze=False)
        for r, layer in enumerate(self.layers):
            for h in range(n_head):
                ax = axes[r][h]
                ax.imshow(m.cross[layer, h].numpy(), cmap="Blues", vmin=0, vmax=1)
                ax.set_xticks(range(len(m.source_tokens)), m.source_tokens, fontsize=8)
                ax.set_yticks(range(len(m.predicted)), m.predicted, fontsize=8)
                name = (_("alignment α") if m.arch != "transformer"
                        else _("layer {layer}, head {head}").format(layer=layer, head=h))
                ax.set_title(name, fontsize=9)
        return fig


def cross_view(maps: Seq2SeqMaps, layers: list[int] | None = None) -> CrossView:
    """Cross-attention heatmaps (saveable as .html, .png or .svg)."""
    return CrossView(maps, layers)


def _attn_data(maps: Seq2SeqMaps) -> list[dict[str, Any]]:
    """bertviz's encoder / decoder / cross entries (its own names and layout)."""
    r = lambda w: w.mul(1e4).round().div(1e4).tolist()
    src, tgt = maps.source_tokens, maps.target_tokens
    data = []
    for name, w, left, right in ((N_("Encoder"), maps.encoder, src, src),
                                 (N_("Decoder"), maps.decoder, tgt, tgt),
                                 (N_("Cross"), maps.cross, tgt, src)):
        if w is not None:
            data.append({"name": name, "attn": r(w), "left_text": left, "right_text": right})
    return data


class Seq2SeqBertvizView(View):
    """bertviz's head view or model view for an encoder–decoder: choose Encoder, Decoder or Cross."""

    def __init__(self, maps: Seq2SeqMaps, kind: str = "head_view") -> None:
        if maps.arch != "transformer":
            raise ValueError("bertviz's views show a Transformer's layers and heads; draw an RNN's alignment "
                             "with cross_view(maps)")
        self.maps, self.kind = maps, kind
        kinds = {"head_view": N_("head view"), "model_view": N_("model view")}
        self.title = _("bertviz {kind} (encoder–decoder)").format(kind=_(kinds.get(kind, kind)))

    def to_html(self) -> str:
        root_id = new_id("lmlab-bertviz")
        data = _attn_data(self.maps)
        n_layer, n_head = self.maps.cross.shape[:2]
        params: dict[str, Any] = {"attention": data, "default_filter": "0", "root_div_id": root_id,
                                  "include_layers": list(range(n_layer))}
        if self.kind == "head_view":
            params.update(layer=None, heads=None)
        else:
            params.update(display_mode="light", include_heads=list(range(n_head)),
                          total_heads=model_view_columns(n_head))
        options = "".join(f'<option value="{i}">{esc(_(d["name"]))}</option>' for i, d in enumerate(data))
        layer_select = (f'{esc(_("Layer:"))} <select id="layer"></select>' if self.kind == "head_view"
                        else "")
        script = offline_bertviz_script(self.kind, script_json(params))
        return (f'<div class="lmlab-attention lmlab-{self.kind}">'
                '<div style="font:13px sans-serif;color:#555">'
                f'{esc(self.title)}: '
                + esc(_("{layers} layers × {heads} heads").format(layers=n_layer, heads=n_head))
                + f'</div>{note_html(self.maps.note)}'
                f'<div id="{root_id}" style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;">'
                f'<span style="user-select:none">{layer_select} {esc(_("Attention:"))} '
                f'<select id="filter">{options}'
                f'</select></span><div id="vis"></div></div>'
                f'<script type="text/javascript">\n{script}</script></div>')

    def figure(self) -> Any:
        return CrossView(self.maps).figure()


def seq2seq_head_view(maps: Seq2SeqMaps) -> Seq2SeqBertvizView:
    """bertviz head view (lines from each token, a colour per head) of encoder, decoder and cross."""
    return Seq2SeqBertvizView(maps, "head_view")


def seq2seq_model_view(maps: Seq2SeqMaps) -> Seq2SeqBertvizView:
    """bertviz model view: every layer × head, for encoder, decoder and cross attention."""
    return Seq2SeqBertvizView(maps, "model_view")


@dataclass
class CrossAttentionSteps(AttentionSteps):
    """``AttentionSteps`` of a cross-attention head: ``tokens`` are the source (keys), the query is
    decoder position ``query`` whose input token is ``query_token``."""

    query_token: str = ""


@torch.no_grad()
def cross_attention_steps(model: Any, vocab: Any, source: str, target: str | None = None, *, layer: int = 0,
                          head: int = 0, position: int = 0) -> CrossAttentionSteps:
    """q = y_t W_q (decoder), K = M W_k, V = M W_v (encoder memory), then q·k_j/√d_k → softmax → Σ a_j v_j,
    checked against the weights the model reports."""
    from lmlab.models.seq2seq.transformer import Seq2SeqTransformer

    if not isinstance(model, Seq2SeqTransformer):
        raise ValueError("cross_attention_steps recomputes a Transformer head; for an RNN draw cross_view")
    if not 0 <= layer < len(model.decoder):
        raise ValueError(f"layer {layer} does not exist; this model has layers 0..{len(model.decoder) - 1}")
    if not 0 <= head < model.config.n_head:
        raise ValueError(f"head {head} does not exist; this model has heads 0..{model.config.n_head - 1}")
    captured: dict[str, torch.Tensor] = {}

    def grab(module: Any, args: tuple, kwargs: dict) -> None:
        captured["x"], captured["memory"] = args[0], args[1]

    hook = model.decoder[layer].cross.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        maps = seq2seq_attention(model, vocab, source, target)
    finally:
        hook.remove()
    T = len(maps.target_tokens)
    if not 0 <= position < T:
        raise ValueError(f"position {position} is outside the {T} decoder positions (0..{T - 1})")
    cross = model.decoder[layer].cross
    d_k = model.config.d_model // model.config.n_head
    sl = slice(head * d_k, (head + 1) * d_k)
    q = cross.W_q(captured["x"])[0, position, sl]  # (d_k,) from the decoder
    k_all, v_all = cross.W_kv(captured["memory"]).chunk(2, dim=-1)  # (1, S, C) each, from the encoder
    K, V = k_all[0, :, sl], v_all[0, :, sl]  # (S, d_k)
    scores = K @ q
    scaled = scores / math.sqrt(d_k)
    weights = torch.softmax(scaled, dim=-1)  # no mask: one source, no padding, every key visible
    return CrossAttentionSteps(maps.source_tokens, layer, head, position, q, K, V, scores, scaled,
                               scaled.clone(), weights, weights @ V,
                               maps.cross[layer, head, position].clone(),
                               causal=False, note=maps.note, query_token=maps.target_tokens[position])


class CrossStepsView(View):
    """The table of one cross-attention row: source keys, q·k, ÷√d_k, softmax, and the weighted sum."""

    title = N_("cross-attention step by step")

    def __init__(self, steps: CrossAttentionSteps, dims: int = 6) -> None:
        self.steps, self.dims = steps, dims

    def to_html(self) -> str:
        s = self.steps
        rows = "".join(
            f"<tr><td>{j}</td><td>{esc(tok)}</td><td>{s.scores[j]:+.3f}</td><td>{s.scaled[j]:+.3f}</td>"
            f"<td>{float(s.weights[j]):.3f}</td><td><div style='background:#0072B2;height:10px;"
            f"width:{120 * float(s.weights[j]):.1f}px'></div></td><td style='font-family:monospace'>["
            + " ".join(f"{float(v):+.2f}" for v in s.V[j, :self.dims]) + " …]</td></tr>"
            for j, tok in enumerate(s.tokens))
        out = " ".join(f"{float(v):+.2f}" for v in s.output[:self.dims])
        th = "".join(f"<th>{esc(h)}</th>" for h in ("j", _("source key"), "q·kⱼ", f"÷√{s.d_k}", "softmax aⱼ",
                                                      "", _("vⱼ (encoder)")))
        heading = _("decoder layer {layer}, cross-attention head {head}: position {query} (input {token}) "
                    "looks at the source (d_k = {d_k})").format(layer=s.layer, head=s.head, query=s.query,
                                                          token=s.query_token, d_k=s.d_k)
        check = _("matches the model's own cross-attention row: max |difference| = {diff:.1e}").format(
            diff=s.max_abs_diff)
        return ("<div class='lmlab-attention lmlab-steps' style='font:12px sans-serif'>"
                f"<div style='font-weight:bold'>{esc(heading)}</div>"
                f"{note_html(s.note)}<div style='font-family:serif;margin:4px 0'>q = y_t W_q (decoder), "
                "kⱼ = mⱼ W_k, vⱼ = mⱼ W_v (encoder memory); aⱼ = softmax(q·kⱼ/√d_k), out = Σⱼ aⱼ vⱼ</div>"
                f"<table style='border-collapse:collapse;text-align:right'><tr>{th}</tr>{rows}</table>"
                f"<div>out = [{out} …]</div><div style='color:#2a7a2a'>{esc(check)}</div></div>")

    def figure(self) -> Any:
        from matplotlib.figure import Figure

        from lmlab.viz.style import ensure_cjk_font

        ensure_cjk_font()  # Chinese tokens get a font

        s = self.steps
        fig = Figure(figsize=(max(4.0, 0.4 * len(s.tokens) + 2), 3.6), dpi=100, layout="constrained")
        ax1, ax2 = fig.subplots(2, 1, sharex=True)
        xs = list(range(len(s.tokens)))
        ax1.bar(xs, s.scaled.tolist(), color="#E69F00")
        ax1.set_ylabel(f"q·kⱼ / √{s.d_k}")
        ax1.set_title(_("cross-attention, layer {layer} head {head}: decoder input {token!r}").format(
            layer=s.layer, head=s.head, token=s.query_token), fontsize=10)
        ax2.bar(xs, s.weights.tolist(), color="#0072B2")
        ax2.set_ylabel("softmax aⱼ")
        ax2.set_xticks(xs, s.tokens)
        return fig


def cross_steps_view(model: Any, vocab: Any, source: str, target: str | None = None, *, layer: int = 0,
                     head: int = 0, position: int = 0) -> CrossStepsView:
    """The arithmetic of one cross-attention head for one decoder position, as a table."""
    return CrossStepsView(cross_attention_steps(model, vocab, source, target, layer=layer, head=head,
                                                position=position))

"""Step-by-step attention arithmetic for one token, with the numbers, for any lmlab model or MiniLM.

    q = x_i W_q,  K = X W_k,  V = X W_v               (one head's slice of the projections;
                                                        with RoPE, q and K after their rotary turn)
    s_j = q · k_j / √d_k                               (scaled scores)
    s_j = -∞ where j > i in a causal model             (the mask)
    a_j = exp(s_j) / Σ_j' exp(s_j')                     (softmax)
    out = Σ_j a_j v_j                                   (weighted sum of the values)

The inputs X are captured from the real forward pass (a hook on the attention module), and the
result is checked against the weights the model itself reports (``max_abs_diff``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from lmlab.i18n import N_, _
from lmlab.viz.attention._html import View, esc, note_html
from lmlab.viz.attention.maps import MAX_TOKENS, attention_of, token_strings


@dataclass
class AttentionSteps:
    """Every intermediate number of one head's attention for query position ``query``."""

    tokens: list[str]
    layer: int
    head: int
    query: int
    q: torch.Tensor  # (d_k,)
    K: torch.Tensor  # (T, d_k)
    V: torch.Tensor  # (T, d_k)
    scores: torch.Tensor  # (T,)  q · k_j
    scaled: torch.Tensor  # (T,)  / √d_k
    masked: torch.Tensor  # (T,)  -inf where the model may not look
    weights: torch.Tensor  # (T,)  softmax
    output: torch.Tensor  # (d_k,)  Σ a_j v_j
    model_weights: torch.Tensor  # (T,) the row the model reported
    causal: bool
    note: str = ""

    @property
    def d_k(self) -> int:
        return self.q.numel()

    @property
    def max_abs_diff(self) -> float:
        """How far our step-by-step softmax is from the model's own attention row (should be ~1e-7)."""
        return float((self.weights - self.model_weights).abs().max())


def _qkv_lmlab(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    B, T, C = x.shape  # the module's own q, k, v (with RoPE already turned), heads merged back
    q, k, v = (t.transpose(1, 2).reshape(B, T, C) for t in module.heads(x))  # (B, T, C) each
    return q, k, v, module.n_head


def _qkv_bert(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    n_head = getattr(module, "num_attention_heads", None) or module.config.num_attention_heads
    return module.query(x), module.key(x), module.value(x), n_head


def _attention_modules(model: Any) -> tuple[list[Any], Any]:
    if hasattr(model, "self_attention_modules"):  # the pretrained encoder wrapper
        return model.self_attention_modules(), _qkv_bert
    blocks = getattr(model, "blocks", None)
    if blocks is not None and all(hasattr(b, "attn") and hasattr(b.attn, "heads") for b in blocks):
        return [b.attn for b in blocks], _qkv_lmlab
    raise ValueError(f"don't know where the attention of a {type(model).__name__} is; attention_steps works "
                     "for lmlab GPT/TransformerEncoder and lmlab.models.pretrained.load_minilm()")


@torch.no_grad()
def attention_steps(model: Any, text: str, tokenizer: Any = None, *, layer: int = 0, head: int = 0,
                    token: int = -1) -> AttentionSteps:
    """Recompute head ``head`` of layer ``layer`` for the token at index ``token`` (negative: from the end).

    The result holds q, K, V, the scores at each step and ``max_abs_diff`` against the model's own row.
    """
    modules, qkv = _attention_modules(model)
    if not 0 <= layer < len(modules):
        raise ValueError(f"layer {layer} does not exist; this model has layers 0..{len(modules) - 1}")
    captured: dict[str, torch.Tensor] = {}

    def grab(module: Any, args: tuple, kwargs: dict) -> None:
        captured["x"] = args[0] if args else kwargs["hidden_states"]

    hook = modules[layer].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        maps = attention_of(model, text, tokenizer, max_tokens=MAX_TOKENS["steps"])
    finally:
        hook.remove()
    maps._check(layer, head)
    T = maps.n_tokens
    i = token + T if token < 0 else token
    if not 0 <= i < T:
        raise ValueError(f"token index {token} is outside the {T} tokens of the text "
                         f"(use 0..{T - 1}, or -1..-{T} counting from the end)")
    x = captured["x"][:, :T]  # (1, T, C)
    q_all, k_all, v_all, n_head = qkv(modules[layer], x)
    d_k = q_all.size(-1) // n_head
    sl = slice(head * d_k, (head + 1) * d_k)
    q = q_all[0, i, sl].float()  # (d_k,)
    K, V = k_all[0, :, sl].float(), v_all[0, :, sl].float()  # (T, d_k) each
    scores = K @ q  # (T,)
    scaled = scores / math.sqrt(d_k)
    masked = scaled.clone()
    if maps.causal:
        masked[i + 1:] = float("-inf")  # keys after the query are the future
    weights = torch.softmax(masked, dim=-1)
    output = weights @ V  # (d,)
    return AttentionSteps(maps.tokens, layer, head, i, q, K, V, scores, scaled, masked, weights, output,
                          maps.weights[layer, head, i].clone(), maps.causal, maps.note)


def _fmt(v: float) -> str:
    return "−∞" if v == float("-inf") else f"{v:+.3f}"


class StepsView(View):
    """A table of the arithmetic (scores → scaled → masked → softmax) and the weighted sum of V."""

    title = N_("attention step by step")

    def __init__(self, steps: AttentionSteps, dims: int = 6) -> None:
        self.steps, self.dims = steps, dims

    def to_html(self) -> str:
        s = self.steps
        tok = s.tokens
        rows = []
        for j in range(len(tok)):
            w = float(s.weights[j])
            bar = (f'<div style="background:#0072B2;height:10px;width:{120 * w:.1f}px"></div>')
            dims = " ".join(f"{float(v):+.2f}" for v in s.V[j, :self.dims])
            mark = ' style="background:#fff3c4"' if j == s.query else ""
            rows.append(f'<tr{mark}>'
                        f'<td>{j}</td><td class="lmlab-token">{esc(tok[j])}</td><td>{s.scores[j]:+.3f}</td>'
                        f'<td>{s.scaled[j]:+.3f}</td><td>{_fmt(float(s.masked[j]))}</td><td>{w:.3f}</td>'
                        f'<td>{bar}</td><td style="font-family:monospace">[{dims} …]</td></tr>')
        out = " ".join(f"{float(v):+.2f}" for v in s.output[:self.dims])
        check = _("matches the model's own attention row: max |difference| = {diff:.1e}").format(
            diff=s.max_abs_diff)
        th = "".join(f"<th>{esc(h)}</th>" for h in ("j", _("key token"), "q·kⱼ", f"÷√{s.d_k}",
                                                      _("mask") if s.causal else _("(no mask)"), "softmax aⱼ",
                                                      "", "vⱼ"))
        heading = _("layer {layer}, head {head}: how token {query} {token} attends (d_k = {d_k})").format(
            layer=s.layer, head=s.head, query=s.query, d_k=s.d_k,
            token=f'<span class="lmlab-token">{esc(tok[s.query])}</span>')
        future = esc(_("sⱼ = −∞ for j > i, ")) if s.causal else ""
        first = esc(_("(first {n} of {d_k} dimensions)").format(n=self.dims, d_k=s.d_k))
        return ('<div class="lmlab-attention lmlab-steps" style="font:12px sans-serif;">'
                '<style>.lmlab-steps td, .lmlab-steps th {padding: 1px 6px;}</style>'
                f'<div style="font-weight:bold">{heading}</div>'
                f'{note_html(s.note)}'
                '<div style="font-family:serif;margin:4px 0;">sⱼ = q·kⱼ / √d_k, '
                f'{future}aⱼ = softmax(s)ⱼ, out = Σⱼ aⱼ vⱼ</div>'
                f'<table style="border-collapse:collapse;text-align:right;"><tr>{th}</tr>'
                f'{"".join(rows)}</table>'
                f'<div style="margin-top:4px">out = Σⱼ aⱼ vⱼ = <span style="font-family:monospace">[{out} …]'
                f'</span> {first}</div>'
                f'<div style="color:#2a7a2a">{esc(check)}</div></div>')

    def figure(self) -> Any:
        from matplotlib.figure import Figure

        from lmlab.viz.style import ensure_cjk_font

        ensure_cjk_font()  # Chinese tokens get a font

        s = self.steps
        # a causal model's future keys are all −∞ → 0: draw only the keys the query can see
        T = s.query + 1 if s.causal else len(s.tokens)
        fig = Figure(figsize=(max(5.0, 0.3 * T + 2), 4.4), dpi=100, layout="constrained")
        ax1, ax2 = fig.subplots(2, 1, sharex=True)
        xs = list(range(T))
        ax1.bar(xs, s.scaled[:T].tolist(), color="#E69F00")
        ax1.axhline(0, color="#888888", linewidth=0.8)
        ax1.set_ylabel(f"q·kⱼ / √{s.d_k}")
        hidden = len(s.tokens) - T
        ax1.set_title(_("layer {layer}, head {head}: token {query} {token!r} attends").format(
            layer=s.layer, head=s.head, query=s.query, token=s.tokens[s.query])
            + ("\n" + _("({n} later tokens masked: −∞ → weight 0)").format(n=hidden) if hidden else ""),
            fontsize=10)
        ax2.bar(xs, s.weights[:T].tolist(), color="#0072B2")
        ax2.set_ylabel(_("softmax weight aⱼ"))
        ax2.set_xticks(xs, s.tokens[:T], rotation=90 if T > 16 else 0)
        return fig


def steps_view(model: Any, text: str, tokenizer: Any = None, *, layer: int = 0, head: int = 0,
               token: int = -1) -> StepsView:
    """The arithmetic of one head for one token, as a table with the numbers (saveable)."""
    return StepsView(attention_steps(model, text, tokenizer, layer=layer, head=head, token=token))


__all__ = ["AttentionSteps", "StepsView", "attention_steps", "steps_view", "token_strings"]

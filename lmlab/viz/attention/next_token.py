"""Next-token probabilities as bars, with temperature and top-k controls that work offline (and in a
saved HTML file): the logits travel with the page and a few lines of JavaScript redo the softmax.

    p_i = exp(z_i / τ) / Σ_j exp(z_j / τ)   over the k largest z (the rest get 0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lmlab.i18n import N_, _
from lmlab.models.sampling import filter_logits
from lmlab.viz.attention._html import View, esc, new_id, script_json
from lmlab.viz.attention.maps import token_strings

_JS = (Path(__file__).with_name("next_token.js")).read_text(encoding="utf-8")


def next_token_distribution(model: Any, text: str, tokenizer: Any) -> tuple[torch.Tensor, list[str]]:
    """The model's logits for the token after ``text`` (V,) and the string of every vocabulary entry."""
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError("text is empty; give a prompt to continue")
    block = getattr(getattr(model, "config", None), "block_size", None)
    ids = ids[-block:] if block else ids
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(torch.tensor([ids], device=device))[0][0, -1].float().cpu()  # (V,)
    finally:
        model.train(was_training)
    return logits, token_strings(tokenizer, range(logits.numel()))


class NextTokenView(View):
    """Bars of p(next token) for the most likely tokens; sliders change temperature and top-k."""

    title = N_("next-token probabilities")

    def __init__(self, logits: torch.Tensor, tokens: list[str], prompt: str = "", temperature: float = 1.0,
                 top_k: int | None = None, show: int = 15) -> None:
        if logits.dim() != 1 or logits.numel() != len(tokens):
            raise ValueError(f"logits must have shape (vocab_size,) = ({len(tokens)},), "
                             f"got {tuple(logits.shape)}")
        filter_logits(logits[None], temperature, top_k)  # same argument checks as sampling
        if temperature == 0:  # allowed when sampling (greedy), but the slider starts at 0.1
            raise ValueError("temperature 0 is greedy (the top token gets probability 1); this view needs "
                             "temperature >= 0.1, the lowest its slider goes")
        self.logits, self.tokens, self.prompt = logits.float(), tokens, prompt
        self.temperature, self.top_k = temperature, top_k or logits.numel()
        self.show = min(show, logits.numel())

    def probabilities(self) -> torch.Tensor:
        """(V,) after temperature and top-k, exactly as ``lmlab.models.sampling`` samples."""
        return torch.softmax(filter_logits(self.logits[None], self.temperature, self.top_k)[0], dim=-1)

    def to_html(self) -> str:
        root = new_id("lmlab-next")
        V = self.logits.numel()
        params = {"id": root, "logits": [round(float(z), 4) for z in self.logits], "tokens": self.tokens,
                  "show": self.show, "cut": _("0 (cut by top-k)")}
        return (f'<div id="{root}" class="lmlab-attention lmlab-next-token" style="font:12px sans-serif;">'
                f'<div>{esc(_("after"))} <span class="lmlab-token" style="font-family:monospace;'
                f'white-space:pre">{esc(self.prompt[-60:])}</span> {esc(_("the model predicts:"))}</div>'
                f'<label>τ <input class="lmlab-temp" type="range" min="0.1" max="3" step="0.05" '
                f'value="{self.temperature}"></label> '
                f'<label>k <input class="lmlab-topk" type="range" min="1" max="{V}" step="1" '
                f'value="{self.top_k}"></label> <span class="lmlab-label"></span>'
                f'<div class="lmlab-bars"></div>'
                f'<script type="text/javascript">{_JS.replace("__PARAMS__", script_json(params))}'
                '</script></div>')

    def figure(self) -> Any:
        from matplotlib.figure import Figure

        from lmlab.viz.style import ensure_cjk_font

        ensure_cjk_font()  # Chinese tokens get a font

        p = self.probabilities()
        order = torch.argsort(self.logits, descending=True)[: self.show]
        fig = Figure(figsize=(5, 0.25 * self.show + 1), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        ax.barh(range(self.show), p[order].tolist(), color="#0072B2")
        ax.set_yticks(range(self.show), [repr(self.tokens[i])[1:-1] for i in order])
        ax.invert_yaxis()
        ax.set(xlabel=_("probability"),
               title=_("next token (τ={tau}, top-k={k})").format(tau=self.temperature, k=self.top_k))
        return fig


def next_token_view(model: Any, text: str, tokenizer: Any, *, temperature: float = 1.0,
                    top_k: int | None = None, show: int = 15) -> NextTokenView:
    """p(next token | text) as bars, with temperature/top-k sliders (offline, saveable)."""
    logits, tokens = next_token_distribution(model, text, tokenizer)
    return NextTokenView(logits, tokens, text, temperature, top_k, show)

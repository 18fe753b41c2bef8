"""Pictures of positions: the sinusoidal table of "Attention Is All You Need", a model's learned table,
and how similar two positions look to the model (cosine similarity).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import torch

from lmlab.i18n import N_, _
from lmlab.viz.attention._html import View, esc


def sinusoidal_table(n_pos: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)); (n_pos, d_model)."""
    if d_model % 2 or d_model < 2:
        raise ValueError(f"sinusoidal encoding needs an even d_model >= 2, got {d_model}")
    if n_pos < 1:
        raise ValueError(f"n_pos must be >= 1, got {n_pos}")
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]  # (n_pos, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (d/2,)
    angle = pos / torch.pow(10000.0, two_i / d_model)  # (n_pos, d/2)
    pe = torch.zeros(n_pos, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def position_table(model: Any) -> tuple[torch.Tensor, str]:
    """(n_pos, dims) position vectors of a model: learned ``wpe``, fixed ``pe``, or, for rotary
    embeddings, (cos, sin) of every channel pair's angle pos·θ_i (one head's; all heads share them)."""
    config = getattr(model, "config", None)
    if getattr(config, "pos_encoding", None) == "rope":
        from lmlab.models.transformer.attention import rotary_angles

        angle = rotary_angles(config.block_size, config.head_size)  # (T, hs/2)
        table = torch.stack([angle.cos(), angle.sin()], dim=-1).flatten(-2)  # (T, hs): cos, sin per pair
        return table, _("rotary angles (cos, sin of pos·θᵢ)")
    embed = getattr(model, "embed", None)
    if embed is not None and hasattr(embed, "wpe"):
        return embed.wpe.weight.detach().float().cpu(), _("learned position embeddings")
    if embed is not None and hasattr(embed, "pe"):
        return embed.pe.detach().float().cpu(), _("sinusoidal position encoding")
    hf = getattr(getattr(model, "model", model), "embeddings", None)
    if hf is not None and hasattr(hf, "position_embeddings"):
        return hf.position_embeddings.weight.detach().float().cpu(), _("learned position embeddings (BERT)")
    raise ValueError(f"{type(model).__name__} has no position table (expected model.embed.wpe / .pe)")


def cosine_similarity_matrix(table: torch.Tensor) -> torch.Tensor:
    """(n_pos, n_pos): cos(p_i, p_j); a bright band near the diagonal = nearby positions look alike."""
    unit = torch.nn.functional.normalize(table, dim=-1)
    return unit @ unit.T


class PositionalView(View):
    """The table (position × dimension), a few dimensions as curves, the cosine similarity of positions."""

    title = N_("positional encoding")

    def __init__(self, table: torch.Tensor, name: str, dims: tuple[int, ...] = (0, 1, 4, 5, 10, 11)) -> None:
        self.table, self.name = table, name
        self.dims = tuple(d for d in dims if d < table.size(1))

    def figure(self) -> Any:
        from matplotlib.figure import Figure

        from lmlab.viz.style import ensure_cjk_font

        ensure_cjk_font()  # Chinese tokens get a font

        fig = Figure(figsize=(11, 3.2), dpi=100, layout="constrained")
        a, b, c = fig.subplots(1, 3)
        im = a.imshow(self.table.numpy(), aspect="auto", cmap="RdBu_r", interpolation="nearest")
        a.set(xlabel=_("dimension"), ylabel=_("position"), title=self.name)
        a.grid(False)
        fig.colorbar(im, ax=a, shrink=0.8)
        for d in self.dims:
            b.plot(self.table[:, d].numpy(), label=_("dim {d}").format(d=d))
        b.set(xlabel=_("position"), title=_("a few dimensions along the positions"))
        b.legend(fontsize="x-small", ncol=2)
        sim = cosine_similarity_matrix(self.table)
        im = c.imshow(sim.numpy(), cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
        c.set(xlabel=_("position j"), ylabel=_("position i"), title="cos(pᵢ, pⱼ)")
        c.grid(False)
        fig.colorbar(im, ax=c, shrink=0.8)
        return fig

    def to_html(self) -> str:
        buf = io.BytesIO()
        self.figure().savefig(buf, format="png", dpi=90, bbox_inches="tight")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return (f'<div class="lmlab-attention lmlab-positional"><div style="font:12px sans-serif;color:#555">'
                f'{esc(self.name)}: ' + esc(_("{n} positions × {d} dimensions").format(
                    n=self.table.size(0), d=self.table.size(1))) + '</div>'
                f'<img alt="{esc(self.name)}" src="data:image/png;base64,{data}"></div>')


def positional_view(model: Any = None, *, n_pos: int = 64, d_model: int = 64) -> PositionalView:
    """A model's position table, or (no model) the sinusoidal one for ``n_pos`` × ``d_model``."""
    if model is None:
        return PositionalView(sinusoidal_table(n_pos, d_model), _("sinusoidal position encoding"))
    table, name = position_table(model)
    return PositionalView(table, name)

"""Attention you can see, offline: bertviz views of any lmlab model, lmlab's own views, export for slides.

    from lmlab.viz.attention import attention_of, head_view, model_view, grid_view, steps_view
    maps = attention_of(model, "To be, or not to be", tokenizer)  # (n_layer, n_head, T, T) + tokens
    head_view(maps)                      # bertviz, no CDN, works in JupyterLab 4 and classic notebooks
    grid_view(maps).save("grid.png")     # every view saves to .html (self-contained), .png or .svg
    steps_view(model, "To be", tokenizer, layer=1, head=2)   # QKᵀ/√d → mask → softmax → Σ a v
"""

from lmlab.viz.attention.bertviz_views import HeadView, ModelView, head_view, model_view
from lmlab.viz.attention.grid import GridView, grid_view
from lmlab.viz.attention.maps import AttentionMaps, as_attention_maps, attention_of, token_strings
from lmlab.viz.attention.next_token import NextTokenView, next_token_distribution, next_token_view
from lmlab.viz.attention.positional import PositionalView, positional_view, sinusoidal_table
from lmlab.viz.attention.steps import AttentionSteps, StepsView, attention_steps, steps_view
from lmlab.viz.attention.training import AttentionRecorder

__all__ = [
    "AttentionMaps", "AttentionRecorder", "AttentionSteps", "GridView", "HeadView", "ModelView",
    "NextTokenView", "PositionalView", "StepsView", "as_attention_maps", "attention_of", "attention_steps",
    "grid_view", "head_view", "model_view", "next_token_distribution", "next_token_view", "positional_view",
    "sinusoidal_table", "steps_view", "token_strings",
]

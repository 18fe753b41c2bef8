"""Attention weights + the tokens they belong to, in one shape every view understands.

    maps = attention_of(model, "To be, or not to be", tokenizer)   # any lmlab GPT / encoder
    maps = attention_of(load_minilm(), "The cat sat.", "It purred.")  # the pretrained encoder
    maps.weights    # (n_layer, n_head, T, T): row i = where token i looks, each row sums to 1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

# the data type lives below models and viz; imported here so `lmlab.viz.attention.maps` keeps working
from lmlab.attention_maps import AttentionMaps, as_attention_maps
from lmlab.i18n import _

__all__ = ["MAX_MODEL_VIEW_CELLS", "MAX_TOKENS", "AttentionMaps", "as_attention_maps", "attention_of",
           "token_strings"]

# Beyond these sizes a browser tab draws tens of thousands of SVG lines and freezes; we crop instead.
MAX_TOKENS = {"head": 96, "model": 48, "grid": 64, "steps": 64}
MAX_MODEL_VIEW_CELLS = 150_000  # n_layer * n_head * T * T lines drawn by bertviz's model view


def token_strings(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """One display string per id (characters, BPE pieces, Chinese characters), newline shown as ⏎."""
    if hasattr(tokenizer, "convert_ids_to_tokens"):  # Hugging Face
        pieces = tokenizer.convert_ids_to_tokens(list(ids))
    else:
        pieces = [tokenizer.decode([int(i)]) for i in ids]
    return [_visible(p) for p in pieces]


_WHITESPACE = str.maketrans({" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"})


def _visible(piece: str) -> str:
    if not piece:
        return "∅"
    if not piece.strip():  # a token made only of whitespace: draw the whitespace
        return piece.translate(_WHITESPACE)
    return piece.replace("\n", "⏎")


@torch.no_grad()
def attention_of(model: Any, text: str, tokenizer: Any = None, text_b: str | None = None,
                 max_tokens: int | None = None) -> AttentionMaps:
    """Run ``model`` on ``text`` once and collect every layer's attention with the token strings.

    Works for an lmlab ``GPT`` / ``TransformerEncoder`` (give its tokenizer) and for the pretrained
    encoder from ``lmlab.models.pretrained.load_minilm`` (``text_b`` makes a sentence pair).
    """
    if hasattr(model, "attention_maps"):  # the pretrained encoder wrapper brings its own tokenizer
        if isinstance(tokenizer, str) and text_b is None:  # attention_of(minilm, sentence_a, sentence_b)
            tokenizer, text_b = None, tokenizer
        return model.attention_maps(text, text_b, max_tokens=max_tokens)
    if tokenizer is None:
        raise ValueError("attention_of needs the tokenizer the model was trained with, e.g. "
                         "attention_of(model, text, tokenizer)")
    if text_b is not None:
        raise ValueError("text_b (a sentence pair) is only for the pretrained encoder; "
                         "for an lmlab model pass one text")
    if not text:
        raise ValueError("text is empty; give at least one character/token to look at")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}; leave it out to see the whole text")
    ids = list(tokenizer.encode(text))
    block = getattr(getattr(model, "config", None), "block_size", None)
    limit = min(x for x in (max_tokens, block) if x is not None) if (max_tokens or block) else None
    note = ""
    if limit is not None and len(ids) > limit:
        why = f"block_size={block}" if limit == block else f"max_tokens={limit}"
        note = _("the text has {n} tokens; using the first {limit} ({why})").format(n=len(ids), limit=limit,
                                                                                    why=why)
        ids = ids[:limit]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        attn = model.forward_with_attention(torch.tensor([ids], device=device))[-1]
    finally:
        model.train(was_training)
    maps = as_attention_maps(attn, token_strings(tokenizer, ids),
                             causal=_is_causal(model), source=type(model).__name__)
    return replace(maps, note=note) if note else maps


def _is_causal(model: Any) -> bool | None:
    for module in model.modules():
        if hasattr(module, "causal") and isinstance(module.causal, bool):
            return module.causal
    return None

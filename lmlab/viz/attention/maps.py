"""Attention weights + the tokens they belong to, in one shape every view understands.

    maps = attention_of(model, "To be, or not to be", tokenizer)   # any lmlab GPT / encoder
    maps = attention_of(load_minilm(), "The cat sat.", "It purred.")  # the pretrained encoder
    maps.weights    # (n_layer, n_head, T, T): row i = where token i looks, each row sums to 1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

# Beyond these sizes a browser tab draws tens of thousands of SVG lines and freezes; we crop instead.
MAX_TOKENS = {"head": 96, "model": 48, "grid": 64, "steps": 64}
MAX_MODEL_VIEW_CELLS = 150_000  # n_layer * n_head * T * T lines drawn by bertviz's model view


@dataclass(frozen=True)
class AttentionMaps:
    """weights: (n_layer, n_head, T, T) float32 on CPU, rows = queries ("from"), columns = keys ("to")."""

    weights: torch.Tensor
    tokens: list[str]
    causal: bool = False
    sentence_b_start: int | None = None
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        w = self.weights
        if w.dim() != 4 or w.size(-1) != w.size(-2):
            raise ValueError("attention weights must have shape (n_layer, n_head, T, T), "
                             f"got {tuple(w.shape)}")
        if w.size(-1) != len(self.tokens):
            raise ValueError(f"attention covers {w.size(-1)} positions but {len(self.tokens)} tokens were "
                             "given; pass exactly one token string per position")
        if self.sentence_b_start is not None and not 0 < self.sentence_b_start < len(self.tokens):
            raise ValueError(f"sentence_b_start={self.sentence_b_start} must be between 1 and "
                             f"{len(self.tokens) - 1} (the index of the first token of sentence B)")

    @property
    def n_layer(self) -> int:
        return self.weights.size(0)

    @property
    def n_head(self) -> int:
        return self.weights.size(1)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    def head(self, layer: int, head: int | None = None) -> torch.Tensor:
        """(T, T) weights of one head, or the mean over heads when ``head`` is None."""
        self._check(layer, head)
        w = self.weights[layer]
        return w.mean(0) if head is None else w[head]

    def crop(self, max_tokens: int) -> AttentionMaps:
        """The first ``max_tokens`` positions, with a note saying what was cut (exact for causal models)."""
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if self.n_tokens <= max_tokens:
            return self
        exact = ("exact for a causal model: later tokens never change earlier rows" if self.causal else
                 "rows are not renormalised, they lose the weight that went to the cut tokens; "
                 "for exact numbers run the model on a shorter text")
        note = (f"{self.n_tokens} tokens is too many to draw; showing the first {max_tokens} ({exact}). "
                f"Pass max_tokens=... or a shorter text to change this.")
        b = self.sentence_b_start
        return replace(self, weights=self.weights[..., :max_tokens, :max_tokens].contiguous(),
                       tokens=self.tokens[:max_tokens], note=_join(self.note, note),
                       sentence_b_start=b if b is not None and b < max_tokens else None)

    def select(self, layers: Sequence[int] | None = None,
               heads: Sequence[int] | None = None) -> AttentionMaps:
        """A subset of layers and/or heads (what you draw, not what the model computed)."""
        w = self.weights
        if layers is not None:
            for layer in layers:
                self._check(layer, None)
            w = w[list(layers)]
        if heads is not None:
            for h in heads:
                self._check(0, h)
            w = w[:, list(heads)]
        return replace(self, weights=w.contiguous())

    def _check(self, layer: int, head: int | None) -> None:
        if not 0 <= layer < self.n_layer:
            raise ValueError(f"layer {layer} does not exist; this model has layers 0..{self.n_layer - 1}")
        if head is not None and not 0 <= head < self.n_head:
            raise ValueError(f"head {head} does not exist; this model has heads 0..{self.n_head - 1}")


def _join(*notes: str) -> str:
    return " ".join(n for n in notes if n)


def as_attention_maps(attention: Any, tokens: Sequence[str], *, causal: bool | None = None,
                      sentence_b_start: int | None = None, source: str = "") -> AttentionMaps:
    """Accept what models return: a list of (1, H, T, T) or (H, T, T) tensors, or one (L, H, T, T) tensor.

    ``causal=None`` guesses from the weights (all zero above the diagonal).
    """
    if isinstance(attention, AttentionMaps):
        return attention
    if isinstance(attention, torch.Tensor):
        layers = list(attention) if attention.dim() >= 4 else [attention]
    elif isinstance(attention, (list, tuple)) and attention:
        layers = list(attention)
    else:
        raise ValueError("attention must be a list of per-layer tensors (1, n_head, T, T) or one tensor "
                         f"(n_layer, n_head, T, T); got {type(attention).__name__}")
    stacked = []
    for i, layer in enumerate(layers):
        t = torch.as_tensor(layer).detach().float().cpu()
        if t.dim() == 4:
            if t.size(0) != 1:
                raise ValueError(f"layer {i} attention has batch size {t.size(0)}; views show one example: "
                                 "pass [a[:1] for a in attention] (or run the model on one text)")
            t = t[0]
        if t.dim() != 3:
            raise ValueError(f"layer {i} attention has shape {tuple(t.shape)}; expected (1, n_head, T, T). "
                             "For Hugging Face models pass output_attentions=True")
        stacked.append(t)
    weights = torch.stack(stacked)  # (L, H, T, T)
    if causal is None:
        causal = bool(torch.all(weights.triu(diagonal=1) == 0))
    return AttentionMaps(weights, [str(t) for t in tokens], causal=causal,
                         sentence_b_start=sentence_b_start, source=source)


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
    ids = list(tokenizer.encode(text))
    block = getattr(getattr(model, "config", None), "block_size", None)
    limit = min(x for x in (max_tokens, block) if x is not None) if (max_tokens or block) else None
    note = ""
    if limit is not None and len(ids) > limit:
        why = f"block_size={block}" if limit == block else f"max_tokens={limit}"
        note = f"the text has {len(ids)} tokens; using the first {limit} ({why})"
        ids = ids[:limit]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = model(torch.tensor([ids], device=device), return_attention=True)
    finally:
        model.train(was_training)
    attn = out[-1] if isinstance(out, tuple) else out
    maps = as_attention_maps(attn, token_strings(tokenizer, ids),
                             causal=_is_causal(model), source=type(model).__name__)
    return replace(maps, note=note) if note else maps


def _is_causal(model: Any) -> bool | None:
    for module in model.modules():
        if hasattr(module, "causal") and isinstance(module.causal, bool):
            return module.causal
    return None

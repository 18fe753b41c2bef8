"""Attention weights + the tokens they belong to: the data type that models return and views draw.

It sits below both ``lmlab.models`` (the pretrained encoder returns it) and ``lmlab.viz`` (every view
reads it), so neither has to import the other.

    maps = as_attention_maps(outputs.attentions, tokens)   # a list of (1, H, T, T), or one (L, H, T, T)
    maps.weights    # (n_layer, n_head, T, T): row i = where token i looks, each row sums to 1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from lmlab.say import learner_text


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
        if self.causal:
            exact = learner_text("exact for a causal model: later tokens never change earlier rows")
        else:
            exact = learner_text("rows are not renormalised, they lose the weight that went to the cut "
                                 "tokens; for exact numbers run the model on a shorter text")
        note = learner_text("{n} tokens is too many to draw; showing the first {limit} ({exact}). Pass "
                            "max_tokens=... or a shorter text to change this.", n=self.n_tokens,
                            limit=max_tokens, exact=exact)
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

"""Encoder and decoder layers from lmlab's Block: pre-LN (lmlab's default) or post-LN (the paper's).

    pre-LN:  x = x + Sublayer(LN(x))          post-LN:  x = LN(x + Sublayer(x))

The encoder layer is lmlab's ``Block`` without the causal mask (self-attention sees the whole source,
padding hidden); the decoder layer adds cross-attention between its causal self-attention and its MLP.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from lmlab.models.seq2seq.cross_attention import CrossAttention
from lmlab.models.transformer.attention import LayerCache
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import Block


class EncoderLayer(Block):
    """Bidirectional self-attention, then the MLP; ``norm_first`` picks where the LayerNorms sit."""

    def __init__(self, config: GPTConfig, norm_first: bool = True) -> None:
        super().__init__(config, causal=False)
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, return_attention: bool = False, cache: LayerCache | None = None,
                key_padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.norm_first:  # lmlab's Block exactly
            return super().forward(x, return_attention, cache, key_padding_mask)
        a, weights = self.attn(x, return_attention, cache, key_padding_mask)
        x = self.ln_1(x + a)  # (B, S, C)
        x = self.ln_2(x + self.mlp(x))
        return x, weights


class DecoderLayer(EncoderLayer):
    """Causal self-attention, cross-attention to the memory, MLP: three sublayers, three LayerNorms."""

    def __init__(self, config: GPTConfig, norm_first: bool = True) -> None:
        super().__init__(config, norm_first)
        self.attn.causal = True  # a position sees itself and the earlier target positions only
        self.ln_x = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.cross = CrossAttention(config)

    def forward(self, y: torch.Tensor, memory: torch.Tensor | None, memory_mask: torch.Tensor | None = None,
                return_attention: bool = False, cache: LayerCache | None = None,
                memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """y: (B, T, C) -> (y, self-attention weights (B, nh, T, T_k), cross weights (B, nh, T, S))."""
        if self.norm_first:
            a, self_w = self.attn(self.ln_1(y), return_attention, cache)
            y = y + a
            c, cross_w = self.cross(self.ln_x(y), memory, memory_mask, return_attention, memory_kv)
            y = y + c
            y = y + self.mlp(self.ln_2(y))
        else:
            a, self_w = self.attn(y, return_attention, cache)
            y = self.ln_1(y + a)
            c, cross_w = self.cross(y, memory, memory_mask, return_attention, memory_kv)
            y = self.ln_x(y + c)
            y = self.ln_2(y + self.mlp(y))
        return y, self_w, cross_w

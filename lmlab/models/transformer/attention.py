"""Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, the causal mask, multi-head attention, positions.

Two paths compute the same thing: ``F.scaled_dot_product_attention`` (fused, flash on GPU) for training,
and the readable ``attention`` below that also returns the weights a learner wants to look at.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.models.transformer.config import GPTConfig


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | None = None) -> torch.Tensor:
    """(t_q, t_k) booleans, True where query i may look at key j: j <= i + (t_k - t_q).

    The queries are the *last* t_q positions of the t_k keys (bottom-right aligned), which is what a
    KV cache needs; for t_q == t_k it is the lower triangle.
    """
    t_k = t_q if t_k is None else t_k
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
              dropout: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v, written out. q: (..., T_q, d_k), k, v: (..., T_k, d_k).

    Returns (output (..., T_q, d_k), weights (..., T_q, T_k)); ``mask`` is True where attending is allowed.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # a forbidden key gets probability 0
    weights = torch.softmax(scores, dim=-1)
    mixed = dropout(weights) if dropout is not None else weights
    return mixed @ v, weights


def sinusoidal_encoding(n_pos: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)); shape (n_pos, d)."""
    if d_model % 2:
        raise ValueError(f"sinusoidal encoding needs an even d_model, got {d_model}")
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]  # (n_pos, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # 0, 2, 4, ... (d/2,)
    angle = pos / torch.pow(10000.0, two_i / d_model)  # (n_pos, d/2): one frequency per pair
    pe = torch.zeros(n_pos, d_model)
    pe[:, 0::2] = torch.sin(angle)  # even channels 2i
    pe[:, 1::2] = torch.cos(angle)  # odd channels 2i+1, same frequency
    return pe


class LayerCache:
    """Keys and values of the positions already seen, for one layer: generation reuses them."""

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None  # (B, n_head, T_past, head_size)
        self.v: torch.Tensor | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.size(2)


class MultiHeadAttention(nn.Module):
    """n_head attentions side by side: project to Q, K, V, split channels into heads, attend, merge.

    ``causal=True`` is GPT's masked self-attention; ``False`` is the encoder's bidirectional one.
    """

    def __init__(self, config: GPTConfig, causal: bool = True) -> None:
        super().__init__()
        self.n_head, self.causal = config.n_head, causal
        # W_q, W_k, W_v as one (C, 3C) matrix: one matmul instead of three
        self.W_qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.W_o = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, n_head, T, C / n_head): heads are just a reshape of the channels."""
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

    def forward(self, x: torch.Tensor, return_attention: bool = False, cache: LayerCache | None = None,
                key_padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, C) -> (output (B, T, C), weights (B, n_head, T, T_k) or None).

        ``key_padding_mask`` (B, T_k), True for real tokens, hides padding from the encoder.
        """
        B, T, C = x.shape
        q, k, v = self.W_qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, nh, T_past + T, hs)
        T_k = k.size(2)
        weights = None
        p = self.dropout if self.training else 0.0
        if self.causal and T_k == T and key_padding_mask is None and not return_attention:
            # training's common case: the fused kernel applies the causal mask itself
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            mask = causal_mask(T, T_k, x.device) if self.causal and T > 1 else None  # (T, T_k)
            if key_padding_mask is not None:
                pad = key_padding_mask[:, None, None, :].bool()  # (B, 1, 1, T_k)
                mask = pad if mask is None else mask & pad
            if return_attention:  # the readable path: every weight is kept
                y, weights = attention(q, k, v, mask, self.attn_dropout if self.training else None)
            else:  # fused, with an explicit mask (a KV cache, or padding)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # merge heads: (B, T, C)
        return self.resid_dropout(self.W_o(y)), weights

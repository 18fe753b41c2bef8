"""Cross-attention: the decoder's queries look at the encoder's memory.

    Q = Y W_q   (B, T, C)  from the decoder        K = M W_k,  V = M W_v   (B, S, C)  from the encoder
    CrossAttention(Y, M) = softmax(Q Kᵀ / √d_k + padding mask) V W_o

Same arithmetic as self-attention (``lmlab.models.transformer.attention``); only where Q and K, V come
from differs. During generation M never changes, so its K and V are computed once (``memory_kv``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.models.transformer.attention import attention, merge_heads, split_heads
from lmlab.models.transformer.config import GPTConfig


class CrossAttention(nn.Module):
    """Multi-head attention with queries from ``x`` (B, T, C) and keys/values from ``memory`` (B, S, C)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.W_q = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.W_kv = nn.Linear(config.n_embd, 2 * config.n_embd, bias=config.bias)  # W_k, W_v side by side
        self.W_o = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """K, V of the encoder memory, each (B, n_head, S, head_size): computed once per source."""
        k, v = self.W_kv(memory).chunk(2, dim=-1)  # 2 x (B, S, C)
        return split_heads(k, self.n_head), split_heads(v, self.n_head)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None, memory_mask: torch.Tensor | None = None,
                return_attention: bool = False, kv: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, C) -> (output (B, T, C), weights (B, n_head, T, S) or None).

        ``memory_mask`` (B, S) is True for real source tokens; ``kv`` is ``memory_kv(memory)`` reused.
        """
        B, T, C = x.shape
        q = split_heads(self.W_q(x), self.n_head)  # (B, nh, T, hs)
        k, v = kv if kv is not None else self.memory_kv(memory)  # (B, nh, S, hs) each
        mask = memory_mask[:, None, None, :].bool() if memory_mask is not None else None  # (B, 1, 1, S)
        weights = None
        if return_attention:  # the readable path: every weight is kept
            y, weights = attention(q, k, v, mask, self.attn_dropout if self.training else None)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               dropout_p=self.dropout if self.training else 0.0)
        y = merge_heads(y)  # (B, T, C)
        return self.resid_dropout(self.W_o(y)), weights

"""Additive attention (Bahdanau, Cho & Bengio 2015), the attention that was invented for translation:

    e_ij = vᵀ tanh(W_s s_{i-1} + W_h h_j)      how well source position j fits the next target word
    α_ij = softmax_j(e_ij)                       padding gets e = -∞, weight 0
    c_i  = Σ_j α_ij h_j                          the context the decoder reads at step i

A small network scores each (decoder state, encoder state) pair, where the Transformer takes a dot product.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class AdditiveAttention(nn.Module):
    """Scores (B, S) of decoder state s (B, H) against encoder states h (B, S, H_enc)."""

    def __init__(self, state_size: int, memory_size: int, attention_size: int) -> None:
        super().__init__()
        self.W_s = nn.Linear(state_size, attention_size, bias=False)
        self.W_h = nn.Linear(memory_size, attention_size, bias=True)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def keys(self, h: torch.Tensor) -> torch.Tensor:
        """W_h h_j for every source position (B, S, A): fixed for the whole target, computed once."""
        return self.W_h(h)

    def forward(self, s: torch.Tensor, h: torch.Tensor, mask: torch.Tensor,
                keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """s (B, H), h (B, S, H_enc), mask (B, S) True for real tokens -> (context (B, H_enc), α (B, S))."""
        keys = self.keys(h) if keys is None else keys
        e = self.v(torch.tanh(self.W_s(s)[:, None, :] + keys)).squeeze(-1)  # (B, S)
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1)
        return (alpha[:, :, None] * h).sum(1), alpha

"""Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, the causal mask, multi-head attention, positions
(the sinusoidal table added to the input, or rotary embeddings that turn queries and keys).

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


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """(B, T, C) -> (B, n_head, T, C / n_head): heads are just a reshape of the channels."""
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """(B, n_head, T, head_size) -> (B, T, n_head * head_size): the heads side by side again."""
    B, nh, T, hs = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, nh * hs)


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


def rotary_angles(n_pos: int, head_size: int, base: float = 10000.0) -> torch.Tensor:
    """(n_pos, head_size/2) angles pos·θ_i with θ_i = base^(-2i/head_size): the sinusoidal PE's clocks.

    RoPE turns channel pair i = (x_2i, x_2i+1) of every query and key at position pos by pos·θ_i.
    """
    if head_size % 2:
        raise ValueError(f"rotary embeddings need an even head size, got n_embd/n_head = {head_size}")
    theta = 1.0 / base ** (torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)  # (hs/2,)
    return torch.arange(n_pos, dtype=torch.float32)[:, None] * theta[None, :]


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate every channel pair (x_2i, x_2i+1) of x (..., d) by an angle φ_i given as cos/sin (..., d/2):

        (x_2i, x_2i+1) -> (x_2i·cos φ_i - x_2i+1·sin φ_i,  x_2i·sin φ_i + x_2i+1·cos φ_i)

    Rotating q at position m by m·θ and k at position n by n·θ makes q·k depend on m - n only:
    attention sees offsets, not absolute places. This is RoPE written out; on a CPU ``rotary_qkv`` gets
    the same result faster, as a complex multiply.
    """
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)


def rotary_qkv(qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               n_head: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split the projection (B, T, 3C) into q, k, v (B, n_head, T, head_size), q and k turned by RoPE.

    ``cos``/``sin`` (T, 3, n_head, head_size/2) hold the angles of the T positions for q, k and v
    (v's angles are 0: e^0 = 1 leaves it as it is). On a CPU the channel pairs are read as complex numbers
    x_2i + i·x_2i+1 and turned by one complex multiply with e^{iφ} over the whole contiguous projection,
    the cheapest form there; elsewhere (GPUs, ``torch.compile``) the written-out ``rotate_pairs``, which
    compilers fuse into the neighbouring kernels.
    """
    B, T, C3 = qkv.shape
    hs = C3 // 3 // n_head
    if qkv.device.type == "cpu" and qkv.dtype in (torch.float32, torch.float64) \
            and not torch.compiler.is_compiling():
        pairs = torch.view_as_complex(qkv.view(B, T, 3, n_head, hs // 2, 2))
        turned = pairs * torch.complex(cos.to(qkv.dtype), sin.to(qkv.dtype))  # e^{iφ}
        parts = torch.view_as_real(turned).view(B, T, 3, n_head, hs)
    else:
        parts = rotate_pairs(qkv.view(B, T, 3, n_head, hs), cos.to(qkv.dtype), sin.to(qkv.dtype))
    q, k, v = parts.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, nh, T, hs)
    return q, k, v


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
        self.W_o.residual_projection = True  # writes into the residual stream: see model._init_weights
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout
        self.rotary = config.pos_encoding == "rope"
        if self.rotary:  # fixed tables, rebuilt from the config: not saved in checkpoints
            angle = rotary_angles(config.block_size, config.head_size)  # (T, hs/2)
            # spelled out for q, k, v and every head, so one contiguous multiply turns them all;
            # v's angle is 0 (e^0 = 1 leaves it as it is)
            turned = torch.tensor([1.0, 1.0, 0.0])[:, None, None]  # q, k, v
            angle = angle[:, None, None, :].expand(-1, 3, self.n_head, -1) * turned  # (T, 3, nh, hs/2)
            self.register_buffer("rope_cos", angle.cos(), persistent=False)
            self.register_buffer("rope_sin", angle.sin(), persistent=False)

    def heads(self, x: torch.Tensor, start: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v of x (B, T, C) at positions start.., each (B, n_head, T, head_size), as attention
        uses them (with RoPE: q and k turned by their positions' angles)."""
        B, T, C = x.shape
        qkv = self.W_qkv(x)  # (B, T, 3C)
        if self.rotary:
            cos, sin = self.rope_cos[start:start + T], self.rope_sin[start:start + T]
            return rotary_qkv(qkv, cos, sin, self.n_head)
        q, k, v = qkv.chunk(3, dim=2)  # 3 x (B, T, C) (under tensor parallelism: this rank's heads)
        return split_heads(q, self.n_head), split_heads(k, self.n_head), split_heads(v, self.n_head)

    def forward(self, x: torch.Tensor, return_attention: bool = False, cache: LayerCache | None = None,
                key_padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, C) -> (output (B, T, C), weights (B, n_head, T, T_k) or None).

        ``key_padding_mask`` (B, T_k), True for real tokens, hides padding from the encoder.
        """
        B, T, C = x.shape
        q, k, v = self.heads(x, cache.length if cache is not None else 0)  # 3 x (B, nh, T, hs)
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
        y = merge_heads(y)  # (B, T, C)
        return self.resid_dropout(self.W_o(y)), weights

"""The GPT (decoder-only) and a BERT-style encoder with a masked-language-model head, from one Block.

    model = GPT(GPTConfig(vocab_size=65))
    logits, loss = model(idx, targets)                       # fast path (fused attention)
    logits, loss, attn = model.forward_with_attention(idx)   # readable path; attn[layer]: (B, nh, T, T)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.models.transformer.attention import LayerCache, MultiHeadAttention, sinusoidal_encoding
from lmlab.models.transformer.config import GPTConfig


class _SquaredReLU(torch.autograd.Function):
    """max(0, x)² with its derivative written out, 2·max(0, x): two passes over the MLP's widest tensor
    each way, where autograd's generic power rule takes five (on a CPU that is most of its cost)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        r = torch.relu(x)
        ctx.save_for_backward(r)
        return r * r

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (r,) = ctx.saved_tensors
        return torch.mul(grad, r).mul_(2.0)  # zero where x <= 0, since r is


def relu2(x: torch.Tensor) -> torch.Tensor:
    """Squared ReLU, max(0, x)²: the activation Primer found by search (So et al., 2021)."""
    return _SquaredReLU.apply(x)


ACTIVATION_FUNCTIONS = {"relu": F.relu, "gelu": F.gelu, "relu2": relu2, "silu": F.silu}


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, 4C) -> activation -> Linear(4C, C)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.act = ACTIVATION_FUNCTIONS[config.activation]
        self.proj = residual_projection(nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm block: x + Attention(LN(x)), then x + MLP(LN(x)). The residual path stays clean."""

    def __init__(self, config: GPTConfig, causal: bool = True) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = MultiHeadAttention(config, causal=causal)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, return_attention: bool = False, cache: LayerCache | None = None,
                key_padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.attn(self.ln_1(x), return_attention, cache, key_padding_mask)
        x = x + a  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))
        return x, weights


class _Embedding(nn.Module):
    """Token embedding + position (learned table, or the fixed sinusoids), then dropout.

    With rotary embeddings nothing is added here: positions enter inside attention.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.block_size = config.block_size
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        if config.pos_encoding == "learned":
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
        elif config.pos_encoding == "sinusoidal":
            pe = sinusoidal_encoding(config.block_size, config.n_embd)  # fixed, so not saved
            self.register_buffer("pe", pe, persistent=False)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        B, T = idx.shape
        if start + T > self.block_size:
            raise ValueError(f"sequence of {start + T} tokens is longer than block_size={self.block_size}; "
                             f"crop the input to its last {self.block_size} tokens")
        x = self.wte(idx)  # (B, T, C)
        if hasattr(self, "wpe"):
            x = x + self.wpe(torch.arange(start, start + T, device=idx.device))  # + (T, C)
        elif hasattr(self, "pe"):
            x = x + self.pe[start:start + T]
        return self.drop(x)


def _init_weights(module: nn.Module, n_layer: int) -> None:
    """GPT-2 init: N(0, 0.02) Linear and Embedding weights, zero biases, and the residual projections
    (Linears marked ``residual_projection``) at N(0, 0.02/√(2·n_layer)); LayerNorms keep (1, 0)."""
    for m in module.modules():  # the order of named_parameters(): the random draws match GPT-2's init
        if isinstance(m, nn.Linear):
            std = 0.02 / math.sqrt(2 * n_layer) if getattr(m, "residual_projection", False) else 0.02
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)


def residual_projection(linear: nn.Linear) -> nn.Linear:
    """Mark a Linear that writes into the residual stream: ``_init_weights`` scales it by 1/√(2·n_layer)."""
    linear.residual_projection = True
    return linear


class GPT(nn.Module):
    """Decoder-only Transformer language model with tied input/output embeddings (nanoGPT's shape)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = _Embedding(config)
        self.blocks = nn.ModuleList(Block(config, causal=True) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        _init_weights(self, config.n_layer)
        self.lm_head.weight = self.embed.wte.weight  # weight tying: one matrix reads and writes tokens

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: list[LayerCache] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx, targets: (B, T) token ids -> ``(logits, loss)`` (fused attention).

        logits (B, T, vocab_size) for every position, loss the mean cross-entropy against ``targets``
        (None without targets). ``cache`` (one ``LayerCache`` per layer, see ``new_cache``) makes
        generation reuse earlier keys and values.
        """
        logits, loss, _ = self._run(idx, targets, cache, return_attention=False)
        return logits, loss

    def forward_with_attention(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """The readable attention path: ``(logits, loss, attentions)``, the same logits and loss as
        ``forward``, and ``attentions`` a list of n_layer tensors (B, n_head, T, T), each row a softmax
        over the keys (rows sum to 1)."""
        return self._run(idx, targets, None, return_attention=True)

    def _run(self, idx: torch.Tensor, targets: torch.Tensor | None, cache: list[LayerCache] | None,
             return_attention: bool) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        start = cache[0].length if cache is not None else 0
        x = self.embed(idx, start)  # (B, T, C)
        attentions = []
        for i, block in enumerate(self.blocks):
            x, weights = block(x, return_attention, cache[i] if cache is not None else None)
            if return_attention:
                attentions.append(weights)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss, attentions

    def new_cache(self) -> list[LayerCache]:
        """An empty key/value cache, one entry per layer."""
        return [LayerCache() for _ in self.blocks]

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; position embeddings are left out by default (as nanoGPT reports it)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and hasattr(self.embed, "wpe"):
            n -= self.embed.wpe.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward): 6N + 12·L·C·T (PaLM appendix B)."""
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.n_embd * (seq_len or c.block_size)

    def configure_optimizers(self, weight_decay: float, learning_rate: float, betas: tuple[float, float],
                             device_type: str) -> torch.optim.AdamW:
        """AdamW with two groups (matrices decay, biases/LayerNorm gains do not), fused where available:
        lmlab's one optimizer policy, ``lmlab.train.optim.adamw``."""
        from lmlab.train.optim import adamw

        return adamw(self, lr=learning_rate, weight_decay=weight_decay, betas=betas, device_type=device_type)


class TransformerEncoder(nn.Module):
    """BERT-style encoder: the same blocks without the causal mask, plus a masked-language-model head.

    Every position sees the whole sequence; the head predicts the tokens hidden by BERT's masking
    (``lmlab.models.bert.masking.mlm_mask``).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = _Embedding(config)
        self.blocks = nn.ModuleList(Block(config, causal=False) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        # MLM head as in BERT: transform, then decode with the (tied) token embedding
        self.mlm_transform = nn.Sequential(nn.Linear(config.n_embd, config.n_embd), nn.GELU(),
                                           nn.LayerNorm(config.n_embd))
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        _init_weights(self, config.n_layer)

    def encode(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None,
               return_attention: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual vectors (B, T, C) and, on request, per-layer attention (B, n_head, T, T)."""
        x = self.embed(idx)
        attentions = []
        for block in self.blocks:
            x, weights = block(x, return_attention, None, attention_mask)
            if return_attention:
                attentions.append(weights)
        return self.ln_f(x), attentions

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Same convention as ``GPT.forward``: ``(logits, loss)``.

        ``targets`` (B, T) holds the original id at masked positions and -100 elsewhere;
        ``attention_mask`` (B, T) is True/1 for real tokens and False/0 for padding.
        """
        h, _ = self.encode(idx, attention_mask)
        return self.mlm_head(h, targets)

    def forward_with_attention(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                               attention_mask: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """The readable attention path: ``(logits, loss, attentions)``, as ``GPT.forward_with_attention``."""
        h, attentions = self.encode(idx, attention_mask, return_attention=True)
        return (*self.mlm_head(h, targets), attentions)

    def mlm_head(self, h: torch.Tensor, targets: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Contextual vectors (..., C) -> (logits (..., V), the loss on the masked positions or None)."""
        logits = self.mlm_transform(h) @ self.embed.wte.weight.T + self.mlm_bias  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

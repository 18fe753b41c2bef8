"""The encoder–decoder Transformer of *Attention Is All You Need*, from lmlab's blocks.

    memory = Encoder(src)                       # (B, S, C): bidirectional, padding hidden
    logits = Decoder(<s> y_1 .. y_n, memory)    # (B, T, V): causal self-attention + cross-attention

    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=V))
    logits = model(src, tgt_in)                                # fused attention
    logits, attn = model.forward_with_attention(src, tgt_in)   # attn["encoder"|"decoder"|"cross"][layer]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.layers import DecoderLayer, EncoderLayer
from lmlab.models.seq2seq.vocab import PAD
from lmlab.models.transformer.attention import LayerCache, sinusoidal_encoding


class Seq2SeqEmbedding(nn.Module):
    """x = E[token] · √C + position: one table E for source, target and the output layer (tied)."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.max_len, self.scale = config.max_len + 1, math.sqrt(config.d_model)
        self.wte = nn.Embedding(config.vocab_size, config.d_model, padding_idx=PAD)
        if config.pos_encoding == "learned":
            self.wpe = nn.Embedding(self.max_len, config.d_model)
        else:
            self.register_buffer("pe", sinusoidal_encoding(self.max_len, config.d_model), persistent=False)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        B, T = idx.shape
        if start + T > self.max_len:
            raise ValueError(f"a sequence of {start + T} tokens is longer than this model's max_len "
                             f"{self.max_len - 1}; shorten it")
        pos = self.wpe.weight[start:start + T] if hasattr(self, "wpe") else self.pe[start:start + T]
        return self.drop(self.wte(idx) * self.scale + pos)  # (B, T, C)


@dataclass
class TransformerState:
    """What generation keeps per source: the memory and, with caches, every layer's K/V."""

    memory: torch.Tensor  # (B, S, C)
    memory_mask: torch.Tensor  # (B, S) True for real tokens
    self_cache: list[LayerCache] | None  # decoder keys/values of the positions already generated
    memory_kv: list[tuple[torch.Tensor, torch.Tensor]] | None  # each layer's K, V of the memory

    def reorder(self, index: torch.Tensor) -> TransformerState:
        """Keep rows ``index`` (beam search: the surviving hypotheses' parents)."""
        cache = None
        if self.self_cache is not None:
            cache = []
            for c in self.self_cache:
                new = LayerCache()
                if c.k is not None:
                    new.k, new.v = c.k.index_select(0, index), c.v.index_select(0, index)
                cache.append(new)
        kv = None if self.memory_kv is None else [(k.index_select(0, index), v.index_select(0, index))
                                                  for k, v in self.memory_kv]
        return TransformerState(self.memory.index_select(0, index), self.memory_mask.index_select(0, index),
                                cache, kv)


class Seq2SeqTransformer(nn.Module):
    """Encoder (n_layer blocks) + decoder (n_layer blocks with cross-attention), tied embeddings."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        block = config.block_config()
        self.embed = Seq2SeqEmbedding(config)
        self.encoder = nn.ModuleList(EncoderLayer(block, config.norm_first) for _ in range(config.n_layer))
        self.decoder = nn.ModuleList(DecoderLayer(block, config.norm_first) for _ in range(config.n_layer))
        # a final LayerNorm on each side, as torch.nn.Transformer has in both layouts
        self.enc_ln = nn.LayerNorm(config.d_model, bias=config.bias)
        self.dec_ln = nn.LayerNorm(config.d_model, bias=config.bias)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():  # Xavier for projections (as torch.nn.Transformer), N(0, 1/C) tokens
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.embed.wte.weight, std=self.config.d_model ** -0.5)

    def encode(self, src: torch.Tensor, return_attention: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """src (B, S) -> (memory (B, S, C), mask (B, S) True for real tokens, per-layer (B, nh, S, S))."""
        mask = src != PAD
        x = self.embed(src)
        weights = []
        for layer in self.encoder:
            x, w = layer(x, return_attention, None, mask)
            weights.append(w)
        return self.enc_ln(x), mask, weights if return_attention else []

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor | None, memory_mask: torch.Tensor,
               return_attention: bool = False, self_cache: list[LayerCache] | None = None,
               memory_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """tgt_in (B, T) -> (logits (B, T, V), self weights (B, nh, T, T_k), cross weights (B, nh, T, S))."""
        start = self_cache[0].length if self_cache is not None else 0
        y = self.embed(tgt_in, start)
        self_w, cross_w = [], []
        for i, layer in enumerate(self.decoder):
            y, sw, cw = layer(y, memory, memory_mask, return_attention,
                              self_cache[i] if self_cache is not None else None,
                              memory_kv[i] if memory_kv is not None else None)
            self_w.append(sw)
            cross_w.append(cw)
        logits = self.dec_ln(y) @ self.embed.wte.weight.T  # (B, T, V): the tied output layer
        return (logits, self_w, cross_w) if return_attention else (logits, [], [])

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) for every target position (fused attention)."""
        memory, mask, _ = self.encode(src)
        return self.decode(tgt_in, memory, mask)[0]

    def forward_with_attention(self, src: torch.Tensor, tgt_in: torch.Tensor
                               ) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
        """The readable path: the same logits and a dict of per-layer weights: ``encoder`` (B, nh, S, S),
        ``decoder`` (B, nh, T, T), ``cross`` (B, nh, T, S), each row a softmax (sums to 1)."""
        memory, mask, enc_w = self.encode(src, return_attention=True)
        logits, dec_w, cross_w = self.decode(tgt_in, memory, mask, return_attention=True)
        return logits, {"encoder": enc_w, "decoder": dec_w, "cross": cross_w}

    # generation: begin once per source, then one step per output token (see lmlab.models.seq2seq.decode)
    def begin(self, src: torch.Tensor, use_cache: bool = True) -> TransformerState:
        memory, mask, _ = self.encode(src)
        if not use_cache:
            return TransformerState(memory, mask, None, None)
        return TransformerState(memory, mask, [LayerCache() for _ in self.decoder],
                                [layer.cross.memory_kv(memory) for layer in self.decoder])

    def step(self, state: TransformerState, ys: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) of the next token after ``ys`` (B, t) (``<s>`` first). With caches only the last
        token runs through the decoder; without, the whole prefix is recomputed (and the memory's K/V)."""
        if state.self_cache is not None:
            logits, _, _ = self.decode(ys[:, -1:], None, state.memory_mask, self_cache=state.self_cache,
                                       memory_kv=state.memory_kv)
        else:
            logits, _, _ = self.decode(ys, state.memory, state.memory_mask)
        return logits[:, -1]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

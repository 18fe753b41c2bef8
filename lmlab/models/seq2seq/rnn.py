"""A GRU encoder–decoder, without attention (Cho et al. 2014) or with additive attention (Bahdanau 2015).

    h_1..h_S = BiGRU(src)                                  the encoder's states (B, S, 2H)
    without attention: c_i = c = [h→_S ; h←_1] for every i   one vector must carry the whole source
    with attention:    c_i = Σ_j α_ij h_j                    (``additive_attention``)
    s_i = GRUCell([E y_{i-1}; c_i], s_{i-1}),   logits_i = tanh(W [s_i; c_i; E y_{i-1}]) Eᵀ
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lmlab.models.seq2seq.additive_attention import AdditiveAttention
from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.vocab import PAD


@dataclass
class RNNState:
    """The encoder's states and the decoder's running state s (what a beam keeps per hypothesis)."""

    h: torch.Tensor  # (B, S, 2H) encoder states
    mask: torch.Tensor  # (B, S)
    keys: torch.Tensor | None  # W_h h_j (B, S, A), with attention
    summary: torch.Tensor  # (B, 2H) the last forward and first backward state
    s: torch.Tensor  # (B, H) decoder state

    def reorder(self, index: torch.Tensor) -> RNNState:
        pick = lambda t: None if t is None else t.index_select(0, index)
        return RNNState(pick(self.h), pick(self.mask), pick(self.keys), pick(self.summary), pick(self.s))


class RNNSeq2Seq(nn.Module):
    """``config.arch`` 'rnn' (the bottleneck) or 'rnn-attention'; hidden size H = ``config.d_model``."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        self.use_attention = config.arch == "rnn-attention"
        E = H = config.d_model
        self.embed = nn.Embedding(config.vocab_size, E, padding_idx=PAD)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(2 * H, H)
        self.attention = AdditiveAttention(H, 2 * H, H) if self.use_attention else None
        self.cell = nn.GRUCell(E + 2 * H, H)
        self.pre_output = nn.Linear(H + 2 * H + E, E)
        self.drop = nn.Dropout(config.dropout)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """src (B, S) -> (states (B, S, 2H), mask (B, S), summary (B, 2H)); padding is packed away."""
        mask = src != PAD
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.drop(self.embed(src)), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, last = self.encoder(packed)  # last: (2, B, H), forward's final and backward's final states
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        return h, mask, torch.cat([last[0], last[1]], dim=-1)

    def begin(self, src: torch.Tensor, use_cache: bool = True) -> RNNState:
        """The state before ``<s>``; an RNN always carries its past in s (``use_cache`` changes nothing)."""
        h, mask, summary = self.encode(src)
        keys = self.attention.keys(h) if self.attention is not None else None
        return RNNState(h, mask, keys, summary, torch.tanh(self.init_state(summary)))

    def _advance(self, state: RNNState, y_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One decoder step in place: (logits (B, V), α (B, S) or None)."""
        e = self.drop(self.embed(y_prev))  # (B, E)
        if self.attention is not None:
            c, alpha = self.attention(state.s, state.h, state.mask, state.keys)  # (B, 2H), (B, S)
        else:
            c, alpha = state.summary, None
        state.s = self.cell(torch.cat([e, c], dim=-1), state.s)  # (B, H)
        pre = torch.tanh(self.pre_output(self.drop(torch.cat([state.s, c, e], dim=-1))))  # (B, E)
        return pre @ self.embed.weight.T, alpha

    def step(self, state: RNNState, ys: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) after the last token of ``ys`` (B, t); the state moves one step."""
        return self._advance(state, ys[:, -1])[0]

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing over tgt_in (B, T): logits (B, T, V)."""
        return self.forward_with_attention(src, tgt_in)[0]

    def forward_with_attention(self, src: torch.Tensor, tgt_in: torch.Tensor
                               ) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
        """Logits (B, T, V) and ``{"cross": [α (B, 1, T, S)]}`` (empty without attention), the alignment
        drawn like one head of cross-attention (the same keys as the Transformer's)."""
        state = self.begin(src)
        logits, alphas = [], []
        for t in range(tgt_in.size(1)):
            lg, alpha = self._advance(state, tgt_in[:, t])
            logits.append(lg)
            alphas.append(alpha)
        out = torch.stack(logits, dim=1)  # (B, T, V)
        cross = [torch.stack(alphas, dim=1)[:, None]] if self.attention is not None else []
        return out, {"encoder": [], "decoder": [], "cross": cross}

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

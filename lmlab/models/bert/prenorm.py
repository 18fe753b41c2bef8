"""The other layout: lmlab's pre-LN encoder (``TransformerEncoder``: RoPE, ReLU, no biases by default), with
the same MLM calling convention as ``BertForMaskedLM``, and ``build_encoder`` choosing between the two."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lmlab.models.bert.config import LAYOUTS, BertConfig
from lmlab.models.bert.model import BertForMaskedLM
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import TransformerEncoder


class PreNormForMaskedLM(TransformerEncoder):
    """``TransformerEncoder`` that also takes ``only_masked`` and ``token_type_ids`` (it has no segments)."""

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                only_masked: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        if targets is None or not only_masked:
            return super().forward(idx, targets, attention_mask)
        h, _ = self.encode(idx, attention_mask)
        where = targets != -100
        logits = self.mlm_transform(h[where]) @ self.embed.wte.weight.T + self.mlm_bias  # (N, V)
        loss = F.cross_entropy(logits, targets[where]) if logits.numel() else logits.sum()
        return logits, loss

    def forward_with_attention(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                               attention_mask: torch.Tensor | None = None,
                               token_type_ids: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        return super().forward_with_attention(idx, targets, attention_mask)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_encoder(layout: str, vocab_size: int, pad_token_id: int = 0, **sizes: Any) -> torch.nn.Module:
    """"bert": ``BertForMaskedLM`` (Devlin et al.); "prenorm": lmlab's pre-LN ``TransformerEncoder``."""
    if layout == "bert":
        return BertForMaskedLM(BertConfig(vocab_size=vocab_size, pad_token_id=pad_token_id, **sizes))
    if layout == "prenorm":
        return PreNormForMaskedLM(GPTConfig(vocab_size=vocab_size, **sizes))
    raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")

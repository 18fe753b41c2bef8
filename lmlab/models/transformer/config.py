"""The GPT / encoder configuration: every hyper-parameter of the architecture in one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

POS_ENCODINGS = ("learned", "sinusoidal")


@dataclass
class GPTConfig:
    """Architecture of a decoder-only GPT (and of the BERT-style encoder built from the same blocks).

    Defaults are nanoGPT's CPU "baby GPT" for characters; ``full`` uses 6 layers x 6 heads x 384.
    """

    vocab_size: int = 65
    block_size: int = 64  # longest context the model sees (positions 0 .. block_size-1)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # biases in Linear and LayerNorm (GPT-2 had them; without is a bit faster)
    pos_encoding: str = "learned"  # "learned" (GPT-2) or "sinusoidal" (Attention Is All You Need)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            lower = self.n_embd - self.n_embd % self.n_head
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head gets "
                             f"n_embd/n_head channels; use e.g. n_embd={lower or self.n_head} "
                             f"or n_embd={lower + self.n_head}, or another n_head")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"unknown pos_encoding {self.pos_encoding!r}; "
                             f"use one of {', '.join(POS_ENCODINGS)}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

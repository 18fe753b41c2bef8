"""The GPT / encoder configuration: every hyper-parameter of the architecture in one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from lmlab.choices import ACTIVATIONS, POS_ENCODINGS  # the CLI offers the same tuples


@dataclass
class GPTConfig:
    """Architecture of a decoder-only GPT (and of the BERT-style encoder built from the same blocks).

    Sizes default to nanoGPT's CPU "baby GPT" for characters; ``full`` uses 6 layers x 6 heads x 384.
    The block is GPT-2's with rotary positions (as GPT-NeoX, Llama) and the original Transformer's ReLU. With
    ``pos_encoding="learned", activation="gelu"`` it is nanoGPT's model exactly.
    """

    vocab_size: int = 65
    block_size: int = 64  # longest context the model sees (positions 0 .. block_size-1)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # biases in Linear and LayerNorm (GPT-2 had them; without is a bit faster)
    # "rope": rotary embeddings turn q and k (GPT-NeoX, Llama); "learned": a trained table added to the
    # input (GPT-2, nanoGPT); "sinusoidal": the fixed table of Attention Is All You Need
    pos_encoding: str = "rope"
    # the MLP's non-linearity: "relu" as the original Transformer (cheapest, and with RoPE it learns these
    # small models much faster than GELU); "gelu" as GPT-2, BERT and nanoGPT; "relu2" = ReLU(x)² (Primer,
    # So et al. 2021); "silu"
    activation: str = "relu"

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
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; use one of {', '.join(ACTIVATIONS)}")
        if self.pos_encoding == "rope" and self.head_size % 2:
            raise ValueError(f"rotary embeddings rotate channel pairs, so n_embd/n_head must be even, got "
                             f"{self.n_embd}/{self.n_head} = {self.head_size}; change n_embd or n_head, or "
                             "use pos_encoding='learned'")

    @classmethod
    def from_dict(cls, saved: dict) -> GPTConfig:
        """A config saved in a checkpoint; older checkpoints predate ``activation`` (they used GELU)."""
        return cls(**{"activation": "gelu", **saved})

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

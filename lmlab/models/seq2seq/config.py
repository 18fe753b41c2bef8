"""The sequence-to-sequence configuration: the architecture and its sizes in one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from lmlab.models.transformer.config import GPTConfig

ARCHS = ("transformer", "rnn-attention", "rnn")


@dataclass
class Seq2SeqConfig:
    """An encoder–decoder: the Transformer (``n_layer`` blocks on each side) or a GRU encoder–decoder
    with (``rnn-attention``, Bahdanau et al. 2015) or without (``rnn``, Cho et al. 2014) attention."""

    arch: str = "transformer"
    vocab_size: int = 100  # shared by source and target
    max_len: int = 32  # longest source, and longest target + </s>
    d_model: int = 128  # Transformer width C; the RNN's embedding and hidden size
    n_head: int = 4
    n_layer: int = 2  # encoder blocks = decoder blocks (the RNN: GRU layers = 1)
    dropout: float = 0.1
    # True: pre-LN, x + Sublayer(LN(x)) (lmlab's Block, trains well without warm-up tricks);
    # False: post-LN, LN(x + Sublayer(x)) as Attention Is All You Need and torch.nn.Transformer's default
    norm_first: bool = True
    bias: bool = True
    pos_encoding: str = "sinusoidal"  # "sinusoidal" (the paper) or "learned"

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; use one of {', '.join(ARCHS)}")
        if self.pos_encoding not in ("sinusoidal", "learned"):
            raise ValueError(f"pos_encoding must be 'sinusoidal' or 'learned', got {self.pos_encoding!r}")
        for name in ("vocab_size", "max_len", "d_model", "n_head", "n_layer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self.block_config()  # divisibility and dropout checks live there

    def block_config(self) -> GPTConfig:
        """The GPT config lmlab's attention and MLP read (width, heads, dropout, biases)."""
        return GPTConfig(vocab_size=self.vocab_size, block_size=self.max_len + 1, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.d_model, dropout=self.dropout, bias=self.bias,
                         pos_encoding=self.pos_encoding, activation="relu")

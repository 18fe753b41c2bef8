"""BERT's layout as a choice of lmlab's encoder config: learned positions, GELU, biases, post-LN, segments."""

from __future__ import annotations

from dataclasses import dataclass

from lmlab.models.transformer.config import GPTConfig

LAYOUTS = ("bert", "prenorm")  # "bert": Devlin et al. exactly; "prenorm": lmlab's pre-LN block (RoPE/ReLU ok)


@dataclass
class BertConfig(GPTConfig):
    """GPTConfig's sizes with BERT's fixed choices; names map to Hugging Face's ``BertConfig`` one to one:

    vocab_size, block_size = max_position_embeddings, n_layer = num_hidden_layers,
    n_head = num_attention_heads, n_embd = hidden_size, 4·n_embd = intermediate_size,
    dropout = hidden_dropout_prob = attention_probs_dropout_prob.
    """

    pos_encoding: str = "learned"
    activation: str = "gelu"
    bias: bool = True
    type_vocab_size: int = 2  # segments: sentence A = 0, sentence B = 1
    layer_norm_eps: float = 1e-12  # BERT's, not PyTorch's 1e-5
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        fixed = {"pos_encoding": "learned", "activation": "gelu", "bias": True}
        wrong = {k: getattr(self, k) for k, v in fixed.items() if getattr(self, k) != v}
        if wrong:
            raise ValueError(f"BERT's layout has pos_encoding='learned', activation='gelu', bias=True, "
                             f"got {wrong}; for rotary positions or ReLU use layout='prenorm'")
        if self.type_vocab_size < 1:
            raise ValueError(f"type_vocab_size must be >= 1, got {self.type_vocab_size}")

    def to_hf(self) -> dict:
        """The same architecture as keyword arguments of ``transformers.BertConfig``."""
        return dict(vocab_size=self.vocab_size, hidden_size=self.n_embd, num_hidden_layers=self.n_layer,
                    num_attention_heads=self.n_head, intermediate_size=4 * self.n_embd, hidden_act="gelu",
                    hidden_dropout_prob=self.dropout, attention_probs_dropout_prob=self.dropout,
                    max_position_embeddings=self.block_size, type_vocab_size=self.type_vocab_size,
                    layer_norm_eps=self.layer_norm_eps, pad_token_id=self.pad_token_id)

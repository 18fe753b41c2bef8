"""BERT (Devlin et al. 2018) exactly, from parts named as in Hugging Face's ``modeling_bert.py``, so
that their state dicts line up key for key (see ``lmlab.export.hf``).

    model = BertForMaskedLM(BertConfig(vocab_size=V))
    logits, loss = model(idx, targets)          # targets: original ids at masked positions, -100 elsewhere

The block is *post*-LN, as in the original Transformer: x = LN(x + Attention(x)), x = LN(x + FFN(x)).
lmlab's GPT block is pre-LN, x = x + Attention(LN(x)); ``TransformerEncoder`` is that variant.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.models.bert.config import BertConfig
from lmlab.models.transformer.attention import attention, merge_heads, split_heads


class BertEmbeddings(nn.Module):
    """E = LN(token + position + segment), then dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embeddings = nn.Embedding(config.block_size, config.n_embd)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.n_embd)
        self.LayerNorm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, idx: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        B, T = idx.shape
        n_pos = self.position_embeddings.num_embeddings
        if n_pos < T:  # longer than the position table
            raise ValueError(f"sequence of {T} tokens is longer than block_size={n_pos}; crop the input")
        x = self.word_embeddings(idx) + self.position_embeddings(torch.arange(T, device=idx.device))
        types = token_type_ids if token_type_ids is not None else torch.zeros_like(idx)
        x = x + self.token_type_embeddings(types)  # (B, T, C)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """softmax(Q Kᵀ / √d_k) V per head, every position seeing every other (no causal mask)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.query = nn.Linear(config.n_embd, config.n_embd)  # W_q
        self.key = nn.Linear(config.n_embd, config.n_embd)  # W_k
        self.value = nn.Linear(config.n_embd, config.n_embd)  # W_v
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, C), mask (B, 1, 1, T) True for real keys -> (B, T, C) and weights (B, nh, T, T)."""
        q = split_heads(self.query(x), self.n_head)  # (B, nh, T, hs)
        k = split_heads(self.key(x), self.n_head)
        v = split_heads(self.value(x), self.n_head)
        weights = None
        if return_attention:  # the readable path keeps every weight
            y, weights = attention(q, k, v, mask, self.dropout if self.training else None)
        else:  # the fused kernel: same numbers
            p = self.dropout.p if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return merge_heads(y), weights  # (B, T, C)


class BertSelfOutput(nn.Module):
    """Post-LN residual: LN(x + dropout(W_o y))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.n_embd, config.n_embd)
        self.LayerNorm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(y)))


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, weights = self.self(x, mask, return_attention)
        return self.output(y, x), weights


class BertIntermediate(nn.Module):
    """GELU(x W_1 + b_1): the feed-forward's wide half, (B, T, C) -> (B, T, 4C)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.n_embd, 4 * config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # exact (erf) GELU, as BERT's "gelu"


class BertOutput(nn.Module):
    """LN(x + dropout(h W_2 + b_2)): back to (B, T, C), then the second post-LN residual."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(4 * config.n_embd, config.n_embd)
        self.LayerNorm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(h)))


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, weights = self.attention(x, mask, return_attention)
        return self.output(self.intermediate(x), x), weights


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.n_layer))


class BertPooler(nn.Module):
    """tanh(W h_[CLS] + b): the sentence vector BERT's next-sentence task trained."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(h[:, 0]))  # (B, T, C) -> (B, C)


def init_bert_weights(model: nn.Module) -> None:
    """BERT's init, by module type: N(0, 0.02) matrices and tables, zero biases, LayerNorm gains 1."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class BertModel(nn.Module):
    """Embeddings, n_layer post-LN blocks, optionally the pooler: (B, T) ids -> (B, T, C) vectors."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        init_bert_weights(self)

    def forward(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                return_attention: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual vectors (B, T, C) and, on request, per-layer attention (B, n_head, T, T)."""
        x = self.embeddings(idx, token_type_ids)
        mask = None
        if attention_mask is not None:  # (B, T) 1 = real token -> (B, 1, 1, T): padding is never a key
            mask = attention_mask[:, None, None, :].bool()
        attentions = []
        for layer in self.encoder.layer:
            x, weights = layer(x, mask, return_attention)
            if return_attention:
                attentions.append(weights)
        return x, attentions


class BertPredictionHeadTransform(nn.Module):
    """LN(GELU(W h + b)): one more layer before reading out tokens."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.n_embd, config.n_embd)
        self.LayerNorm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(h)))


class BertLMPredictionHead(nn.Module):
    """logits = transform(h) Eᵀ + b: the decoder is the input embedding E (tied), with its own bias."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = word_embeddings  # tied: one matrix reads and writes tokens
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self.transform(h), self.decoder.weight, self.bias)  # (..., V)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config, word_embeddings)


class BertForMaskedLM(nn.Module):
    """BertModel (no pooler, as HF's) + the MLM head; loss = cross-entropy at masked positions only."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config, self.bert.embeddings.word_embeddings)
        init_bert_weights(self.cls.predictions.transform)

    def encode(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None,
               return_attention: bool = False, token_type_ids: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual vectors (B, T, C) (the same call as ``TransformerEncoder.encode``)."""
        return self.bert(idx, attention_mask, token_type_ids, return_attention)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                only_masked: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits, loss)``, as ``TransformerEncoder.forward``.

        logits (B, T, V); with ``only_masked=True`` (training) only the rows where ``targets != -100``,
        (N_masked, V): the decoder then runs on ~15% of the positions, the same loss for less work.
        """
        h, _ = self.encode(idx, attention_mask, token_type_ids=token_type_ids)
        return self.predict(h, targets, only_masked)

    def forward_with_attention(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                               attention_mask: torch.Tensor | None = None,
                               token_type_ids: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """The readable attention path: ``(logits, loss, attentions)``, attentions (B, n_head, T, T) per
        layer, as ``TransformerEncoder.forward_with_attention``."""
        h, attentions = self.encode(idx, attention_mask, True, token_type_ids)
        return (*self.predict(h, targets), attentions)

    def predict(self, h: torch.Tensor, targets: torch.Tensor | None = None, only_masked: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The MLM head on contextual vectors h (B, T, C): (logits, loss or None), see ``forward``."""
        loss = None
        if targets is not None and only_masked:
            where = targets != -100  # (B, T)
            logits = self.cls.predictions(h[where])  # (N, V)
            loss = F.cross_entropy(logits, targets[where]) if logits.numel() else logits.sum()
        else:
            logits = self.cls.predictions(h)  # (B, T, V)
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1),
                                       ignore_index=-100)
        return logits, loss

    def num_params(self) -> int:
        """Every parameter (the tied decoder counted once)."""
        return sum(p.numel() for p in self.parameters())

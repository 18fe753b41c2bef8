"""BERT: the exact layout (post-LN, segments, GELU, tied MLM head, pooler), MLM pre-training, fine-tuning.

    from lmlab.models.bert import BertConfig, BertForMaskedLM, BertVocab, build_encoder
    model = build_encoder("bert", vocab.vocab_size, vocab.pad_id, n_layer=4, n_embd=128)
"""

from lmlab.models.bert.config import LAYOUTS, BertConfig
from lmlab.models.bert.model import (
    BertEmbeddings,
    BertForMaskedLM,
    BertLMPredictionHead,
    BertModel,
    BertPooler,
    BertSelfAttention,
)
from lmlab.models.bert.prenorm import PreNormForMaskedLM, build_encoder
from lmlab.models.bert.vocab import BertVocab

__all__ = ["LAYOUTS", "BertConfig", "BertEmbeddings", "BertForMaskedLM", "BertLMPredictionHead", "BertModel",
           "BertPooler", "BertSelfAttention", "BertVocab", "PreNormForMaskedLM", "build_encoder"]

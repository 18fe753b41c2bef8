"""BERT: the exact layout (post-LN, segments, GELU, tied MLM head, pooler), MLM pre-training, fine-tuning.

    from lmlab.models.bert import BertConfig, BertForMaskedLM
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

__all__ = ["LAYOUTS", "BertConfig", "BertEmbeddings", "BertForMaskedLM", "BertLMPredictionHead", "BertModel",
           "BertPooler", "BertSelfAttention"]

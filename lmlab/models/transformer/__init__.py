"""The Transformer: attention, blocks, a GPT, a BERT-style encoder, generation with a KV cache, training.

    from lmlab.models.transformer import GPT, GPTConfig, generate
"""

from lmlab.models.transformer.attention import (
    LayerCache,
    MultiHeadAttention,
    attention,
    causal_mask,
    merge_heads,
    rotary_angles,
    rotate_pairs,
    sinusoidal_encoding,
    split_heads,
)
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.generate import crop_prompt, generate, load_for_sampling, sample_text
from lmlab.models.transformer.model import GPT, MLP, Block, TransformerEncoder

__all__ = [
    "GPT", "MLP", "Block", "GPTConfig", "LayerCache", "MultiHeadAttention", "TransformerEncoder",
    "attention", "causal_mask", "crop_prompt", "generate", "load_for_sampling", "merge_heads",
    "rotary_angles", "rotate_pairs", "sample_text", "sinusoidal_encoding", "split_heads",
]

"""Tokenizers: text to integer ids and back. Each has ``encode``, ``decode``, ``vocab_size``, ``show``
(the steps, for learners) and ``to_dict``/``from_dict`` (a JSON vocabulary, stored in checkpoints).

- :class:`CharTokenizer`: characters (code points, or grapheme clusters); lossless.
- :class:`WordTokenizer`: regex words, lower-casing, ``min_count``, ``<unk>``.
- :class:`JiebaTokenizer`: Chinese words segmented by jieba; lossless for known words.
- BPE (``lmlab.tokenizers.bpe``): GPT-2's byte-level merges, loaded on first use.

The registry: ``register`` (a class decorator), ``get(kind)`` (the class), ``kinds()`` (every name).
"""

from lmlab.tokenizers.base import (
    Tokenizer,
    get,
    kinds,
    load_tokenizer,
    register,
    save_tokenizer,
    tokenizer_from_dict,
)
from lmlab.tokenizers.char import CharTokenizer, split_characters
from lmlab.tokenizers.chinese import JiebaTokenizer
from lmlab.tokenizers.word import WordTokenizer

__all__ = ["CharTokenizer", "JiebaTokenizer", "Tokenizer", "WordTokenizer", "get", "kinds", "load_tokenizer",
           "register", "save_tokenizer", "split_characters", "tokenizer_from_dict"]

"""Tokenizers: text to integer ids and back."""

from lmlab.tokenizers.base import Tokenizer, load_tokenizer, save_tokenizer, tokenizer_from_dict
from lmlab.tokenizers.char import CharTokenizer

__all__ = ["CharTokenizer", "Tokenizer", "load_tokenizer", "save_tokenizer", "tokenizer_from_dict"]

"""Character-level tokenizer: one id per Unicode code point (Chinese, emoji and accents included)."""

from __future__ import annotations

from typing import Any

from lmlab.tokenizers.base import register


@register
class CharTokenizer:
    """Lossless: ``decode(encode(text)) == text`` for any text made of characters it has seen."""

    kind = "char"

    def __init__(self, chars: list[str]) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("character vocabulary has duplicates")
        self.itos = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        """The sorted set of characters in ``text``."""
        if not text:
            raise ValueError("cannot build a character vocabulary from empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            unknown = sorted({c for c in text if c not in self.stoi})
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(f"{len(unknown)} character(s) not in the vocabulary: {shown}; "
                             "use only characters from the training corpus") from None

    def decode(self, ids: list[int]) -> str:
        return "".join(self.itos[i] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": self.itos}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        return cls(data["chars"])

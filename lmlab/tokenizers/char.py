"""Character-level tokenizer. What is a "character"? Two honest answers, both lossless:

- ``unit="codepoint"`` (default, as char-rnn and nanoGPT): one id per Unicode code point, i.e. per
  element of a Python ``str``. 中 is one token; "é" written as e + U+0301 (combining acute) is two;
  a family emoji 👨‍👩‍👧 is five (three people joined by two zero-width joiners).
- ``unit="grapheme"``: one id per *user-perceived* character (a Unicode extended grapheme cluster,
  UAX #29): "é" in either spelling, 👨‍👩‍👧 and the flag 🇫🇷 are one token each.

Text is never normalised (no NFC), so ``decode(encode(text)) == text`` byte for byte; the precomposed
"é" (U+00E9) and the decomposed e + U+0301 stay different tokens, as they are different strings.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from lmlab.tokenizers.base import register

UNITS = ("codepoint", "grapheme")


def split_characters(text: str, unit: str = "codepoint") -> list[str]:
    """``text`` cut into characters of the given unit (code points, or grapheme clusters)."""
    if unit == "codepoint":
        return list(text)
    if unit == "grapheme":
        import regex

        return regex.findall(r"\X", text)
    raise ValueError(f"unknown character unit {unit!r}; use 'codepoint' or 'grapheme'")


@register
class CharTokenizer:
    """Lossless: ``decode(encode(text)) == text`` for any text made of characters it has seen."""

    kind = "char"

    def __init__(self, chars: list[str], unit: str = "codepoint") -> None:
        if unit not in UNITS:
            raise ValueError(f"unknown character unit {unit!r}; use 'codepoint' or 'grapheme'")
        if len(set(chars)) != len(chars):
            raise ValueError("character vocabulary has duplicates")
        if unit == "codepoint" and any(len(c) != 1 for c in chars):
            raise ValueError("a code-point vocabulary holds single code points; build grapheme vocabularies "
                             "with unit='grapheme'")
        self.unit = unit
        self.itos = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def fit(cls, text: str, unit: str = "codepoint") -> CharTokenizer:
        """The sorted set of characters in ``text``."""
        if not text:
            raise ValueError("cannot build a character vocabulary from empty text")
        return cls(sorted(set(split_characters(text, unit))), unit=unit)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        chars = split_characters(text, self.unit)
        try:
            return [self.stoi[c] for c in chars]
        except KeyError:
            unknown = sorted({c for c in chars if c not in self.stoi})
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(f"{len(unknown)} character(s) not in the vocabulary: {shown}; "
                             "use only characters from the training corpus") from None

    def decode(self, ids: list[int]) -> str:
        try:
            return "".join(self.itos[i] for i in ids)
        except IndexError:
            bad = [i for i in ids if not 0 <= i < len(self.itos)][:5]
            raise ValueError(f"token id(s) {bad} out of range for a vocabulary of {len(self.itos)}") from None

    def show(self, text: str) -> list[tuple[str, int, str]]:
        """Show the work: each character with its id and its Unicode name(s)."""
        return [(c, self.stoi.get(c, -1), " + ".join(unicodedata.name(p, f"U+{ord(p):04X}") for p in c))
                for c in split_characters(text, self.unit)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "unit": self.unit, "chars": self.itos}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        return cls(data["chars"], unit=data.get("unit", "codepoint"))


"""The characters of both sides plus four special tokens: padding, begin, end, unknown.

    ids 0..3 = <pad> <s> </s> <unk>, then lmlab's CharTokenizer's characters shifted by 4.

The decoder reads ``<s> y_1 .. y_n`` and predicts ``y_1 .. y_n </s>`` (teacher forcing); ``<pad>`` fills
short rows of a batch and never counts in the loss; a character never seen in training becomes ``<unk>``
(with a visible note, ``encode_source``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lmlab.tokenizers import unknown as unknown_log
from lmlab.tokenizers.char import CharTokenizer

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]


class Seq2SeqVocab:
    """One vocabulary for source and target (both are Chinese characters: the embeddings are shared)."""

    kind = "seq2seq_char"

    def __init__(self, chars: list[str]) -> None:
        self.chars = CharTokenizer(chars)

    @classmethod
    def fit(cls, texts: list[str], max_size: int | None = None) -> Seq2SeqVocab:
        """The characters of ``texts`` (the ``max_size`` most frequent ones; the rest become <unk>)."""
        counts = Counter(c for t in texts for c in t)
        if not counts:
            raise ValueError("cannot build a vocabulary from empty texts")
        common = [c for c, _ in counts.most_common(max_size)]
        return cls(sorted(common))

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + self.chars.vocab_size

    def encode(self, text: str) -> list[int]:
        """Character ids; unknown characters become UNK (``unknown(text)`` lists them)."""
        stoi = self.chars.stoi
        ids = [stoi[c] + len(SPECIALS) if c in stoi else UNK for c in text]
        if unknown_log.enabled():  # a test counts what the model could not read
            unknown_log.count(unknown_log.describe("couplet vocabulary", self.chars.itos), len(text),
                              [c for c in text if c not in stoi])
        return ids

    def unknown(self, text: str) -> list[str]:
        return sorted({c for c in text if c not in self.chars.stoi})

    def decode(self, ids: list[int]) -> str:
        """Characters up to the first </s>; padding and <s> are left out, <unk> shows as □."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append("□" if i == UNK else self.chars.itos[i - len(SPECIALS)])
        return "".join(out)

    def token(self, i: int) -> str:
        """The string of one id (special tokens by name), for axis labels."""
        i = int(i)
        return SPECIALS[i] if i < len(SPECIALS) else self.chars.itos[i - len(SPECIALS)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": self.chars.itos}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seq2SeqVocab:
        if data.get("kind") != cls.kind:
            raise ValueError(f"not a sequence-to-sequence vocabulary (kind {data.get('kind')!r})")
        return cls(list(data["chars"]))

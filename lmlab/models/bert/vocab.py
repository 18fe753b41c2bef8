"""BERT's vocabulary: any lmlab tokenizer (char, BPE) plus five special tokens appended after its ids.

    vocab = BertVocab(CharTokenizer.fit(text))
    vocab.encode("床前[MASK]月光")      # the [MASK] string becomes vocab.mask_id
    vocab.wrap(ids)                       # [CLS] ids [SEP]

The base tokenizer keeps its ids 0..V-1, so a Hugging Face export is the base vocabulary with the
specials added at the end (``lmlab.export.tokenizer``).
"""

from __future__ import annotations

import re
from typing import Any

from lmlab.tokenizers import Tokenizer, tokenizer_from_dict
from lmlab.tokenizers import unknown as unknown_log

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_SPLIT = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


class BertVocab:
    """Base tokenizer ids, then [PAD] [UNK] [CLS] [SEP] [MASK]; unknown characters become [UNK]."""

    kind = "bert_vocab"

    def __init__(self, base: Tokenizer) -> None:
        self.base = base
        n = base.vocab_size
        self.special_ids = {s: n + i for i, s in enumerate(SPECIALS)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (n + i for i in range(5))

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size + len(SPECIALS)

    def _encode_plain(self, text: str) -> list[int]:
        if not text:
            return []
        try:
            return self.base.encode(text)
        except ValueError:  # a character the corpus never had: [UNK] for it alone
            stoi = getattr(self.base, "stoi", None)
            if stoi is None:
                raise
            return [stoi.get(c, self.unk_id) for c in text]

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; the strings [MASK], [CLS], ... inside it become their special ids."""
        ids: list[int] = []
        for piece in _SPLIT.split(text):
            ids.extend([self.special_ids[piece]] if piece in self.special_ids else self._encode_plain(piece))
        # a test counts the characters the model could not read (byte-level BPE has none)
        if unknown_log.enabled() and self.base.kind == "char":
            plain = "".join(p for p in _SPLIT.split(text) if p not in self.special_ids)
            unknown_log.count(unknown_log.describe("BERT character vocabulary", self.base.itos), len(plain),
                              [c for c in plain if c not in self.base.stoi])
        return ids

    def wrap(self, ids: list[int], block_size: int | None = None) -> list[int]:
        """[CLS] ids [SEP], the ids cropped so the whole fits ``block_size``."""
        if block_size is not None:
            ids = ids[:block_size - 2]
        return [self.cls_id, *ids, self.sep_id]

    def token(self, i: int) -> str:
        """The text of one id (specials by name)."""
        if i >= self.base.vocab_size:
            return SPECIALS[i - self.base.vocab_size]
        return self.base.decode([i])

    def decode(self, ids: list[int]) -> str:
        return "".join(self.token(i) for i in ids if i != self.pad_id)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "base": self.base.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BertVocab:
        return cls(tokenizer_from_dict(data["base"]))

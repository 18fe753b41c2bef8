"""Chinese word segmentation with jieba: 床前明月光 -> 床前 / 明月光.

jieba keeps every character (punctuation, spaces and newlines become tokens of their own), so
``decode(encode(text)) == text`` whenever every piece is in the vocabulary; pieces seen fewer than
``min_count`` times become ``<unk>``. Segmentation is deterministic (dictionary + HMM for new words).
"""

from __future__ import annotations

import logging
from typing import Any

from lmlab.tokenizers.base import register
from lmlab.tokenizers.word import UNK, VocabTokenizer


def jieba_cut(text: str, hmm: bool = True) -> list[str]:
    """Segment ``text`` into words with jieba (imported on first use; it loads its dictionary once)."""
    try:
        import jieba
    except ImportError as err:  # pragma: no cover - jieba is a dependency
        raise ImportError("Chinese word segmentation needs jieba: pip install jieba") from err
    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." chatter in notebooks
    return jieba.lcut(text, cut_all=False, HMM=hmm)


@register
class JiebaTokenizer(VocabTokenizer):
    """Words segmented by jieba, ``min_count``/``max_size`` cut-offs, ``<unk>`` for the rest."""

    kind = "jieba"

    def __init__(self, words: list[str], *, counts: list[int] | None = None, hmm: bool = True,
                 unk: str = UNK) -> None:
        super().__init__(words, counts, unk)
        self.hmm = hmm

    @classmethod
    def fit(cls, text: str, *, min_count: int = 1, max_size: int | None = None, hmm: bool = True,
            unk: str = UNK) -> JiebaTokenizer:
        """Build the vocabulary of ``text``'s jieba words, most frequent first."""
        tokens = jieba_cut(text, hmm)
        if not tokens:
            raise ValueError("cannot build a vocabulary from empty text")
        words, counts = cls._vocab(tokens, min_count, max_size, unk)
        return cls(words, counts=counts, hmm=hmm, unk=unk)

    def split(self, text: str) -> list[str]:
        return jieba_cut(text, self.hmm)

    def join(self, words: list[str]) -> str:
        return "".join(words)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": self.itos, "counts": self.counts, "hmm": self.hmm,
                "unk": self.unk}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JiebaTokenizer:
        return cls(data["words"], counts=data.get("counts"), hmm=data.get("hmm", True),
                   unk=data.get("unk", UNK))

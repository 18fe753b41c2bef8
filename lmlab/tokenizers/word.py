"""Word-level tokenizer: split with a regular expression, keep words seen ``min_count`` times, map the
rest to ``<unk>``.

    tok = WordTokenizer.fit(text, min_count=5, lowercase=True)
    ids = tok.encode("The king and the queen.")   # [the, king, and, the, queen, .]

Not lossless: spacing and (with ``lowercase``) case are dropped, and rare words become ``<unk>``.
For Chinese, which has no spaces between words, use :class:`lmlab.tokenizers.JiebaTokenizer`.
``decode`` joins words with spaces and glues punctuation back to the word before it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from lmlab.tokenizers.base import register

# words (letters, digits, underscores, inner apostrophes/hyphens: don't, well-known) or one symbol
DEFAULT_PATTERN = r"\w+(?:['’\-]\w+)*|[^\w\s]"
UNK = "<unk>"
_NO_SPACE_BEFORE = set(".,;:!?)]}%'’”»…，。；：！？、）」』")
_NO_SPACE_AFTER = set("([{“«「『（")


class VocabTokenizer:
    """Shared by word-level tokenizers: a vocabulary built from counts, ``<unk>`` at id 0."""

    kind = "vocab"

    def __init__(self, words: list[str], counts: list[int] | None = None, unk: str = UNK) -> None:
        if not words or words[0] != unk:
            raise ValueError(f"the vocabulary must start with the unknown-word token {unk!r}")
        if len(set(words)) != len(words):
            dup = next(w for w, n in Counter(words).items() if n > 1)
            raise ValueError(f"word vocabulary has duplicates, e.g. {dup!r}")
        if counts is not None and len(counts) != len(words):
            raise ValueError(f"{len(counts)} counts for {len(words)} words; give one count per word")
        self.unk = unk
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.counts = list(counts) if counts is not None else None

    def split(self, text: str) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _vocab(cls, tokens: list[str], min_count: int, max_size: int | None,
               unk: str) -> tuple[list[str], list[int]]:
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 2:
            raise ValueError(f"max_size must be >= 2 (<unk> and one word), got {max_size}")
        freq = Counter(tokens)
        kept = sorted(((w, n) for w, n in freq.items() if n >= min_count and w != unk),
                      key=lambda wn: (-wn[1], wn[0]))  # most frequent first, ties alphabetical
        if max_size is not None:
            kept = kept[:max_size - 1]
        if not kept:
            raise ValueError(f"no word occurs at least min_count={min_count} times; lower min_count")
        n_unk = len(tokens) - sum(n for _, n in kept)
        return [unk] + [w for w, _ in kept], [n_unk] + [n for _, n in kept]

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def unk_id(self) -> int:
        return 0

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, 0) for w in self.split(text)]

    def decode(self, ids: list[int]) -> str:
        try:
            return self.join([self.itos[i] for i in ids])
        except IndexError:
            bad = [i for i in ids if not 0 <= i < len(self.itos)][:5]
            raise ValueError(f"token id(s) {bad} out of range for a vocabulary of {len(self.itos)}") from None

    def join(self, words: list[str]) -> str:
        out = ""
        for w in words:
            if out and not (w[:1] in _NO_SPACE_BEFORE or out[-1] in _NO_SPACE_AFTER):
                out += " "
            out += w
        return out

    def show(self, text: str) -> list[tuple[str, int, str]]:
        """Show the work: each piece of ``text``, its id, and what it became (itself or ``<unk>``)."""
        return [(w, self.stoi.get(w, 0), w if w in self.stoi else self.unk) for w in self.split(text)]


@register
class WordTokenizer(VocabTokenizer):
    """Regex word splitting, optional lower-casing, ``min_count``/``max_size`` cut-offs, ``<unk>``."""

    kind = "word"

    def __init__(self, words: list[str], *, counts: list[int] | None = None, lowercase: bool = True,
                 pattern: str = DEFAULT_PATTERN, unk: str = UNK) -> None:
        super().__init__(words, counts, unk)
        try:
            self._regex = re.compile(pattern)
        except re.error as err:
            raise ValueError(f"invalid word pattern {pattern!r}: {err}") from None
        self.pattern = pattern
        self.lowercase = lowercase

    @classmethod
    def fit(cls, text: str, *, min_count: int = 1, max_size: int | None = None, lowercase: bool = True,
            pattern: str = DEFAULT_PATTERN, unk: str = UNK) -> WordTokenizer:
        """Build the vocabulary of ``text``: words seen at least ``min_count`` times, most frequent first."""
        probe = cls([unk, "_"], lowercase=lowercase, pattern=pattern, unk=unk)
        tokens = probe.split(text)
        if not tokens:
            raise ValueError("the text has no words to build a vocabulary from")
        words, counts = cls._vocab(tokens, min_count, max_size, unk)
        return cls(words, counts=counts, lowercase=lowercase, pattern=pattern, unk=unk)

    def split(self, text: str) -> list[str]:
        """The words of ``text`` (lower-cased when the tokenizer is)."""
        return self._regex.findall(text.lower() if self.lowercase else text)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": self.itos, "counts": self.counts, "lowercase": self.lowercase,
                "pattern": self.pattern, "unk": self.unk}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordTokenizer:
        return cls(data["words"], counts=data.get("counts"), lowercase=data.get("lowercase", True),
                   pattern=data.get("pattern", DEFAULT_PATTERN), unk=data.get("unk", UNK))


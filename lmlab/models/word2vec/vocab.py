"""From text to training data: tokens, a vocabulary with counts, sub-sampling and the noise distribution.

    sentences = tokenize(text)                      # [["the", "cat", ...], ...]
    vocab = Vocab.build(sentences, min_count=5)
    vocab.keep_probability(sample=1e-3)             # Mikolov's sub-sampling, one number per word
    vocab.noise_distribution(power=0.75)            # P_n(w) ∝ count(w)^0.75
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MAX_SENTENCE_WORDS = 10_000  # as gensim: longer lines are cut into pieces of this many words

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+", re.UNICODE)


def tokenize(text: str, *, lowercase: bool = True) -> list[list[str]]:
    """One sentence per non-empty line, words are runs of letters (or of digits); lines over
    ``MAX_SENTENCE_WORDS`` words are cut, as gensim does."""
    sentences: list[list[str]] = []
    for line in text.splitlines():
        words = _WORD.findall(line.lower() if lowercase else line)
        for start in range(0, len(words), MAX_SENTENCE_WORDS):
            sentences.append(words[start:start + MAX_SENTENCE_WORDS])
    return sentences


def tokenize_chars(text: str) -> list[list[str]]:
    """Character 'words' for Chinese: one sentence per line, every non-space, non-punctuation character
    a token (so 春, 夏, 秋, 冬 each get a vector)."""
    sentences = []
    for line in text.splitlines():
        chars = [c for c in line if c.isalnum()]
        if chars:
            sentences.append(chars)
    return sentences


@dataclass
class Vocab:
    """Words sorted by decreasing count; ``index[word]`` is the row of its vector."""

    words: list[str]
    counts: np.ndarray  # (V,) int64
    raw_words: int  # every token in the corpus, before min_count and sub-sampling

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5,
              max_size: int | None = None) -> Vocab:
        """Count words; keep those seen at least ``min_count`` times (most frequent first)."""
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counter: Counter[str] = Counter()
        for sentence in sentences:
            counter.update(sentence)
        raw = sum(counter.values())
        if raw == 0:
            raise ValueError("the corpus is empty: no words were found after tokenisation; "
                             "pass a text with at least a few sentences")
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        if max_size is not None:
            kept = kept[:max_size]
        if not kept:
            top = counter.most_common(1)[0]
            raise ValueError(f"min_count={min_count} leaves no vocabulary: the most frequent word "
                             f"{top[0]!r} appears {top[1]} times in {raw} words; lower --min-count")
        words = [w for w, _ in kept]
        return cls(words=words, counts=np.array([c for _, c in kept], dtype=np.int64), raw_words=raw)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def retained_words(self) -> int:
        """Tokens that survive ``min_count``."""
        return int(self.counts.sum())

    def encode(self, sentences: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The corpus as one int32 array of word ids (unknown words dropped) and sentence offsets:
        sentence ``s`` is ``ids[bounds[s]:bounds[s + 1]]``."""
        index = self.index
        pieces: list[np.ndarray] = []
        bounds = [0]
        for sentence in sentences:
            ids = np.fromiter((index[w] for w in sentence if w in index), dtype=np.int32)
            if len(ids):
                pieces.append(ids)
                bounds.append(bounds[-1] + len(ids))
        ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        return ids, np.array(bounds, dtype=np.int64)

    def keep_probability(self, sample: float = 1e-3) -> np.ndarray:
        """Mikolov's sub-sampling as in the C tool and gensim: with f = count / total and t = sample,

            P_keep(w) = min(1, (sqrt(f / t) + 1) * t / f)

        so a word at 1% of the corpus is kept about 42% of the time (t = 1e-3), rare words always."""
        if sample < 0:
            raise ValueError(f"sample must be >= 0 (0 turns sub-sampling off), got {sample}")
        if sample == 0:
            return np.ones(len(self), dtype=np.float32)
        f = self.counts / self.retained_words
        keep = (np.sqrt(f / sample) + 1.0) * sample / f
        return np.minimum(keep, 1.0).astype(np.float32)

    def noise_distribution(self, power: float = 0.75) -> np.ndarray:
        """P_n(w) = count(w)^0.75 / Σ count^0.75: negatives drawn from it favour rare words a little."""
        weights = self.counts.astype(np.float64) ** power
        return weights / weights.sum()

    def noise_cumulative(self, power: float = 0.75) -> np.ndarray:
        """The noise distribution as an int64 cumulative table (as gensim's ``cum_table``): a uniform
        integer in [0, table[-1]) found by binary search gives a word drawn from P_n."""
        domain = 2**31 - 1
        return np.round(np.cumsum(self.noise_distribution(power)) * domain).astype(np.int64)

    def noise_table(self, power: float = 0.75, size: int | None = None) -> np.ndarray:
        """The C tool's unigram table: word w fills a share P_n(w) of ``size`` slots, so drawing a
        negative is one look-up at a random slot (size: 100 slots per word, between 1 M and 100 M)."""
        size = size or int(min(max(1_000_000, 100 * len(self)), 100_000_000))
        edges = np.cumsum(self.noise_distribution(power))
        slots = (np.arange(size, dtype=np.float64) + 0.5) / size
        return np.minimum(np.searchsorted(edges, slots, side="right"), len(self) - 1).astype(np.int32)

    def to_dict(self) -> dict:
        return {"words": list(self.words), "counts": self.counts.tolist(), "raw_words": self.raw_words}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(words=list(d["words"]), counts=np.array(d["counts"], dtype=np.int64),
                   raw_words=int(d["raw_words"]))

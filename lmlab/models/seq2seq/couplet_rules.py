"""A reference-free couplet score: does a 下联 keep the rules a reader of couplets checks first?

For a source x and an answer y (per line, each 0 or 1 except parallelism, a share):

* ``length``:    |y| = |x|;
* ``no_repeat``: no character of x echoed at its position (y_i ≠ x_i), and no character repeated inside y
  where x has none (y_i = y_j only where x_i = x_j, as 年年 ↔ 處處);
* ``tone``:      the last characters have opposite tone classes (平 against 仄), the first rule of 平仄;
* ``pos``:       part-of-speech parallelism, the share of aligned positions whose characters belong to words
  with the same coarse jieba tag (n noun, v verb, a adjective, m numeral, …).

The couplet score is the mean of the four, × 100, so it runs 0–100 like chrF.

Limits, stated: tone classes come from ``pypinyin``'s *modern Mandarin* reading of each character alone
(1st/2nd tone = 平, 3rd/4th = 仄). Tang poets spoke Middle Chinese: the 入声 (entering-tone) characters were
仄, and those now read in the 1st or 2nd tone (國, 白, 竹, 十 …) are misclassified as 平; a polyphonic
character gets its most common modern reading, whatever its sense here. jieba's tagger was trained
on modern prose (the line is converted to simplified characters first): a poem's words are often cut or
tagged wrongly. A character pypinyin does not know (or □) counts as not opposed.
The score rewards what it measures, no more: it cannot tell a fine line from one that merely keeps the rules.
"""

from __future__ import annotations

import logging
from functools import cache, lru_cache

import numpy as np

PING, ZE = "平", "仄"
PARTS = ("length", "no_repeat", "tone", "pos")


@cache
def tone_class(char: str) -> str | None:
    """平 (modern 1st/2nd tone), 仄 (3rd/4th) or None (neutral tone, unknown character)."""
    from pypinyin import Style, lazy_pinyin

    reading = lazy_pinyin(char, style=Style.TONE3, neutral_tone_with_five=True,
                          errors=lambda x: [""] * len(x))
    digit = reading[0][-1:] if reading and reading[0] else ""
    return PING if digit in ("1", "2") else ZE if digit in ("3", "4") else None


def tones_opposed(a: str, b: str) -> bool:
    """The last characters of a and b have known, opposite tone classes."""
    if not a or not b:
        return False
    ta, tb = tone_class(a[-1]), tone_class(b[-1])
    return ta is not None and tb is not None and ta != tb


@lru_cache(maxsize=100_000)
def char_tags(line: str) -> tuple[str, ...]:
    """The coarse part of speech of every character: the first letter of its jieba word's tag."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    tags: list[str] = []
    for pair in jieba.posseg.lcut(line):
        tags.extend(pair.flag[:1] or "x" for _ in pair.word)
    return tuple(tags) if len(tags) == len(line) else tuple("x" * len(line))


def _simplified(lines: list[str]) -> list[str]:
    from lmlab.data import to_simplified

    out = to_simplified(lines)
    return [s if len(s) == len(t) else t for s, t in zip(out, lines, strict=True)]  # keep positions aligned


def forbidden_repeat(source: str, output: str) -> bool:
    """The output echoes a source character at its position, or repeats one where the source does not."""
    if any(a == b for a, b in zip(source, output, strict=False)):
        return True
    n = min(len(source), len(output))
    return any(output[i] == output[j] and source[i] != source[j] for i in range(n) for j in range(i))


def line_scores(sources: list[str], outputs: list[str]) -> dict[str, np.ndarray]:
    """Each part of the couplet score for every line: {part: (n,) array}, parts as in ``PARTS``."""
    if len(sources) != len(outputs):
        raise ValueError(f"{len(outputs)} outputs for {len(sources)} sources; give one each")
    s_simp, o_simp = _simplified(sources), _simplified(outputs)
    parts: dict[str, list[float]] = {p: [] for p in PARTS}
    for s, o, ss, os_ in zip(sources, outputs, s_simp, o_simp, strict=True):
        parts["length"].append(float(len(o) == len(s)))
        parts["no_repeat"].append(float(bool(o) and not forbidden_repeat(s, o)))
        parts["tone"].append(float(tones_opposed(s, o)))
        n = min(len(s), len(o))
        ts, to = char_tags(ss), char_tags(os_)
        parts["pos"].append(sum(ts[i] == to[i] for i in range(n)) / len(s) if s else 0.0)
    return {p: np.asarray(v) for p, v in parts.items()}


def couplet_score(sources: list[str], outputs: list[str]) -> dict[str, float]:
    """The mean of every part (a share 0–1) and ``score``, the mean of the four × 100."""
    parts = line_scores(sources, outputs)
    out = {p: round(float(v.mean()), 4) for p, v in parts.items()}
    out["score"] = round(100 * float(np.mean([parts[p] for p in PARTS], axis=0).mean()), 2)
    return out


def per_line_score(sources: list[str], outputs: list[str]) -> np.ndarray:
    """The couplet score of each line (0–100), for bootstrap intervals."""
    parts = line_scores(sources, outputs)
    return 100 * np.mean([parts[p] for p in PARTS], axis=0)

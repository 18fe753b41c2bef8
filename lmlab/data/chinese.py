"""Chinese text for the tokenizer lessons: modern prose (the lab's own Chinese edition) and what it takes
to measure a tokenizer on it (vocabulary, tokens per line, out-of-vocabulary rate on held-out lines).

Modern Chinese corpora are large downloads; the lab already carries a few hundred sentences of modern
technical Chinese of its own: the translations of its notebooks (``notebooks/zh/po/*.po``) and of its
messages. :func:`modern_prose` reads them, drops code, formulas and markup, and returns one sentence a line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_LINE_MARK = re.compile(r"^\s*(#+|>|[-*]|\d+\.)\s+")


def han_share(text: str) -> float:
    """Fraction of the non-space characters that are Chinese characters (汉字)."""
    chars = [c for c in text if not c.isspace()]
    return sum(bool(_HAN.match(c)) for c in chars) / len(chars) if chars else 0.0


def _strip(markdown: str) -> str:
    """Markdown prose without code blocks, tables, headings marks, links' targets and emphasis."""
    markdown = re.sub(r"```.*?```|\$\$.*?\$\$", "\n", markdown, flags=re.S)
    paragraphs = []
    for block in re.split(r"\n\s*\n", markdown):  # hard-wrapped lines of one paragraph are one text
        lines = [_LINE_MARK.sub("", ln).strip() for ln in block.splitlines()
                 if not ln.lstrip().startswith("|")]
        paragraphs.append("".join(lines))
    text = re.sub(r"`([^`\n]*)`", r"\1", _LINK.sub(r"\1", "\n".join(paragraphs)))  # inline code: its words
    return text.replace("**", "").replace("*", "")


def sentences(text: str, min_han: int = 8, min_share: float = 0.6) -> list[str]:
    """Sentences ending at 。！？ or a line break, kept when they are mostly (and enough) Chinese."""
    out = []
    for piece in re.split(r"(?<=[。！？])|\n", text):
        s = re.sub(r"\s+", " ", piece).strip(" ：:（(")
        if "$" in s or "{" in s:  # a formula or a message template inside: it would have holes
            continue
        if len(_HAN.findall(s)) >= min_han and han_share(s) >= min_share:
            out.append(s)
    return out


def catalogue_files() -> list[Path]:
    """The Chinese edition's catalogues: the notebooks' (in a checkout) and the library's messages."""
    import lmlab

    root = Path(lmlab.__file__).resolve().parent
    return sorted((root.parent / "notebooks" / "zh" / "po").glob("*.po")) + sorted(
        (root / "i18n" / "locale" / "zh" / "LC_MESSAGES").glob("*.po"))


def modern_prose(files: Iterable[Path] | None = None) -> list[str]:
    """Modern Chinese sentences from the translations (msgstr) in the Chinese edition's catalogues."""
    from babel.messages.pofile import read_po

    seen: dict[str, None] = {}
    for path in files if files is not None else catalogue_files():
        with open(path, "rb") as f:
            for msg in read_po(f):
                literal = msg.string.lstrip().startswith(("f\"", '"', "r\""))  # a code string, not prose
                if msg.id and msg.string and not msg.fuzzy and not literal:
                    for s in sentences(_strip(msg.string)):
                        seen.setdefault(s, None)
    if not seen:
        raise FileNotFoundError("no Chinese edition catalogues found (notebooks/zh/po/*.po); run from an "
                                "lmlab checkout or pass files=")
    return list(seen)


def oov_rate(train_tokens: Iterable[str], test_tokens: Iterable[str]) -> float:
    """Share of the held-out tokens never seen in training (out of vocabulary)."""
    vocab = set(train_tokens)
    test = list(test_tokens)
    return sum(t not in vocab for t in test) / len(test) if test else 0.0


def tokenizer_report(name: str, split: Callable[[str], list[str]], train: list[str], test: list[str],
                     vocabulary: Iterable[str] | None = None) -> dict[str, float | int | str]:
    """Vocabulary size, tokens per held-out line and OOV rate of one way to split text.

    The vocabulary is the set of training tokens, or ``vocabulary`` for a tokenizer that has its own
    (byte-level BPE: every held-out piece is one of its tokens, so nothing is out of vocabulary).
    """
    train_tokens = [t for line in train for t in split(line)]
    vocab = set(vocabulary) if vocabulary is not None else set(train_tokens)
    test_tokens = [split(line) for line in test]
    flat = [t for line in test_tokens for t in line]
    return {"tokenizer": name, "vocab": len(vocab),
            "tokens_per_line": sum(map(len, test_tokens)) / max(1, len(test_tokens)),
            "chars_per_token": sum(map(len, test)) / max(1, len(flat)),
            "oov": oov_rate(vocab, flat)}


def bpe_vocabulary(tokenizer) -> set[str]:
    """The token strings of a trained :class:`~lmlab.tokenizers.bpe.FastBPETokenizer`."""
    import json

    return set(json.loads(tokenizer.to_dict()["json"])["model"]["vocab"])


def merged_by_simplification(characters: Iterable[str],
                             convert: Callable[[str], str]) -> dict[str, list[str]]:
    """Simplified character -> the (two or more) distinct characters that ``convert`` maps onto it."""
    groups: dict[str, set[str]] = {}
    for ch in set(characters):
        if _HAN.match(ch):
            groups.setdefault(convert(ch), set()).add(ch)
    return {s: sorted(ts) for s, ts in sorted(groups.items()) if len(ts) > 1}


def most_common(tokens: Iterable[str], n: int = 20, *, han_only: bool = True) -> list[tuple[str, int]]:
    """The ``n`` most frequent tokens (by default those containing a Chinese character)."""
    counts = Counter(t for t in tokens if not han_only or _HAN.search(t))
    return counts.most_common(n)

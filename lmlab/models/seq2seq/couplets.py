"""Couplet pairs (上联 → 下联) from the Tang poems, split by poem, and the user's own pairs from a TSV file.

Every regulated line ``上句，下句。`` whose halves have the same length (5 or 7 characters) is one pair:
the second half answers the first character by character (白日 ↔ 黃河). A poem's pairs all go to one split,
so no poem is in two splits; a pair already in an earlier split is dropped from the later ones, so the
test split holds no pair (and no source) the model was trained on, nor a source one edit away from a
training source (near duplicates: retrieval would find the answer, the model would only need to remember it).

Not every pair must be parallel: in an eight-line regulated poem (律诗) only the 颔联 and 颈联 (lines 3–4 and
5–6) are required to be 对仗. ``couplets="middle"`` keeps those (about 46,000 pairs), ``"all"`` every pair.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmlab.say import learner_text, say

_H = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_HALF = re.compile(rf"^{_H}+$")
Pair = tuple[str, str]
KINDS = ("middle", "all")  # which pairs of a poem: the 颔联 and 颈联 of eight-line poems, or every pair


@dataclass
class CoupletData:
    """Train / validation / test pairs and where they came from (``source`` is shown to the reader)."""

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    source: str
    note: str = ""
    near_duplicates: dict[str, int] | None = None  # sources dropped from val / test (edit distance <= 1)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def couplets_of(paragraphs: Iterable[str], lengths: Iterable[int] = (5, 7)) -> list[Pair]:
    """The ``上句，下句。`` pairs of one poem (each sentence cut at 。！？；, then at its one comma)."""
    lengths = set(lengths)
    pairs = []
    for par in paragraphs:
        for sentence in re.split(r"[。！？；]", par):
            halves = sentence.split("，")
            if len(halves) != 2:
                continue
            a, b = halves
            if len(a) == len(b) and len(a) in lengths and _HALF.match(a) and _HALF.match(b):
                pairs.append((a, b))
    return pairs


def middle_couplets(paragraphs: Iterable[str], lengths: Iterable[int] = (5, 7)) -> list[Pair]:
    """The 颔联 and 颈联 (pairs 2 and 3) of an eight-line regulated poem: four ``上句，下句。`` sentences,
    all eight lines of one length; any other poem gives none."""
    sentences = [x for par in paragraphs for x in re.split(r"[。！？；]", par) if x.strip()]
    pairs = couplets_of([x + "。" for x in sentences], lengths)
    if len(sentences) != 4 or len(pairs) != 4 or len({len(a) for a, _ in pairs}) != 1:
        return []
    return pairs[1:3]


def within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance of a and b is at most 1 (one substitution, insertion or deletion)."""
    if a == b:
        return True
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if abs(len(a) - len(b)) != 1:
        return False
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


class NearDuplicates:
    """Is a source one edit away from a training source? Keys with one character blanked (a substitution
    shares one) and one character deleted (an insertion or deletion does) make each question a few lookups."""

    def __init__(self, sources: Iterable[str]) -> None:
        self.keys: set[str] = set()
        for s in sources:
            self.keys.update(self._keys(s))

    @staticmethod
    def _keys(s: str) -> list[str]:
        return ([s, "=" + s] + [s[:i] + "*" + s[i + 1:] for i in range(len(s))]
                + ["-" + s[:i] + s[i + 1:] for i in range(len(s))])

    def __contains__(self, s: str) -> bool:
        # "=" + s: s itself; "*": same length, one substitution; "-" key of s equal to "=" key of a training
        # source: s is one longer; "=" + s among a training source's "-" keys: s is one shorter
        return (("=" + s) in self.keys or any((s[:i] + "*" + s[i + 1:]) in self.keys for i in range(len(s)))
                or any(("=" + s[:i] + s[i + 1:]) in self.keys for i in range(len(s)))
                or ("-" + s) in self.keys)


def drop_near_duplicates(train: list[Pair], pairs: list[Pair]) -> tuple[list[Pair], int]:
    """``pairs`` without those whose source is within one edit of a training source, and how many went."""
    index = NearDuplicates(a for a, _ in train)
    kept = [(a, b) for a, b in pairs if a not in index]
    return kept, len(pairs) - len(kept)


def split_by_poem(poems: list[list[Pair]], val_fraction: float = 0.02, test_fraction: float = 0.02,
                  seed: int = 0) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """Shuffle whole poems into train / val / test, then deduplicate: a pair (or a source) seen in an
    earlier split never appears again, and repeats inside a split are kept once."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
                         "and sum to less than 1")
    order = list(range(len(poems)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(order) * test_fraction)) if test_fraction and len(order) > 2 else 0
    n_val = max(1, round(len(order) * val_fraction)) if val_fraction and len(order) > 2 else 0
    groups = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    seen_sources: set[str] = set()
    out: dict[str, list[Pair]] = {}
    for split in ("train", "val", "test"):  # train first: what it holds is removed from the others
        kept = []
        for i in sorted(groups[split]):
            for a, b in poems[i]:
                if a not in seen_sources:
                    seen_sources.add(a)
                    kept.append((a, b))
        out[split] = kept
    return out["train"], out["val"], out["test"]


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """``source<TAB>target`` per line (UTF-8); every malformed line is reported with its number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no pairs file at {path}; give a UTF-8 file with one 'source<TAB>target' "
                                "per line")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not valid UTF-8 (byte {err.start}); save it as UTF-8") from None
    pairs, bad = [], []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            bad.append(n)
            continue
        pairs.append((parts[0].strip(), parts[1].strip()))
    if bad:
        shown = ", ".join(map(str, bad[:20])) + (f" (and {len(bad) - 20} more)" if len(bad) > 20 else "")
        raise ValueError(f"{path}: {len(bad)} malformed line(s) at line {shown}; each line must be "
                         "'source<TAB>target' with both sides non-empty")
    if not pairs:
        raise ValueError(f"{path} holds no pairs; write one 'source<TAB>target' per line")
    return pairs


def _convert(pairs: list[Pair], script: str) -> list[Pair]:
    if script == "traditional":
        return pairs
    from lmlab.data import to_simplified

    flat = to_simplified([s for p in pairs for s in p])
    return list(zip(flat[0::2], flat[1::2], strict=True))


def load_couplets(pairs_file: str | os.PathLike | None = None, script: str | None = None,
                  lengths: Iterable[int] = (5, 7), val_fraction: float = 0.02, test_fraction: float = 0.02,
                  max_pairs: int | None = None, seed: int = 0, couplets: str = "middle") -> CoupletData:
    """Couplets from the Tang poems (or the 18 built-in quatrains with a printed note when the corpus is
    not available offline), or the pairs of ``pairs_file`` (each line its own group when splitting).

    ``couplets``: "middle" (the 颔联 and 颈联 of eight-line regulated poems, the pairs that must be
    parallel) or "all" (every pair); a pairs file is always taken whole. Val and test sources within one
    edit of a training source are dropped (``near_duplicates`` counts them). ``script``: the poems'
    characters, by default the edition's (simplified in the Chinese edition)."""
    from lmlab.data.corpora import edition_script, tang_poems_name

    script = edition_script(script)
    if couplets not in KINDS:
        raise ValueError(f"unknown couplets {couplets!r}; use 'middle' (the 颔联 and 颈联 of eight-line "
                         "regulated poems) or 'all' (every pair)")
    note = ""
    if pairs_file is not None:
        groups = [[p] for p in read_pairs(pairs_file)]
        source = os.fspath(pairs_file)
    else:
        poems, source = _poems()
        if source == "tang_poems":
            source = tang_poems_name(script)  # names the script: a prepared run of one never fits the other
        else:
            note = learner_text("the Tang-poem corpus is not available here, so these are the couplets of "
                                "the 18 built-in quatrains: enough to run every cell, far too few to learn "
                                "couplets (fetch it with 'lmlab data fetch tang_poems' online, or set "
                                "LMLAB_DATA_DIR)")
            say("note: {note}", note=note)
        groups = [(middle_couplets if couplets == "middle" else couplets_of)(p, lengths) for p in poems]
        groups = [g for g in groups if g]
        if not groups:  # the built-in quatrains have no middle couplets
            every = learner_text("no eight-line poem here, so every pair is used")
            note = "; ".join(x for x in (note, every) if x)
            say("note: {note}", note=every)
            groups = [g for g in (couplets_of(p, lengths) for p in poems) if g]
    if script != "traditional":
        flat = _convert([p for g in groups for p in g], script)
        it = iter(flat)
        groups = [[next(it) for _ in g] for g in groups]
    small = len(groups) < 50  # a handful of pairs: keep test and val one group each
    train, val, test = split_by_poem(groups, 0.1 if small else val_fraction, 0.1 if small else test_fraction,
                                     seed)
    if max_pairs is not None:
        train = train[:max_pairs]
    if not train:
        raise ValueError(f"no training pairs in {source}; give more pairs")
    val, n_val = drop_near_duplicates(train, val)
    test, n_test = drop_near_duplicates(train, test)
    return CoupletData(train, val, test, source, note, {"val": n_val, "test": n_test})


def _poems() -> tuple[list[list[str]], str]:
    from lmlab.data import load_tang_poems
    from lmlab.models.lstm.poems import BUILTIN_POEMS

    try:
        poems: list[Any] = load_tang_poems("traditional")  # converted by the caller, pairs and all
        return [p["paragraphs"] for p in poems], "tang_poems"
    except FileNotFoundError:
        return [list(p) for p in BUILTIN_POEMS], "builtin_poems"


def written_in(data: CoupletData, chars: set[str]) -> CoupletData:
    """Only the pairs written entirely in ``chars`` (the most common characters: a smaller output layer
    trains faster, and a character seen a handful of times cannot be learned), with a note of the count."""
    keep = lambda pairs: [(a, b) for a, b in pairs if set(a) <= chars and set(b) <= chars]
    train, val, test = keep(data.train), keep(data.val), keep(data.test)
    if not train:
        raise ValueError("no training pair is written in the kept characters; raise --max-vocab")
    note = learner_text("kept the {kept:,} of {total:,} training pairs written in the {chars:,} most common "
                        "characters", kept=len(train), total=len(data.train), chars=len(chars))
    return CoupletData(train, val, test, data.source, "; ".join(n for n in (data.note, note) if n),
                       data.near_duplicates)

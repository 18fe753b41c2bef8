"""Counting the characters a model cannot read: the check that an edition feeds its models its own script.

A vocabulary that turns unseen characters into an unknown token (BERT's ``[UNK]``, the couplet models'
``<unk>``) hides a mistake such as a model trained on traditional characters and asked about simplified
ones: 春眠不觉晓 reads as 春眠不□□. With ``LMLAB_UNKNOWN_LOG=FOLDER`` set, each such vocabulary counts
the characters it encodes and those it did not know, per reader (the function that called its encode:
pre-training on the corpus itself must not hide a fine-tuning set in the other script), and every
process keeps its totals in ``FOLDER/unknown-PID.json`` (rewritten after each count).
``tests/test_notebooks.py`` sets it while it executes a notebook and fails when a vocabulary read more
than 1 % unknown characters in one reader:

    report = read_log(folder)   # {"VOCABULARY, read by READER": {"chars": N, "unknown": n, "worst": {...}}}
    too_many(report, 0.01)      # one line per vocabulary and reader over the limit, with the worst characters

Without the variable nothing is counted: the cost is one environment lookup per encode.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ENV = "LMLAB_UNKNOWN_LOG"
_totals: dict[str, dict[str, Any]] = {}


def enabled() -> bool:
    """True when ``$LMLAB_UNKNOWN_LOG`` names a folder to count into."""
    return bool(os.environ.get(ENV))


def describe(kind: str, symbols: Sequence[str]) -> str:
    """A readable, stable name for a vocabulary: its kind, its size and a short hash of its symbols
    (two vocabularies of one size built from different texts get different names)."""
    digest = hashlib.sha1("\x00".join(symbols).encode("utf-8")).hexdigest()[:6]
    return f"{kind} of {len(symbols):,} symbols [{digest}]"


def reader(depth: int = 3) -> str:
    """Who called the vocabulary's encode (``module.function``, or "a notebook cell"): the counts are kept
    per reader, so that pre-training on the corpus itself (nothing unknown) cannot hide a fine-tuning set
    in another script."""
    frame = sys._getframe(depth)
    while frame.f_back is not None and frame.f_code.co_name in ("<listcomp>", "<genexpr>", "<dictcomp>"):
        frame = frame.f_back  # a comprehension is part of the function around it
    code = frame.f_code
    if "ipykernel" in code.co_filename or code.co_filename.startswith("<"):
        return "a notebook cell"
    return f"{Path(code.co_filename).stem}.{code.co_name}"


def count(vocabulary: str, n_chars: int, unknown: Iterable[str], where: str | None = None) -> None:
    """Add one encode's ``n_chars`` characters, of which ``unknown`` were not in ``vocabulary``; ``where``
    (by default the function that called the vocabulary's encode) names what was read."""
    folder = os.environ.get(ENV)
    if not folder or n_chars <= 0:
        return
    key = f"{vocabulary}, read by {where or reader()}"
    entry = _totals.setdefault(key, {"chars": 0, "unknown": 0, "worst": Counter()})
    missing = Counter(unknown)
    entry["chars"] += n_chars
    entry["unknown"] += sum(missing.values())
    entry["worst"].update(missing)
    _write(Path(folder))


def _write(folder: Path) -> None:
    from lmlab.atomic import atomic_write

    data = {name: {"chars": e["chars"], "unknown": e["unknown"], "worst": dict(e["worst"].most_common(20))}
            for name, e in _totals.items()}
    with atomic_write(folder / f"unknown-{os.getpid()}.json") as f:
        json.dump(data, f, ensure_ascii=False)


def read_log(folder: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Every process's totals in ``folder``, summed per vocabulary."""
    report: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("unknown-*.json")):
        for name, e in json.loads(path.read_text(encoding="utf-8")).items():
            entry = report.setdefault(name, {"chars": 0, "unknown": 0, "worst": Counter()})
            entry["chars"] += e["chars"]
            entry["unknown"] += e["unknown"]
            entry["worst"].update(e["worst"])
    return report


def too_many(report: dict[str, dict[str, Any]], limit: float = 0.01) -> list[str]:
    """One line per vocabulary whose share of unknown characters is above ``limit``, worst first."""
    lines = []
    for name, e in sorted(report.items(), key=lambda kv: -kv[1]["unknown"] / max(1, kv[1]["chars"])):
        share = e["unknown"] / max(1, e["chars"])
        if share > limit:
            worst = ", ".join(f"{c!r}×{n}" for c, n in Counter(e["worst"]).most_common(8))
            lines.append(f"{name}: {e['unknown']:,} of {e['chars']:,} characters unknown ({share:.1%}); "
                         f"worst: {worst}")
    return lines

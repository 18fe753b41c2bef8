"""What every tokenizer offers: encode/decode, a vocabulary size, and a JSON form for checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Tokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


_KINDS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make ``tokenizer_from_dict`` know this tokenizer kind."""
    _KINDS[cls.kind] = cls
    return cls


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from ``tok.to_dict()`` (as stored in checkpoints and vocab JSON files)."""
    kind = data.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; known kinds: {', '.join(sorted(_KINDS))}")
    return _KINDS[kind].from_dict(data)


def save_tokenizer(tok: Tokenizer, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(tok.to_dict(), ensure_ascii=False), encoding="utf-8")


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    return tokenizer_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

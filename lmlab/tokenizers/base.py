"""What every tokenizer offers: encode/decode, a vocabulary size, and a JSON form for checkpoints."""

from __future__ import annotations

import importlib
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


# The registry: tokenizer kind ("char", "word", "bpe", ...) -> class. Read it with get()/kinds().
_KINDS: dict[str, type] = {}
# kinds whose module is not imported by lmlab.tokenizers itself (kept out of the import path until needed):
# kind -> "module:class", imported and registered by get() on first use
_LAZY = {"bpe": "lmlab.tokenizers.bpe:FastBPETokenizer",
         "bpe_scratch": "lmlab.tokenizers.bpe:BytePairEncoding"}


def register(cls: type) -> type:
    """Class decorator: make ``get(cls.kind)`` and ``tokenizer_from_dict`` know this tokenizer kind."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} needs a class attribute kind = '...' to be registered")
    old = _KINDS.get(kind, cls)
    if (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):  # a reload is fine
        raise ValueError(f"tokenizer kind {kind!r} is already registered by {_KINDS[kind].__name__}; "
                         "choose another kind name")
    _KINDS[kind] = cls
    return cls


def kinds() -> tuple[str, ...]:
    """Every tokenizer kind that ``get`` knows, sorted (kinds loaded on demand included)."""
    return tuple(sorted(set(_KINDS) | set(_LAZY)))


def get(kind: str) -> type:
    """The tokenizer class registered as ``kind`` (importing its module on first use)."""
    if kind in _LAZY and kind not in _KINDS:
        module, _, name = _LAZY[kind].partition(":")
        register(getattr(importlib.import_module(module), name))
    if kind not in _KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; known kinds: {', '.join(kinds())}")
    return _KINDS[kind]


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from ``tok.to_dict()`` (as stored in checkpoints and vocab JSON files)."""
    if not isinstance(data, dict):
        raise ValueError(f"a tokenizer is stored as a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    cls = get(kind)
    try:
        return cls.from_dict(data)
    except (KeyError, TypeError) as err:
        raise ValueError(f"malformed {kind!r} tokenizer data (missing or wrong field {err}); "
                         "re-save it with save_tokenizer") from None


def save_tokenizer(tok: Tokenizer, path: str | os.PathLike) -> None:
    """Write ``tok.to_dict()`` as UTF-8 JSON (characters kept readable, not \\u-escaped)."""
    from lmlab.atomic import atomic_write

    with atomic_write(path) as f:  # a failed write leaves the previous file whole
        f.write(json.dumps(tok.to_dict(), ensure_ascii=False))


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer written by :func:`save_tokenizer`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a tokenizer JSON file ({err})") from None
    return tokenizer_from_dict(data)

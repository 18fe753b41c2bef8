"""Load a corpus as text by registered name or by path. (Minimal first version; the registry,
downloads and the built-in offline corpus are being added.)"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

_FILES = {"tiny_shakespeare": "tinyshakespeare.txt"}


def load_text(name_or_path: str | os.PathLike) -> str:
    """The whole corpus as one string."""
    path = Path(name_or_path)
    if path.suffix in {".txt", ".gz"} and path.exists():
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            return f.read()
    mirror = os.environ.get("LMLAB_DATA_DIR")
    if str(name_or_path) in _FILES and mirror:
        return (Path(mirror) / _FILES[str(name_or_path)]).read_text(encoding="utf-8")
    raise FileNotFoundError(f"corpus {name_or_path!r} is not available; set LMLAB_DATA_DIR to a mirror")


def train_val_split(text: str, train_fraction: float = 0.9) -> tuple[str, str]:
    """First ``train_fraction`` of the characters for training, the rest for validation (as nanoGPT)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be between 0 and 1, got {train_fraction}")
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]

"""Training history: a plain list of dicts, one per logged step, saved with every checkpoint.

A non-finite loss is kept as it was (``nan``/``inf``) where it happened: a diverging run must show its
divergence, in the curves and in ``metrics.json`` (which writes it as ``null`` beside ``diverged_at``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any


class History:
    """Records like ``{"iter": 10, "train_loss": 2.1, "lr": 1e-3}``; ``pandas.DataFrame(h.records)`` works."""

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])

    def log(self, **values: Any) -> None:
        self.records.append({k: _plain(v) for k, v in values.items()})

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(iters, values) for every record that has ``key``."""
        rows = [r for r in self.records if key in r and r[key] is not None]
        return [r.get("iter", i) for i, r in enumerate(rows)], [r[key] for r in rows]

    def last(self, key: str, default: Any = None) -> Any:
        """The most recent value of ``key`` (a ``nan`` included: a diverged run's last loss is nan)."""
        for record in reversed(self.records):
            if key in record and record[key] is not None:
                return record[key]
        return default

    def first_nonfinite(self, key: str = "train_loss") -> int | None:
        """The iteration of the first nan/inf value of ``key`` (None while every value is finite)."""
        for i, record in enumerate(self.records):
            value = record.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                return record.get("iter", i)
        return None

    def to_list(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars become Python numbers so the history pickles nowhere (nan stays nan)."""
    if hasattr(value, "item"):
        value = value.item()
    return value

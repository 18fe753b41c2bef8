"""Size presets shared by every notebook and trainer: smoke (CI), class (2-core laptop), full (GPU)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lmlab.choices import PRESETS

if TYPE_CHECKING:
    import torch

__all__ = ["PRESETS", "preset_values", "resolve_preset"]


def resolve_preset(name: str | None = None, device: torch.device | str | None = None) -> str:
    """Argument first, then $LMLAB_PRESET, then the device: 'full' on CUDA, 'class' elsewhere."""
    import torch  # here, not at the top: the command line reads PRESETS without loading torch

    chosen = name or os.environ.get("LMLAB_PRESET")
    if chosen:
        if chosen not in PRESETS:
            raise ValueError(f"unknown preset {chosen!r}; choose one of {', '.join(PRESETS)} "
                             "(argument --preset or environment variable LMLAB_PRESET)")
        return chosen
    device_type = torch.device(device).type if device is not None else (
        "cuda" if torch.cuda.is_available() else "cpu")
    return "full" if device_type == "cuda" else "class"


def preset_values(table: Mapping[str, Mapping[str, Any]], preset: str,
                  overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset's values with explicit overrides (None means 'not given') laid on top."""
    if preset not in table:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(table)}")
    values = dict(table[preset])
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return values

"""What every model's ``run(flags)`` shares between the flags and its own data and model: the device, the
preset's values under the flags given, the seed, the checkpoint in ``--out`` (``open_run``) and writing
``OUT/metrics.json``. A model's ``lmlab/models/NAME/run.py`` keeps only what is its own."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lmlab.device import Precision, pick_device, pick_precision, seed_everything
from lmlab.presets import resolve_preset
from lmlab.recipes import config_values
from lmlab.train.failures import guarded_write
from lmlab.train.metrics import write_metrics


@dataclass
class RunStart:
    """A run's settings resolved from its flags; ``payload`` is the checkpoint a ``--resume`` continues."""

    flags: dict[str, Any]
    out: Path
    device: torch.device
    preset: str
    values: dict[str, Any]
    seed: int
    precision: Precision
    payload: dict[str, Any] | None = None
    wall_start: float = field(default_factory=time.perf_counter)

    @property
    def progress(self) -> bool:
        return not self.flags.get("quiet")

    def keep_saved(self, saved: Mapping[str, Any], keys: Iterable[str]) -> None:
        """A resumed run keeps its checkpoint's architecture (``saved``) unless a flag says otherwise."""
        for k in keys:
            if self.flags.get(k) is None and k in saved:
                self.values[k] = saved[k]


def start_run(flags: dict[str, Any], presets: Mapping[str, Mapping[str, Any]], keys: Iterable[str], *,
              kind: str | None = None, device: torch.device | None = None, rank: int = 0,
              wall_start: float | None = None) -> RunStart:
    """Device (``--device``), preset, the preset's values with the flags on top, seed (+ ``rank``) and, for a
    ``kind`` of checkpoint, ``open_run``: an existing ``--out`` needs ``--resume`` or ``--overwrite``."""
    from lmlab.checkpoint import open_run

    wall_start = time.perf_counter() if wall_start is None else wall_start
    device = device or pick_device(flags.get("device"))
    preset = resolve_preset(flags.get("preset"), device)
    values = config_values(flags, presets, preset, keys)
    seed = flags.get("seed", 1337)
    seed_everything(seed + rank)
    out = Path(flags["out"])
    payload = None
    if kind is not None:
        payload = open_run(out, kind=kind, resume=bool(flags.get("resume")),
                           overwrite=bool(flags.get("overwrite")))
    return RunStart(flags, out, device, preset, values, seed, pick_precision(device, flags.get("precision")
                    or "auto"), payload, wall_start)


def finish_run(out: Path, record: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """Write ``OUT/metrics.json`` (the resolved configuration and the metrics); a failed write leaves the
    checkpoint intact and says so. Returns the metrics."""
    with guarded_write("metrics", out / "metrics.json", intact=out / "ckpt.pt"):
        write_metrics(out, record, **metrics)
    return metrics

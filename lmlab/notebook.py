"""One call at the top of every notebook: device, preset and figure style, printed for the reader."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmlab.device import Precision, pick_device, pick_precision
from lmlab.presets import resolve_preset


@dataclass(frozen=True)
class LabContext:
    device: torch.device
    precision: Precision
    preset: str


def setup(preset: str | None = None, device: str | None = None, seed: int = 1337) -> LabContext:
    """Pick device, numerics and preset (argument > $LMLAB_PRESET > device) and say what was chosen."""
    from lmlab.device import seed_everything

    dev = pick_device(device)
    ctx = LabContext(device=dev, precision=pick_precision(dev), preset=resolve_preset(preset, dev))
    seed_everything(seed)
    print(f"lmlab: device={ctx.device.type}, precision={ctx.precision.name}, preset={ctx.preset} "
          "(change with LMLAB_PRESET=smoke|class|full)")
    return ctx

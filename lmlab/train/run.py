"""What every model's ``run(flags)`` shares between the flags and its own data and model: the device, the
preset's values under the flags given, the seed, the checkpoint in ``--out`` (``open_run``) and writing
``OUT/metrics.json``. A model's ``lmlab/models/NAME/run.py`` keeps only what is its own."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
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


def check_iters_left(done: int, max_iters: int, out: Any) -> None:
    """A resumed run needs iterations left: one line that says which ``--max-iters`` trains longer."""
    if done >= max_iters:
        raise ValueError(f"the run in {out} already did {done} iterations; give a larger --max-iters than "
                         f"{done} to train longer")


def resume_state(model: torch.nn.Module, payload: dict[str, Any], optimizer_for: Callable[[str], Any],
                 max_iters: int, device: torch.device | str, out: Any = None,
                 saved_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load a checkpoint's weights into ``model`` (on ``device``; its config checked before any change) and
    return the keyword arguments a trainer continues it with: history, optimizer (``optimizer_for(device
    type)`` with the saved state), start_iter, train_s, best_val, wall_s."""
    from lmlab.checkpoint import check_config, load_model_state, run_state
    from lmlab.train.history import History

    device = torch.device(device)
    check_config(payload["config"] if saved_config is None else saved_config, asdict(model.config))
    load_model_state(model, payload)
    model.to(device)
    optimizer = optimizer_for(device.type)
    if payload.get("optimizer"):
        optimizer.load_state_dict(payload["optimizer"])
    state = run_state(payload)
    check_iters_left(state["next_iter"], max_iters, out)
    return {"history": History(payload.get("history")), "optimizer": optimizer,
            "start_iter": state["next_iter"], "train_s": state["train_s"], "best_val": state["best_loss"],
            "wall_s": state["wall_s"]}

"""Each model's recipe: its settings as one dataclass (every field's help beside it) and its preset table.

Torch-free, so that ``lmlab train MODEL --help`` derives its flags from these fields without importing torch
(``lmlab.cli.flags``); the trainers in ``lmlab.models`` import their configs from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["config_values", "field_names", "flag", "pick"]


def flag(help_text: str, *, name: str | None = None,
         choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A field's metadata: its help, and (rarely) a flag name other than the field's or its choices."""
    meta: dict[str, Any] = {"help": help_text}
    if name is not None:
        meta["flag"] = name
    if choices is not None:
        meta["choices"] = choices
    return meta


def config_values(flags: Mapping[str, Any], presets: Mapping[str, Mapping[str, Any]], preset: str,
                  names: Any = None) -> dict[str, Any]:
    """The preset's values with the flags given (not None) on top, and the one clock rule: an explicit
    ``--max-iters`` means "this many", not "until the preset's clock"; ``--time-budget 0`` means none."""
    from lmlab.presets import preset_values

    keys = set(names if names is not None else flags) | {k for t in presets.values() for k in t}
    values = preset_values(presets, preset, {k: flags.get(k) for k in keys})
    budget = flags.get("time_budget_s")
    if budget == 0 or (flags.get("max_iters") is not None and budget is None):
        values["time_budget_s"] = None
    return values


def field_names(config: type) -> tuple[str, ...]:
    """The names of a config dataclass's fields (what ``pick`` takes from a dict of values)."""
    return tuple(f.name for f in dataclasses.fields(config))


def pick(values: Mapping[str, Any], config: type, **more: Any) -> Any:
    """``config(**...)`` from the values it has fields for, ``more`` on top."""
    names = field_names(config)
    return config(**{**{k: v for k, v in values.items() if k in names}, **more})

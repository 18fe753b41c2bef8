"""Each model's recipe: its settings as dataclasses (every field's help beside it), its preset table, and
one ``RECIPE`` that tells ``lmlab train MODEL`` which configs become flags, which function trains and how
the summary line reads.

Torch-free, so that ``lmlab train MODEL --help`` derives its flags from these fields without importing torch
(``lmlab.cli.flags``); the trainers in ``lmlab.models`` import their configs from here.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MODELS", "Recipe", "config_values", "field_names", "flag", "fmt_loss", "pick", "recipe"]

MODELS = ("word2vec", "lstm", "gpt", "seq2seq", "bert")  # lmlab/recipes/NAME.py, each with a RECIPE


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What ``lmlab train MODEL`` needs of a model: one line of help, the config dataclasses whose fields
    (with help) become its flags, the preset table, the model package whose ``run.run(flags) -> metrics``
    trains it and the summary line printed from those metrics."""

    help: str
    configs: tuple[type, ...]
    presets: Mapping[str, Mapping[str, Any]]
    package: str  # lmlab.models.PACKAGE.run.run(flags) trains it (imported when the command runs: torch)
    summary: Callable[[dict[str, Any], str], str]  # (metrics, out) -> the line printed at the end
    corpus: str | None = None  # the --corpus default (None: the model has no --corpus)
    precision: bool = True  # offers --precision


def recipe(name: str) -> Recipe:
    """The recipe in ``lmlab/recipes/NAME.py``."""
    return importlib.import_module(f"lmlab.recipes.{name}").RECIPE


def flag(help_text: str, *, name: str | None = None, choices: tuple[str, ...] | None = None,
         metavar: str | None = None) -> dict[str, Any]:
    """A field's metadata: its help, and (rarely) a flag name other than the field's, its choices or the
    placeholder its help shows."""
    meta: dict[str, Any] = {"help": help_text}
    for key, value in (("flag", name), ("choices", choices), ("metavar", metavar)):
        if value is not None:
            meta[key] = value
    return meta


def fmt_loss(value: Any, digits: int = 4) -> str:
    """A loss for the summary line: 'n/a' before the first log, 'nan' after a divergence."""
    return "n/a" if value is None else f"{float(value):.{digits}f}"


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

"""``lmlab train MODEL``'s flags, derived once for every model from its config dataclass.

A model declares its settings as a dataclass whose fields carry their help, and a preset table keyed by the
same names::

    @dataclass
    class Word2VecConfig:
        dim: int = field(default=100, metadata=flag("vector size"))
        window: int = field(default=5, metadata=flag("largest distance to a context word"))

    PRESETS = {"smoke": {"dim": 32}, "class": {"dim": 100}, "full": {"dim": 200}}

``add_config_flags(parser, Word2VecConfig, PRESETS)`` then offers ``--dim`` and ``--window`` (the help shows
each preset's value), and ``config_values(flags, PRESETS, preset)`` lays the flags given over the preset's
values. Every model also gets the same common flags (``add_common_flags``) with the same names and meanings,
and the same two rules: an existing ``--out`` checkpoint is never replaced without ``--resume`` or
``--overwrite`` (``lmlab.checkpoint.open_run``), and an explicit ``--max-iters`` beats the preset's clock.
This module stays torch-free: ``lmlab train MODEL --help`` builds its parser without importing torch.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any

from lmlab.choices import PRECISIONS, PRESETS

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def flag_name(field: dataclasses.Field) -> str:
    """``--n-layer`` for ``n_layer``; ``--time-budget`` for ``time_budget_s`` (metadata ``flag``)."""
    return "--" + field.metadata.get("flag", field.name.replace("_", "-"))


def _type(field: dataclasses.Field) -> type:
    annotation = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "str")
    base = [t.strip() for t in annotation.split("|") if t.strip() != "None"][0]
    return _TYPES.get(base, str)


def _shown(field: dataclasses.Field, presets: Mapping[str, Mapping[str, Any]]) -> str:
    tables = [(p, t[field.name]) for p, t in presets.items() if field.name in t]
    if {v for _, v in tables} == {None}:
        return ""
    if len({repr(v) for _, v in tables}) == 1:
        return f"every preset: {tables[0][1]}"
    if tables:
        return "preset: " + ", ".join(f"{p} {'none' if v is None else v}" for p, v in tables)
    default = field.default
    return "" if default is dataclasses.MISSING or default is None else f"default: {default}"


def add_config_flags(p: argparse.ArgumentParser, config: type, presets: Mapping[str, Mapping[str, Any]] = {},
                     ) -> None:
    """One flag per field of ``config`` that carries help; None (not given) leaves the preset's value."""
    for field in dataclasses.fields(config):
        if "help" not in field.metadata:
            continue
        shown = _shown(field, presets)
        help_text = field.metadata["help"] + (f" ({shown})" if shown else "")
        kind = _type(field)
        if kind is bool:
            p.add_argument(flag_name(field), dest=field.name, action=argparse.BooleanOptionalAction,
                           default=None, help=help_text)
        else:
            p.add_argument(flag_name(field), dest=field.name, type=kind, default=None, help=help_text,
                           choices=field.metadata.get("choices"),
                           metavar=None if "choices" in field.metadata
                           else field.metadata.get("metavar", flag_name(field)[2:].upper()))


def add_common_flags(p: argparse.ArgumentParser, *, corpus: str | None = None,
                     precision: bool = True) -> None:
    """The flags every ``lmlab train MODEL`` shares, with one meaning each."""
    if corpus is not None:
        p.add_argument("--corpus", default=corpus, help="a registered corpus name (see 'lmlab data list') "
                       "or a path to a UTF-8 .txt/.txt.gz")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="size preset (default: $LMLAB_PRESET, else 'full' on CUDA and 'class' elsewhere)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    if precision:
        p.add_argument("--precision", default="auto", choices=PRECISIONS)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out", required=True, help="output directory (checkpoint, metrics.json)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue the checkpoint in --out (same model)")
    group.add_argument("--overwrite", action="store_true", help="replace the checkpoint in --out")
    p.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bar")


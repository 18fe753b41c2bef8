"""What each parallel scheme needs of the world size: one clear line when it does not divide (no torch
import, so the CLI checks flags before any process group exists)."""

from __future__ import annotations

from typing import Any

SCHEMES = ("ddp", "fsdp", "tp", "pp")


def check_parallel(scheme: str | None, config, world_size: int, batch_size: int = 1,
                   grad_accum: int = 1) -> None:
    """One clear line when the world size does not divide what ``scheme`` splits."""
    if scheme is None or scheme == "ddp" or world_size == 1:
        return
    if scheme not in SCHEMES:
        raise ValueError(f"unknown --parallel {scheme!r}; use one of {', '.join(SCHEMES)}")
    if scheme == "tp":
        check_tp(config, world_size)
    if scheme == "pp" and config.n_layer % world_size:
        raise ValueError(f"pipeline parallelism splits the {config.n_layer} layers over {world_size} ranks, "
                         f"which does not divide; use --n-layer divisible by {world_size} or "
                         f"--nproc_per_node dividing {config.n_layer}")
    if scheme == "pp" and batch_size % grad_accum:
        raise ValueError(f"pipeline parallelism evaluates a batch of --batch-size {batch_size} in "
                         f"--grad-accum {grad_accum} micro-batches, which does not divide; use a batch "
                         f"size divisible by {grad_accum}")


def check_resume(payload: dict[str, Any], world_size: int, scheme: str | None = None) -> None:
    """A run resumes on the world size (and, on several ranks, the scheme) it started with: the global
    batch, and so the curve, depend on both."""
    record = payload.get("extra", {}).get("config_record", {})
    saved = record.get("world_size")
    if saved is not None and int(saved) != world_size:
        raise ValueError(f"the checkpoint was trained on {saved} rank(s) but this run has {world_size}; "
                         f"resume with --nproc_per_node={saved}, or start a new --out")
    was, now = record.get("parallel") or "ddp", scheme or "ddp"
    if world_size > 1 and was != now:
        raise ValueError(f"the checkpoint was trained with --parallel {was} but this run asks for "
                         f"--parallel {now}; resume with --parallel {was}, or start a new --out")


def check_tp(config, n: int) -> None:
    """One clear line when ``n`` ranks cannot split the heads evenly (the MLP's 4C units follow)."""
    if config.n_head % n:
        raise ValueError(f"tensor parallelism splits the {config.n_head} heads over {n} ranks, which does "
                         f"not divide; use a --n-head divisible by {n} or --nproc_per_node dividing "
                         f"{config.n_head}")

"""Checkpoints: model + config + tokenizer + optimizer + history in one file, written atomically.

Every trainer writes one schema: the run's position sits under ``extra`` as ``next_iter`` (the iteration
a resume starts at), ``best_loss`` (the loss of ``best.pt``), ``train_s`` and ``wall_s`` (``run_extra``);
``run_state`` reads it back, and also reads the ``iter`` / ``best_val`` that the GPT, BERT and LSTM
trainers wrote before. ``open_run`` is the one rule for an output folder that already holds a run.

Loading uses ``torch.load(weights_only=True)``: a checkpoint that smuggles a pickled object is refused.
Everything besides tensors is stored as plain Python data (dicts, lists, numbers, strings).
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch

from lmlab.atomic import atomic_write, remove_stale_parts
from lmlab.tokenizers import Tokenizer, tokenizer_from_dict

FORMAT_VERSION = 1


class NonFiniteWeights(ValueError):
    """Refused to save: a parameter holds nan or inf (a diverged model must not replace a good one)."""


def first_nonfinite_parameter(model: torch.nn.Module) -> str | None:
    """The name of the first parameter holding nan or inf, or None when every weight is finite."""
    return _first_nonfinite(model.named_parameters())


def _first_nonfinite(named: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    for name, t in named:
        if t.is_floating_point() and not bool(torch.isfinite(t.detach()).all()):
            return name
    return None


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: torch.nn.Module | Mapping[str, torch.Tensor],
    config: Any,
    kind: str,
    tokenizer: Tokenizer | None = None,
    optimizer: torch.optim.Optimizer | Mapping[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    check_finite: bool = True,
) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A process killed mid-save leaves the previous checkpoint untouched. Weights holding nan or inf are
    refused (``NonFiniteWeights``) unless ``check_finite=False``: a diverged model never replaces a good one.
    ``model`` and ``optimizer`` may also be state dicts already (a parallel plan's, gathered on rank 0).
    """
    path = Path(path)
    if isinstance(model, Mapping):
        state = dict(model)
        named = state.items()
    else:
        raw_model = getattr(model, "module", model)  # unwrap DDP
        raw_model = getattr(raw_model, "_orig_mod", raw_model)  # unwrap torch.compile
        state, named = raw_model.state_dict(), raw_model.named_parameters()
    bad = _first_nonfinite(named) if check_finite else None
    if bad is not None:
        raise NonFiniteWeights(f"refusing to write {path}: parameter {bad!r} holds nan or inf (the run "
                               "diverged); the previous checkpoint is kept. Lower the learning rate or "
                               "turn gradient clipping on, and resume from the last good checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "config": asdict(config) if is_dataclass(config) else dict(config),
        "model": state,
        "tokenizer": tokenizer.to_dict() if tokenizer is not None else None,
        "optimizer": _optimizer_state(optimizer),
        "history": list(history or []),
        "extra": dict(extra or {}),
    }
    remove_stale_parts(path, ".tmp")  # left by a save that was killed long ago
    with atomic_write(path, "wb", suffix=".tmp", durable=True) as f:
        try:
            torch.save(payload, f)
        except RuntimeError as err:  # torch's zip writer reports a refused write without its errno
            raise _write_error(f, err) from err
    return path


def _optimizer_state(optimizer: torch.optim.Optimizer | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if optimizer is None or isinstance(optimizer, Mapping):
        return None if optimizer is None else dict(optimizer)
    return optimizer.state_dict()


def _write_error(f: Any, err: RuntimeError) -> BaseException:
    """The OSError behind a failed ``torch.save`` (a full disk, a file-size limit), found by writing one
    more byte; the RuntimeError itself when the file still takes writes (not a write failure)."""
    try:
        f.write(b"\0")
        f.flush()
        os.fsync(f.fileno())
    except OSError as os_err:
        return os_err
    return err


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (tensors and plain data only)."""
    path = Path(path)
    if path.is_dir():
        path = path / "ckpt.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train one first (lmlab train ... --out DIR)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():
            raise ValueError(f"{path} is not a readable checkpoint ({_first_line(err)}); "
                             "it may be truncated or not a PyTorch file: train again or restore a copy"
                             ) from None
        raise ValueError(f"refusing to load {path}: it contains pickled Python objects, which could run "
                         "arbitrary code. Only lmlab checkpoints of tensors and plain data load. "
                         f"({_blocked_global(err)})") from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as err:  # truncated, empty, foreign
        raise ValueError(f"{path} is not a readable checkpoint ({type(err).__name__}: {_first_line(err)}); "
                         "it may be truncated or not a PyTorch file: train again or restore a copy"
                         ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or "model" not in payload:
        raise ValueError(f"{path} is not an lmlab checkpoint (format {FORMAT_VERSION})")
    return payload


def open_run(out: str | os.PathLike | None, *, kind: str, resume: bool = False, overwrite: bool = False,
             map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``out`` to continue (``resume``), or None for a fresh run; the one rule of every
    trainer: an existing checkpoint is never replaced unless ``overwrite``, ``resume`` needs one."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other; choose one")
    if out is None:
        if resume:
            raise ValueError("resume=True needs an output folder (out_dir / --out) holding a checkpoint")
        return None
    path = Path(out) / "ckpt.pt"
    if not path.exists():
        if resume:
            raise FileNotFoundError(f"--resume given but there is no checkpoint at {path}; drop --resume to "
                                    "start a new run")
        return None
    if overwrite:
        return None
    if not resume:
        raise ValueError(f"{path} already exists; pass --resume to continue that run, --overwrite to replace "
                         "it, or choose another --out (nothing was overwritten)")
    payload = load_checkpoint(path, map_location=map_location)
    if payload.get("kind") != kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r} checkpoint, not {kind!r}; choose another "
                         "--out")
    return payload


def check_tokenizer(saved: dict[str, Any] | None, tokenizer: Any, out: Any) -> None:
    """A run resumes with the vocabulary it was trained with: one line naming the difference, else."""
    if saved is None or not hasattr(tokenizer, "to_dict") or saved == tokenizer.to_dict():
        return
    old = saved.get("chars") or saved.get("vocab") or []
    new = tokenizer.to_dict().get("chars") or tokenizer.to_dict().get("vocab") or []
    extra = sorted(set(map(str, new)) - set(map(str, old)))[:10]
    missing = sorted(set(map(str, old)) - set(map(str, new)))[:10]
    raise ValueError(f"checkpoint {Path(out) / 'ckpt.pt'} was trained with another vocabulary "
                     f"({len(old)} entries vs {len(new)} here; new: {extra}, gone: {missing}); resume it on "
                     "the corpus it was trained on, or train into another --out")


def run_extra(*, next_iter: int, best_loss: float, train_s: float, wall_s: float,
              **more: Any) -> dict[str, Any]:
    """A checkpoint's ``extra`` in the one schema every trainer writes (``Session``'s)."""
    return {"next_iter": int(next_iter), "best_loss": float(best_loss), "train_s": float(train_s),
            "wall_s": float(wall_s), **more}


def run_state(payload: dict[str, Any]) -> dict[str, Any]:
    """``extra`` in the one schema, whichever trainer version wrote it: ``next_iter``, ``best_loss``,
    ``train_s``, ``wall_s`` (plus the trainer's own keys). Older GPT/BERT checkpoints said ``iter`` and
    ``best_val``, older LSTM ones ``best_val``: both are read here."""
    extra = dict(payload.get("extra") or {})
    next_iter = extra.pop("next_iter", extra.pop("iter", 0))
    best = extra.pop("best_loss", extra.pop("best_val", math.inf))
    train_s = float(extra.pop("train_s", 0.0))
    wall_s = float(extra.pop("wall_s", train_s))
    return {**extra, "next_iter": int(next_iter), "best_loss": math.inf if best is None else float(best),
            "train_s": train_s, "wall_s": wall_s}


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _blocked_global(err: BaseException) -> str:
    """The 'Unsupported global: GLOBAL x.y' line of torch's long weights-only message, if present."""
    for line in str(err).splitlines():
        if "GLOBAL" in line or "Unsupported" in line:
            return line.strip()[:200]
    return _first_line(err)


def checkpoint_tokenizer(payload: dict[str, Any]) -> Tokenizer | None:
    data = payload.get("tokenizer")
    return tokenizer_from_dict(data) if data else None


def check_config(saved: dict[str, Any], current: dict[str, Any], *, what: str = "model") -> None:
    """Fail with every differing key named when a checkpoint's config does not match the current one."""
    keys = sorted(set(saved) | set(current))
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs requested {current.get(k)!r}"
             for k in keys if saved.get(k) != current.get(k)]
    if diffs:
        raise ValueError(f"checkpoint {what} config does not match: " + "; ".join(diffs)
                         + ". Use the checkpoint's own config or train a new model into another --out.")


def load_model_state(model: torch.nn.Module, payload: dict[str, Any]) -> None:
    """Load weights, turning a shape mismatch into one readable message."""
    state = payload["model"]
    own = model.state_dict()
    problems = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if problems or missing or unexpected:
        parts = problems + [f"missing {k}" for k in missing[:5]] + [f"unexpected {k}" for k in unexpected[:5]]
        raise ValueError("checkpoint does not fit this model (another config?): " + "; ".join(parts))
    model.load_state_dict(state)

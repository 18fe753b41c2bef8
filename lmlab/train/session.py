"""A training session: model, optimizer, history and the next iteration, kept together so that stopping
(Ctrl-C, "interrupt kernel", a time budget) and going on is one call.

    session = Session(step, model=model, optimizer=opt, max_iters=2000, out="runs/gpt", seed=1337,
                      config=config, kind="gpt", evaluate=evaluate, eval_interval=200)
    session.fit()        # interrupt the kernel whenever you like ...
    session.fit()        # ... and this continues from where it stopped, on the same loss curve

In a new process, ``Session(...).restore()`` (or ``resume=True``, the notebook's ``--resume``) reloads
``out/ckpt.pt`` first. The curve repeats exactly when ``step(it)`` draws its batch from
``step_generator(seed, it)`` and computes the learning rate from ``it``; torch's own randomness (dropout)
is re-seeded per step from ``(seed, it)``. Beside ``ckpt.pt`` the session keeps ``best.pt``: the checkpoint
with the lowest validation loss (the training loss where nothing is validated). A diverged run stops
with the model and history in memory and writes neither; a failed write raises ``WriteFailed``, saying
that both are still here.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lmlab.atomic import atomic_copy
from lmlab.checkpoint import load_checkpoint, load_model_state, run_state, save_checkpoint
from lmlab.i18n import _
from lmlab.train.failures import guarded_write
from lmlab.train.history import History
from lmlab.train.loop import FitResult, StepFn, fit


class Session:
    """Holds what a run needs to stop and resume; ``fit()`` trains until ``max_iters`` or an interrupt."""

    def __init__(self, step: StepFn, *, model: torch.nn.Module, max_iters: int,
                 optimizer: torch.optim.Optimizer | None = None, out: str | os.PathLike | None = None,
                 config: Any = None, kind: str = "model", tokenizer: Any = None, seed: int | None = 1337,
                 checkpoint_interval: int = 0, resume: bool = False,
                 extra: Callable[[], dict[str, Any]] | None = None, in_memory: bool = True,
                 **fit_options: Any) -> None:
        # extra(): more fields for the checkpoint's "extra" (a trainer's train_s, wall_s); read back after a
        # restore as ``restored_extra``. in_memory=False: a CLI run (a failed write's line says so, a
        # divergence prints fit's one line and no notebook advice)
        self.extra, self.in_memory, self.restored_extra = extra, in_memory, {}
        self.step, self.model, self.optimizer = step, model, optimizer
        self.max_iters, self.seed = max_iters, seed
        self.out = Path(out) if out is not None else None
        self.config, self.kind, self.tokenizer = config, kind, tokenizer
        self.checkpoint_interval = checkpoint_interval
        self.fit_options = fit_options
        self.history = History()
        self.next_iter = 0
        self.best_loss = math.inf  # of best.pt: validation loss, else training loss
        self.last_result: FitResult | None = None
        if resume:
            self.restore()

    @property
    def path(self) -> Path | None:
        return self.out / "ckpt.pt" if self.out is not None else None

    @property
    def done(self) -> bool:
        return self.next_iter >= self.max_iters

    def fit(self, max_iters: int | None = None, **options: Any) -> FitResult:
        """Train from ``next_iter`` to ``max_iters`` (raise it to train longer); safe to call again."""
        if max_iters is not None:
            self.max_iters = max_iters
        if self.done:
            print(_("already trained to iteration {done} of {total}; pass a larger max_iters to train longer")
                  .format(done=self.next_iter, total=self.max_iters), flush=True)
        kwargs = {"checkpoint_interval": self.checkpoint_interval, **self.fit_options, **options}
        if self.path is not None:
            kwargs.setdefault("checkpoint", self._checkpoint)
        result = fit(self.step, max_iters=self.max_iters, history=self.history, start_iter=self.next_iter,
                     step_seed=self.seed, **kwargs)
        self.next_iter = result.next_iter
        self.last_result = result
        if result.diverged and self.in_memory and self.path is not None and self.path.exists():
            print(_("the weights in memory are the diverged ones: session.restore() reloads the last good "
                    "checkpoint, then fit again with a lower learning rate"), file=sys.stderr, flush=True)
        return result

    @property
    def best_path(self) -> Path | None:
        return self.out / "best.pt" if self.out is not None else None

    def _checkpoint(self, next_iter: int) -> None:
        self.next_iter = next_iter
        path = self.save()
        loss = self.history.last("val_loss", self.history.last("train_loss"))
        if loss is not None and math.isfinite(loss) and loss < self.best_loss and self.best_path is not None:
            with guarded_write("best checkpoint", self.best_path, in_memory=self.in_memory):
                atomic_copy(path, self.best_path)  # the file just written, byte for byte
            self.best_loss = loss

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write model, optimizer, history and the next iteration atomically (``out/ckpt.pt``)."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise ValueError("this session has no out folder; pass out='runs/NAME' or save(path)")
        config = self.config if self.config is not None else {}
        with guarded_write("checkpoint", path, in_memory=self.in_memory):
            return save_checkpoint(path, model=self.model, config=config, kind=self.kind,
                                   tokenizer=self.tokenizer, optimizer=self.optimizer,
                                   history=self.history.to_list(),
                                   extra={"next_iter": self.next_iter, "max_iters": self.max_iters,
                                          "seed": self.seed, "best_loss": self.best_loss,
                                          **(self.extra() if self.extra is not None else {})})

    def restore(self, path: str | os.PathLike | None = None) -> bool:
        """Load ``out/ckpt.pt`` if it exists (False when there is none: a fresh start)."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise ValueError("this session has no out folder; pass out='runs/NAME' or restore(path)")
        if not (path / "ckpt.pt" if path.is_dir() else path).exists():
            return False
        payload = load_checkpoint(path)
        if payload["kind"] != self.kind:
            raise ValueError(f"{path} holds a {payload['kind']!r} checkpoint, not {self.kind!r}; "
                             "resume it with the matching model or choose another out folder")
        load_model_state(self.model, payload)
        if self.optimizer is not None and payload.get("optimizer"):
            self.optimizer.load_state_dict(payload["optimizer"])
        self.history = History(payload.get("history"))
        self.restored_extra = run_state(payload)  # the one schema (older trainers' keys read too)
        self.next_iter, self.best_loss = self.restored_extra["next_iter"], self.restored_extra["best_loss"]
        print(_("resumed from {path} at iteration {it}").format(path=path, it=self.next_iter), flush=True)
        return True

    def losses(self, key: str = "train_loss") -> list[float]:
        """The logged values of ``key``, in order (what a resume must reproduce)."""
        return self.history.series(key)[1]


def iteration_batch(data: torch.Tensor, it: int, *, seed: int, batch_size: int, block_size: int,
                    device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Random (x, y) windows of a 1-D token tensor for iteration ``it``: the same on every resume."""
    from lmlab.train.batches import random_windows
    from lmlab.train.loop import step_generator

    x, y = random_windows(data, batch_size, block_size, step_generator(seed, it))  # (B, T) each
    return x.contiguous().to(device), y.contiguous().to(device)

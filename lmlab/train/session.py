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
that both are still here (and carrying them: ``err.model``, ``err.history``, ...).

The session also keeps the run's clocks over every resumed part: ``train_s`` (seconds inside ``step``;
a ``time_budget_s`` counts these) and ``wall_s``. Under torchrun (``ctx``) every rank runs the session;
rank 0 alone shows progress and writes, and the others wait for its verdict on each write. Where no rank
holds the whole model (``lmlab.parallel``'s FSDP, tensor and pipeline plans) the plan passes ``gather``:
every rank calls it before each write, and rank 0 writes the plain state dicts it returns.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch

from lmlab.atomic import atomic_copy
from lmlab.checkpoint import (
    check_config,
    load_checkpoint,
    load_model_state,
    open_run,
    run_extra,
    run_state,
    save_checkpoint,
)
from lmlab.distributed import DistContext, write_together
from lmlab.i18n import _
from lmlab.train.failures import WriteFailed, guarded_write
from lmlab.train.history import History
from lmlab.train.loop import FitResult, StepFn, fit


class Session:
    """Holds what a run needs to stop and resume; ``fit()`` trains until ``max_iters`` or an interrupt."""

    def __init__(self, step: StepFn, *, model: torch.nn.Module, max_iters: int,
                 optimizer: torch.optim.Optimizer | None = None, out: str | os.PathLike | None = None,
                 config: Any = None, kind: str = "model", tokenizer: Any = None, seed: int | None = 1337,
                 checkpoint_interval: int = 0, resume: bool = False,
                 extra: Callable[[], dict[str, Any]] | None = None, in_memory: bool = True,
                 time_budget_s: float | None = None, ctx: DistContext | None = None,
                 wall_start: float | None = None, best_key: str | None = None,
                 after_step: Callable[[int], None] | None = None,
                 gather: Callable[[], tuple[Mapping[str, Any], Mapping[str, Any] | None]] | None = None,
                 after_checkpoint: Callable[[], None] | None = None, guarded: bool = False,
                 **fit_options: Any) -> None:
        # extra(): more fields for the checkpoint's "extra" (a trainer's train_config); read back after a
        # restore as ``restored_extra``. in_memory=False: a CLI run (a failed write's line says so, a
        # divergence prints fit's one line and no notebook advice). time_budget_s: seconds of training
        # over every resumed part. wall_start: when this process began the run (time.perf_counter()).
        # best_key: the logged value best.pt follows (default val_loss with an evaluate, else train_loss).
        # after_step(next_iter): runs after each step, train_s counted (fit's clock= times the steps).
        # gather(): the plain model's and optimizer's state dicts, for a model no rank holds whole; every
        # rank calls it before each write (so ``evaluate`` returns the same losses on every rank), rank 0
        # writes what it returns. after_checkpoint(): every rank, after each ckpt.pt (FSDP's sharded copy);
        # a failure there stops every rank, as a failed ckpt.pt does. guarded: ``step`` never applies the
        # update of a nan/inf loss (the engine's step): the weights in memory stay the last good ones
        self.extra, self.in_memory, self.restored_extra = extra, in_memory, {}
        self.time_budget_s = time_budget_s
        self.ctx = ctx or DistContext(rank=0, local_rank=0, world_size=1)
        self.train_s, self.wall_before = 0.0, 0.0
        self.wall_start = time.perf_counter() if wall_start is None else wall_start
        self.step, self.model, self.optimizer = step, model, optimizer
        self.max_iters, self.seed = max_iters, seed
        self.out = Path(out) if out is not None else None
        self.config, self.kind, self.tokenizer = config, kind, tokenizer
        self.checkpoint_interval = checkpoint_interval
        self.fit_options = fit_options
        self.best_key = best_key
        self.after_step = after_step
        self.gather, self.after_checkpoint, self.guarded = gather, after_checkpoint, guarded
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

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds of the run so far, over every resumed part."""
        return self.wall_before + time.perf_counter() - self.wall_start

    @property
    def time_left_s(self) -> float | None:
        """Seconds of training the time budget still allows (None: no budget)."""
        return None if self.time_budget_s is None else max(0.0, self.time_budget_s - self.train_s)

    def _stepped(self, next_iter: int, seconds: float) -> None:
        """After each step: the loop's clock says how long it took (the session sums the run's seconds)."""
        self.train_s += seconds
        self.next_iter = next_iter
        if self.after_step is not None:
            self.after_step(next_iter)

    def fit(self, max_iters: int | None = None, **options: Any) -> FitResult:
        """Train from ``next_iter`` to ``max_iters`` (raise it to train longer); safe to call again."""
        if max_iters is not None:
            self.max_iters = max_iters
        if self.done and self.ctx.is_main:
            print(_("already trained to iteration {done} of {total}; pass a larger max_iters to train longer")
                  .format(done=self.next_iter, total=self.max_iters), flush=True)
        kwargs = {"checkpoint_interval": self.checkpoint_interval, "step_seed": self.seed,
                  **self.fit_options, **options}
        if self.time_left_s is not None:  # the budget counts the seconds of every resumed part
            kwargs.setdefault("time_budget_s", self.time_left_s)
        # best.pt follows the validation loss, judged as each evaluation ends, where there is one; else the
        # training loss, judged at each checkpoint (never a mix)
        evaluate = kwargs.get("evaluate")
        if evaluate is not None:
            kwargs["evaluate"] = lambda: self._judge(evaluate())
        if self.path is not None or self.ctx.enabled:  # every rank takes part in rank 0's writes
            kwargs.setdefault("checkpoint", lambda it: self._checkpoint(it, validated=evaluate is not None))
        if not self.ctx.is_main:
            kwargs.update(progress=False, live=None, report=False)
        try:
            result = fit(self.step, max_iters=self.max_iters, history=self.history, start_iter=self.next_iter,
                         after_step=self._stepped, **kwargs)
        except WriteFailed as err:  # a notebook keeps the trained model: save it elsewhere or train on
            err.keep(model=self.model, history=self.history, optimizer=self.optimizer,
                     tokenizer=self.tokenizer, next_iter=self.next_iter, train_s=self.train_s)
            raise
        self.next_iter = result.next_iter
        self.last_result = result
        if result.diverged and self.in_memory and self.guarded:
            print(_("the weights in memory are the last good ones (the step whose loss was not finite was "
                    "never applied): fit again with a lower learning rate"), file=sys.stderr, flush=True)
        elif result.diverged and self.in_memory and self.path is not None and self.path.exists():
            print(_("the weights in memory are the diverged ones: session.restore() reloads the last good "
                    "checkpoint, then fit again with a lower learning rate"), file=sys.stderr, flush=True)
        return result

    @property
    def best_path(self) -> Path | None:
        return self.out / "best.pt" if self.out is not None else None

    def _checkpoint(self, next_iter: int, *, validated: bool) -> None:
        self.next_iter = next_iter
        state = self._gathered()  # every rank takes part
        # under torchrun every rank waits here for rank 0's write: a failed one stops them all (one line)
        mine = self.path is not None and self.ctx.is_main
        write_together(self.ctx, (lambda: self._write(state, validated=validated)) if mine else None)
        if self.after_checkpoint is not None:
            write_together(self.ctx, self.after_checkpoint)

    def _gathered(self) -> tuple[Mapping[str, Any], Mapping[str, Any] | None] | None:
        return self.gather() if self.gather is not None else None

    def _write(self, state: tuple[Mapping[str, Any], Mapping[str, Any] | None] | None, *,
               validated: bool) -> None:
        """ckpt.pt, and, where nothing is validated, best.pt (a copy of it) on a new lowest training loss."""
        loss = self.history.last(self.best_key or "train_loss")
        improved = not validated and self.best_path is not None and self._improves(loss)
        previous = self.best_loss
        if improved:
            self.best_loss = loss  # before the save: ckpt.pt and best.pt carry the new best
        try:
            path = self.save(state=state)
        except BaseException:
            self.best_loss = previous
            raise
        if improved:
            with guarded_write("best checkpoint", self.best_path, in_memory=self.in_memory):
                atomic_copy(path, self.best_path)  # the file just written, byte for byte

    def _improves(self, loss: Any) -> bool:
        return loss is not None and math.isfinite(loss) and loss < self.best_loss

    def _judge(self, values: dict[str, float]) -> dict[str, float]:
        """After an evaluation: a new lowest validation loss writes best.pt (rank 0; every rank waits)."""
        loss = values.get(self.best_key or "val_loss")
        write = None
        if self._improves(loss):
            self.best_loss = loss  # before the save: best.pt carries its own loss
            state = self._gathered()  # under a gather every rank is here: each judged the same loss
            if self.best_path is not None:
                write = lambda: self.save(self.best_path, what="best checkpoint", state=state)  # noqa: E731
        if write is not None or self.ctx.enabled:
            write_together(self.ctx, write)
        return values

    def save(self, path: str | os.PathLike | None = None, *, what: str = "checkpoint",
             state: tuple[Mapping[str, Any], Mapping[str, Any] | None] | None = None) -> Path:
        """Write model, optimizer, history and the next iteration atomically (``out/ckpt.pt``); ``state``:
        the model's and optimizer's state dicts already gathered (default: ``gather()``, else this
        process's ``model`` and ``optimizer``)."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise ValueError("this session has no out folder; pass out='runs/NAME' or save(path)")
        config = self.config if self.config is not None else {}
        model, optimizer = state if state is not None else self._gathered() or (self.model, self.optimizer)
        with guarded_write(what, path, in_memory=self.in_memory):
            return save_checkpoint(path, model=model, config=config, kind=self.kind,
                                   tokenizer=self.tokenizer, optimizer=optimizer,
                                   history=self.history.to_list(),
                                   extra={"max_iters": self.max_iters, "seed": self.seed,
                                          **run_extra(next_iter=self.next_iter, best_loss=self.best_loss,
                                                      train_s=self.train_s, wall_s=self.wall_s),
                                          **(self.extra() if self.extra is not None else {})})

    def restore(self, path: str | os.PathLike | dict[str, Any] | None = None) -> bool:
        """Load ``out/ckpt.pt`` if it exists (False when there is none: a fresh start), or a checkpoint
        already read (``lmlab.checkpoint.open_run``'s payload). A dataclass ``config`` must match the
        checkpoint's (checked before any weight changes)."""
        if isinstance(path, dict):
            payload, path = path, self.path
        else:
            path = Path(path) if path is not None else self.path
            if path is None:
                raise ValueError("this session has no out folder; pass out='runs/NAME' or restore(path)")
            if not (path / "ckpt.pt" if path.is_dir() else path).exists():
                return False
            payload = load_checkpoint(path)
        if payload["kind"] != self.kind:
            raise ValueError(f"{path} holds a {payload['kind']!r} checkpoint, not {self.kind!r}; "
                             "resume it with the matching model or choose another out folder")
        if is_dataclass(self.config):
            saved = payload["config"]
            if hasattr(type(self.config), "from_dict"):  # an older checkpoint's config, as read today
                saved = asdict(type(self.config).from_dict(saved))
            check_config(saved, asdict(self.config))
        load_model_state(self.model, payload)
        if self.optimizer is not None and payload.get("optimizer"):
            self.optimizer.load_state_dict(payload["optimizer"])
        self.history = History(payload.get("history"))
        self.restored_extra = run_state(payload)  # the one schema (older trainers' keys read too)
        self.next_iter, self.best_loss = self.restored_extra["next_iter"], self.restored_extra["best_loss"]
        self.train_s, self.wall_before = self.restored_extra["train_s"], self.restored_extra["wall_s"]
        if self.ctx.is_main:
            print(_("resumed from {path} at iteration {it}").format(path=path, it=self.next_iter), flush=True)
        return True

    def start(self, resume: bool | dict[str, Any] = False, *, overwrite: bool = True,
              history: History | None = None, next_iter: int = 0, train_s: float = 0.0,
              best_loss: float = math.inf, wall_s: float = 0.0) -> None:
        """A trainer's one call before ``fit``: continue ``out/ckpt.pt`` (``resume=True``, or the checkpoint
        ``lmlab train`` already read), start fresh (an existing checkpoint is replaced only with
        ``overwrite``: ``open_run``), or go on from a state in memory (``next_iter > 0``: after a
        WriteFailed)."""
        from lmlab.train.run import check_iters_left

        payload = resume if isinstance(resume, dict) else None
        if payload is None and next_iter == 0:
            payload = open_run(self.out, kind=self.kind, resume=bool(resume),
                               overwrite=overwrite and not resume)
        if payload is not None:
            self.restore(payload)
            check_iters_left(self.next_iter, self.max_iters, self.out)
            return
        self.history = history if history is not None else History()
        self.next_iter, self.train_s, self.best_loss, self.wall_before = next_iter, train_s, best_loss, wall_s

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

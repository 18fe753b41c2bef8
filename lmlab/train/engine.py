"""One training engine: a model brings a ``Recipe`` (what is its own: build, batch, loss, evaluate), and
``train`` does the rest the same way for every model, on ``lmlab.train.Session``.

    run = train(GPTRecipe(tcfg, data, tokenizer=tok), model=GPT(cfg), out="runs/gpt")
    run.metrics["val_loss"], run.history        # the same keys for every model
    run.fit(max_iters=4000)                      # go on training the same run

The engine's step, for every model: the recipe's learning rate into each parameter group (times the
group's ``lr_scale``, if it has one: a new classifier head may learn faster than its pre-trained encoder);
``grad_accum`` micro-batches drawn from ``step_generator(seed * 1009, it)`` (a resumed run sees the same
batches; under torchrun every rank draws the global batch and keeps its rows), each under autocast; a
nan/inf loss is caught before its backward, so that step's update is never applied and ``fit`` stops right
after it; gradient clipping, the optimizer step (a GradScaler under fp16) and the loss averaged over ranks.
A recipe whose update is no gradient step (word2vec's Hogwild numba kernels) brings its own
``step(it, session)``.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from lmlab.checkpoint import check_tokenizer, open_run
from lmlab.device import Precision, autocast, pick_precision
from lmlab.distributed import DistContext, all_reduce_mean, no_sync_unless, shard
from lmlab.train.failures import DIVERGENCE_HINT
from lmlab.train.history import History
from lmlab.train.loop import FitResult, step_generator
from lmlab.train.session import Session


class Recipe:
    """What one model needs to train. ``tcfg``: its training config (``max_iters``, ``seed``,
    ``eval_interval``; optional: ``grad_clip``, ``log_interval``, ``time_budget_s``, ``grad_accum``,
    ``compile``); ``config``: what the checkpoint records (default: ``model.config``). Before anything else
    the engine calls ``setup(model, device, precision, ctx)``, which keeps them as attributes."""

    kind = "model"
    divergence_hint = DIVERGENCE_HINT
    best_key: str | None = None  # the logged value best.pt follows (default: val_loss, else train_loss)
    default_precision = "auto"  # when train() is given no precision

    def __init__(self, tcfg: Any, *, config: Any = None, tokenizer: Any = None) -> None:
        self.tcfg, self.config, self.tokenizer = tcfg, config, tokenizer

    def setup(self, model: torch.nn.Module, device: torch.device, precision: Precision,
              ctx: DistContext) -> None:
        """Called once the model is on ``device``; a recipe prepares its data here (call super)."""
        self.model, self.device, self.precision, self.ctx = model, device, precision, ctx

    @property
    def desc(self) -> str:
        """The progress bar's label."""
        return self.kind

    @property
    def max_iters(self) -> int:
        """Steps to train (word2vec's follow from its corpus: set in ``setup``)."""
        return self.tcfg.max_iters

    @property
    def checkpoint_interval(self) -> int:
        """Steps between two ``ckpt.pt`` writes (and evaluations)."""
        return getattr(self.tcfg, "eval_interval", 0)

    @property
    def log_interval(self) -> int:
        return getattr(self.tcfg, "log_interval", 10)

    def restoring(self, payload: dict[str, Any]) -> None:
        """A resumed run's checkpoint, read before the model is built (word2vec's vocabulary is in it)."""

    # the update of one step, ``step(it, session) -> {"loss", "lr", "tokens", ...}``, where it is no gradient
    # step (word2vec: numba kernels, Hogwild); None: the engine's own (lr, batch, loss, backward, clip, step)
    step: Callable[[int, Session], dict[str, Any]] | None = None

    def build(self) -> torch.nn.Module:
        """The model from its config (used when ``train`` is given no model)."""
        raise NotImplementedError(f"{type(self).__name__} cannot build its model; pass model=")

    def optimizer(self, model: torch.nn.Module, device_type: str) -> torch.optim.Optimizer:
        raise NotImplementedError

    def lr(self, it: int, train_s: float) -> float:
        """The learning rate of step ``it``; a parameter group with an ``lr_scale`` gets it times that."""
        raise NotImplementedError

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        """Micro-batch ``micro`` of step ``it``, all ranks' rows (the engine keeps this rank's of each
        tensor); draw it from ``generator`` (``step_generator(seed * 1009, it)``) or from ``it`` alone."""
        raise NotImplementedError

    def loss(self, net: torch.nn.Module, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def tokens(self, batch: Any) -> int:
        """Tokens in this rank's micro-batch (tokens/sec)."""
        return 0

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        return {}

    def extra(self) -> dict[str, Any]:
        """More checkpoint fields of this model's own (a resumed run reads them back in ``started``)."""
        return {}

    def started(self, session: Session) -> None:
        """The session has started: fresh, or resumed (``session.restored_extra``: the checkpoint's
        ``extra``, what ``extra()`` wrote included), or going on after a ``WriteFailed``."""

    def after_step(self, session: Session, next_iter: int) -> None:
        """After each step, its seconds counted in ``session.train_s`` (BERT's timed snapshots)."""

    sample: Callable[[], str] | None = None  # a text the model writes, shown at each evaluation

    def fitting(self) -> contextlib.AbstractContextManager:
        """The context every fit runs in (the LSTM's: one CPU thread for a small model)."""
        return contextlib.nullcontext()

    def metrics(self, run: Run) -> dict[str, Any]:
        """This model's own metric keys, beside the engine's."""
        return {}


@dataclass
class Run:
    """What a run leaves, the same for every model: the model, ``metrics`` (as in metrics.json), the
    session (history, optimizer, iteration, clocks) and ``fit()`` to train on."""

    model: torch.nn.Module
    session: Session
    recipe: Recipe | None = None  # None: a run another loop made (lmlab.parallel)
    metrics: dict[str, Any] = field(default_factory=dict)
    result: FitResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # a caller's own notes (early stopping's)

    history = property(lambda self: self.session.history)
    optimizer = property(lambda self: self.session.optimizer)
    next_iter = property(lambda self: self.session.next_iter)
    train_s = property(lambda self: self.session.train_s)
    best_loss = property(lambda self: self.session.best_loss)
    tokenizer = property(lambda self: self.session.tokenizer)

    def __repr__(self) -> str:  # short: a notebook cell that ends with a run shows one line
        s = self.session
        return f"Run(kind={s.kind!r}, next_iter={s.next_iter}, max_iters={s.max_iters})"

    def fit(self, max_iters: int | None = None, **options: Any) -> Run:
        """Train on to ``max_iters`` (default: the last fit's, at first the config's); fills ``metrics`` and
        returns this run."""
        with self.recipe.fitting():
            self.result = self.session.fit(max_iters, **options)
        self.metrics = run_metrics(self.session, self.result, self.recipe.device, self.recipe.precision)
        self.metrics.update(self.recipe.metrics(self))
        return self


def run_metrics(session: Session, result: FitResult, device: torch.device,
                precision: Precision) -> dict[str, Any]:
    """The metrics every run writes: losses, clocks, how it stopped, where it ran."""
    history = session.history
    return {
        "train_loss": history.last("train_loss"), "val_loss": history.last(session.best_key or "val_loss"),
        "best_val_loss": session.best_loss if math.isfinite(session.best_loss) else None,
        "tokens_per_sec": result.tokens_per_sec, "wall_s": session.wall_s, "train_s": session.train_s,
        "iters": result.next_iter, "stopped": result.stopped, "diverged_at": result.diverged_at,
        "interrupted": result.interrupted, "out_of_time": result.out_of_time,
        "device": str(device), "precision": precision.name, "world_size": session.ctx.world_size,
    }


def start(recipe: Recipe, *, model: torch.nn.Module | None = None, out: str | os.PathLike | None = None,
          resume: bool | dict[str, Any] = False, overwrite: bool = True, device: torch.device | str = "cpu",
          precision: Precision | None = None, ctx: DistContext | None = None, live: Any = None,
          progress: bool = True, desc: str | None = None, wall_start: float | None = None,
          config_record: dict[str, Any] | None = None, optimizer: torch.optim.Optimizer | None = None,
          state: Any = None, in_memory: bool = True, **fit_options: Any) -> Run:
    """A run ready to ``fit()``: the model on ``device``, its optimizer, a started ``Session``.

    ``resume=True`` continues ``out/ckpt.pt`` (or the checkpoint ``lmlab train`` has read); else an existing
    checkpoint is replaced, unless ``overwrite=False``. ``state``: a ``WriteFailed`` (or a ``Run``) whose
    history, optimizer, iteration and seconds go on. ``in_memory=False``: a CLI run (its messages say so).
    ``fit_options``: more of ``fit``'s keywords (``clock=``).
    """
    device = torch.device(device)
    precision = precision or pick_precision(device, recipe.default_precision)
    ctx = ctx or DistContext(rank=0, local_rank=0, world_size=1)
    tcfg = recipe.tcfg
    budget = getattr(tcfg, "time_budget_s", None) or None  # 0: none
    if ctx.enabled and budget is not None:
        raise ValueError("a time budget cannot be used under torchrun: every rank must stop at the same "
                         "iteration; give --max-iters (and --lr-decay-iters) instead of --time-budget")
    # resume=dict: the checkpoint lmlab train has read; read before the model is built (recipe.restoring)
    payload = None if state is not None else resume if isinstance(resume, dict) else open_run(
        out, kind=recipe.kind, resume=bool(resume), overwrite=overwrite and not resume)
    if payload is not None:
        check_tokenizer(payload.get("tokenizer"), recipe.tokenizer, out)
        recipe.restoring(payload)
    model = (model if model is not None else recipe.build()).to(device)
    model.train()
    recipe.setup(model, device, precision, ctx)
    if state is not None:
        optimizer = state.optimizer
    if optimizer is None or resume:  # a resumed run's optimizer state comes from its checkpoint
        optimizer = recipe.optimizer(model, device.type)
    net = torch.compile(model) if getattr(tcfg, "compile", False) else model
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)
    accum = getattr(tcfg, "grad_accum", 1)

    def step(it: int) -> dict[str, Any]:
        lr = recipe.lr(it, session.train_s)
        for group in optimizer.param_groups:  # a group's own "lr_scale" (default 1) scales the recipe's rate
            group["lr"] = lr * group.get("lr_scale", 1.0)
        gen = step_generator(tcfg.seed * 1009, it)  # the batches of (seed, iteration): a resume sees them
        total, tokens = None, 0
        for micro in range(accum):
            batch = _shard(recipe.batch(it, gen, micro, device), ctx)
            with no_sync_unless(net, micro == accum - 1), autocast(device, precision):
                loss = recipe.loss(net, batch) / accum
            value = all_reduce_mean(loss.detach(), ctx, device)  # the global batch's, the same on every rank
            if not torch.isfinite(value):  # before backward: this step's update is never applied
                optimizer.zero_grad(set_to_none=True)
                return {"loss": value * accum, "lr": lr, "tokens": tokens * ctx.world_size}
            scaler.scale(loss).backward()
            total = value if total is None else total + value
            tokens += recipe.tokens(batch)
        if getattr(tcfg, "grad_clip", 0) > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return {"loss": total, "lr": lr, "tokens": tokens * ctx.world_size}  # a tensor: no sync on a GPU

    # the training config, unless it is the checkpoint's config already (word2vec's)
    extra = {"train_config": asdict(tcfg)} if hasattr(tcfg, "__dataclass_fields__") and \
        recipe.config != asdict(tcfg) else {}
    if config_record is not None:
        extra["config_record"] = dict(config_record)
    own_step = recipe.step
    session = Session(
        step if own_step is None else lambda it: own_step(it, session), model=model, optimizer=optimizer,
        max_iters=recipe.max_iters, out=out,
        config=recipe.config if recipe.config is not None else model.config, kind=recipe.kind,
        tokenizer=recipe.tokenizer, seed=tcfg.seed, checkpoint_interval=recipe.checkpoint_interval,
        in_memory=in_memory, time_budget_s=budget, ctx=ctx, wall_start=wall_start,
        best_key=recipe.best_key, extra=lambda: {**extra, **recipe.extra()},
        after_step=lambda next_iter: recipe.after_step(session, next_iter),
        # rank 0 evaluates alone (and writes best.pt when this loss is its best); a recipe that does not
        # evaluate (word2vec) keeps best.pt on its training loss
        evaluate=(lambda: recipe.evaluate(model) if ctx.is_main else {})
        if type(recipe).evaluate is not Recipe.evaluate else None,
        eval_interval=recipe.checkpoint_interval, log_interval=recipe.log_interval, live=live,
        sample=recipe.sample if ctx.is_main and recipe.checkpoint_interval else None,
        sample_interval=recipe.checkpoint_interval,
        desc=desc or recipe.desc, progress=progress, divergence_hint=recipe.divergence_hint,
        guarded=own_step is None,  # the engine's step never applies a nan/inf update
        # dropout masks from (seed, iteration): a resumed run repeats the curve (a recipe's own step draws
        # its own randomness)
        step_seed=tcfg.seed + 7919 * ctx.rank if own_step is None else None, **fit_options)
    if state is not None:  # after a WriteFailed: go on from what it kept
        session.start(history=state.history or History(), next_iter=state.next_iter or 0,
                      train_s=state.train_s or 0.0, best_loss=getattr(state, "best_loss", math.inf))
    else:
        session.start(payload or False)
    recipe.started(session)
    return Run(model=model, session=session, recipe=recipe)


def train(recipe: Recipe, **options: Any) -> Run:
    """Train as ``recipe`` says (``start``'s keywords) and return the ``Run``: model, metrics, history."""
    return start(recipe, **options).fit()


def _shard(batch: Any, ctx: DistContext) -> Any:
    """This rank's rows of each tensor in ``batch`` (a tensor or a tuple; other items stay as they are)."""
    if not ctx.enabled:
        return batch
    if isinstance(batch, torch.Tensor):
        return shard(batch, ctx)
    return type(batch)(shard(t, ctx) if isinstance(t, torch.Tensor) else t for t in batch)

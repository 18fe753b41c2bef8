"""One training loop for every model: progress bar, live view, periodic eval, clean Ctrl-C, time budget.

The model-specific work lives in ``step(it) -> {"loss": ..., "lr": ..., "tokens": ...}``; this loop only
decides when to evaluate, sample, checkpoint, draw and stop. A loss that is nan or inf stops the run at
once: it is logged where it happened, no checkpoint follows it, and ``FitResult.diverged_at`` says where.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmlab.i18n import _
from lmlab.train.failures import DIVERGENCE_HINT, diverged_message
from lmlab.train.history import History
from lmlab.train.progress import progress_bar

StepFn = Callable[[int], dict[str, Any]]


@dataclass
class FitResult:
    """What happened: the next iteration to run, and why the loop stopped, and ``train_s``: the seconds
    spent inside ``step`` only (no evaluation, sampling or checkpoints), as in metrics.json."""

    next_iter: int
    interrupted: bool
    out_of_time: bool
    train_s: float
    tokens: int
    diverged_at: int | None = None  # the iteration whose loss was nan/inf (as logged in the history)
    failure: str | None = None  # the one-line message printed when the run diverged

    @property
    def tokens_per_sec(self) -> float:
        return self.tokens / self.train_s if self.train_s > 0 else 0.0

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def stopped(self) -> str:
        """Why training ended: "diverged", "interrupted", "out_of_time" or "done" (metrics.json's field)."""
        if self.diverged:
            return "diverged"
        return "interrupted" if self.interrupted else "out_of_time" if self.out_of_time else "done"


class _StopOnInterrupt:
    """First Ctrl-C (or Jupyter's 'interrupt kernel') asks the loop to stop after the current step;
    a second one interrupts at once. Steps are never torn in half, so the model stays consistent."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\n" + _("interrupt received: stopping after this step (interrupt again to stop at once)"),
              file=sys.stderr, flush=True)

    def __exit__(self, *exc: Any) -> None:
        if not self._installed:
            return
        # getsignal() gives None for a handler installed outside Python: it cannot be put back, and
        # leaving ours would make every later Ctrl-C a no-op, so Python's own (KeyboardInterrupt) returns
        previous = self._previous if self._previous is not None else signal.default_int_handler
        signal.signal(signal.SIGINT, previous)
        self._installed = False


def fit(
    step: StepFn,
    *,
    max_iters: int,
    history: History | None = None,
    start_iter: int = 0,
    evaluate: Callable[[], dict[str, float]] | None = None,
    eval_interval: int = 0,
    sample: Callable[[], str] | None = None,
    sample_interval: int = 0,
    checkpoint: Callable[[int], None] | None = None,
    checkpoint_interval: int = 0,
    time_budget_s: float | None = None,
    live: Any = None,
    log_interval: int = 1,
    desc: str = "train",
    progress: bool = True,
    step_seed: int | None = None,
    divergence_hint: str = DIVERGENCE_HINT,
    report: bool = True,
    clock: Callable[[], float] = time.perf_counter,
    after_step: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Run ``step`` for iterations ``start_iter .. max_iters-1`` and log into ``history``.

    ``evaluate`` runs every ``eval_interval`` iterations and at the end; ``checkpoint(next_iter)`` runs
    every ``checkpoint_interval`` iterations, at the end and after a clean interrupt (never after a torn
    step, so the last checkpoint stays intact). ``live`` is any object with ``update(history, samples)``
    and ``close(history, samples)`` (see ``lmlab.viz.curves.LiveView``), or ``True`` for a LiveView.
    ``step_seed`` re-seeds torch before every step from ``(step_seed, it)``: dropout and any other torch
    randomness then depend on the iteration only, so a resumed run repeats the uninterrupted loss curve.

    A nan/inf loss ends the run: it is logged at its iteration, no evaluation or checkpoint follows, and
    one line (naming the iteration, the value and ``divergence_hint``) goes to stderr. Losses that are
    tensors on an accelerator are checked at each log, evaluation and checkpoint (no sync per step),
    still naming the exact iteration. ``report=False`` keeps these end-of-run lines to itself (ranks
    other than 0 under torchrun: one line per run, not one per rank).

    ``clock`` times each step (``train_s``, the time budget); ``after_step(next_iter, seconds)`` runs right
    after each step with the seconds that step took (``Session`` sums them over every resumed part).
    """
    history = history if history is not None else History()
    if live is True:
        from lmlab.viz.curves import LiveView

        live = LiveView(title=desc)
    elif live is False:
        live = None
    if start_iter > max_iters:
        raise ValueError(f"start_iter={start_iter} is past max_iters={max_iters}; raise max_iters to train "
                         "longer, or start a new run")
    samples: list[tuple[int, str]] = []
    it, tokens, interrupted, out_of_time = start_iter, 0, False, False
    # evaluation time is not training time: keep it out of tokens/sec and the time budget
    train_s, window_tokens, window_t0 = 0.0, 0, time.perf_counter()
    pending: list[tuple[int, Any]] = []  # (iteration, loss) of accelerator tensors not yet checked
    diverged: tuple[int, float] | None = None

    def nonfinite() -> tuple[int, float] | None:
        """The first (iteration, loss) in ``pending`` that is nan/inf; one host sync for the lot."""
        if not pending:
            return None
        import torch

        values = torch.stack([loss.detach().float().reshape(()) for _, loss in pending]).cpu().tolist()
        its = [i for i, _ in pending]
        found = next(((i, v) for i, v in zip(its, values, strict=True) if not math.isfinite(v)), None)
        pending.clear()
        return found

    def run_eval() -> None:
        values = evaluate() if evaluate else {}
        if sample and (sample_interval or it == max_iters):
            samples.append((it, sample()))
        if values:
            history.log(iter=it, **values)
            bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})

    torn = False
    bar = None
    try:
        with _StopOnInterrupt() as stop:  # installed before the bar shows: a Ctrl-C from then on is clean
            # a bar in a terminal or notebook, a plain line every 30 s in a file or CI log (progress.py)
            if time_budget_s is None:
                bar = progress_bar(max_iters, initial=start_iter, desc=desc, disable=not progress)
            else:  # the clock decides when training ends: the bar counts seconds of training, a true ETA
                bar = progress_bar(round(time_budget_s, 1), desc=desc, disable=not progress, counts="seconds")
            while it < max_iters:
                if step_seed is not None:
                    seed_step(step_seed, it)
                t0 = clock()
                out = step(it)
                dt = clock() - t0
                train_s += dt
                if after_step is not None:
                    after_step(it + 1, dt)
                n_tok = int(out.get("tokens", 0))
                tokens += n_tok
                window_tokens += n_tok
                loss = out.get("loss")
                if _on_accelerator(loss):
                    pending.append((it + 1, loss))
                elif loss is not None and not _finite(loss):
                    diverged = (it + 1, _number(loss))
                it += 1
                bar.update(1 if time_budget_s is None else min(dt, bar.total - bar.n))
                log_now = it % log_interval == 0 or it == max_iters
                eval_now = bool(eval_interval and it % eval_interval == 0 and it < max_iters)
                # the last iteration is checkpointed once, at the end, after its evaluation
                ckpt_now = bool(checkpoint and checkpoint_interval and it % checkpoint_interval == 0
                                and it < max_iters)
                if diverged is None and (log_now or eval_now or ckpt_now):
                    diverged = nonfinite()
                if diverged is not None:
                    bad_it, bad_value = diverged
                    record = {k: v for k, v in out.items() if k not in {"loss", "tokens"}}
                    history.log(iter=bad_it, train_loss=bad_value, diverged=True,
                                **(record if bad_it == it else {}))
                    it = bad_it
                    break
                if log_now:
                    now = time.perf_counter()
                    rate = window_tokens / max(now - window_t0, 1e-9)
                    record = {k: v for k, v in out.items() if k not in {"loss", "tokens"}}
                    history.log(iter=it, train_loss=out["loss"], tokens_per_sec=rate, **record)
                    window_tokens, window_t0 = 0, now
                if eval_now:
                    run_eval()
                    window_t0 = time.perf_counter()
                elif sample and sample_interval and it % sample_interval == 0:
                    samples.append((it, sample()))
                if ckpt_now:
                    checkpoint(it)
                if live is not None:
                    live.update(history, samples)
                if time_budget_s is not None and train_s >= time_budget_s:
                    out_of_time = True
                    break
                if stop.requested:
                    interrupted = True
                    break
            if diverged is None:  # losses since the last check (an interrupt or the clock stopped us)
                diverged = nonfinite()
                if diverged is not None:
                    history.log(iter=diverged[0], train_loss=diverged[1], diverged=True)
                    it = diverged[0]
    except KeyboardInterrupt:
        # a second Ctrl-C: the step in flight is abandoned half-done, so its weights are not checkpointed
        interrupted = torn = True
    finally:
        if bar is not None:
            bar.close()
    failure = None
    if diverged is not None:
        failure = diverged_message(diverged[0], diverged[1], hint=divergence_hint)
        if report:
            print(failure, file=sys.stderr, flush=True)
    elif torn:
        if report:
            print(_("training stopped hard during iteration {it}: that step may be half applied, so no "
                    "checkpoint was written now; the last saved checkpoint is intact (press Ctrl-C once "
                    "for a clean stop)")
                  .format(it=it), flush=True)
    elif interrupted:
        if report:
            print(_("training interrupted cleanly at iteration {it}: model, optimizer and history are kept")
                  .format(it=it)
                  + (_(" and checkpointed") if checkpoint is not None else "")
                  + _("; run the same call again to resume"), flush=True)
    elif evaluate is not None or sample is not None:
        run_eval()
    if checkpoint is not None and not torn and diverged is None:
        checkpoint(it)
    if live is not None:
        live.close(history, samples)
    return FitResult(next_iter=it, interrupted=interrupted, out_of_time=out_of_time,
                     train_s=train_s, tokens=tokens, diverged_at=diverged[0] if diverged else None,
                     failure=failure)


def _on_accelerator(loss: Any) -> bool:
    device = getattr(loss, "device", None)
    return device is not None and device.type != "cpu"


def _number(loss: Any) -> float:
    return float(loss.item() if hasattr(loss, "item") else loss)


def _finite(loss: Any) -> bool:
    return math.isfinite(_number(loss))


def seed_step(seed: int, it: int) -> None:
    """Seed torch's global generators from ``(seed, it)`` (dropout, ``torch.randint`` without a generator)."""
    import torch

    torch.manual_seed(_mix(seed, it))


def step_generator(seed: int, it: int, device: Any = "cpu") -> Any:
    """A ``torch.Generator`` seeded by ``(seed, it)``: draw iteration ``it``'s batch from it, so a resumed
    run sees exactly the batches an uninterrupted one would."""
    import torch

    return torch.Generator(device=device).manual_seed(_mix(seed, it))


def _mix(seed: int, it: int) -> int:
    # splitmix64-style: neighbouring (seed, it) pairs get unrelated streams
    z = (seed * 0x9E3779B97F4A7C15 + it * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return (z ^ (z >> 31)) % 2**63

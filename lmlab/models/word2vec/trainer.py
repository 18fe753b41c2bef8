"""Train skip-gram or CBOW with negative sampling on ``lmlab.train.Session``.

CPU: the numba kernels in ``kernels.py``, several threads Hogwild-style (as the C tool and gensim).
CUDA: ``torch_sgns.py``, big batches of (context, centre) pairs with index-based updates of only the rows
a batch touches. Both follow the same recipe: sub-sampling, dynamic window, unigram^0.75 negatives,
learning rate falling linearly from ``alpha`` to ``min_alpha`` over all epochs (``lmlab.train.schedule``).

With ``out_dir`` the run keeps ``ckpt.pt`` (both tables, the vocabulary, history and the next step)
about once per epoch and at the end, and ``best.pt`` (lowest training loss: word2vec has no validation
split); ``resume=True`` continues it. The flags -> objects layer of ``lmlab train word2vec`` is
``lmlab.models.word2vec.run``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmlab.checkpoint import check_config, open_run
from lmlab.models.word2vec import kernels
from lmlab.models.word2vec.vectors import WordVectors
from lmlab.models.word2vec.vocab import Vocab
from lmlab.recipes.word2vec import PRESETS, Word2VecConfig
from lmlab.threads import thread_share
from lmlab.train import History, Session
from lmlab.train.failures import WriteFailed
from lmlab.train.schedule import linear_lr


@dataclass
class Word2VecResult:
    """What a training run leaves: the vectors, both tables, history, speed and snapshots."""

    vectors: WordVectors
    W_out: np.ndarray
    vocab: Vocab
    config: Word2VecConfig
    history: History
    wall_s: float  # training seconds plus encoding the corpus (the words/s denominator)
    words_per_sec: float  # raw corpus words × epochs ÷ wall_s (gensim logs effective words/s instead)
    snapshots: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (epoch, W_in rows)
    interrupted: bool = False
    train_s: float = 0.0  # seconds inside the training steps, summed over resumed parts too
    next_iter: int = 0
    max_iters: int = 0
    stopped: str = "done"  # or "interrupted", "diverged"
    diverged_at: int | None = None
    best_loss: float | None = None
    wall_before_s: float = 0.0  # whole-run seconds of the earlier processes of a resumed run


class Tables(torch.nn.Module):
    """W_in and W_out as a module, so a checkpoint holds them like any model's weights (no copy: the
    tensors share the numpy arrays the kernels update)."""

    def __init__(self, W_in: np.ndarray | torch.Tensor, W_out: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        as_tensor = lambda a: torch.from_numpy(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        self.W_in = torch.nn.Parameter(as_tensor(W_in), requires_grad=False)  # (V, D)
        self.W_out = torch.nn.Parameter(as_tensor(W_out), requires_grad=False)  # (V, D)


RESUME_KEYS = ("model", "dim", "window", "negative", "min_count", "epochs", "sample", "alpha", "min_alpha",
               "ns_exponent", "threads", "job_words", "batch_words", "seed")  # must match to resume


def _check_corpus(ids: np.ndarray, bounds: np.ndarray, window: int) -> None:
    lengths = np.diff(bounds)
    if len(ids) == 0:
        raise ValueError("no training words left after min_count; lower --min-count or use a bigger corpus")
    if len(ids) <= window:
        raise ValueError(f"the corpus has only {len(ids)} known words, not more than window={window}; "
                         "use a bigger corpus (or a smaller --window / --min-count)")
    if lengths.max() < 2:
        raise ValueError(f"every sentence has fewer than 2 known words, so window={window} finds no "
                         "context pairs; use a bigger corpus or a lower --min-count")


def plan_jobs(bounds: np.ndarray, job_words: int) -> list[tuple[int, int]]:
    """Cut the sentences into runs of about ``job_words`` words: (first sentence, end sentence)."""
    jobs, start, n = [], 0, len(bounds) - 1
    while start < n:
        end = int(np.searchsorted(bounds, bounds[start] + job_words, side="left"))
        end = min(max(end, start + 1), n)
        jobs.append((start, end))
        start = end
    return jobs


def train_word2vec(
    sentences: Sequence[Sequence[str]],
    config: Word2VecConfig | None = None,
    *,
    vocab: Vocab | None = None,
    device: str | torch.device = "cpu",
    live: Any = None,
    snapshot_words: Sequence[str] = (),
    snapshots_per_epoch: int = 0,
    progress: bool = True,
    on_step: Callable[[int, dict], None] | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_interval: int | None = None,
    wall_start: float | None = None,
) -> Word2VecResult:
    """Build the vocabulary (unless given), then train; returns vectors and how the run went.

    ``out_dir`` keeps ``ckpt.pt`` every ``checkpoint_interval`` steps (default: about once per epoch),
    at the end and after a clean Ctrl-C, plus ``best.pt``; ``resume=True`` continues that checkpoint
    (``overwrite=True`` replaces it; neither: an existing one is an error).
    ``wall_start`` (a ``time.perf_counter()``) is when the whole run began, for the ``wall_s`` it saves.
    """
    wall_start = time.perf_counter() if wall_start is None else wall_start
    config = config or Word2VecConfig()
    config.validate()
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / "ckpt.pt" if out is not None else None
    payload = open_run(out, kind="word2vec", resume=resume, overwrite=overwrite)
    if payload is not None:
        check_config({k: payload["config"].get(k) for k in RESUME_KEYS},
                     {k: asdict(config)[k] for k in RESUME_KEYS}, what="word2vec")
        vocab = Vocab.from_dict(payload["extra"]["vocab"])
    vocab = vocab or Vocab.build(sentences, config.min_count)
    device = torch.device(device)
    backend = config.backend
    if backend == "auto":
        backend = "numba" if device.type == "cpu" else "torch"
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"the numba backend runs on the CPU; use backend='torch' for device {device}")

    t_encode = time.perf_counter()
    ids, bounds = vocab.encode(sentences)
    encode_s = time.perf_counter() - t_encode  # gensim does this inside train(): count it as training
    _check_corpus(ids, bounds, config.window)

    rng = np.random.default_rng(config.seed)
    dim = config.dim
    # input vectors uniform in ±1/dim as gensim 4 (the C tool: ±0.5/dim); output vectors start at zero
    W_in = ((rng.random((len(vocab), dim), dtype=np.float32) * 2 - 1) / dim).astype(np.float32)
    W_out = np.zeros((len(vocab), dim), dtype=np.float32)
    keep = vocab.keep_probability(config.sample)
    # the session holds the run (resume, ckpt.pt/best.pt, clocks); its step and length come below
    session = Session(lambda it: stepped(it), model=Tables(W_in, W_out), max_iters=0, out=out,
                      config=asdict(config), kind="word2vec", seed=config.seed, in_memory=False,
                      time_budget_s=config.time_budget_s or None, wall_start=wall_start,
                      extra=lambda: {"vocab": vocab.to_dict(), "next_job": queue_position()},
                      live=live, progress=progress, desc=f"word2vec {config.model}", step_seed=None,
                      divergence_hint="lower the starting learning rate (--alpha, e.g. half of it)")
    if payload is not None:
        session.restore(payload)  # into W_in and W_out themselves (the module shares their memory)
    start_iter, next_job = session.next_iter, session.restored_extra.get("next_job")
    snap_rows = np.array([vocab.index[w] for w in snapshot_words if w in vocab.index], dtype=np.int64)
    snapshots: list[tuple[float, np.ndarray]] = []
    if len(snap_rows):
        snapshots.append((0.0, W_in[snap_rows].copy()))

    if backend == "numba":
        from lmlab.models.word2vec.kernels import train_job

        threads = config.threads or thread_share().threads  # a class server's share, not every core
        jobs = plan_jobs(bounds, config.job_words)
        job_words = np.array([bounds[e] - bounds[s] for s, e in jobs], dtype=np.int64)
        noise_table = vocab.noise_table(config.ns_exponent)
        per_step = 2 * threads
        total_jobs = len(jobs) * config.epochs
        steps_per_epoch = len(jobs) / per_step  # a step may straddle two epochs
        total = float(job_words.sum() * config.epochs)
        starts = np.concatenate([[0], np.cumsum(np.tile(job_words, config.epochs))])
        # load (or compile) the kernel before the clock starts, on a two-word copy of the tables
        train_job(ids[:2] * 0, np.array([0, 2], dtype=np.int64), 0, 1, W_in[:1].copy(),
                  W_out[:1].copy(), keep[:1].copy(), noise_table[:1].copy(), config.window, config.negative,
                  config.model == "cbow", config.alpha, config.min_alpha, 0, True)
        pool = ThreadPoolExecutor(max_workers=threads)
        futures: dict[int, Future] = {}  # job number -> its result, queued ahead of the step that needs it
        # jobs before this one ran in an earlier, checkpointed process (a Ctrl-C may have let a few of the
        # next step's jobs finish before the save: they are not run twice)
        queued = [start_iter * per_step if next_job is None else int(next_job)]

        def alpha_at(done: float) -> float:
            return linear_lr(done, total, config.alpha, config.min_alpha)

        def run_job(k: int) -> tuple[int, float, int]:
            s0, s1 = jobs[k % len(jobs)]
            a0, a1 = alpha_at(starts[k]), alpha_at(starts[k + 1])
            return train_job(ids, bounds, s0, s1, W_in, W_out, keep, noise_table, config.window,
                             config.negative, config.model == "cbow", a0, a1,
                             config.seed * 1_000_003 + k, True)

        def step(it: int) -> dict:
            # keep the threads fed: a few of the next step's jobs are queued before this step's are awaited
            # the last step also takes the remainder, so no step is made only of jobs that ran ahead;
            # before a checkpoint nothing runs ahead, so the tables saved are exactly those of step it+1
            last = total_jobs if it == max_iters - 1 else (it + 1) * per_step
            ahead = 0 if checkpoint_due(it + 1) else threads
            while queued[0] < min(total_jobs, max(last, (it + 1) * per_step + ahead)):
                futures[queued[0]] = pool.submit(run_job, queued[0])
                queued[0] += 1
            results = [futures.pop(k).result() for k in range(it * per_step, last) if k in futures]
            words = sum(r[0] for r in results)
            pairs = sum(r[2] for r in results)
            return {"loss": sum(r[1] for r in results) / pairs if pairs else None,
                    "lr": alpha_at(starts[last]), "epoch": last / len(jobs),
                    "tokens": words * vocab.raw_words / max(len(ids), 1)}

        max_iters = max(1, total_jobs // per_step)
    else:
        from lmlab.models.word2vec.torch_sgns import TorchSGNS

        batch = config.batch_words or 4096
        sgns = TorchSGNS(ids, bounds, W_in, keep, vocab.noise_distribution(config.ns_exponent), config,
                         device, batch)
        if payload is not None:
            sgns.W_out.copy_(torch.as_tensor(W_out, device=device))
        session.model = Tables(sgns.W_in, sgns.W_out)
        steps_per_epoch = sgns.steps_per_epoch
        max_iters = steps_per_epoch * config.epochs

        def step(it: int) -> dict:
            out = sgns.step(it, max_iters)
            out["tokens"] = out.pop("words") * vocab.raw_words / max(len(ids), 1)
            return out

    snap_every = max(1, int(steps_per_epoch // snapshots_per_epoch)) if snapshots_per_epoch else 0
    every = checkpoint_interval if checkpoint_interval is not None else max(1, round(steps_per_epoch))
    every = every if ckpt_path is not None else 0

    def checkpoint_due(next_iter: int) -> bool:
        return bool(every) and (next_iter % every == 0 or next_iter == max_iters)

    def queue_position() -> int | None:
        """The next numba job to run, after settling the queue: a checkpoint holds exactly the tables of
        the jobs before it. Jobs already running finish (and count as done); those only queued are taken
        back and run after a resume."""
        if backend != "numba":
            return None
        cancelled = sorted(k for k, f in futures.items() if f.cancel())
        for k in cancelled:
            del futures[k]
        for f in futures.values():
            f.result()
        if cancelled:
            queued[0] = cancelled[0]
        return queued[0]

    def stepped(it: int) -> dict:
        out = step(it)
        if snap_every and len(snap_rows) and ((it + 1) % snap_every == 0 or it + 1 == max_iters):
            table = W_in if backend == "numba" else sgns.W_in_numpy()
            snapshots.append((out.get("epoch", (it + 1) / steps_per_epoch), table[snap_rows].copy()))
        if on_step is not None:
            on_step(it, out)
        return out

    if start_iter > max_iters:
        raise ValueError(f"the checkpoint is at step {start_iter} of {max_iters}: nothing left to train")
    session.max_iters, session.checkpoint_interval = max_iters, every
    try:
        result = session.fit(log_interval=max(1, max_iters // 200))
    except WriteFailed as err:  # a notebook keeps the trained tables (err.model.W_in) and the vocabulary
        err.keep(tokenizer=vocab)
        raise
    finally:
        if backend == "numba":
            for f in futures.values():
                f.cancel()
            pool.shutdown(wait=True)  # jobs already running finish before the tables are read
    history = session.history
    if backend == "torch":
        W_in, W_out = sgns.W_in_numpy(), sgns.W_out_numpy()
    wall_s = result.train_s + encode_s
    done_fraction = (result.next_iter - start_iter) / max_iters
    words_per_sec = vocab.raw_words * config.epochs * done_fraction / max(wall_s, 1e-9)
    return Word2VecResult(vectors=WordVectors(vocab.words, W_in), W_out=W_out, vocab=vocab, config=config,
                          history=history, wall_s=wall_s, words_per_sec=words_per_sec, snapshots=snapshots,
                          interrupted=result.interrupted, train_s=session.train_s,
                          next_iter=result.next_iter, max_iters=max_iters, stopped=result.stopped,
                          diverged_at=result.diverged_at,
                          best_loss=session.best_loss if math.isfinite(session.best_loss) else None,
                          wall_before_s=session.wall_before)


def config_dict(config: Word2VecConfig) -> dict[str, Any]:
    return asdict(config)


__all__ = ["PRESETS", "Word2VecConfig", "Word2VecResult", "kernels", "plan_jobs", "train_word2vec"]

"""Skip-gram or CBOW with negative sampling: word2vec's recipe for the one engine (``lmlab.train.engine``).

    run = train(Word2VecRecipe(Word2VecConfig(dim=100), tokenize(text)), out="runs/w2v")
    run.recipe.vectors.most_similar("king"), run.metrics["words_per_sec"]

What a run leaves: numbers in ``run.metrics`` (the engine's ``train_loss``, ``train_s``, ``wall_s``,
``iters``, ``stopped``, ``interrupted``, ``diverged_at``; word2vec's ``words_per_sec``, ``best_loss``,
``max_iters``, ``wall_before_s``, ``encode_s``, ``vocab_size``, ``raw_words``), the history in
``run.history``, and the model's own objects on the recipe, ``run.recipe``: ``vectors`` (W_in as
``WordVectors``), ``W_in``, ``W_out``, ``vocab``, ``tcfg`` (the ``Word2VecConfig``) and ``snapshots``
((epoch, W_in rows of the watched words)).
``words_per_sec``: raw corpus words × epochs trained ÷ (training seconds + encoding the corpus); gensim
counts its encoding inside ``train()`` too (gensim logs effective words/s instead).

Its update is no gradient step, so the recipe brings its own ``step(it, session)``:

CPU: the numba kernels in ``kernels.py``, several threads Hogwild-style (as the C tool and gensim).
CUDA: ``torch_sgns.py``, big batches of (context, centre) pairs with index-based updates of only the rows
a batch touches. Both follow the same recipe: sub-sampling, dynamic window, unigram^0.75 negatives,
learning rate falling linearly from ``alpha`` to ``min_alpha`` over all epochs (``lmlab.train.schedule``).

With ``out`` the run keeps ``ckpt.pt`` (both tables, the vocabulary, history and the next step)
about once per epoch and at the end, and ``best.pt`` (lowest training loss: word2vec has no validation
split); ``resume=True`` continues it exactly as if it had never stopped.
The flags -> objects layer of ``lmlab train word2vec`` is ``lmlab.models.word2vec.run``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from lmlab.checkpoint import check_config, run_state
from lmlab.device import Precision
from lmlab.distributed import DistContext
from lmlab.models.word2vec import kernels
from lmlab.models.word2vec.vectors import WordVectors
from lmlab.models.word2vec.vocab import Vocab
from lmlab.recipes.word2vec import PRESETS, Word2VecConfig
from lmlab.threads import thread_share
from lmlab.train import Session
from lmlab.train.engine import Recipe, Run
from lmlab.train.failures import WriteFailed
from lmlab.train.schedule import linear_lr


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


class Word2VecRecipe(Recipe):
    """word2vec's part of training (``lmlab.train.engine.train`` does the rest: resume, ``ckpt.pt``,
    ``best.pt`` on the training loss, the clocks, the live view): the vocabulary (built from ``sentences``
    unless given; a resumed run's comes from its checkpoint), the encoded corpus, both tables, and a step
    that runs the numba kernels on a thread pool (CPU) or ``TorchSGNS`` (CUDA). ``snapshot_words``: rows of
    W_in kept ``snapshots_per_epoch`` times an epoch; ``on_step(it, out)``: called after each step;
    ``checkpoint_interval``: steps between two ``ckpt.pt`` (default about one epoch)."""

    kind = "word2vec"
    divergence_hint = "lower the starting learning rate (--alpha, e.g. half of it)"
    default_precision = "fp32"
    max_iters = checkpoint_interval = log_interval = 0  # from the corpus, in setup()

    def __init__(self, config: Word2VecConfig | None = None, sentences: Sequence[Sequence[str]] = (), *,
                 vocab: Vocab | None = None, snapshot_words: Sequence[str] = (), snapshots_per_epoch: int = 0,
                 on_step: Callable[[int, dict], None] | None = None,
                 checkpoint_interval: int | None = None) -> None:
        config = config or Word2VecConfig()
        config.validate()
        super().__init__(config, config=asdict(config))  # checked against a resumed run's in restoring()
        self.sentences, self.vocab, self.snapshot_words = sentences, vocab, snapshot_words
        self.snapshots_per_epoch, self.on_step, self.every = snapshots_per_epoch, on_step, checkpoint_interval
        self.snapshots: list[tuple[float, np.ndarray]] = []  # (epoch, W_in rows of the snapshot words)
        self.pool: ThreadPoolExecutor | None = None
        self.futures: dict[int, Future] = {}  # job number -> its result, queued ahead of the step needing it
        self.queued = 0  # the next numba job to queue
        self.resumed_at = 0  # a resumed run's next step

    @property
    def desc(self) -> str:
        return f"word2vec {self.tcfg.model}"

    def restoring(self, payload: dict[str, Any]) -> None:
        check_config({k: payload["config"].get(k) for k in RESUME_KEYS},
                     {k: self.config[k] for k in RESUME_KEYS}, what="word2vec")
        self.vocab = Vocab.from_dict(payload["extra"]["vocab"])
        self.resumed_at = run_state(payload)["next_iter"]

    def build(self) -> torch.nn.Module:
        config = self.tcfg
        self.vocab = self.vocab or Vocab.build(self.sentences, config.min_count)
        t_encode = time.perf_counter()
        self.ids, self.bounds = self.vocab.encode(self.sentences)
        self.encode_s = time.perf_counter() - t_encode  # gensim does this inside train(): it counts
        _check_corpus(self.ids, self.bounds, config.window)
        rng = np.random.default_rng(config.seed)
        V, dim = len(self.vocab), config.dim
        # input vectors uniform in ±1/dim as gensim 4 (the C tool: ±0.5/dim); output vectors start at zero
        W_in = ((rng.random((V, dim), dtype=np.float32) * 2 - 1) / dim).astype(np.float32)
        return Tables(W_in, np.zeros((V, dim), dtype=np.float32))

    def setup(self, model: torch.nn.Module, device: torch.device, precision: Precision,
              ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        config, vocab = self.tcfg, self.vocab
        self.backend = config.backend
        if self.backend == "auto":
            self.backend = "numba" if device.type == "cpu" else "torch"
        if self.backend == "numba" and device.type != "cpu":
            raise ValueError(f"the numba backend runs on the CPU; use backend='torch' for device {device}")
        self.keep = vocab.keep_probability(config.sample)
        self.words_per_id = vocab.raw_words / max(len(self.ids), 1)  # tokens/s counts raw corpus words
        if self.backend == "numba":  # the kernels update these arrays in place (the module shares them)
            self.threads = config.threads or thread_share().threads  # a class server's share, not every core
            self.jobs = plan_jobs(self.bounds, config.job_words)
            job_words = np.array([self.bounds[e] - self.bounds[s] for s, e in self.jobs], dtype=np.int64)
            self.noise_table = vocab.noise_table(config.ns_exponent)
            self.per_step = 2 * self.threads
            self.total_jobs = len(self.jobs) * config.epochs
            steps_per_epoch = len(self.jobs) / self.per_step  # a step may straddle two epochs
            self.total_words = float(job_words.sum() * config.epochs)
            self.starts = np.concatenate([[0], np.cumsum(np.tile(job_words, config.epochs))])
            self.max_iters = max(1, self.total_jobs // self.per_step)
        else:
            from lmlab.models.word2vec.torch_sgns import TorchSGNS

            self.sgns = TorchSGNS(self.ids, self.bounds, model.W_in.data, self.keep,
                                  vocab.noise_distribution(config.ns_exponent), config, device,
                                  config.batch_words or 4096)
            # train the module's own tables (a resume loads into them; a checkpoint saves them)
            self.sgns.W_in, self.sgns.W_out = model.W_in.data, model.W_out.data
            steps_per_epoch = self.sgns.steps_per_epoch
            self.max_iters = steps_per_epoch * config.epochs
        self.steps_per_epoch = steps_per_epoch
        per_snap = self.snapshots_per_epoch
        self.snap_every = max(1, int(steps_per_epoch // per_snap)) if per_snap else 0
        self.checkpoint_interval = self.every if self.every is not None else max(1, round(steps_per_epoch))
        self.log_interval = max(1, self.max_iters // 200)
        if self.resumed_at >= self.max_iters:  # the engine's "give a larger --max-iters" does not apply
            raise ValueError(f"this word2vec run is finished: all {config.epochs} epochs "
                             f"({self.max_iters} steps) are trained, and --epochs cannot grow on resume "
                             "(the learning rate falls over all of them); pass --overwrite "
                             "(overwrite=True) or another --out for a new run")
        self.snap_rows = np.array([vocab.index[w] for w in self.snapshot_words if w in vocab.index],
                                  dtype=np.int64)

    def optimizer(self, model: torch.nn.Module, device_type: str) -> None:
        return None  # plain SGD inside the kernels: no optimizer state

    @property
    def W_in(self) -> np.ndarray:
        return self.model.W_in.data.float().cpu().numpy()

    @property
    def W_out(self) -> np.ndarray:
        return self.model.W_out.data.float().cpu().numpy()

    @property
    def vectors(self) -> WordVectors:
        return WordVectors(self.vocab.words, self.W_in)

    def extra(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_dict(), "next_job": self.queue_position()}

    def started(self, session: Session) -> None:
        self.session = session
        if len(self.snap_rows) and not self.snapshots:
            self.snapshots.append((0.0, self.W_in[self.snap_rows].copy()))
        if self.backend != "numba":
            return
        # jobs before this one ran in an earlier, checkpointed process (a Ctrl-C may have let a few of the
        # next step's jobs finish before the save: they are not run twice)
        next_job = session.restored_extra.get("next_job")
        self.queued = session.next_iter * self.per_step if next_job is None else int(next_job)
        # load (or compile) the kernel before the clock starts, on a two-word copy of the tables
        W_in, W_out, config = self.model.W_in.data.numpy(), self.model.W_out.data.numpy(), self.tcfg
        kernels.train_job(self.ids[:2] * 0, np.array([0, 2], dtype=np.int64), 0, 1, W_in[:1].copy(),
                          W_out[:1].copy(), self.keep[:1].copy(), self.noise_table[:1].copy(), config.window,
                          config.negative, config.model == "cbow", config.alpha, config.min_alpha, 0, True)

    @contextlib.contextmanager
    def fitting(self) -> Iterator[None]:
        """A thread pool for the numba jobs while a fit runs; a failed write keeps the vocabulary too."""
        self.fit_from = self.session.next_iter
        if self.backend == "numba":
            self.pool = ThreadPoolExecutor(max_workers=self.threads)
        try:
            yield
        except WriteFailed as err:  # a notebook keeps the trained tables (err.model.W_in) and the vocabulary
            err.keep(tokenizer=self.vocab)
            raise
        finally:
            if self.pool is not None:
                self.queue_position()  # jobs already running finish before the tables are read
                self.pool.shutdown(wait=True)
                self.pool = None

    def _alpha_at(self, done: float) -> float:
        return linear_lr(done, self.total_words, self.tcfg.alpha, self.tcfg.min_alpha)

    def _run_job(self, k: int) -> tuple[int, float, int]:
        c = self.tcfg
        s0, s1 = self.jobs[k % len(self.jobs)]
        a0, a1 = self._alpha_at(self.starts[k]), self._alpha_at(self.starts[k + 1])
        W_in, W_out = self.model.W_in.data.numpy(), self.model.W_out.data.numpy()
        return kernels.train_job(self.ids, self.bounds, s0, s1, W_in, W_out, self.keep, self.noise_table,
                                 c.window, c.negative, c.model == "cbow", a0, a1, c.seed * 1_000_003 + k,
                                 True)

    def _numba_step(self, it: int, session: Session) -> dict[str, Any]:
        # keep the threads fed: a few of the next step's jobs are queued before this step's are awaited;
        # the last step also takes the remainder, so no step is made only of jobs that ran ahead;
        # before a checkpoint nothing runs ahead, so the tables saved are exactly those of step it+1
        per_step, max_iters = self.per_step, session.max_iters
        last = self.total_jobs if it == max_iters - 1 else (it + 1) * per_step
        every = self.checkpoint_interval if session.path is not None else 0
        due = bool(every) and ((it + 1) % every == 0 or it + 1 == max_iters)
        ahead = 0 if due else self.threads
        while self.queued < min(self.total_jobs, max(last, (it + 1) * per_step + ahead)):
            self.futures[self.queued] = self.pool.submit(self._run_job, self.queued)
            self.queued += 1
        results = [self.futures.pop(k).result() for k in range(it * per_step, last) if k in self.futures]
        words = sum(r[0] for r in results)
        pairs = sum(r[2] for r in results)
        return {"loss": sum(r[1] for r in results) / pairs if pairs else None,
                "lr": self._alpha_at(self.starts[last]), "epoch": last / len(self.jobs),
                "tokens": words * self.words_per_id}

    def step(self, it: int, session: Session) -> dict[str, Any]:
        if self.backend == "numba":
            out = self._numba_step(it, session)
        else:
            out = self.sgns.step(it, session.max_iters)
            out["tokens"] = out.pop("words") * self.words_per_id
        if self.snap_every and len(self.snap_rows) and ((it + 1) % self.snap_every == 0
                                                        or it + 1 == session.max_iters):
            epoch = out.get("epoch", (it + 1) / self.steps_per_epoch)
            self.snapshots.append((epoch, self.W_in[self.snap_rows].copy()))
        if self.on_step is not None:
            self.on_step(it, out)
        return out

    def queue_position(self) -> int | None:
        """The next numba job to run, after settling the queue: a checkpoint holds exactly the tables of
        the jobs before it. Jobs already running finish (and count as done); those only queued are taken
        back and run after a resume."""
        if self.backend != "numba":
            return None
        cancelled = sorted(k for k, f in self.futures.items() if f.cancel())
        for k in cancelled:
            del self.futures[k]
        for f in self.futures.values():
            f.result()
        self.futures.clear()
        if cancelled:
            self.queued = cancelled[0]
        return self.queued

    def metrics(self, run: Run) -> dict[str, Any]:
        session, result = run.session, run.result
        done_fraction = (result.next_iter - self.fit_from) / session.max_iters
        words = self.vocab.raw_words * self.tcfg.epochs * done_fraction
        return {"words_per_sec": words / max(result.train_s + self.encode_s, 1e-9), "encode_s": self.encode_s,
                "max_iters": session.max_iters, "best_loss": run.metrics["best_val_loss"],
                "wall_before_s": session.wall_before, "vocab_size": len(self.vocab),
                "raw_words": self.vocab.raw_words}


__all__ = ["PRESETS", "Word2VecConfig", "Word2VecRecipe", "kernels", "plan_jobs"]

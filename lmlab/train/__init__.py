"""The shared training loop, its history and metrics files, and resumable sessions."""

from lmlab.train.failures import WriteFailed
from lmlab.train.history import History
from lmlab.train.loop import FitResult, fit, seed_step, step_generator
from lmlab.train.metrics import write_metrics
from lmlab.train.session import Session, iteration_batch

__all__ = ["FitResult", "History", "Session", "fit", "iteration_batch", "seed_step", "step_generator",
           "WriteFailed", "write_metrics"]

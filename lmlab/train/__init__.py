"""The shared training loop, its history and metrics files."""

from lmlab.train.history import History
from lmlab.train.loop import FitResult, fit
from lmlab.train.metrics import write_metrics

__all__ = ["FitResult", "History", "fit", "write_metrics"]

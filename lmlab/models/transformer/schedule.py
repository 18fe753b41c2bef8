"""The GPT's learning-rate schedules live in ``lmlab.train.schedule`` (one module for every trainer)."""

from lmlab.train.schedule import cosine_lr, time_cosine_lr

__all__ = ["cosine_lr", "time_cosine_lr"]

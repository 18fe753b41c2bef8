"""word2vec's settings (``lmlab train word2vec``, ``Word2VecRecipe``) and its presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmlab.recipes import Recipe, flag, fmt_loss

PRESETS: dict[str, dict[str, Any]] = {  # smoke (CI, seconds), class (2-core laptop, < 5 min), full (GPU)
    "smoke": {"dim": 32, "epochs": 1, "min_count": 5, "max_words": 60_000},
    "class": {"dim": 100, "epochs": 5, "min_count": 5, "max_words": None},
    "full": {"dim": 200, "epochs": 10, "min_count": 5, "max_words": None},
}


@dataclass
class Word2VecConfig:
    """Every hyper-parameter of a run (the defaults are gensim's, which are the C tool's)."""

    model: str = field(default="skipgram", metadata=flag("skip-gram or CBOW", choices=("skipgram", "cbow")))
    dim: int = field(default=100, metadata=flag("vector size"))
    window: int = field(default=5, metadata=flag("largest distance to a context word"))
    negative: int = field(default=5, metadata=flag("noise words per pair"))
    min_count: int = field(default=5, metadata=flag("ignore words seen fewer times"))
    epochs: int = field(default=5, metadata=flag("passes over the corpus"))
    sample: float = field(default=1e-3, metadata=flag("sub-sampling threshold t (0 turns it off)"))
    alpha: float = field(default=0.025, metadata=flag("starting learning rate (falls linearly)"))
    min_alpha: float = 0.0001
    ns_exponent: float = 0.75
    threads: int = field(default=0, metadata=flag("CPU threads (0: one per core of this process's CPU "
                                                   "share, lmlab.threads)"))
    job_words: int = 10_000  # words per job handed to a thread
    batch_words: int = 0  # torch backend: corpus words per batch (0: 4096)
    backend: str = field(default="auto", metadata=flag(
        "numba kernels (CPU) or batched torch (CUDA); auto picks by device",
        choices=("auto", "numba", "torch")))
    seed: int = 1
    time_budget_s: float | None = field(default=None, metadata=flag(
        "seconds of training, then stop with a checkpoint (0: none; the learning rate still falls over "
        "all --epochs)", name="time-budget"))

    def validate(self) -> None:
        if self.model not in {"skipgram", "cbow"}:
            raise ValueError(f"unknown model {self.model!r}; use 'skipgram' or 'cbow'")
        if self.time_budget_s is not None and not self.time_budget_s >= 0:
            raise ValueError(f"--time-budget must be seconds (0: none), got {self.time_budget_s}")
        for name in ("dim", "window", "epochs", "min_count", "job_words"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.negative < 1:
            raise ValueError(f"negative must be at least 1 (negative sampling), got {self.negative}")
        if not 0 < self.alpha <= 1 or not 0 <= self.min_alpha <= self.alpha:
            raise ValueError(f"need 0 < min_alpha <= alpha <= 1, got alpha={self.alpha}, "
                             f"min_alpha={self.min_alpha}")
        if self.backend not in {"auto", "numba", "torch"}:
            raise ValueError(f"unknown backend {self.backend!r}; use auto, numba or torch")


@dataclass
class Word2VecOptions:
    """``lmlab train word2vec``'s own flags besides the config."""

    chars: bool | None = field(default=None, metadata=flag("character tokens (for Chinese text)"))
    eval: bool | None = field(default=None, metadata=flag(
        "score the vectors on analogies and WordSim353 at the end (default; --no-eval skips it)"))


def summary(m: dict[str, Any], out: str) -> str:
    """The line ``lmlab train word2vec`` prints at the end."""
    ws = m.get("wordsim353_spearman")
    score = f", WordSim353 ρ={ws:.3f}" if ws is not None and ws == ws else ""
    return (f"word2vec: {m['vocab_size']} words, {m['words_per_sec']:,.0f} words/s, loss "
            f"{fmt_loss(m['final_loss'], 3)}{score} -> {out}/vectors.txt and metrics.json")


RECIPE = Recipe("skip-gram / CBOW word vectors", (Word2VecConfig, Word2VecOptions), PRESETS,
                package="word2vec", summary=summary, corpus="wiki_sample")

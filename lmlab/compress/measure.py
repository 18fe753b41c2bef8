"""What compression is judged by: validation loss, bytes, and CPU generation speed (shared by the
benchmark and notebook 08)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.device import Precision
from lmlab.distributed import DistContext
from lmlab.eval.language_model import model_logits
from lmlab.models.transformer.trainer import TokenData
from lmlab.train.engine import Recipe, train


@dataclass
class LMTrainConfig:
    """A short run for ``LMRecipe``: no evaluation, gradients clipped at 1."""

    max_iters: int
    batch_size: int = 16
    block_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    grad_clip: float = 1.0
    eval_interval: int = 0  # no evaluation, no checkpoint


class LMRecipe(Recipe):
    """AdamW (no weight decay) on random windows of ``data``, for any model whose output starts with logits
    (B, T, V). Pruning masks (``magnitude_prune(..., permanent=False)``) stay applied: their hooks run in
    forward."""

    kind = "lm"
    default_precision = "fp32"

    def __init__(self, tcfg: LMTrainConfig, data: TokenData) -> None:
        super().__init__(tcfg)
        self.data = data

    def setup(self, model: nn.Module, device: torch.device, precision: Precision, ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        self.config = getattr(model, "config", {})

    @property
    def desc(self) -> str:
        return "train"

    @property
    def log_interval(self) -> int:
        return max(1, self.tcfg.max_iters // 10)

    def optimizer(self, model: nn.Module, device_type: str) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.tcfg.lr, weight_decay=0.0)

    def lr(self, it: int, train_s: float) -> float:
        return self.tcfg.lr

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        return self.data.batch("train", self.tcfg.batch_size, self.tcfg.block_size, generator, device)

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        logits = model_logits(net, x)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))

    def tokens(self, batch: Any) -> int:
        return batch[1].numel()


def train_lm(model: nn.Module, data: TokenData, iters: int, *, progress: bool = False,
             **options: Any) -> nn.Module:
    """``model`` trained ``iters`` steps by ``LMRecipe`` (``options``: ``LMTrainConfig``'s), in eval mode."""
    return train(LMRecipe(LMTrainConfig(iters, **options), data), model=model, progress=progress).model.eval()


def val_batches(data: TokenData, n: int = 8, batch_size: int = 16, block_size: int = 64) -> list:
    """Fixed validation batches: every model is judged on the same text."""
    return [data.batch("val", batch_size, block_size, torch.Generator().manual_seed(10_000 + i))
            for i in range(n)]


@torch.no_grad()
def lstm_generate_tokens(model: nn.Module, n: int, vocab_size: int, seed: int = 0) -> int:
    """Sample ``n`` tokens one at a time, carrying the state (what ``lmlab sample`` does)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.zeros(1, 1, dtype=torch.long)
    state = None
    for _ in range(n):
        logits, state = model(idx, state)
        idx = torch.multinomial(torch.softmax(logits[:, -1], -1), 1, generator=g)  # (1, 1)
    return n


@torch.no_grad()
def gpt_generate_tokens(model: nn.Module, n: int, seed: int = 0) -> int:
    """``lmlab.models.transformer.generate`` with its KV cache, ``n`` new tokens from one."""
    from lmlab.models.transformer.generate import generate

    generate(model, torch.zeros(1, 1, dtype=torch.long), n, generator=torch.Generator().manual_seed(seed))
    return n


def compare_speed(fns: dict[str, Callable[[], int]], rounds: int = 5) -> dict[str, float]:
    """tokens/s of each function, measured in alternating rounds so a busy machine slows all alike."""
    rates: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in rates.items()}

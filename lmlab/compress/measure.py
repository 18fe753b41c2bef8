"""What compression is judged by: validation loss, bytes, and CPU generation speed (shared by the
benchmark and notebook 08)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.eval.language_model import model_logits
from lmlab.models.transformer.trainer import TokenData
from lmlab.train import fit


def train_lm(model: nn.Module, data: TokenData, iters: int, *, batch_size: int = 16, block_size: int = 64,
             lr: float = 3e-3, seed: int = 0, progress: bool = False) -> nn.Module:
    """A short AdamW run on random windows, for any model whose output starts with logits (B, T, V).

    Pruning masks (``magnitude_prune(..., permanent=False)``) stay applied: their hooks run in forward.
    """
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    model.train()

    def step(it: int) -> dict:
        x, y = data.batch("train", batch_size, block_size, torch.Generator().manual_seed(seed * 100_003 + it))
        logits = model_logits(model, x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return {"loss": loss.item(), "tokens": y.numel()}

    fit(step, max_iters=iters, progress=progress, desc="train", log_interval=max(1, iters // 10))
    return model.eval()


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

"""Contiguous streams for truncated back-propagation through time (TBPTT).

The token sequence is cut into B equal streams laid side by side; iteration c of an epoch reads the
next T tokens of every stream. Row b of batch c+1 continues row b of batch c, so the LSTM's final
state (h, c) after one batch is the right initial state for the next: the model sees arbitrarily long
context while gradients flow back only T steps.

    stream 0: [ chunk 0 | chunk 1 | chunk 2 | ... ]
    stream 1: [ chunk 0 | chunk 1 | chunk 2 | ... ]      batch c = column c, shape (B, T)

Each epoch starts at a random offset in [0, T) (drawn from ``(seed, epoch)``), so chunk boundaries
move between epochs, and the iteration number alone fixes the batch: a resumed run reads the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from lmlab.train.loop import step_generator


class StreamBatches:
    """Batch ``it`` of B contiguous streams of a 1-D token tensor: ``get(it) -> (x, y, starts_epoch)``."""

    def __init__(self, ids: torch.Tensor, batch_size: int, block_size: int, *, seed: int = 0,
                 random_offset: bool = True) -> None:
        if batch_size < 1 or block_size < 1:
            raise ValueError(f"batch_size and block_size must be >= 1, got {batch_size} and {block_size}")
        self.ids = ids.long().flatten()
        self.B, self.T, self.seed, self.random_offset = batch_size, block_size, seed, random_offset
        reserve = block_size if random_offset else 0           # room for the epoch's offset
        self.stream_len = (len(self.ids) - reserve) // batch_size  # L tokens per stream
        self.chunks_per_epoch = max((self.stream_len - 1) // block_size, 0)
        if self.chunks_per_epoch < 1:
            need = batch_size * (block_size + 1) + reserve
            raise ValueError(f"the text has {len(self.ids)} tokens, shorter than one batch of {batch_size} "
                             f"streams x {block_size + 1} tokens (needs {need}); use a longer corpus or a "
                             "smaller --batch-size / --block-size")

    def tokens_per_epoch(self) -> int:
        return self.chunks_per_epoch * self.B * self.T

    def position(self, it: int) -> tuple[int, int]:
        """(epoch, chunk) of iteration ``it``."""
        return divmod(it, self.chunks_per_epoch)

    def offset(self, epoch: int) -> int:
        if not self.random_offset:
            return 0
        return int(torch.randint(self.T, (1,), generator=step_generator(self.seed, epoch)).item())

    def get(self, it: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, new_stream): y is x shifted by one; new_stream says "reset (h, c)" (epoch start)."""
        epoch, chunk = self.position(it)
        starts = self.offset(epoch) + torch.arange(self.B) * self.stream_len + chunk * self.T  # (B,)
        index = starts[:, None] + torch.arange(self.T)[None, :]                                # (B, T)
        return self.ids[index], self.ids[index + 1], chunk == 0


@torch.no_grad()
def stream_loss(model: torch.nn.Module, ids: torch.Tensor, *, batch_size: int, block_size: int,
                device: torch.device | str = "cpu", max_tokens: int | None = None,
                autocast_fn: Callable[[], AbstractContextManager] | None = None) -> tuple[float, int]:
    """Mean cross-entropy (nats/token) over ``ids`` read as contiguous streams with the state carried.

    Returns (loss, number of predicted tokens). ``max_tokens`` evaluates only a prefix (quicker).
    """
    import contextlib

    import torch.nn.functional as F

    ids = ids.long().flatten()
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    batch_size = max(1, min(batch_size, (len(ids) - 1) // (block_size + 1)))
    batches = StreamBatches(ids, batch_size, block_size, random_offset=False)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for c in range(batches.chunks_per_epoch):
            x, y, _ = batches.get(c)
            x, y = x.to(device), y.to(device)
            with autocast_fn() if autocast_fn else contextlib.nullcontext():
                logits, state = model(x, state)
            total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    finally:
        model.train(was_training)
    return total / count, count

"""The one batch sampler: random windows of a token sequence, drawn from a generator seeded by
``(seed, iteration)`` (``step_generator``), so a resumed run reads exactly the batches an uninterrupted
one would.

    x, y = random_windows(ids, batch_size=8, block_size=64, generator=step_generator(seed, it))

(The LSTM reads contiguous streams instead, ``lmlab.models.lstm.streams``: its one random choice per
epoch, the offset, comes from the same ``step_generator``.)
"""

from __future__ import annotations

import torch


def random_windows(ids: torch.Tensor, batch_size: int, block_size: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of shape (B, T) on the CPU: B windows at uniform random starts, y one token ahead of x."""
    if len(ids) <= block_size:
        raise ValueError(f"the data has {len(ids)} tokens, fewer than block_size+1={block_size + 1}; "
                         "use a longer corpus or a smaller block_size")
    windows = ids.unfold(0, block_size + 1, 1)  # (N - T, T + 1), a view: no copy
    ix = torch.randint(windows.size(0), (batch_size,), generator=generator)
    xy = windows[ix]  # (B, T + 1)
    return xy[:, :-1], xy[:, 1:]

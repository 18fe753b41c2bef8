"""Small recurrent work on a CPU runs faster on one thread.

A step of a 64-unit LSTM is a few microsecond-sized matrix products: splitting each over several threads
costs more in hand-offs than it saves, and on a busy machine a thread waiting for a descheduled partner
can make it many times slower (measured here: 0.3 s on one thread vs 6-19 s on two, on a loaded 2-core
CPU). Sampling, the from-scratch LSTM and small models therefore run single-threaded on the CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

SMALL_HIDDEN = 128  # models at most this wide train single-threaded on a CPU


@contextlib.contextmanager
def single_thread(device: torch.device | str = "cpu", enabled: bool = True) -> Iterator[None]:
    """Run the block with one intra-op thread on the CPU (a no-op on GPUs), then restore the setting."""
    if not enabled or torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

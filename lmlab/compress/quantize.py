"""Post-training dynamic int8 quantization: weights stored as int8, activations quantized on the fly.

Each weight matrix W is replaced by int8 values q, one float scale s and one zero point z,

    W ≈ s · (q - z),   s = (max W - min W) / 255,   q = round(W / s) + z ∈ [-128, 127]

so a float32 weight (4 bytes) becomes 1 byte. At run time each activation vector gets its own scale
("dynamic"), the matmul runs in int8 with int32 sums (fbgemm's kernels on x86) and the result is
scaled back to float. Nothing is retrained; the embedding stays float (it is a lookup, not a matmul).

Which engine: PyTorch's ``torch.ao.quantization.quantize_dynamic``. It warns that it is deprecated in
favour of ``torchao``; measured here (torch 2.13, CPU, 2 cores), torchao 0.18 installs and runs, but
its int8 paths are eager tensor subclasses that are 2-18x *slower* than float32 without
``torch.compile``, and it has no LSTM at all, while ``quantize_dynamic`` calls fbgemm's int8 kernels
for both ``nn.Linear`` and ``nn.LSTM`` (see ``benchmarks/compression.py``). So lmlab uses the engine that
runs fast here, and says so; ``benchmarks/compression.py --torchao`` measures the other.
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
import torch.nn as nn


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` and ``nn.LSTM`` quantized to int8 (CPU inference)."""
    model = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        # the deprecation notice points to torchao, which has no fast CPU path here (module docstring)
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {nn.Linear, nn.LSTM}, dtype=torch.qint8)


def model_bytes(model: nn.Module) -> int:
    """Size of the model's saved state dict (what ``torch.save`` writes to disk)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


def int8_bytes(n_weights: int) -> int:
    """Bytes of one int8 matrix of ``n_weights`` entries: 1 byte each, plus its scale and zero point."""
    return n_weights + 8 + 8  # float64 scale and int64 zero point, as torch stores them

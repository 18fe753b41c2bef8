"""Pick the compute device and the numerics that suit it (fp32 on CPU, bf16/fp16 autocast on GPUs)."""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch


def pick_device(name: str | None = None) -> torch.device:
    """The requested device, else ``$LMLAB_DEVICE``, else the best available: cuda, then mps, then cpu."""
    source = "--device"
    if name in (None, "auto") and os.environ.get("LMLAB_DEVICE"):
        name, source = os.environ["LMLAB_DEVICE"], "LMLAB_DEVICE"
    name = name or "auto"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    asked = f"device {name!r} was asked for ({source})"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r} ({source}); use auto, cpu, cuda, cuda:N or mps") from err
    if device.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"unsupported device {name!r} ({source}); use auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{asked} but CUDA is not available; use {source}=cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{asked} but only {torch.cuda.device_count()} CUDA device(s) exist; "
                         f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{asked} but MPS is not available; use {source}=cpu or auto")
    return device


@dataclass(frozen=True)
class Precision:
    """How a training step computes: the autocast dtype (None = plain fp32) and loss scaling."""

    dtype: torch.dtype | None
    use_grad_scaler: bool

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]


def cuda_has_native_bf16() -> bool:
    """True on GPUs with bf16 in hardware (Ampere and newer, ROCm). Pre-Ampere GPUs (T4, V100) only
    emulate it, slowly; ``torch.cuda.is_bf16_supported()`` counts emulation unless told not to."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch < 2.4 has no including_emulation and did not count emulation
        return bool(torch.cuda.is_bf16_supported())


def pick_precision(device: torch.device, request: str = "auto") -> Precision:
    """bf16 on CUDA that supports it, fp16 + GradScaler on older CUDA, fp32 on CPU and MPS.

    CPUs without AVX-512 BF16/AMX emulate bf16 matmuls, which is slower than fp32, so CPU stays fp32.
    """
    if request not in {"auto", "fp32", "bf16", "fp16"}:
        raise ValueError(f"unknown precision {request!r}; use auto, fp32, bf16 or fp16")
    if request == "auto" and device.type == "cuda":
        request = "bf16" if cuda_has_native_bf16() else "fp16"
    elif request == "auto":  # CPU, and MPS too: fp16 there has no loss scaling to guard against underflow
        request = "fp32"
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[request]
    return Precision(dtype=dtype, use_grad_scaler=(request == "fp16" and device.type == "cuda"))


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """The autocast context for one forward pass (a no-op for fp32)."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch so a CPU run repeats exactly; returns a seeded generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def device_report() -> dict[str, str | bool | None]:
    """What this machine offers, for ``lmlab doctor`` and bug reports."""
    report: dict[str, str | bool | None] = {
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "gpu": None,
        "bf16_on_gpu": None,
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "cpu_threads": str(torch.get_num_threads()),
    }
    if report["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        report["gpu"] = f"{props.name} (compute capability {props.major}.{props.minor}, " \
                        f"{props.total_memory / 2**30:.0f} GiB)"
        report["bf16_on_gpu"] = cuda_has_native_bf16()
    return report

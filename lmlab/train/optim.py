"""The one optimizer policy: AdamW, weight decay on matrices only, the fused kernel wherever torch has it.

    optimizer = adamw(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device_type="cuda")

Matrices (embeddings, Linear and LSTM weights: ``dim >= 2``) decay; biases and LayerNorm gains do not.
The fused kernel updates every tensor in one pass (on CUDA, MPS and, torch >= 2.4, the CPU about 2x faster
than the loop); where a torch lacks it for the device, the same algorithm runs unfused.
word2vec has no torch optimizer: its kernels apply the C tool's plain SGD, row by row.
"""

from __future__ import annotations

import inspect

import torch

FUSED_DEVICES = ("cuda", "cpu", "mps")


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two parameter groups: matrices with ``weight_decay``, everything else with none."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def adamw(model: torch.nn.Module, *, lr: float, weight_decay: float = 0.0,
          betas: tuple[float, float] = (0.9, 0.999), device_type: str = "cpu") -> torch.optim.AdamW:
    """AdamW over ``decay_groups(model)``, fused when this torch supports it on ``device_type``."""
    groups = decay_groups(model, weight_decay)
    if device_type in FUSED_DEVICES and "fused" in inspect.signature(torch.optim.AdamW).parameters:
        try:
            return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)
        except (RuntimeError, ValueError):  # an older torch without the fused kernel for this device
            pass
    return torch.optim.AdamW(groups, lr=lr, betas=betas)

"""Magnitude pruning with ``torch.nn.utils.prune``: the smallest weights (by |w|) across the model set to 0.

Unstructured sparsity saves nothing by itself on a CPU: the zeros are still stored and multiplied by
dense kernels. It pays only when the zeros are *stored* sparsely (a sparse format or compression on disk)
or computed with sparse kernels, which beat dense ones only at very high sparsity; structured
pruning (whole rows, heads, 2:4 patterns on GPUs) is what makes matmuls faster.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.utils.prune as prune


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, name) of every matrix of the Linear and LSTM layers (embeddings and biases are kept)."""
    out = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.LSTM):
            for name, p in module.named_parameters(recurse=False):
                name = name.removesuffix("_orig")  # already pruned, the mask kept as a hook
                if p.dim() == 2 and name.startswith("weight") and id(p) not in seen:
                    seen.add(id(p))
                    if not _tied_to_embedding(model, p):  # the GPT's output layer is its embedding
                        out.append((module, name))
    return out


def _tied_to_embedding(model: nn.Module, p: torch.Tensor) -> bool:
    return any(isinstance(m, nn.Embedding) and m.weight is p for m in model.modules())


def magnitude_prune(model: nn.Module, amount: float, *, permanent: bool = True) -> nn.Module:
    """Zero the fraction ``amount`` of smallest-magnitude weights over all prunable matrices (in place).

    ``permanent=False`` keeps the mask as a hook, so a fine-tune afterwards keeps those weights at 0.
    """
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount is the fraction of weights to remove, in [0, 1); got {amount}")
    params = prunable(model)
    if amount > 0:
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
        if permanent:
            make_permanent(model)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold the masks into the weights (the zeros stay, the hooks go)."""
    for module in model.modules():
        for name in [k[:-5] for k, _ in module.named_buffers(recurse=False) if k.endswith("_mask")]:
            prune.remove(module, name)
    return model


def sparsity(model: nn.Module) -> float:
    """Fraction of zeros among the prunable weights."""
    weights = [getattr(m, n) for m, n in prunable(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / max(1, sum(w.numel() for w in weights))


def nonzero_bytes(model: nn.Module) -> int:
    """Bytes of the model's non-zero weights: its size if zeros were not stored (indices not counted).

    A pruned model still holding its masks (``permanent=False``) is counted by the weights it computes
    with (``weight = weight_orig * weight_mask``), not by ``weight_orig``, which keeps the pruned values.
    """
    total, seen = 0, set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen:  # a tied weight counts once
                continue
            seen.add(id(p))
            w = getattr(module, name.removesuffix("_orig")) if name.endswith("_orig") else p
            total += int((w != 0).sum()) * w.element_size()
    return total

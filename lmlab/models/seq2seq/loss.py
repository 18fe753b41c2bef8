"""The label-smoothed cross-entropy, with padding left out of the mean.

    q = (1 - ε) · onehot(y) + ε / V                 the smoothed target distribution over V tokens
    loss_t = -Σ_v q_v log p_v = (1 - ε) · (-log p_y) + ε · mean_v(-log p_v)
    loss = Σ_{t not padding} loss_t / #(t not padding)

With ε = 0 it is the ordinary cross-entropy. Smoothing keeps the model from becoming sure of one answer
(the paper's ε = 0.1 "hurts perplexity, as the model learns to be more unsure, but improves BLEU").
It is exactly ``F.cross_entropy(..., ignore_index=PAD, label_smoothing=ε)``, written out.
"""

from __future__ import annotations

import torch

from lmlab.models.seq2seq.vocab import PAD


def label_smoothed_loss(logits: torch.Tensor, targets: torch.Tensor, epsilon: float = 0.1,
                        pad_id: int = PAD) -> torch.Tensor:
    """logits (B, T, V), targets (B, T) with ``pad_id`` where there is no token -> scalar mean loss."""
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"label smoothing must be in [0, 1), got {epsilon}")
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T): -log p_y
    uniform = -logp.mean(-1)  # (B, T): -mean_v log p_v
    per_token = (1.0 - epsilon) * nll + epsilon * uniform
    real = targets != pad_id  # padding never counts
    return (per_token * real).sum() / real.sum().clamp(min=1)

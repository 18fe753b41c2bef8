"""Pipeline parallelism with ``torch.distributed.pipelining``: each rank holds a slice of the layers.

Stage 0 embeds the tokens and runs the first blocks, the last stage runs the last blocks, the final
LayerNorm and the output layer; activations travel forward from rank to rank, gradients backward. The
batch is cut into m micro-batches so that the stages work at the same time (GPipe: all forwards, then
all backwards). With p stages, each stage idles for p - 1 of the m + p - 1 time slots: the bubble

    bubble = (p - 1) / (m + p - 1)

The GPT ties its output layer to the token embedding; here they live on different ranks, so each keeps a
copy and ``sync_tied`` adds the two gradients (Megatron's embedding group does the same).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.distributed.pipelining import PipelineStage, ScheduleGPipe


def bubble_fraction(p: int, m: int) -> float:
    """The share of each stage's time spent idle in a GPipe step: (p - 1) / (m + p - 1)."""
    if p < 1 or m < 1:
        raise ValueError(f"need p >= 1 stages and m >= 1 micro-batches, got p={p}, m={m}")
    return (p - 1) / (m + p - 1)


def stage_layers(n_layer: int, n_stages: int, stage: int) -> range:
    """The block indices of ``stage``: consecutive, equal counts."""
    if n_layer % n_stages:
        raise ValueError(f"pipeline parallelism splits the {n_layer} layers over {n_stages} ranks, which "
                         f"does not divide; use --n-layer divisible by {n_stages}")
    k = n_layer // n_stages
    return range(stage * k, (stage + 1) * k)


class GPTStage(nn.Module):
    """One pipeline stage of a GPT; its parameters keep the GPT's names (blocks.3.attn.W_qkv.weight)."""

    def __init__(self, gpt: nn.Module, layers: range, first: bool, last: bool) -> None:
        super().__init__()
        self.embed = gpt.embed if first else None
        self.blocks = nn.ModuleDict({str(i): gpt.blocks[i] for i in layers})
        self.ln_f = gpt.ln_f if last else None
        if last:  # a copy of the tied embedding: the first stage holds the original
            self.lm_head = nn.Linear(gpt.config.n_embd, gpt.config.vocab_size, bias=False)
            self.lm_head.weight = nn.Parameter(gpt.lm_head.weight.detach().clone())
        else:
            self.lm_head = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stage 0: token ids (B, T) -> (B, T, C); middle: (B, T, C) -> (B, T, C); last: -> (B, T, V)."""
        if self.embed is not None:
            x = self.embed(x)
        for block in self.blocks.values():
            x, _ = block(x)
        if self.lm_head is not None:
            x = self.lm_head(self.ln_f(x))
        return x


def pipeline_stage(gpt: nn.Module, stage: int, n_stages: int) -> GPTStage:
    """The part of ``gpt`` that rank ``stage`` of ``n_stages`` runs."""
    return GPTStage(gpt, stage_layers(gpt.config.n_layer, n_stages, stage), stage == 0, stage == n_stages - 1)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the micro-batch's tokens (as GPT.forward computes it)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def pipeline_schedule(stage_module: GPTStage, stage: int, n_stages: int, n_microbatches: int,
                      device: torch.device | str = "cpu") -> ScheduleGPipe:
    """A GPipe schedule over ``n_microbatches``: ``schedule.step(x)`` on the first stage,
    ``schedule.step(target=y, losses=out)`` on the last, ``schedule.step()`` in between."""
    pipe_stage = PipelineStage(stage_module, stage, n_stages, torch.device(device))
    return ScheduleGPipe(pipe_stage, n_microbatches=n_microbatches, loss_fn=lm_loss)


def tied_group(n_stages: int) -> dist.ProcessGroup | None:
    """The two ranks (first and last stage) that hold the tied embedding; every rank must call this."""
    return dist.new_group([0, n_stages - 1]) if n_stages > 1 else None


def sync_tied(stage_module: GPTStage, group: dist.ProcessGroup | None) -> None:
    """Sum the gradients of the embedding (first stage) and its copy in the output layer (last stage)."""
    if group is None:
        return
    if stage_module.embed is not None:
        w = stage_module.embed.wte.weight
    elif stage_module.lm_head is not None:
        w = stage_module.lm_head.weight
    else:
        return  # a middle stage holds neither
    if w.grad is None:
        w.grad = torch.zeros_like(w)
    dist.all_reduce(w.grad, group=group)

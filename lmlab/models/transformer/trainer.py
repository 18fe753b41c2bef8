"""The GPT's training recipe: AdamW groups, the cosine schedule, random windows of the text, evaluation
of both splits, tokens/sec and model-FLOPs utilisation. ``lmlab.train.engine.train`` runs it (clipping,
accumulation, AMP, DDP, checkpoints and resume are the engine's, the same for every model).

    data = TokenData.from_text(text, tokenizer)
    run = train(GPTRecipe(TrainConfig(max_iters=500), data, tokenizer=tokenizer), model=GPT(cfg),
                out="runs/gpt")
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lmlab.device import Precision
from lmlab.distributed import DistContext
from lmlab.eval.language_model import evaluate_lm
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT
from lmlab.recipes.gpt import MODEL_KEYS, PRESETS, TrainConfig  # noqa: F401 (kept importable here)
from lmlab.tokenizers import Tokenizer
from lmlab.train import History
from lmlab.train.batches import random_windows
from lmlab.train.engine import Recipe, Run
from lmlab.train.schedule import scheduled_lr

DIVERGENCE_HINT = "lower --lr (the peak learning rate) or turn clipping on (--grad-clip 1.0)"


@dataclass
class TokenData:
    """Token ids of the training and validation text, and a batch sampler over random windows."""

    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,) int64

    @classmethod
    def from_text(cls, text: str, tokenizer: Tokenizer, train_fraction: float = 0.9,
                  val_text: str | None = None) -> TokenData:
        """Encode; the split is the first ``train_fraction`` / the rest, unless ``val_text`` is given."""
        if val_text is None:
            cut = int(len(text) * train_fraction)
            text, val_text = text[:cut], text[cut:]
        return cls(torch.tensor(tokenizer.encode(text), dtype=torch.long),
                   torch.tensor(tokenizer.encode(val_text), dtype=torch.long))

    def check_block_size(self, block_size: int) -> None:
        for name, ids in (("training", self.train), ("validation", self.val)):
            if len(ids) <= block_size + 1:
                raise ValueError(f"block_size={block_size} is too large for the {name} split of "
                                 f"{len(ids)} tokens; use --block-size below {max(1, len(ids) - 2)} "
                                 "or a larger corpus")

    def batch(self, split: str, batch_size: int, block_size: int, generator: torch.Generator,
              device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of shape (B, T): random windows, y shifted one token ahead of x."""
        ids = self.train if split == "train" else self.val
        x, y = random_windows(ids, batch_size, block_size, generator)  # (B, T) each, lmlab's one sampler
        if torch.device(device).type == "cuda":
            x, y = x.pin_memory(), y.pin_memory()
            return x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        return x.contiguous().to(device), y.contiguous().to(device)


def device_peak_flops(device: torch.device, precision: Precision) -> tuple[float | None, str]:
    """Peak dense FLOP/s of the device for MFU, and where that number comes from (CPU: an estimate)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        table = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12,
                 "4090": 165e12, "3090": 71e12, "V100": 125e12, "T4": 65e12}
        for key, peak in table.items():
            if key in name:
                if precision.dtype is None:  # fp32 (TF32 tensor cores) is half the bf16 peak
                    peak /= 2
                return peak, f"{name} dense bf16/fp16 tensor-core peak"
        return None, f"unknown GPU {name}"
    if device.type == "cpu":
        ghz = 0.0
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("cpu MHz"):
                    ghz = float(line.split(":")[1]) / 1000
                    break
        flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        per_cycle = 64 if " avx512f" in flags else 32 if " fma" in flags else 8  # fp32 FLOPs/cycle/core
        cores = torch.get_num_threads()
        if ghz <= 0:
            return None, "CPU clock unknown"
        return cores * ghz * 1e9 * per_cycle, f"{cores} threads x {ghz:.2f} GHz x {per_cycle} fp32 FLOP/cycle"
    return None, f"no peak known for {device.type}"


def estimate_loss(model: GPT, data: TokenData, batch_size: int, eval_iters: int, device: torch.device,
                  precision: Precision, seed: int = 0) -> dict[str, float]:
    """Mean loss (``evaluate_lm``) over ``eval_iters`` batches of each split; the same batches every time."""
    out = {}
    for split in ("train", "val"):
        gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
        block = model.config.block_size
        batches = (data.batch(split, batch_size, block, gen, device) for _ in range(eval_iters))
        out[f"{split}_loss"] = evaluate_lm(model, batches, device, precision)
    return out


class GPTRecipe(Recipe):
    """The GPT's part of training (``lmlab.train.engine.train`` does the rest): AdamW groups, the cosine
    schedule (on the clock under a time budget), random windows of ``data``, evaluation on both splits,
    and model-FLOPs utilisation in the metrics."""

    kind = "gpt"
    divergence_hint = DIVERGENCE_HINT

    def __init__(self, tcfg: TrainConfig, data: TokenData, *, config: GPTConfig | None = None,
                 tokenizer: Tokenizer | None = None) -> None:
        super().__init__(tcfg, config=config, tokenizer=tokenizer)
        self.data = data

    def setup(self, model: torch.nn.Module, device: torch.device, precision: Precision,
              ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        self.data.check_block_size(model.config.block_size)

    def build(self) -> GPT:
        return GPT(self.config)

    def optimizer(self, model: torch.nn.Module, device_type: str) -> torch.optim.Optimizer:
        t = self.tcfg
        return model.configure_optimizers(t.weight_decay, t.lr, (t.beta1, t.beta2), device_type)

    def lr(self, it: int, train_s: float) -> float:
        t = self.tcfg
        return scheduled_lr(it, lr=t.lr, min_lr=t.min_lr, warmup_iters=t.warmup_iters,
                            decay_iters=t.lr_decay_iters, elapsed_s=train_s, budget_s=t.time_budget_s)

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        # every rank draws the same global batch and keeps its own rows: N ranks together see exactly
        # what one process with an N times larger batch would, so the loss curves agree
        rows = self.tcfg.batch_size * self.ctx.world_size
        return self.data.batch("train", rows, self.model.config.block_size, generator, device)

    def loss(self, net: torch.nn.Module, batch: Any) -> torch.Tensor:
        return net(*batch)[1]

    def tokens(self, batch: Any) -> int:
        return batch[0].numel()

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        t = self.tcfg
        return estimate_loss(model, self.data, t.batch_size * self.ctx.world_size, t.eval_iters, self.device,
                             self.precision, t.seed)

    def metrics(self, run: Run) -> dict[str, Any]:
        return gpt_metrics(run.model, run.history, run.metrics["tokens_per_sec"], self.device, self.precision)


def gpt_metrics(model: torch.nn.Module, history: History, tokens_per_sec: float, device: torch.device,
                precision: Precision) -> dict[str, Any]:
    """The GPT's own metrics: the train loss of the last evaluation, parameters, FLOPs and MFU."""
    eval_train = next((r.get("train_loss") for r in reversed(history.records) if "val_loss" in r), None)
    flops_token = model.flops_per_token()
    peak, peak_source = device_peak_flops(device, precision)
    # tokens_per_sec already counts every rank
    return {"eval_train_loss": eval_train, "params": model.num_params(), "flops_per_token": flops_token,
            "mfu": flops_token * tokens_per_sec / peak if peak else None, "peak_flops": peak,
            "peak_flops_source": peak_source}

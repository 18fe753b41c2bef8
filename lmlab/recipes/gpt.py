"""The GPT's settings (``lmlab train gpt``, ``GPTRecipe``) and its presets; nanoGPT's flag names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmlab.choices import ACTIVATIONS, POS_ENCODINGS
from lmlab.parallel.checks import SCHEMES
from lmlab.recipes import Recipe, field_names, flag, fmt_loss

# flag names as keys; GPTSizes' fields go to GPTConfig, the rest to TrainConfig
PRESETS: dict[str, dict[str, Any]] = {
    # CI: seconds on any CPU
    "smoke": dict(n_layer=2, n_head=2, n_embd=64, block_size=32, dropout=0.0, batch_size=8, max_iters=60,
                  lr=2e-3, min_lr=2e-4, warmup_iters=10, lr_decay_iters=60, eval_interval=30, eval_iters=4,
                  time_budget_s=None),
    # 2-core laptop: 5 minutes of training, cosine over the time budget, fp32, no dropout. With so few
    # minutes, updates are what count: small batches of short blocks at a high rate beat big ones
    # (measured here: val 1.53 in 300 s; block 128 x batch 16 at lr 2e-3 got 2.30 in an earlier version)
    "class": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, batch_size=8,
                  max_iters=100_000, lr=3e-3, min_lr=3e-4, warmup_iters=50, lr_decay_iters=100_000,
                  eval_interval=250, eval_iters=20, time_budget_s=300.0),
    # GPU: nanoGPT's shakespeare_char sizes (10.65 M parameters; nanoGPT's own model reached val 1.4697)
    "full": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, batch_size=64,
                 max_iters=5000, lr=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=5000,
                 eval_interval=250, eval_iters=200, time_budget_s=None),
}


@dataclass
class GPTSizes:
    """The architecture ``lmlab train gpt`` sets (``GPTConfig``'s fields; None: the preset's value, else
    GPTConfig's default; a resumed run keeps its checkpoint's)."""

    n_layer: int | None = field(default=None, metadata=flag("Transformer blocks"))
    n_head: int | None = field(default=None, metadata=flag("attention heads per block (must divide n_embd)"))
    n_embd: int | None = field(default=None, metadata=flag("model width C"))
    block_size: int | None = field(default=None, metadata=flag("context length T"))
    dropout: float | None = field(default=None, metadata=flag("dropout probability (0 for short runs)"))
    bias: bool | None = field(default=None, metadata=flag("biases in Linear and LayerNorm (default off)"))
    pos_encoding: str | None = field(default=None, metadata=flag(
        "rope: rotary embeddings turn q and k (default); learned: GPT-2's trained table (nanoGPT's model "
        "exactly); sinusoidal: the fixed table of Attention Is All You Need", choices=POS_ENCODINGS))
    activation: str | None = field(default=None, metadata=flag(
        "the MLP's non-linearity: relu (default, as the original Transformer); gelu as GPT-2 and nanoGPT; "
        "relu2 = ReLU(x)^2 (Primer)", choices=ACTIVATIONS))


MODEL_KEYS = field_names(GPTSizes)


@dataclass
class TrainConfig:
    """Optimisation settings (nanoGPT's names and defaults); ``batch_size`` is per rank."""

    batch_size: int = field(default=12, metadata=flag(
        "sequences per step per process (per rank under torchrun)"))
    max_iters: int = field(default=2000, metadata=flag(
        "optimizer steps (turns off the preset's time budget)"))
    lr: float = field(default=1e-3, metadata=flag("peak learning rate"))
    min_lr: float = field(default=1e-4, metadata=flag("learning rate at the end of the cosine"))
    warmup_iters: int = field(default=100, metadata=flag("linear warm-up steps"))
    lr_decay_iters: int = field(default=2000, metadata=flag(
        "steps of cosine decay (usually = max_iters; an explicit --max-iters sets it too)"))
    weight_decay: float = field(default=0.1, metadata=flag("AdamW weight decay on matrices"))
    beta1: float = field(default=0.9, metadata=flag("AdamW beta1"))
    beta2: float = field(default=0.99, metadata=flag("AdamW beta2"))
    grad_clip: float = field(default=1.0, metadata=flag("clip the gradient norm to this (0: off)"))
    grad_accum: int = field(default=1, metadata=flag("micro-batches per optimizer step"))
    eval_interval: int = field(default=500, metadata=flag("evaluate (and checkpoint) every N steps"))
    eval_iters: int = field(default=20, metadata=flag("batches per evaluation"))
    # set: the cosine runs on training time and stops when spent
    time_budget_s: float | None = field(default=None, metadata=flag(
        "seconds of training: the cosine runs on the clock and training stops when spent (0: none)",
        name="time-budget"))
    compile: bool = False
    seed: int = 1337
    log_interval: int = field(default=10, metadata=flag("log the training loss every N steps"))

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_iters", "grad_accum", "eval_iters", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be > 0 seconds, got {self.time_budget_s}")


@dataclass
class GPTOptions:
    """``lmlab train gpt``'s own flags besides the configs (None: the default in the help)."""

    tokenizer: str | None = field(default="char", metadata=flag(
        "char: one id per character; bpe: byte-level BPE learned on the corpus (Hugging Face tokenizers, "
        "--vocab-size tokens)", choices=("char", "bpe")))
    vocab_size: int | None = field(default=None, metadata=flag(
        "BPE vocabulary size for --tokenizer bpe (default 512)"))
    compile: bool | None = field(default=None, metadata=flag(
        "torch.compile the model (default: on for CUDA, off elsewhere)"))
    parallel: str | None = field(default=None, metadata=flag(
        "under torchrun: ddp (default) copies the model to every rank; fsdp shards it; tp splits heads and "
        "MLP units; pp splits the layers (see lmlab.parallel)", choices=SCHEMES))


def summary(m: dict[str, Any], out: str) -> str:
    """The line ``lmlab train gpt`` prints at the end."""
    return (f"gpt: {m['iters']} iters, train {fmt_loss(m['train_loss'])}, val {fmt_loss(m['val_loss'])} "
            f"(best {fmt_loss(m['best_val_loss'])}), {m['tokens_per_sec']:,.0f} tokens/s, "
            f"{m['train_s']:.1f} s of training ({m['wall_s']:.1f} s in all) -> {out}/metrics.json")


RECIPE = Recipe("a GPT (decoder-only Transformer)", (GPTOptions, GPTSizes, TrainConfig), PRESETS,
                package="transformer", summary=summary, corpus="tiny_shakespeare")

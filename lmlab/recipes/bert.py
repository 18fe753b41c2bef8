"""BERT's masked-language-model pre-training settings (``lmlab train bert``, ``BertRecipe``) and presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmlab.recipes import Recipe, field_names, flag, fmt_loss

# flag names as keys; BertSizes' fields go to the model's config, the rest to BertTrainConfig / the data
PRESETS: dict[str, dict[str, Any]] = {
    # CI: seconds on any CPU (the corpus cut to its first max_chars characters)
    "smoke": dict(n_layer=2, n_head=2, n_embd=64, block_size=32, dropout=0.0, batch_size=16, max_iters=40,
                  lr=1e-3, min_lr=1e-4, warmup_iters=5, eval_interval=20, eval_iters=2, time_budget_s=None,
                  max_chars=100_000),
    # 2-core laptop: 4 minutes of training on the clock (the notebook's "≤ 5 min" with start-up)
    "class": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, batch_size=32,
                  max_iters=100_000, lr=1e-3, min_lr=1e-4, warmup_iters=100, eval_interval=250, eval_iters=10,
                  time_budget_s=240.0, max_chars=None),
    # GPU: BERT-mini-like (6 x 384), 128-token windows
    "full": dict(n_layer=6, n_head=6, n_embd=384, block_size=128, dropout=0.1, batch_size=128,
                 max_iters=10_000, lr=5e-4, min_lr=5e-5, warmup_iters=500, eval_interval=500, eval_iters=50,
                 time_budget_s=None, max_chars=None),
}


@dataclass
class BertSizes:
    """The encoder's sizes ``lmlab train bert`` sets (None: the preset's; a resumed run keeps its own)."""

    n_layer: int | None = field(default=None, metadata=flag("Transformer blocks"))
    n_head: int | None = field(default=None, metadata=flag("attention heads per block (must divide n_embd)"))
    n_embd: int | None = field(default=None, metadata=flag("model width C"))
    block_size: int | None = field(default=None, metadata=flag("tokens per window, [CLS] and [SEP] included"))
    dropout: float | None = field(default=None, metadata=flag("dropout probability"))


MODEL_KEYS = field_names(BertSizes)


@dataclass
class BertTrainConfig:
    """Optimisation settings; ``mask_prob`` is BERT's 15%."""

    batch_size: int = field(default=32, metadata=flag("windows per step"))
    max_iters: int = field(default=1000, metadata=flag(
        "optimizer steps (turns off the preset's time budget)"))
    lr: float = field(default=1e-3, metadata=flag("peak learning rate (warm-up, then cosine)"))
    min_lr: float = field(default=1e-4, metadata=flag("learning rate at the end of the cosine"))
    warmup_iters: int = field(default=100, metadata=flag("linear warm-up steps"))
    weight_decay: float = field(default=0.01, metadata=flag("AdamW weight decay on matrices"))
    grad_clip: float = field(default=1.0, metadata=flag("clip the gradient norm to this (0: off)"))
    eval_interval: int = field(default=250, metadata=flag("evaluate (and checkpoint) every N steps"))
    eval_iters: int = field(default=10, metadata=flag("batches per evaluation"))
    log_interval: int = field(default=10, metadata=flag("log the training loss every N steps"))
    mask_prob: float = field(default=0.15, metadata=flag(
        "share of tokens (or words) chosen for prediction (BERT: 0.15)"))
    time_budget_s: float | None = field(default=None, metadata=flag(
        "seconds of training: the cosine runs on the clock and training stops when spent (0: none)",
        name="time-budget"))
    snapshot_at: str | tuple[float, ...] | None = field(default=None, metadata=flag(
        "comma-separated seconds of training, e.g. 180,600,1800,3600: keep a copy of the model as "
        "OUT/at-180s.pt ... when training time passes each (a dose-response curve from one run)"))
    seed: int = 1337

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_iters", "eval_iters", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {self.mask_prob}; BERT uses 0.15")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be > 0 seconds, got {self.time_budget_s}")
        self.snapshot_times  # noqa: B018 (checks the value now, not at the first snapshot)

    @property
    def snapshot_times(self) -> tuple[float, ...]:
        """``snapshot_at`` as sorted seconds (a string "180,600" or a tuple of numbers)."""
        raw = self.snapshot_at
        if raw is None or raw == "":
            return ()
        parts = raw.split(",") if isinstance(raw, str) else list(raw)
        try:
            times = sorted({float(p) for p in parts})
        except (TypeError, ValueError):
            raise ValueError(f"snapshot_at must be seconds separated by commas, e.g. 180,600,1800, "
                             f"got {raw!r}") from None
        if any(t <= 0 for t in times):
            raise ValueError(f"snapshot_at times must be > 0 seconds, got {raw!r}")
        return tuple(times)


@dataclass
class BertOptions:
    """``lmlab train bert``'s own flags besides the configs."""

    tokenizer: str | None = field(default="char", metadata=flag(
        "char: one id per character (Chinese); bpe: byte-level BPE learned on the corpus",
        choices=("char", "bpe")))
    vocab_size: int | None = field(default=None, metadata=flag(
        "BPE vocabulary size for --tokenizer bpe (default 512)"))
    layout: str | None = field(default=None, metadata=flag(
        "bert: Devlin et al.'s post-LN layout, exports to transformers (default); prenorm: lmlab's pre-LN "
        "encoder with RoPE and ReLU", choices=("bert", "prenorm")))
    whole_word: bool | None = field(default=None, metadata=flag(
        "mask whole jieba-segmented words instead of single characters (--tokenizer char)"))
    max_chars: int | None = field(default=None, metadata=flag(
        "use only the first N characters of the corpus"))


def summary(m: dict[str, Any], out: str) -> str:
    """The line ``lmlab train bert`` prints at the end."""
    return (f"bert: {m['iters']} iters, MLM loss {fmt_loss(m.get('mlm_loss'))}, val "
            f"{fmt_loss(m.get('val_mlm_loss'))}, masked-token accuracy {fmt_loss(m.get('masked_acc'))}, "
            f"{m['tokens_per_sec']:,.0f} tokens/s, {m['train_s']:.1f} s training "
            f"({m['wall_s']:.1f} s in all) -> {out}/metrics.json")


RECIPE = Recipe("a BERT encoder pre-trained as a masked language model",
                (BertOptions, BertSizes, BertTrainConfig),
                PRESETS, package="bert", summary=summary, corpus="tang_poems")

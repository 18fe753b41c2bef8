"""The LSTM language model's settings (``lmlab train lstm``, ``LSTMRecipe``) and its presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmlab.recipes import Recipe, flag, fmt_loss

if TYPE_CHECKING:
    from lmlab.models.lstm.model import LSTMConfig

# smoke: CI in seconds. class: 2-core laptop, a time-budgeted 2-layer 256-unit LSTM that reaches
# val ≤ 1.55 nats/char on tiny Shakespeare. full: one GPU, a bigger model for longer.
LSTM_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(n_layer=1, hidden=64, n_embd=None, block_size=32, batch_size=16, max_iters=40, lr=4e-3,
                  dropout=0.0, time_budget_s=None, eval_interval=0, max_eval_tokens=8_000, warmup_iters=5),
    "class": dict(n_layer=2, hidden=256, n_embd=None, block_size=64, batch_size=32, max_iters=6_000, lr=3e-3,
                  dropout=0.0, time_budget_s=285.0, eval_interval=500, max_eval_tokens=None, warmup_iters=30),
    "full": dict(n_layer=3, hidden=512, n_embd=None, block_size=128, batch_size=64, max_iters=4_000,
                 lr=2e-3, dropout=0.3, time_budget_s=None, eval_interval=250, max_eval_tokens=None,
                 warmup_iters=100),
}


@dataclass
class LSTMTrainConfig:
    """Every knob of a run; keys are the CLI flag names (``--n-layer`` → ``n_layer``)."""

    corpus: str = "tiny_shakespeare"
    tokenizer: str = field(default="char", metadata=flag("char or word"))
    n_layer: int = field(default=2, metadata=flag("stacked LSTM layers"))
    hidden: int = field(default=256, metadata=flag("LSTM units per layer"))
    # None: same as hidden, so input and output embeddings can be tied
    n_embd: int | None = field(default=None, metadata=flag(
        "embedding size (default: --hidden, which lets input and output embeddings be tied)"))
    dropout: float = field(default=0.0, metadata=flag("dropout probability"))
    tie_weights: bool = field(default=True, metadata=flag(
        "tie input and output embeddings (--no-tie: do not)", name="tie"))
    # T: tokens per stream per step = how far back gradients flow
    block_size: int = field(default=64, metadata=flag(
        "tokens per stream per step (how far back gradients flow in truncated BPTT)"))
    batch_size: int = field(default=32, metadata=flag("parallel streams per rank"))  # B
    grad_accum: int = field(default=1, metadata=flag("micro-batches per optimizer step"))
    max_iters: int = field(default=2_000, metadata=flag(
        "optimizer steps (turns off the preset's time budget)"))
    lr: float = field(default=3e-3, metadata=flag("peak learning rate (AdamW; warm-up then cosine)"))
    min_lr_frac: float = 0.1           # cosine decay to lr * min_lr_frac
    warmup_iters: int = field(default=50, metadata=flag("linear warm-up steps"))
    weight_decay: float = field(default=0.0, metadata=flag("AdamW weight decay on matrices"))
    # clip the global gradient norm (exploding gradients)
    grad_clip: float = field(default=1.0, metadata=flag("clip the gradient norm to this value"))
    # stop after this much training time; the LR schedule follows time
    time_budget_s: float | None = field(default=None, metadata=flag(
        "seconds of training: the cosine runs on the clock and training stops when spent (0: none)",
        name="time-budget"))
    eval_interval: int = field(default=500, metadata=flag("evaluate (and checkpoint) every N steps"))
    eval_batch_size: int = 32
    # evaluate on a prefix of the validation text (None: all of it)
    max_eval_tokens: int | None = field(default=None, metadata=flag(
        "evaluate on this many validation tokens (default: the whole validation split)"))
    val_fraction: float = 0.1
    seed: int = 1337
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        # flag names in the messages: these values arrive from the command line as often as from code
        for name in ("max_iters", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be at least 1, got {self.eval_batch_size}")
        for name in ("warmup_iters", "eval_interval", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be a positive learning rate, got {self.lr}; try 3e-3")
        if not 0 <= self.min_lr_frac <= 1:
            raise ValueError(f"min_lr_frac must be in [0, 1] (a fraction of --lr), got {self.min_lr_frac}")
        if not self.grad_clip > 0:
            raise ValueError(f"--grad-clip must be a positive gradient norm, got {self.grad_clip}; try 1.0")
        if self.time_budget_s is not None and not self.time_budget_s >= 0:
            raise ValueError(f"--time-budget must be seconds (0: none), got {self.time_budget_s}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")

    def model_config(self, vocab_size: int) -> LSTMConfig:
        from lmlab.models.lstm.model import LSTMConfig

        return LSTMConfig(vocab_size=vocab_size, n_embd=self.n_embd or self.hidden, hidden=self.hidden,
                          n_layer=self.n_layer, dropout=self.dropout, tie_weights=self.tie_weights)


def summary(m: dict[str, Any], out: str) -> str:
    """The line ``lmlab train lstm`` prints at the end."""
    val = ""
    if m["val_loss"] is not None:
        val = f", val {fmt_loss(m['val_loss'], 3)} nats/token ({fmt_loss(m['val_bpc'], 3)} bits/char)"
    return (f"lstm [{m['preset']}]: {m['iters']} iterations, train {fmt_loss(m['train_loss'], 3)}{val}, "
            f"{m['tokens_per_sec']:.0f} tokens/s, {m['params']:,} parameters -> {out}/ckpt.pt")


RECIPE = Recipe("an LSTM language model", (LSTMTrainConfig,), LSTM_PRESETS, package="lstm", summary=summary,
                corpus="tiny_shakespeare")

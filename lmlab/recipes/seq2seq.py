"""The encoder–decoder's settings (``lmlab train seq2seq``, ``Seq2SeqRecipe``) and its presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmlab.recipes import Recipe, field_names, flag, fmt_loss

# flag names as keys; Seq2SeqSizes' fields go to Seq2SeqConfig, the rest to TrainConfig / the data
PRESETS: dict[str, dict[str, Any]] = {
    # CI: seconds on any CPU (the built-in quatrains when the corpus is missing)
    "smoke": dict(d_model=32, n_head=2, n_layer=1, dropout=0.0, batch_size=16, max_iters=40, lr=3e-3,
                  warmup_iters=10, label_smoothing=0.1, eval_interval=20, eval_pairs=16, max_vocab=1000,
                  max_pairs=4000, time_budget_s=None),
    # a 2-core laptop: five minutes per model. The output layer dominates a step, so the pairs written in
    # the 1500 most common characters (89% of the text, 37% of the pairs, ~80,000 of them); small batches
    # at a high rate, since with so few minutes updates are what count. Dropout and weight decay: without
    # them the 41,516 middle couplets are memorised within 5 minutes (validation loss 4.13 at 3,250 steps,
    # 6.4 after an hour; test chrF 1.42 -> 0.90); with them it still falls after 15 minutes (3.77)
    "class": dict(d_model=128, n_head=4, n_layer=2, dropout=0.3, batch_size=32, max_iters=100_000, lr=3e-3,
                  warmup_iters=100, label_smoothing=0.1, weight_decay=0.1, eval_interval=250, eval_pairs=200,
                  max_vocab=1500, max_pairs=None, time_budget_s=300.0),
    # GPU: the paper's base model (6 + 6 layers, 8 heads, 512 wide, warm-up 4000), 97% of the pairs
    "full": dict(d_model=512, n_head=8, n_layer=6, dropout=0.1, batch_size=256, max_iters=30_000, lr=7e-4,
                 warmup_iters=4000, label_smoothing=0.1, eval_interval=1000, eval_pairs=1000, max_vocab=6000,
                 max_pairs=None, time_budget_s=None),
}


@dataclass
class Seq2SeqSizes:
    """The architecture ``lmlab train seq2seq`` sets (``Seq2SeqConfig``'s fields; None: the preset's value,
    else the config's default; a resumed run keeps its checkpoint's). ``--arch`` and ``--post-ln`` are
    the command line's own flags."""

    arch: str | None = None
    d_model: int | None = field(default=None, metadata=flag("width C (the RNN's embedding and hidden size)"))
    n_head: int | None = field(default=None, metadata=flag("attention heads (must divide d_model)"))
    n_layer: int | None = field(default=None, metadata=flag("encoder blocks = decoder blocks (Transformer)"))
    dropout: float | None = field(default=None, metadata=flag("dropout probability"))
    norm_first: bool | None = None
    pos_encoding: str | None = field(default=None, metadata=flag(
        "sinusoidal (the paper's fixed table) or learned", choices=("sinusoidal", "learned")))
    max_len: int | None = field(default=None, metadata=flag(
        "longest source / target + </s> (default: the data's longest)"))


MODEL_KEYS = field_names(Seq2SeqSizes)


@dataclass
class TrainConfig:
    """Optimisation: lmlab's AdamW with the paper's betas (0.9, 0.98), its warm-up schedule peaking at
    ``lr``; weight decay (matrices only) is off by default, as in the paper's Adam."""

    batch_size: int = field(default=64, metadata=flag("pairs per step"))
    max_iters: int = field(default=1000, metadata=flag(
        "optimizer steps (turns off the preset's time budget)"))
    lr: float = field(default=2e-3, metadata=flag(
        "peak learning rate of the warm-up schedule (reached at --warmup-iters)"))
    warmup_iters: int = field(default=200, metadata=flag(
        "steps of linear warm-up; then lr falls as 1/sqrt(step) (the paper's schedule)"))
    label_smoothing: float = field(default=0.1, metadata=flag(
        "ε of the label-smoothed loss (0: plain cross-entropy; paper: 0.1)"))
    grad_clip: float = field(default=1.0, metadata=flag("clip the gradient norm to this (0: off)"))
    weight_decay: float = field(default=0.0, metadata=flag(
        "AdamW weight decay on matrices (default 0, as the paper's Adam)"))
    eval_interval: int = field(default=250, metadata=flag("validate (and checkpoint) every N steps"))
    eval_pairs: int = field(default=200, metadata=flag("validation pairs per evaluation"))
    time_budget_s: float | None = field(default=None, metadata=flag(
        "seconds of training, then stop (0: none)", name="time-budget"))
    seed: int = 1337
    log_interval: int = field(default=10, metadata=flag("log the training loss every N steps"))

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_iters", "warmup_iters", "eval_pairs", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time budget must be > 0 seconds, got {self.time_budget_s}")


@dataclass
class Seq2SeqOptions:
    """``lmlab train seq2seq``'s own flags besides the configs."""

    arch: str | None = field(default="transformer", metadata=flag(
        "transformer (encoder–decoder with cross-attention), rnn-attention (GRU + Bahdanau attention), rnn "
        "(GRU, one vector between encoder and decoder)", choices=("transformer", "rnn-attention", "rnn")))
    pairs: str | None = field(default=None, metadata=flag(
        "your own pairs, one 'source<TAB>target' per line (default: Tang-poem couplets)", metavar="FILE.tsv"))
    couplets: str | None = field(default="middle", metadata=flag(
        "middle: the 颔联 and 颈联 of eight-line regulated poems, the pairs that must be parallel; "
        "all: every pair of the Tang poems (ignored with --pairs)", name="pairs-kind",
        choices=("middle", "all")))
    constrained: bool | None = field(default=None, metadata=flag(
        "also score the test answers decoded under the couplet rules' logit mask"))
    script: str | None = field(default=None, metadata=flag(
        "characters of the Tang poems (converted with OpenCC for simplified; default: simplified under "
        "LMLAB_LANG=zh, else traditional)", choices=("traditional", "simplified")))
    post_ln: bool | None = field(default=None, metadata=flag(
        "the paper's post-LN layout LN(x + Sublayer(x)) (default: pre-LN)"))
    max_vocab: int | None = field(default=None, metadata=flag(
        "train on the pairs written in the N most common characters (others: <unk>)"))
    max_pairs: int | None = field(default=None, metadata=flag("train on at most N pairs"))
    test_pairs: int | None = field(default=None, metadata=flag("test pairs scored at the end (BLEU/chrF)"))


def summary(m: dict[str, Any], out: str) -> str:
    """The line ``lmlab train seq2seq`` prints at the end."""
    line = (f"seq2seq {m['arch']}: {m['iters']} iters, train {fmt_loss(m['train_loss'], 3)}, val "
            f"{fmt_loss(m['val_loss'], 3)}, {m['tokens_per_sec']:,.0f} tokens/s, "
            f"{m['train_s']:.0f} s of training")
    test = m.get("test")
    if test:
        g, near = test["greedy"], test["baselines"]["nearest_pair"]
        line += (f"; test chrF {g['chrf']} BLEU {g['bleu']} (nearest pair chrF {near['chrf']}, copy chrF "
                 f"{test['baselines']['copy_source']['chrf']})")
    return line + f" -> {out}/metrics.json"


RECIPE = Recipe("an encoder-decoder (Transformer or RNN) for couplets or pairs",
                (Seq2SeqOptions, Seq2SeqSizes, TrainConfig), PRESETS, package="seq2seq", summary=summary,
                precision=False)

"""MLM pre-training's recipe: mask, predict the hidden tokens, AdamW with warm-up + cosine, timed snapshots;
``lmlab.train.engine`` runs it (checkpoint/resume, ``best.pt``, the nan stop: the same for every model).

    data = MLMData.from_text(train_text, val_text, vocab)
    run = train(BertRecipe(BertTrainConfig(max_iters=500), data, vocab), model=BertForMaskedLM(cfg),
                out="runs/bert")
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from lmlab.checkpoint import load_model_state, save_checkpoint
from lmlab.device import Precision, autocast, pick_precision
from lmlab.distributed import DistContext
from lmlab.models.bert.data import MLMData
from lmlab.models.bert.masking import mlm_mask
from lmlab.models.bert.vocab import BertVocab
from lmlab.recipes.bert import MODEL_KEYS, PRESETS, BertTrainConfig  # noqa: F401 (kept importable here)
from lmlab.train import History, Session
from lmlab.train.engine import Recipe, Run
from lmlab.train.optim import adamw
from lmlab.train.schedule import scheduled_lr


def masked_batch(data: MLMData, split: str, batch_size: int, block_size: int, generator: torch.Generator,
                 vocab: BertVocab, mask_prob: float, device: torch.device | str = "cpu"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) (B, T): windows drawn and masked with one generator; [CLS]/[SEP] never masked."""
    x, words = data.batch(split, batch_size, block_size, generator, vocab)
    maskable = x < vocab.base.vocab_size  # specials are never chosen
    inputs, targets = mlm_mask(x, mask_id=vocab.mask_id, n_tokens=vocab.base.vocab_size, p=mask_prob,
                               generator=generator, maskable=maskable, word_ids=words)
    return inputs.to(device), targets.to(device)


@torch.no_grad()
def evaluate_mlm(model: torch.nn.Module, data: MLMData, vocab: BertVocab, batch_size: int, eval_iters: int,
                 mask_prob: float = 0.15, device: torch.device | str = "cpu",
                 precision: Precision | None = None, seed: int = 0, split: str = "val") -> dict[str, float]:
    """MLM loss and masked-token accuracy over ``eval_iters`` fixed (seeded) batches of ``split``."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    precision = precision or pick_precision(device)
    g = torch.Generator().manual_seed(seed + 1)
    total_loss, correct, n = 0.0, 0, 0
    for _ in range(eval_iters):
        x, y = masked_batch(data, split, batch_size, model.config.block_size, g, vocab, mask_prob, device)
        with autocast(device, precision):
            logits, loss = model(x, y, only_masked=True)
        k = int((y != -100).sum())
        total_loss += float(loss) * k
        correct += int((logits.argmax(-1) == y[y != -100]).sum())
        n += k
    model.train(was_training)
    return {f"{split}_mlm_loss": total_loss / max(n, 1), f"{split}_masked_acc": correct / max(n, 1)}


def configure_optimizer(model: torch.nn.Module, tcfg: BertTrainConfig, device_type: str) -> torch.optim.AdamW:
    """lmlab's one AdamW policy (``lmlab.train.optim.adamw``: matrices decay, gains and biases do not)."""
    return adamw(model, lr=tcfg.lr, weight_decay=tcfg.weight_decay, betas=(0.9, 0.999),
                 device_type=device_type)


def save_bert(path: str | os.PathLike, model: torch.nn.Module, vocab: BertVocab, *, layout: str = "bert",
              optimizer: torch.optim.Optimizer | None = None, history: History | None = None,
              extra: dict[str, Any] | None = None) -> Path:
    """A ``kind="bert"`` checkpoint: weights, config, the vocabulary and the layout under ``extra``."""
    return save_checkpoint(path, model=model, config=model.config, kind="bert", optimizer=optimizer,
                           history=history.to_list() if history is not None else None,
                           extra={"vocab": vocab.to_dict(), "layout": layout, **(extra or {})})


def snapshot_name(seconds: float) -> str:
    """``at-180s.pt`` for 180 seconds of training (``at-1.5s.pt`` for 1.5)."""
    return f"at-{seconds:g}s.pt"


def snapshots(out_dir: str | os.PathLike) -> list[tuple[float, Path]]:
    """The ``at-<seconds>s.pt`` files a run kept, as (seconds, path), earliest first (none: empty)."""
    found = []
    for path in Path(out_dir).glob("at-*s.pt"):
        try:
            found.append((float(path.name[3:-4]), path))
        except ValueError:
            continue
    return sorted(found)


def load_bert(path: str | os.PathLike) -> tuple[torch.nn.Module, BertVocab, str]:
    """(model in eval mode, vocabulary, layout) of a ``kind="bert"`` checkpoint file or run folder."""
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.bert.prenorm import build_encoder

    payload = load_checkpoint(path)
    if payload.get("kind") != "bert":
        raise ValueError(f"{path} holds a {payload.get('kind')!r} model, not a BERT; train one with "
                         "`lmlab train bert --out DIR`")
    extra = payload.get("extra", {})
    layout, vocab = extra.get("layout", "bert"), BertVocab.from_dict(extra["vocab"])
    sizes = {k: v for k, v in payload["config"].items() if k != "vocab_size"}
    if layout == "bert":
        sizes = {k: v for k, v in sizes.items() if k != "pad_token_id"}
    model = build_encoder(layout, vocab.vocab_size, vocab.pad_id, **sizes)
    load_model_state(model, payload)
    return model.eval(), vocab, layout


DIVERGENCE_HINT = "lower --lr (the peak learning rate) or turn clipping on (--grad-clip 1.0)"


class BertRecipe(Recipe):
    """BERT's part of masked-language-model pre-training (``lmlab.train.engine.train`` does the rest):
    masked windows, AdamW with warm-up + cosine, evaluation by masked loss and accuracy; ``layout`` and the
    vocabulary go into the checkpoint. ``tcfg.snapshot_at``: when the training seconds pass each time, the
    model is also saved as ``OUT/at-<seconds>s.pt`` (read them with ``snapshots``)."""

    kind = "bert"
    best_key = "val_mlm_loss"
    divergence_hint = DIVERGENCE_HINT

    def __init__(self, tcfg: BertTrainConfig, data: MLMData, vocab: BertVocab, *,
                 layout: str = "bert") -> None:
        super().__init__(tcfg)
        self.data, self.vocab, self.layout = data, vocab, layout

    def setup(self, model: torch.nn.Module, device: torch.device, precision: Precision,
              ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        self.data.check_block_size(model.config.block_size)

    def optimizer(self, model: torch.nn.Module, device_type: str) -> torch.optim.Optimizer:
        return configure_optimizer(model, self.tcfg, device_type)

    def lr(self, it: int, train_s: float) -> float:
        t = self.tcfg
        return scheduled_lr(it, lr=t.lr, min_lr=t.min_lr, warmup_iters=t.warmup_iters,
                            decay_iters=t.max_iters, elapsed_s=train_s, budget_s=t.time_budget_s)

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        t = self.tcfg  # windows and mask from one generator: a resumed run repeats the curve
        return masked_batch(self.data, "train", t.batch_size, self.model.config.block_size, generator,
                            self.vocab, t.mask_prob, device)

    def loss(self, net: torch.nn.Module, batch: Any) -> torch.Tensor:
        return net(*batch, only_masked=True)[1]

    def tokens(self, batch: Any) -> int:
        return batch[0].numel()

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        t = self.tcfg
        return evaluate_mlm(model, self.data, self.vocab, t.batch_size, t.eval_iters, t.mask_prob,
                            self.device, self.precision, t.seed)

    def extra(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_dict(), "layout": self.layout}

    def started(self, session: Session) -> None:
        self.layout = session.restored_extra.get("layout", self.layout)  # a resumed run keeps its layout
        # a resumed run has passed the times below its seconds already (their files were written then)
        self.due = [t for t in self.tcfg.snapshot_times if t > session.train_s] if session.out else []

    def after_step(self, session: Session, next_iter: int) -> None:
        while self.due and session.train_s >= self.due[0]:  # at-<seconds>s.pt once the seconds pass
            session.save(session.out / snapshot_name(self.due.pop(0)))

    def metrics(self, run: Run) -> dict[str, Any]:
        h, best = run.history, run.best_loss
        return {"mlm_loss": h.last("train_loss"), "val_mlm_loss": h.last("val_mlm_loss"),
                "masked_acc": h.last("val_masked_acc"),
                "best_val_mlm_loss": best if math.isfinite(best) else None,
                "params": sum(p.numel() for p in run.model.parameters())}

"""Training an encoder–decoder on ``lmlab.train.Session`` (the trainer contract, CONTRIBUTING.md): teacher
forcing, label smoothing, the paper's warm-up schedule (``lmlab.train.schedule.noam_lr``), lmlab's one AdamW
policy, clipping, periodic validation (loss and greedy chrF), ``best.pt`` and ``ckpt.pt`` (carrying
``train_s`` and ``wall_s``), a stop at the first nan/inf loss with that step's update never applied.

    session = make_session(model, data, vocab, TrainConfig(...), out="runs/couplets")
    session.fit()        # interrupt whenever you like; fit() again continues on the same curve
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, fields
from typing import Any

import torch

from lmlab.models.seq2seq.batches import PairTensors
from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.couplets import CoupletData
from lmlab.models.seq2seq.decode import greedy
from lmlab.models.seq2seq.loss import label_smoothed_loss
from lmlab.models.seq2seq.metrics import bleu_chrf
from lmlab.models.seq2seq.vocab import PAD, Seq2SeqVocab
from lmlab.recipes.seq2seq import MODEL_KEYS, PRESETS, TrainConfig  # noqa: F401 (kept importable here)
from lmlab.train import Session
from lmlab.train.optim import adamw
from lmlab.train.schedule import noam_factor_for_peak, noam_lr


def data_max_len(data: CoupletData) -> int:
    """The positions the data needs: its longest source, or its longest target + </s>."""
    return max(max(len(a), len(b) + 1) for split in (data.train, data.val, data.test) for a, b in split)


def preset_configs(preset: str, arch: str, vocab: Seq2SeqVocab, data: CoupletData,
                   **overrides: Any) -> tuple[Seq2SeqConfig, TrainConfig]:
    """The model and training configs of a preset (``overrides``: flag names, None = the preset's)."""
    from lmlab.presets import preset_values

    values = preset_values(PRESETS, preset, overrides)
    if values.get("max_len") is None:
        values["max_len"] = data_max_len(data)
    given = {k: values[k] for k in MODEL_KEYS if k != "arch" and values.get(k) is not None}
    model_cfg = Seq2SeqConfig(arch=arch, vocab_size=vocab.vocab_size, **given)
    names = {f.name for f in fields(TrainConfig)}
    tcfg = TrainConfig(**{k: v for k, v in values.items() if k in names and v is not None})
    return model_cfg, tcfg


DIVERGENCE_HINT = "lower --lr (or raise --warmup-iters) and train again"


def make_optimizer(model: torch.nn.Module, tcfg: TrainConfig, device_type: str = "cpu"
                   ) -> torch.optim.Optimizer:
    """``lmlab.train.optim.adamw`` with the paper's betas (0.9, 0.98)."""
    return adamw(model, lr=tcfg.lr, weight_decay=tcfg.weight_decay, betas=(0.9, 0.98),
                 device_type=device_type)


@torch.no_grad()
def validation_loss(model: torch.nn.Module, pairs: PairTensors, n: int, device: Any = "cpu",
                    batch_size: int = 256) -> float:
    """Mean cross-entropy per target token (no smoothing) over the first ``n`` pairs."""
    was = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, min(n, len(pairs)), batch_size):
        src, tgt_in, tgt_out = pairs.rows(torch.arange(i, min(i + batch_size, n, len(pairs))), device)
        logits = model(src, tgt_in)
        real = int((tgt_out != PAD).sum())
        total += float(label_smoothed_loss(logits, tgt_out, 0.0)) * real
        count += real
    model.train(was)
    return total / max(count, 1)


def translate_pairs(model: torch.nn.Module, vocab: Seq2SeqVocab, sources: list[str], device: Any = "cpu",
                    batch_size: int = 256, max_len: int | None = None,
                    constrained: bool = False) -> list[str]:
    """Greedy outputs for many sources, in batches (``constrained``: under the couplet rules' mask)."""
    max_len = max_len or model.config.max_len
    out = []
    for i in range(0, len(sources), batch_size):
        chunk = sources[i:i + batch_size]
        src = PairTensors.from_pairs([(s, "") for s in chunk], vocab, model.config.max_len).src.to(device)
        out.extend(vocab.decode(ids) for ids in greedy(model, src, max_len, constrained=constrained))
    return out


def make_session(model: torch.nn.Module, data: CoupletData, vocab: Seq2SeqVocab, tcfg: TrainConfig, *,
                 out: str | os.PathLike | None = None, device: Any = "cpu", resume: bool = False,
                 progress: bool = True, live: Any = None, config_extra: dict[str, Any] | None = None,
                 wall_start: float | None = None, in_memory: bool = True) -> Session:
    """A resumable training session; ``session.fit()`` trains, ``session.train_s``/``session.wall_s`` are
    summed over resumed parts (``wall_start``: when this process began the run, default now)."""
    device = torch.device(device)
    model.to(device)
    cfg = model.config
    train = PairTensors.from_pairs(data.train, vocab, cfg.max_len)
    val = PairTensors.from_pairs(data.val or data.train[:tcfg.eval_pairs], vocab, cfg.max_len)
    val_pairs = (data.val or data.train)[:tcfg.eval_pairs]
    optimizer = make_optimizer(model, tcfg, device.type)
    factor = noam_factor_for_peak(tcfg.lr, cfg.d_model, tcfg.warmup_iters)
    def step(it: int) -> dict[str, Any]:
        lr = noam_lr(it, cfg.d_model, tcfg.warmup_iters, factor)
        for group in optimizer.param_groups:
            group["lr"] = lr
        src, tgt_in, tgt_out = train.batch(it, tcfg.seed * 1009, tcfg.batch_size, device)
        logits = model(src, tgt_in)  # (B, T, V): every position predicts its next token at once
        loss = label_smoothed_loss(logits, tgt_out, tcfg.label_smoothing)
        value = float(loss.detach())
        optimizer.zero_grad(set_to_none=True)
        if math.isfinite(value):  # a nan/inf step is never applied; fit stops right after it
            loss.backward()
            if tcfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            optimizer.step()
        tokens = int((src != PAD).sum() + (tgt_out != PAD).sum())
        return {"loss": value, "lr": lr, "tokens": tokens}

    def evaluate() -> dict[str, float]:
        val_loss = validation_loss(model, val, tcfg.eval_pairs, device)
        hyps = translate_pairs(model, vocab, [a for a, _ in val_pairs], device)
        scores = bleu_chrf(hyps, [b for _, b in val_pairs])
        model.train()
        return {"val_loss": val_loss, "val_chrf": scores["chrf"], "val_bleu": scores["bleu"]}

    config = {**asdict(cfg), **(config_extra or {})}
    session = Session(step, model=model, optimizer=optimizer, max_iters=tcfg.max_iters, out=out,
                      config=config, kind="seq2seq", tokenizer=vocab, seed=tcfg.seed,
                      checkpoint_interval=tcfg.eval_interval, resume=resume, evaluate=evaluate,
                      eval_interval=tcfg.eval_interval, log_interval=tcfg.log_interval, progress=progress,
                      live=live, desc=cfg.arch, divergence_hint=DIVERGENCE_HINT, in_memory=in_memory,
                      time_budget_s=tcfg.time_budget_s, wall_start=wall_start,
                      extra=lambda: {"train_config": asdict(tcfg)})
    model.train()
    return session

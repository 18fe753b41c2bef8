"""The encoder–decoder's training recipe: teacher forcing, label smoothing, the paper's warm-up schedule
(``lmlab.train.schedule.noam_lr``), lmlab's one AdamW policy, periodic validation (loss and greedy chrF).
``lmlab.train.engine`` runs it (clipping, the nan stop, ``best.pt``/``ckpt.pt``, resume: the same for every
model).

    run = train(Seq2SeqRecipe(TrainConfig(...), data, vocab), model=model, out="runs/couplets")
    run.fit(max_iters=2000)   # interrupt whenever you like; fit again continues on the same curve
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import torch

from lmlab.device import Precision
from lmlab.distributed import DistContext
from lmlab.models.seq2seq.batches import PairTensors
from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.couplets import CoupletData
from lmlab.models.seq2seq.decode import greedy
from lmlab.models.seq2seq.loss import label_smoothed_loss
from lmlab.models.seq2seq.metrics import bleu_chrf
from lmlab.models.seq2seq.vocab import PAD, Seq2SeqVocab
from lmlab.recipes.seq2seq import MODEL_KEYS, PRESETS, TrainConfig  # noqa: F401 (kept importable here)
from lmlab.train.engine import Recipe, Run
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


class Seq2SeqRecipe(Recipe):
    """The encoder–decoder's part of training (``lmlab.train.engine.train`` does the rest): the paper's
    warm-up schedule, random pairs with teacher forcing, the label-smoothed loss, and validation by loss
    and greedy chrF. ``config_extra``: more fields for the checkpoint's config (the script)."""

    kind = "seq2seq"
    divergence_hint = DIVERGENCE_HINT
    default_precision = "fp32"

    def __init__(self, tcfg: TrainConfig, data: CoupletData, vocab: Seq2SeqVocab, *,
                 config: Seq2SeqConfig | None = None, config_extra: dict[str, Any] | None = None) -> None:
        super().__init__(tcfg, tokenizer=vocab)
        self.data, self.vocab, self.model_config, self.config_extra = data, vocab, config, config_extra or {}

    def setup(self, model: torch.nn.Module, device: torch.device, precision: Precision,
              ctx: DistContext) -> None:
        super().setup(model, device, precision, ctx)
        cfg, t, data = model.config, self.tcfg, self.data
        self.config = {**asdict(cfg), **self.config_extra}
        self.train = PairTensors.from_pairs(data.train, self.vocab, cfg.max_len)
        self.val_pairs = (data.val or data.train)[:t.eval_pairs]
        self.val = PairTensors.from_pairs(self.val_pairs, self.vocab, cfg.max_len)
        self.factor = noam_factor_for_peak(t.lr, cfg.d_model, t.warmup_iters)

    @property
    def desc(self) -> str:
        return self.model.config.arch

    def build(self) -> torch.nn.Module:
        from lmlab.models.seq2seq import build_model

        return build_model(self.model_config)

    def optimizer(self, model: torch.nn.Module, device_type: str) -> torch.optim.Optimizer:
        return make_optimizer(model, self.tcfg, device_type)

    def lr(self, it: int, train_s: float) -> float:
        return noam_lr(it, self.model.config.d_model, self.tcfg.warmup_iters, self.factor)

    def batch(self, it: int, generator: torch.Generator, micro: int, device: torch.device) -> Any:
        return self.train.batch(generator, self.tcfg.batch_size, device)

    def loss(self, net: torch.nn.Module, batch: Any) -> torch.Tensor:
        src, tgt_in, tgt_out = batch
        logits = net(src, tgt_in)  # (B, T, V): every position predicts its next token at once
        return label_smoothed_loss(logits, tgt_out, self.tcfg.label_smoothing)

    def tokens(self, batch: Any) -> int:
        src, _, tgt_out = batch
        return int((src != PAD).sum() + (tgt_out != PAD).sum())

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        val_loss = validation_loss(model, self.val, self.tcfg.eval_pairs, self.device)
        hyps = translate_pairs(model, self.vocab, [a for a, _ in self.val_pairs], self.device)
        scores = bleu_chrf(hyps, [b for _, b in self.val_pairs])
        model.train()
        return {"val_loss": val_loss, "val_chrf": scores["chrf"], "val_bleu": scores["bleu"]}

    def metrics(self, run: Run) -> dict[str, Any]:
        return {"arch": run.model.config.arch, "val_chrf": run.history.last("val_chrf"),
                "params": run.model.num_params()}

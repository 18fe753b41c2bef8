"""From flags to a finished MLM pre-training run (used by ``lmlab train bert``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lmlab.checkpoint import open_run
from lmlab.device import pick_device, pick_precision, seed_everything
from lmlab.models.bert.data import MLMData
from lmlab.models.bert.prenorm import build_encoder
from lmlab.models.bert.trainer import MODEL_KEYS, PRESETS, BertTrainConfig, resume_state, train_bert
from lmlab.models.bert.vocab import BertVocab
from lmlab.presets import resolve_preset
from lmlab.recipes import config_values, field_names, pick
from lmlab.train import write_metrics
from lmlab.train.failures import guarded_write

TRAIN_KEYS = field_names(BertTrainConfig)


def make_vocab(kind: str, text: str, vocab_size: int | None = None) -> BertVocab:
    """char or bpe, learned on ``text``, plus BERT's special tokens."""
    from lmlab.models.transformer.run import make_tokenizer

    return BertVocab(make_tokenizer(kind, text, vocab_size))


def run_from_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """Train as the flags say and write ``OUT/metrics.json``; returns the metrics."""
    from lmlab.data import load_splits

    t_start = time.perf_counter()
    device = pick_device(flags.get("device"))
    preset = resolve_preset(flags.get("preset"), device)
    values = config_values(flags, PRESETS, preset, (*MODEL_KEYS, *TRAIN_KEYS, "max_chars"))
    precision = pick_precision(device, flags.get("precision") or "auto")
    seed = flags.get("seed", 1337)
    seed_everything(seed)
    layout = flags.get("layout") or "bert"

    out = Path(flags["out"])
    payload = open_run(out, kind="bert", resume=bool(flags.get("resume")),
                       overwrite=bool(flags.get("overwrite")))
    if payload is not None:
        layout = payload["extra"].get("layout", "bert")

    train_text, val_text = load_splits(flags["corpus"])
    if values.get("max_chars"):
        train_text, val_text = train_text[:values["max_chars"]], val_text[:values["max_chars"] // 9]
    if payload is not None:
        vocab = BertVocab.from_dict(payload["extra"]["vocab"])
        for k in MODEL_KEYS:  # a resumed run keeps its architecture unless a flag says otherwise
            if flags.get(k) is None and k in payload["config"]:
                values[k] = payload["config"][k]
    else:
        vocab = make_vocab(flags.get("tokenizer") or "char", train_text + val_text, flags.get("vocab_size"))
    data = MLMData.from_text(train_text, val_text, vocab, whole_word=bool(flags.get("whole_word")))
    model = build_encoder(layout, vocab.vocab_size, vocab.pad_id, **{k: values[k] for k in MODEL_KEYS})
    tcfg = pick(values, BertTrainConfig, seed=seed)
    state: dict[str, Any] = {}
    if payload is not None:
        state = resume_state(model, payload, tcfg, device, out)  # checks the config before any change
    record = {"corpus": flags["corpus"], "tokenizer": vocab.base.kind, "preset": preset, "layout": layout,
              "whole_word": bool(flags.get("whole_word")), "device": str(device), "precision": precision.name,
              "seed": seed, **values, **asdict(model.config)}
    result = train_bert(model, data, vocab, tcfg, device=device, precision=precision, out_dir=out,
                        layout=layout, progress=not flags.get("quiet"), config_record=record,
                        wall_start=t_start, overwrite=True, **state)  # wall_s: loading included
    with guarded_write("metrics", out / "metrics.json", intact=out / "ckpt.pt"):
        write_metrics(out, record, **result.metrics)
    return result.metrics

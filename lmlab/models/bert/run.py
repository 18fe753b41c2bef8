"""``lmlab train bert``'s own part of a run: corpus, vocabulary, layout, resume (the rest:
``lmlab.train.run``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lmlab.models.bert.data import MLMData
from lmlab.models.bert.prenorm import build_encoder
from lmlab.models.bert.trainer import MODEL_KEYS, PRESETS, BertRecipe, BertTrainConfig
from lmlab.models.bert.vocab import BertVocab
from lmlab.recipes import field_names, pick
from lmlab.train.engine import train
from lmlab.train.run import finish_run, start_run

TRAIN_KEYS = field_names(BertTrainConfig)


def make_vocab(kind: str, text: str, vocab_size: int | None = None) -> BertVocab:
    """char or bpe, learned on ``text``, plus BERT's special tokens."""
    from lmlab.models.transformer.run import make_tokenizer

    return BertVocab(make_tokenizer(kind, text, vocab_size))


def run(flags: dict[str, Any]) -> dict[str, Any]:
    """Train as the flags say and write ``OUT/metrics.json``; returns the metrics."""
    from lmlab.data import load_splits

    r = start_run(flags, PRESETS, (*MODEL_KEYS, *TRAIN_KEYS, "max_chars"), kind="bert")
    values, payload = r.values, r.payload
    layout = flags.get("layout") or "bert" if payload is None else payload["extra"].get("layout", "bert")
    train_text, val_text = load_splits(flags["corpus"])
    if values.get("max_chars"):
        train_text, val_text = train_text[:values["max_chars"]], val_text[:values["max_chars"] // 9]
    if payload is not None:
        vocab = BertVocab.from_dict(payload["extra"]["vocab"])
        r.keep_saved(payload["config"], MODEL_KEYS)
    else:
        vocab = make_vocab(flags.get("tokenizer") or "char", train_text + val_text, flags.get("vocab_size"))
    data = MLMData.from_text(train_text, val_text, vocab, whole_word=bool(flags.get("whole_word")))
    model = build_encoder(layout, vocab.vocab_size, vocab.pad_id, **{k: values[k] for k in MODEL_KEYS})
    tcfg = pick(values, BertTrainConfig, seed=r.seed)
    record = {"corpus": flags["corpus"], "tokenizer": vocab.base.kind, "preset": r.preset, "layout": layout,
              "whole_word": bool(flags.get("whole_word")), "device": str(r.device),
              "precision": r.precision.name, "seed": r.seed, **values, **asdict(model.config)}
    result = train(BertRecipe(tcfg, data, vocab, layout=layout), model=model, device=r.device,
                   precision=r.precision, out=r.out, progress=r.progress, config_record=record,
                   in_memory=False, wall_start=r.wall_start,  # wall_s: loading included
                   resume=payload or False)
    return finish_run(r.out, record, result.metrics)

"""From a trained checkpoint to a 下联: load, check the input, decode (greedy, beam or sampling).

Bad input gets one clear line: an empty source, a source longer than the model reads, a beam width
below 1. Characters the model never saw are read as <unk> with a visible note (they still get an answer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from lmlab.checkpoint import load_checkpoint, load_model_state
from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.decode import beam_search, greedy, sample
from lmlab.models.seq2seq.vocab import Seq2SeqVocab
from lmlab.say import learner_text

METHODS = ("beam", "greedy", "sample")


@dataclass
class Translation:
    """The answer, its alternatives (beam), and notes for the reader (unknown characters, conversion)."""

    source: str
    output: str
    alternatives: list[tuple[str, float]]
    notes: list[str]


def load_translator(path: str | os.PathLike, best: bool = False) -> tuple[Any, Seq2SeqVocab, dict[str, Any]]:
    """(model in eval mode, vocabulary, saved config) from a training folder or a .pt file."""
    from lmlab.models.seq2seq import build_model

    path = Path(path)
    if path.is_dir():
        path = path / ("best.pt" if best else "ckpt.pt")
    payload = load_checkpoint(path)
    if payload.get("kind") != "seq2seq":
        raise ValueError(f"{path} holds a {payload.get('kind')!r} model, not a sequence-to-sequence one; "
                         "translate with a checkpoint of 'lmlab train seq2seq'")
    saved = payload["config"]
    names = {f.name for f in fields(Seq2SeqConfig)}
    model = build_model(Seq2SeqConfig(**{k: v for k, v in saved.items() if k in names}))
    load_model_state(model, payload)
    return model.eval(), Seq2SeqVocab.from_dict(payload["tokenizer"]), saved


def encode_source(vocab: Seq2SeqVocab, text: str, max_len: int) -> tuple[torch.Tensor, list[str]]:
    """src (1, S) for ``text`` and notes; raises ValueError for an empty or too long source."""
    text = "".join(text.split())  # spaces and newlines are not part of a 上联
    if not text:
        raise ValueError(learner_text("the source is empty; give a line to answer, e.g. 白日依山盡"))
    if len(text) > max_len:
        raise ValueError(f"the source has {len(text)} characters but this model reads at most {max_len}; "
                         f"give a shorter line (or train with --max-len {len(text)})")
    notes = []
    unknown = vocab.unknown(text)
    if unknown:
        notes.append(learner_text("{n} character(s) never seen in training, read as <unk> (□): {chars}",
                                  n=len(unknown), chars=" ".join(unknown[:10])))
    return torch.tensor([vocab.encode(text)]), notes


def translate(model: Any, vocab: Seq2SeqVocab, text: str, *, method: str = "beam", width: int = 4,
              alpha: float = 0.6, temperature: float = 1.0, top_k: int | None = None, seed: int | None = None,
              max_len: int | None = None, script: str | None = None,
              constrained: bool = False) -> Translation:
    """Answer ``text`` with the model; ``script`` is what the model was trained on, by default the
    edition's (input is converted to simplified characters for a simplified model); ``constrained`` masks
    what the couplet rules forbid (``lmlab.models.seq2seq.constraints``): the answer then has the source's
    length."""
    from lmlab.data.corpora import edition_script

    if method not in METHODS:
        raise ValueError(f"unknown decoding method {method!r}; use one of {', '.join(METHODS)}")
    script = edition_script(script)
    notes = []
    if script == "simplified":
        from lmlab.data import to_simplified

        converted = to_simplified([text])[0]
        if converted != text:
            notes.append(f"converted to simplified characters, as the model was trained: {converted}")
        text = converted
    src, more = encode_source(vocab, text, model.config.max_len)
    notes += more
    max_len = max_len or model.config.max_len
    alternatives: list[tuple[str, float]] = []
    if method == "beam":
        hyps = beam_search(model, src, width=width, max_len=max_len, alpha=alpha, constrained=constrained)
        alternatives = [(vocab.decode(h.ids), h.score) for h in hyps]
        output = alternatives[0][0]
    elif method == "greedy":
        output = vocab.decode(greedy(model, src, max_len, constrained=constrained)[0])
    else:
        output = vocab.decode(sample(model, src, max_len, temperature, top_k, seed=seed,
                                     constrained=constrained)[0])
    if not output:  # never a silent empty line: say why there is nothing to show
        notes.append(learner_text("the model wrote the end mark </s> first, so the answer has no character: "
                                  "it is barely trained (train it longer, e.g. the class preset)"))
    return Translation("".join(text.split()), output, alternatives, notes)

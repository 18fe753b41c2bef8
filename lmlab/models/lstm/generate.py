"""Sampling from a trained LSTM: a priming text, then one token at a time with the state carried along.

``generate`` is free-running text (temperature, top-k, top-p from ``lmlab.models.sampling``, which lists
what each accepts: temperature 0 is greedy, top-k at most the vocabulary, 0 < top-p <= 1, at least one
new token; a prompt of any length is read, characters the tokenizer never saw are an error naming them);
``generate_poem`` writes a regular Tang poem: the sampler may pick only Chinese characters inside a
verse line, and the punctuation that closes each line (，。) is placed, not sampled, so every line has
exactly five (or seven) characters whatever the model has learned.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from lmlab.checkpoint import load_model_state
from lmlab.models.lstm.model import LSTMConfig, LSTMLanguageModel, State
from lmlab.models.lstm.threads import single_thread
from lmlab.models.sampling import check_settings, encode_prompt, sample_next
from lmlab.tokenizers import tokenizer_from_dict

HANZI = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]$")


def load_for_sampling(payload: dict[str, Any]) -> tuple[LSTMLanguageModel, Any]:
    """(model in eval mode on CPU, tokenizer) from a loaded ``kind="lstm"`` checkpoint payload."""
    if payload.get("kind") != "lstm":
        raise ValueError(f"this checkpoint holds a {payload.get('kind')!r} model, not an LSTM")
    if not payload.get("tokenizer"):
        raise ValueError("this LSTM checkpoint has no tokenizer; it cannot turn text into ids")
    config = LSTMConfig(**payload["config"])
    tokenizer = tokenizer_from_dict(payload["tokenizer"])
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"checkpoint mismatch: its tokenizer has {tokenizer.vocab_size} tokens but the "
                         f"model was built for {config.vocab_size}; the file mixes two runs, retrain it")
    model = LSTMLanguageModel(config)
    load_model_state(model, payload)
    return model.eval(), tokenizer


@torch.no_grad()
def generate(model: LSTMLanguageModel, tokenizer: Any, prompt: str, max_new_tokens: int,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             seed: int | None = None) -> str:
    """The priming text followed by ``max_new_tokens`` sampled tokens, as text (prompt included)."""
    check_settings(temperature, top_k, top_p, max_new_tokens, vocab_size=tokenizer.vocab_size)
    ids = encode_prompt(tokenizer, prompt, "priming text")  # bad settings fail before any work
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    try:
        with single_thread(device):
            logits, state = model(torch.tensor([ids], device=device))      # (1, T, V): read the prompt
            out: list[int] = []
            for _ in range(max_new_tokens):
                nxt = sample_next(logits[:, -1], temperature, top_k, top_p, generator=generator)  # (1, 1)
                out.append(int(nxt))
                logits, state = model(nxt, state)                           # one step, state carried
    finally:
        model.train(was_training)
    if getattr(tokenizer, "kind", "char") == "char":
        return prompt + tokenizer.decode(out)               # lossless: keep the prompt exactly as given
    return tokenizer.decode(ids + out)                      # words: let the tokenizer place the spaces


def poem_positions(chars_per_line: int, n_lines: int) -> list[str]:
    """The form of a regular poem as slots: 'H' (a character) or the exact punctuation / newline.

    Lines end with '，' and '。' in turn; each couplet ends with a newline, as the corpus is laid out.
    """
    if chars_per_line not in (5, 7):
        raise ValueError(f"chars_per_line must be 5 or 7 (五言 or 七言), got {chars_per_line}")
    if n_lines < 2 or n_lines % 2:
        raise ValueError(f"n_lines must be an even number >= 2 (4 for 絕句, 8 for 律詩), got {n_lines}")
    slots: list[str] = []
    for line in range(n_lines):
        slots += ["H"] * chars_per_line
        slots += ["，"] if line % 2 == 0 else ["。", "\n"]
    return slots


@torch.no_grad()
def generate_poem(model: LSTMLanguageModel, tokenizer: Any, chars_per_line: int = 5, n_lines: int = 4,
                  prompt: str = "", heads: str | None = None, temperature: float = 0.8,
                  top_k: int | None = None, top_p: float | None = 0.9, seed: int | None = None) -> str:
    """A regular poem: ``n_lines`` lines of ``chars_per_line`` characters, punctuated ，。 in turn.

    ``prompt`` starts the first line; ``heads`` (藏頭詩) gives the first character of every line.
    """
    check_settings(temperature, top_k, top_p, vocab_size=tokenizer.vocab_size)
    slots = poem_positions(chars_per_line, n_lines)
    stoi = {tokenizer.decode([i]): i for i in range(tokenizer.vocab_size)}
    for mark in ("，", "。", "\n"):
        if mark not in stoi:
            raise ValueError(f"the model's vocabulary has no {mark!r}; poem mode needs a model trained on "
                             "the Tang poems (lmlab train lstm --corpus tang_poems)")
    hanzi = torch.tensor([bool(HANZI.match(tokenizer.decode([i]))) for i in range(tokenizer.vocab_size)])
    forced: dict[int, int] = {}
    for given, where in ((prompt, "prompt"), (heads or "", "heads")):
        bad = [c for c in given if c not in stoi or not HANZI.match(c)]
        if bad:
            raise ValueError(f"{where} {given!r} has characters the poem model cannot write: {bad[:10]}; "
                             "use Chinese characters that occur in the training poems")
    if len(prompt) > chars_per_line:
        raise ValueError(f"prompt {prompt!r} is longer than one line of {chars_per_line} characters")
    if heads and len(heads) > n_lines:
        raise ValueError(f"heads {heads!r} has {len(heads)} characters for a poem of {n_lines} lines")
    line_starts = [i for i, s in enumerate(slots) if s == "H" and (i == 0 or slots[i - 1] != "H")]
    for k, c in enumerate(heads or ""):
        forced[line_starts[k]] = stoi[c]
    for k, c in enumerate(prompt):
        forced[k] = stoi[c]

    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    mask = torch.where(hanzi, 0.0, float("-inf")).to(device)          # (V,): only characters in a line
    try:
        with single_thread(device):
            logits, state = model(torch.tensor([[stoi["\n"], stoi["\n"]]], device=device))  # a poem begins
            out: list[int] = []
            for pos, slot in enumerate(slots):
                if pos in forced:
                    nxt = forced[pos]
                elif slot == "H":
                    scores = logits[:, -1] + mask                          # (1, V)
                    nxt = int(sample_next(scores, temperature, top_k, top_p, generator=generator))
                else:
                    nxt = stoi[slot]
                out.append(nxt)
                logits, state = _step(model, nxt, state, device)
    finally:
        model.train(was_training)
    return tokenizer.decode(out).rstrip("\n")


def _step(model: LSTMLanguageModel, token: int, state: State, device: torch.device) -> tuple:
    return model(torch.tensor([[token]], device=device), state)

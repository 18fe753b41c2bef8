"""Turning next-token logits into a choice: temperature, top-k and top-p (nucleus) filtering.

What each setting accepts, for every generating model (GPT, LSTM) and ``lmlab sample``:

- ``temperature`` >= 0: logits are divided by it (< 1 sharper, > 1 flatter). **0 means greedy**: the
  most likely token is always taken (the limit of ever smaller temperatures), so top-k/top-p change
  nothing. Negative or not-a-number values are an error.
- ``top_k``: None (all tokens) or 1 .. vocabulary size; 1 is greedy too. A k larger than the
  vocabulary is an error (it would silently keep every token).
- ``top_p``: None or 0 < p <= 1, the smallest set of tokens whose probabilities sum to at least p.
- ``max_new_tokens`` >= 1.
- The prompt: at least one token. A character the model never saw is an error naming it (a
  character-level model has no way to read it); a word a word-level model never saw becomes ``<unk>``,
  with a warning naming it. A GPT prompt longer than the context keeps its last ``block_size`` tokens,
  with a warning (``lmlab sample`` prints it as a note); an LSTM reads any length (its state carries).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from lmlab.errors import UsageError


class GenerationNote(UserWarning):
    """Generation went ahead but changed the input: a cropped prompt, words read as ``<unk>``."""


def check_settings(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                   max_new_tokens: int | None = None, vocab_size: int | None = None) -> None:
    """Raise a UsageError naming the bad value and the fix; returns quietly when all are valid."""
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise UsageError(f"temperature must be a number >= 0, got {temperature!r}; use 0 for greedy "
                         "(always the most likely token), 0.8 for focused text, 1 for the model's own odds")
    if top_k is not None:
        if int(top_k) != top_k or top_k < 1:
            raise UsageError(f"top_k must be a whole number >= 1, got {top_k!r}; 1 is greedy, or leave it "
                             "out to sample from every token")
        if vocab_size is not None and top_k > vocab_size:
            raise UsageError(f"top_k={top_k} is more than the vocabulary ({vocab_size} tokens), so it would "
                             f"keep every token; use at most {vocab_size}, or leave top-k out")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0.0 < top_p <= 1.0):
        raise UsageError(f"top_p must be in (0, 1], got {top_p!r}; e.g. 0.9 keeps the tokens that make "
                         "up 90% of the probability")
    if max_new_tokens is not None and (int(max_new_tokens) != max_new_tokens or max_new_tokens < 1):
        raise UsageError(f"max_new_tokens must be a whole number >= 1, got {max_new_tokens!r}; ask for at "
                         "least one token")


def encode_prompt(tokenizer: Any, prompt: str, what: str = "prompt") -> list[int]:
    """The prompt's token ids: an error for an empty prompt or characters the tokenizer never saw, a
    warning naming the words that became ``<unk>`` (word-level tokenizers)."""
    if not prompt:
        raise UsageError(f"{what} is empty; give at least one character, e.g. --prompt '\\n' or 'ROMEO:'")
    try:
        ids = list(tokenizer.encode(prompt))
    except ValueError as err:  # characters the tokenizer never saw
        raise UsageError(f"{what} {prompt[:40]!r} cannot be encoded: {err}") from None
    if not ids:
        raise UsageError(f"{what} {prompt[:40]!r} encodes to no tokens; give a longer {what}")
    stoi, unk = getattr(tokenizer, "stoi", None), getattr(tokenizer, "unk", None)
    if unk is not None and stoi is not None and hasattr(tokenizer, "split"):  # word-level: <unk> exists
        unknown = [w for w in dict.fromkeys(tokenizer.split(prompt)) if w not in stoi]
        if unknown:
            warnings.warn(f"{what}: words the model never saw are read as {unk}: "
                          f"{', '.join(map(repr, unknown[:10]))}", GenerationNote, stacklevel=3)
    return ids


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Scale by 1/temperature, keep the k most likely and/or the smallest set with mass >= p.

    logits: (B, V). Removed entries become -inf, so softmax gives them probability 0.
    ``temperature=0`` keeps only the most likely token of each row (greedy).
    """
    check_settings(temperature, top_k, top_p, vocab_size=logits.size(-1))
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)  # (B, 1): the first maximum wins a tie
        return torch.full_like(logits, float("-inf")).scatter(-1, best, logits.gather(-1, best))
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, int(top_k), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token when the mass before it already reaches p (the top token always stays)
        drop_sorted = (torch.cumsum(probs, dim=-1) - probs) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token id per row from filtered logits (B, V) -> (B, 1)."""
    filtered = filter_logits(logits.float(), temperature, top_k, top_p)
    if temperature == 0:
        return filtered.argmax(dim=-1, keepdim=True)  # greedy: no draw, the generator is not advanced
    return torch.multinomial(torch.softmax(filtered, dim=-1), num_samples=1, generator=generator)

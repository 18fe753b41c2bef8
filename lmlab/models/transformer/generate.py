"""Generation: one token at a time, with temperature / top-k / top-p and a key-value cache.

Without a cache each new token re-runs the whole context (O(T²) per token); with it, only the new
token's query, key and value are computed and the earlier keys and values are reused.

Settings are checked before any work (``lmlab.models.sampling`` lists what each accepts): temperature 0
is greedy, top-k at most the vocabulary, 0 < top-p <= 1, at least one new token. A prompt longer than
``block_size`` keeps its last ``block_size`` tokens, with a warning; characters the tokenizer never saw
are an error naming them.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from lmlab.checkpoint import checkpoint_tokenizer, load_model_state
from lmlab.errors import UsageError
from lmlab.models.sampling import GenerationNote, check_settings, encode_prompt, sample_next
from lmlab.models.transformer.config import GPTConfig
from lmlab.models.transformer.model import GPT
from lmlab.tokenizers import Tokenizer


def crop_prompt(idx: torch.Tensor, block_size: int) -> torch.Tensor:
    """Keep the last ``block_size`` tokens of a too-long prompt, with a warning (never an error)."""
    if idx.size(1) > block_size:
        warnings.warn(f"prompt has {idx.size(1)} tokens but the model sees at most block_size={block_size}; "
                      f"using its last {block_size} tokens", GenerationNote, stacklevel=3)
        idx = idx[:, -block_size:]
    return idx


@torch.no_grad()
def generate(model: GPT, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue ``idx`` (B, T) by ``max_new_tokens`` tokens; returns (B, T + max_new_tokens).

    A prompt longer than ``block_size`` is cropped to its end (with a warning). When the context fills
    the block, the window slides: the cache is rebuilt from the last ``block_size - 1`` tokens.
    """
    if idx.dim() != 2 or idx.size(1) == 0:
        raise UsageError(f"prompt must be a (batch, time) tensor with at least one token, got shape "
                         f"{tuple(idx.shape)}; give a non-empty prompt")
    check_settings(temperature, top_k, top_p, max_new_tokens, vocab_size=model.config.vocab_size)
    was_training = model.training
    model.eval()
    block = model.config.block_size
    out = idx
    context = crop_prompt(idx, block)
    cache = model.new_cache() if use_cache else None
    pending = context  # tokens not yet fed to the model
    for _ in range(max_new_tokens):
        if use_cache:
            if cache[0].length + pending.size(1) > block:  # window full: restart from the recent tokens
                cache = model.new_cache()
                pending = out[:, -(block - 1):] if block > 1 else out[:, -1:]
            logits, _ = model(pending, cache=cache)
        else:
            logits, _ = model(out[:, -block:])
        next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)  # (B, 1)
        out = torch.cat([out, next_id], dim=1)
        pending = next_id
    model.train(was_training)
    return out


def load_for_sampling(payload: dict[str, Any], device: torch.device | str = "cpu") -> tuple[GPT, Tokenizer]:
    """Rebuild the model (eval mode) and tokenizer from a ``kind="gpt"`` checkpoint payload."""
    if payload.get("kind") != "gpt":
        raise ValueError(f"checkpoint kind is {payload.get('kind')!r}, not 'gpt'")
    config = GPTConfig.from_dict(payload["config"])
    model = GPT(config)
    load_model_state(model, payload)
    tokenizer = checkpoint_tokenizer(payload)
    if tokenizer is None:
        raise ValueError("checkpoint has no tokenizer; it was not written by lmlab train gpt")
    return model.to(device).eval(), tokenizer


def sample_text(model: GPT, tokenizer: Tokenizer, prompt: str, max_new_tokens: int = 200,
                temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                seed: int | None = None) -> str:
    """Prompt in, prompt + continuation out (as text); see the module docstring for the settings."""
    check_settings(temperature, top_k, top_p, max_new_tokens, vocab_size=model.config.vocab_size)
    ids = encode_prompt(tokenizer, prompt)
    device = next(model.parameters()).device
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    out = generate(model, idx, max_new_tokens, temperature, top_k, top_p, generator=gen)
    return tokenizer.decode(out[0].tolist())

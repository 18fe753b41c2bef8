"""BERT's masking rule: choose 15% of the tokens (or of the words); of those 80% -> [MASK], 10% -> a random
token, 10% unchanged; the loss is computed at the chosen positions only.

    inputs, targets = mlm_mask(ids, mask_id=vocab.mask_id, n_tokens=vocab.base.vocab_size, generator=g)

Whole-word masking chooses words instead of tokens: every character of a chosen word is hidden
together, so 明月 cannot be guessed from 明 alone (Cui et al. 2019 did this for Chinese with a word
segmenter; here jieba).
"""

from __future__ import annotations

import torch


def mlm_mask(ids: torch.Tensor, *, mask_id: int, n_tokens: int, p: float = 0.15,
             generator: torch.Generator | None = None, maskable: torch.Tensor | None = None,
             word_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) for ids (B, T); targets hold the original id where chosen and -100 elsewhere.

    ``n_tokens``: random replacements are drawn from ids 0..n_tokens-1 (never a special token).
    ``maskable`` (B, T) bool: positions that may be chosen (False for [CLS], [SEP], [PAD]).
    ``word_ids`` (B, T) int in 0..T-1: positions with the same id form one word and are chosen together.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"mask probability p must be in (0, 1), got {p}")
    u = torch.rand(ids.shape, generator=generator, device=ids.device)  # one draw per token ...
    if word_ids is not None:
        u = u.gather(1, word_ids)  # ... or the draw of the word's slot, shared by all its characters
    chosen = u < p
    if maskable is not None:
        chosen &= maskable
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=generator, device=ids.device)
    random_ids = torch.randint(n_tokens, ids.shape, generator=generator, device=ids.device)
    inputs = torch.where(chosen & (r < 0.8), torch.full_like(ids, mask_id), ids)  # 80%: [MASK]
    inputs = torch.where(chosen & (r >= 0.8) & (r < 0.9), random_ids, inputs)  # 10%: random; 10%: kept
    return inputs, targets


def word_index(text: str, segment: str = "jieba") -> torch.Tensor:
    """(len(text),) int64: the number of the word each character belongs to (0, 0, 1, 2, 2, ...)."""
    if segment != "jieba":
        raise ValueError(f"unknown word segmenter {segment!r}; use 'jieba'")
    import jieba

    jieba.setLogLevel(60)  # no "Building prefix dict" chatter
    lengths = torch.tensor([len(w) for w in jieba.cut(text, HMM=False)], dtype=torch.long)
    return torch.repeat_interleave(torch.arange(len(lengths)), lengths)

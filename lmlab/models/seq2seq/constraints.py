"""Constrained decoding: the rules of a couplet as a mask on the logits, applied before every pick.

At output position t (0-based) of a source x with n characters, before greedy, beam or sampling choose:

* length:  t < n  ->  </s> is forbidden;  t = n  ->  only </s> is allowed (the answer has n characters);
* no echo: the source's own character x_t is forbidden at position t (白 must not answer 白);
* no repeat: a character already written at position j < t is forbidden, unless the source repeats there
  too (x_j = x_t, as in 年年 ↔ 處處).

A mask can only *forbid*: it sets a logit to -inf, and the model's choice among what is left is untouched.
It cannot make a line good, parallel or tonally right; it only rules out lines that are certainly wrong.
"""

from __future__ import annotations

import torch

from lmlab.models.seq2seq.vocab import EOS, PAD


def couplet_mask(src: torch.Tensor, ys: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """True where a token is forbidden: (N, V) for the next token after ``ys`` (N, t+1, starting with <s>).

    ``src`` (N, S) or (1, S) for every row (beam search), padded with <pad>."""
    src = src.expand(ys.size(0), -1) if src.size(0) == 1 else src  # (N, S)
    N, t = ys.size(0), ys.size(1) - 1  # t: characters written so far = the position to fill now
    length = (src != PAD).sum(1)  # (N,)
    forbid = torch.zeros(N, vocab_size + 1, dtype=torch.bool, device=ys.device)  # column V: a dump
    dump = torch.full_like(src[:, :1], vocab_size)
    if t < src.size(1):
        filling = length > t  # (N,) rows whose line is not yet complete
        x_t = src[:, t:t + 1]  # (N, 1)
        forbid.scatter_(1, torch.where(filling[:, None], x_t, dump), True)  # no echo of the source
        if t > 0:  # no repeat, unless the source repeats at the same pair of positions
            written = ys[:, 1:]  # (N, t)
            differs = (src[:, :t] != x_t) & filling[:, None]  # (N, t)
            forbid.scatter_(1, torch.where(differs, written, dump.expand(-1, t)), True)
        forbid[:, EOS] |= filling  # too early to end
    else:
        filling = torch.zeros(N, dtype=torch.bool, device=ys.device)
    complete = ~filling
    forbid[complete, :vocab_size] = True  # the line has its length: only </s>
    forbid[complete, EOS] = False
    return forbid[:, :vocab_size]


def apply_mask(logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
    """logits with forbidden tokens at -inf; a row left with nothing allowed may still end (</s>)."""
    logits = logits.masked_fill(forbid, float("-inf"))
    stuck = torch.isinf(logits).all(-1)  # a vocabulary too small for the rules
    if bool(stuck.any()):
        logits[stuck, EOS] = 0.0
    return logits

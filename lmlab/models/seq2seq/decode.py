"""Decoding a target from a source: greedy, beam search (width, length penalty) and sampling.

Every model offers ``begin(src, use_cache) -> state`` and ``step(state, ys) -> logits (B, V)`` for the
token after ``ys``; beam search also calls ``state.reorder(index)`` to follow the surviving hypotheses.

Beam search keeps the ``width`` best prefixes by total log-probability Σ log p(y_t | y_<t, x); a finished
hypothesis is ranked by the GNMT length-normalised score  log p(y | x) / lp(|y|),  lp(n) = ((5 + n)/6)^α
(α = 0: raw log-probability, which favours short answers; α = 1: roughly per-token average).

``constrained=True`` applies the couplet rules of ``lmlab.models.seq2seq.constraints`` as a mask on the
logits before every choice (the source's length, no echo of the source, no repeat inside the line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from lmlab.models.sampling import sample_next
from lmlab.models.seq2seq.constraints import apply_mask, couplet_mask
from lmlab.models.seq2seq.vocab import BOS, EOS, PAD, UNK

NEVER_OUTPUT = (PAD, BOS, UNK)  # a model may give them mass (<unk> stands for many rare characters)


def next_logits(model: Any, state: Any, ys: torch.Tensor, src: torch.Tensor | None = None) -> torch.Tensor:
    """The model's logits (B, V) for the token after ``ys``, with <pad>, <s> and <unk> ruled out (and,
    given ``src``, every token the couplet rules forbid)."""
    logits = model.step(state, ys).float()
    logits[:, list(NEVER_OUTPUT)] = float("-inf")
    if src is not None:
        logits = apply_mask(logits, couplet_mask(src, ys, logits.size(-1)))
    return logits


def _check_len(max_len: int) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1 output tokens, got {max_len}")


@torch.no_grad()
def greedy(model: Any, src: torch.Tensor, max_len: int, use_cache: bool = True,
           constrained: bool = False) -> list[list[int]]:
    """The most likely next token at every step, for each row of src (B, S); ids without <s>/</s>."""
    return _decode(model, src, max_len, use_cache, pick=lambda logits: logits.argmax(-1, keepdim=True),
                   constrained=constrained)


@torch.no_grad()
def sample(model: Any, src: torch.Tensor, max_len: int, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, seed: int | None = None, use_cache: bool = True,
           constrained: bool = False) -> list[list[int]]:
    """Draw each token from the model's distribution (temperature / top-k / top-p as ``lmlab sample``)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return _decode(model, src, max_len, use_cache,
                   pick=lambda logits: sample_next(logits, temperature, top_k, top_p, gen),
                   constrained=constrained)


def _decode(model: Any, src: torch.Tensor, max_len: int, use_cache: bool, pick: Any,
            constrained: bool = False) -> list[list[int]]:
    _check_len(max_len)
    model.eval()
    state = model.begin(src, use_cache)
    ys = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        nxt = pick(next_logits(model, state, ys, src if constrained else None))  # (B, 1)
        ys = torch.cat([ys, nxt], dim=1)
        done |= nxt.squeeze(1) == EOS
        if bool(done.all()):
            break
    out = []
    for row in ys[:, 1:].tolist():
        out.append(row[:row.index(EOS)] if EOS in row else row)
    return out


def length_penalty(n: int, alpha: float) -> float:
    """GNMT's lp(n) = ((5 + n) / 6)^α."""
    return ((5 + n) / 6) ** alpha


@dataclass
class Hypothesis:
    """A finished (or cut-off) output: ids without <s>/</s>, log p(y|x) and the normalised score."""

    ids: list[int]
    log_prob: float
    score: float
    finished: bool = True


@dataclass
class BeamTree:
    """Every step of one beam search: ``steps[t]`` lists the kept (parent, token, log p) of step t;
    ``ended`` the hypotheses that emitted </s> at step t (drawn by ``lmlab.viz.seq2seq.beam_tree``)."""

    steps: list[list[tuple[int, int, float]]] = field(default_factory=list)
    ended: list[list[tuple[int, float]]] = field(default_factory=list)  # (parent, log p) per step


@torch.no_grad()
def beam_search(model: Any, src: torch.Tensor, width: int = 4, max_len: int = 16, alpha: float = 0.6,
                use_cache: bool = True, tree: BeamTree | None = None,
                constrained: bool = False) -> list[Hypothesis]:
    """The ``width`` best outputs for one source src (1, S), best first (pass ``tree`` to record it).

    Width 1 is greedy decoding. At each step every live prefix is extended by every token; the ``width``
    best continuations that do not end stay alive, those that end with </s> are set aside, scored by
    log p / lp(length). The search stops when ``width`` hypotheses have ended or at ``max_len``.
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"beam width must be an integer >= 1, got {width!r}; use 1 for greedy decoding")
    _check_len(max_len)
    if src.size(0) != 1:
        raise ValueError(f"beam_search decodes one source at a time, got a batch of {src.size(0)}")
    model.eval()
    state = model.begin(src, use_cache)
    ys = torch.full((1, 1), BOS, dtype=torch.long, device=src.device)
    scores = torch.zeros(1, device=src.device)  # (k,) total log-probability of each live prefix
    finished: list[Hypothesis] = []
    for t in range(max_len):
        logits = next_logits(model, state, ys, src if constrained else None)
        logp = torch.log_softmax(logits, dim=-1)  # (k, V)
        V = logp.size(-1)
        total = (scores[:, None] + logp).view(-1)  # (k·V,)
        top = torch.topk(total, min(2 * width, total.numel()))
        keep, ended = [], []
        for value, flat in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            if value == float("-inf"):  # every token left is forbidden (a mask, or <pad>/<s>/<unk>)
                break
            parent, token = divmod(flat, V)
            if token == EOS:
                if len(finished) + len(ended) < width:
                    ids = ys[parent, 1:].tolist()
                    ended.append((parent, value))
                    finished.append(Hypothesis(ids, value, value / length_penalty(len(ids) + 1, alpha)))
            elif len(keep) < width:
                keep.append((parent, token, value))
        if tree is not None:
            tree.steps.append(keep)
            tree.ended.append(ended)
        if len(finished) >= width or not keep or t == max_len - 1:
            break
        parents = torch.tensor([p for p, _, _ in keep], device=src.device)
        state = state.reorder(parents)
        ys = torch.cat([ys.index_select(0, parents),
                        torch.tensor([[tok] for _, tok, _ in keep], device=src.device)], dim=1)
        scores = torch.tensor([v for _, _, v in keep], device=src.device)
    if len(finished) < width:  # cut off at max_len: the live prefixes, marked unfinished
        for parent, token, value in keep[:width - len(finished)]:
            ids = ys[parent, 1:].tolist() + [token]
            finished.append(Hypothesis(ids, value, value / length_penalty(len(ids), alpha), finished=False))
    return sorted(finished, key=lambda h: h.score, reverse=True)

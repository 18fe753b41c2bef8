"""Exercises of notebook 03: attention, the causal mask, heads, positional encoding, BPE, the schedule."""

from __future__ import annotations

import math

import torch

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close, expect_shape
from lmlab.i18n import _


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _output(result):
    return result[0] if isinstance(result, tuple) else result


@exercise("transformer.attention", solution=_attention,
          hint="scores = q @ kᵀ / √d_k (d_k = q.size(-1)); set forbidden scores to -inf; softmax over the "
               "last axis (the keys); multiply by v",
          success="That is the whole of attention: every Transformer layer runs this, once per head.")
def _check_attention(student) -> None:
    expect(callable(student), _("pass your function itself (check(..., attention)), not {student!r:.30}")
                                .format(student=student))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 5, 8, generator=g) for _ in range(3))
    got = _output(student(q, k, v))
    expect_shape(got, (2, 5, 8), what="attention(q, k, v) for q, k, v of shape (2, 5, 8)")
    unscaled = torch.softmax(q @ k.transpose(-2, -1), -1) @ v
    if torch.allclose(torch.as_tensor(got), unscaled, atol=1e-4):
        raise ExerciseFailure("your output matches softmax(q kᵀ) v without the 1/√d_k: divide the scores by "
                              "math.sqrt(k.size(-1)) before the softmax")
    wrong_axis = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -2) @ v
    if torch.allclose(torch.as_tensor(got), wrong_axis, atol=1e-4):
        raise ExerciseFailure("the softmax runs over the queries (dim=-2); each query's weights over the "
                              "keys must sum to 1: use dim=-1")
    expect_close(got, _attention(q, k, v), what="attention(q, k, v)", atol=1e-4)
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    expect_close(_output(student(q, k, v, mask)), _attention(q, k, v, mask),
                 what="attention(q, k, v, mask) with a causal mask (True = may attend)", atol=1e-4)


def _causal_mask(T: int) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.bool).tril()


@exercise("transformer.causal_mask", solution=_causal_mask,
          hint="row i is query i; it may look at keys 0..i: the lower triangle, torch.tril")
def _check_causal_mask(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.30}").format(student=student))
    for T in (1, 4, 7):
        got = torch.as_tensor(student(T))
        expect_shape(got, (T, T), what=f"causal_mask({T})")
        if T > 1 and torch.equal(got.bool(), torch.ones(T, T, dtype=torch.bool).triu()):
            raise ExerciseFailure("that is the upper triangle: row i (a query) may see keys j <= i, "
                                  "so the True entries sit on and below the diagonal")
        expect(torch.equal(got.bool(), _causal_mask(T)),
               _("causal_mask({T}) should be True on and below the diagonal, False above; got\n{v1}")
                 .format(T=T, v1=got.int()))


def _split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


@exercise("transformer.split_heads", solution=_split_heads,
          hint="view (B, T, C) as (B, T, n_head, C // n_head), then swap the T and head axes: "
               "transpose(1, 2)")
def _check_split_heads(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.30}").format(student=student))
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    got = student(x, 4)
    expect_shape(got, (2, 4, 3, 2), what="split_heads(x of shape (2, 3, 8), n_head=4)")
    wrong = x.view(2, 4, 3, 2)
    if torch.equal(torch.as_tensor(got), wrong):
        raise ExerciseFailure("a plain view(B, n_head, T, hs) mixes positions into heads; view as "
                              "(B, T, n_head, hs) first, then transpose(1, 2)")
    expect_close(got, _split_heads(x, 4), what="split_heads(x, 4)")


def _positional_encoding(n_pos: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, two_i / d_model)
    pe = torch.zeros(n_pos, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


@exercise("transformer.positional_encoding", solution=_positional_encoding,
          hint="PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)): channel pair "
               "(2i, 2i+1) shares one frequency; the exponent uses 2i (the even channel index), not i")
def _check_positional_encoding(student) -> None:
    expect(callable(student), _("pass your function itself, not {student!r:.30}").format(student=student))
    got = torch.as_tensor(student(10, 8)).float()
    expect_shape(got, (10, 8), what="positional_encoding(10, 8)")
    ref = _positional_encoding(10, 8)
    swapped = ref.clone()
    swapped[:, 0::2], swapped[:, 1::2] = ref[:, 1::2], ref[:, 0::2]
    if torch.allclose(got, swapped, atol=1e-4):
        raise ExerciseFailure("sin and cos are swapped: even channels (2i) get sin, odd ones (2i+1) get cos")
    i = torch.arange(4, dtype=torch.float32)
    garbled = ref.clone()
    angle = torch.arange(10, dtype=torch.float32)[:, None] / torch.pow(10000.0, i / 8)  # i instead of 2i
    garbled[:, 0::2], garbled[:, 1::2] = torch.sin(angle), torch.cos(angle)
    if torch.allclose(got, garbled, atol=1e-4):
        raise ExerciseFailure("the exponent is i/d; it must be 2i/d (the even channel's index over d), so "
                              "the wavelengths run from 2π to 10000·2π across the channels")
    expect_close(got, ref, what="positional_encoding(10, 8)", atol=1e-4)


def _longest_wavelength(d_model: int = 64) -> float:
    return 2 * math.pi * 10000 ** ((d_model - 2) / d_model)


@exercise("transformer.longest_wavelength", solution=round(_longest_wavelength(64)),
          hint="the last pair is i = d/2 - 1, so ω = 10000^(-(d-2)/d); a wavelength is 2π/ω")
def _check_longest_wavelength(student) -> None:
    expect(not callable(student), "this one asks for a number, e.g. longest_wavelength_64 = 1234")
    try:
        value = float(student)
    except (TypeError, ValueError):
        raise ExerciseFailure(f"expected a number, got {type(student).__name__} {student!r:.40}") from None
    if abs(value - 2 * math.pi * 10000) < 2:
        raise ExerciseFailure("10000·2π is the limit for very wide models; the last pair is i = d/2 - 1, "
                              "whose exponent is (d - 2)/d, not 1")
    if abs(value - 10000 ** (62 / 64)) < 2:
        raise ExerciseFailure("that is 1/ω, the period in radians per position; multiply by 2π")
    expect_close(value, _longest_wavelength(64), what="the longest wavelength for d_model = 64", atol=1.0)


def _bpe_merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


@exercise("transformer.bpe_merge", solution=_bpe_merge,
          hint="walk left to right; where ids[i], ids[i+1] is the pair, emit new_id and skip two, else emit "
               "ids[i] and move one")
def _check_bpe_merge(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    cases = [([1, 2, 3, 1, 2], (1, 2), 9), ([5, 5, 5], (5, 5), 7), ([4], (4, 4), 8), ([], (1, 2), 3),
             ([1, 2, 1, 2, 1], (2, 1), 6)]
    for ids, pair, new_id in cases:
        got = student(list(ids), pair, new_id)
        expect(got is not None, "bpe_merge returned None: `return` the new list")
        got = list(got)
        want = _bpe_merge(ids, pair, new_id)
        if ids == [5, 5, 5] and got == [new_id, new_id]:
            raise ExerciseFailure("[5, 5, 5] with the pair (5, 5) gave two new tokens: a merged pair uses up "
                                  "both of its ids, so skip past the second one")
        expect(got == want, f"bpe_merge({ids}, {pair}, {new_id}): expected {want}, got {got}")


def _cosine_part(t: float, T: float, lr_max: float, lr_min: float) -> float:
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t / T))


@exercise("transformer.cosine_part", solution=_cosine_part,
          hint="η(t) = lr_min + ½ (lr_max − lr_min)(1 + cos(π t / T)): lr_max at t = 0, lr_min at t = T")
def _check_cosine_part(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    for t in (0, 250, 500, 1000):
        got = student(t, 1000, 1e-3, 1e-4)
        if t == 500 and got is not None and math.isclose(float(got), 0.5e-3, rel_tol=1e-6):
            raise ExerciseFailure("halfway the rate should be halfway between lr_max and lr_min (5.5e-4); "
                                  "you decay to 0: add lr_min and scale by (lr_max - lr_min)")
        expect_close(got, _cosine_part(t, 1000, 1e-3, 1e-4), what=f"cosine_part({t}, 1000, 1e-3, 1e-4)",
                     rtol=1e-6, atol=1e-12)

"""Exercises of notebook 06: cross-attention and its masks, the label-smoothed loss, one beam-search step,
BLEU by hand (checked against sacrebleu)."""

from __future__ import annotations

import math

import torch

from lmlab.exercises import ExerciseFailure, exercise, expect, expect_close, expect_shape

PAD = 0


def _call(student, *args):
    """The student's result, or specific feedback when the function is still a stub."""
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    result = student(*args)
    if result is None or result is ...:
        raise ExerciseFailure("your function returned None: replace the `...` and `return` the result")
    return result


def _cross_attention(y: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
    scores = y @ memory.transpose(-2, -1) / math.sqrt(y.size(-1))  # (B, T, S)
    scores = scores.masked_fill(~src_mask[:, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ memory  # (B, T, C)


@exercise("seq2seq.cross_attention", solution=_cross_attention,
          hint="queries from the decoder y (B, T, C), keys and values from the memory (B, S, C): scores "
               "y @ memoryᵀ / √C have shape (B, T, S); hide padded source keys with src_mask[:, None, :] "
               "(True = real token) before the softmax over the last axis")
def _check_cross_attention(student) -> None:
    g = torch.Generator().manual_seed(0)
    y, memory = torch.randn(2, 3, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    got = torch.as_tensor(_call(student, y, memory, mask))
    expect_shape(got, (2, 3, 8), what="cross_attention(y (2, 3, 8), memory (2, 5, 8), mask (2, 5))")
    unmasked = _cross_attention(y, memory, torch.ones(2, 5, dtype=torch.bool))
    if torch.allclose(got, unmasked, atol=1e-4):
        raise ExerciseFailure("the padded source positions still get weight: fill their scores with -inf "
                              "(scores.masked_fill(~src_mask[:, None, :], float('-inf')))")
    expect_close(got, _cross_attention(y, memory, mask), what="cross_attention(y, memory, mask)", atol=1e-4)


def _decoder_masks(src: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    cross = (src != PAD)[:, None, :].expand(-1, T, -1)
    return causal, cross


@exercise("seq2seq.masks", solution=_decoder_masks,
          hint="self-attention: (T, T), True on and below the diagonal (torch.tril); cross-attention: "
               "(B, T, S), True where the source token is not PAD, the same for every target row")
def _check_masks(student) -> None:
    src = torch.tensor([[5, 6, 7, PAD], [5, 6, PAD, PAD]])
    result = _call(student, src, 3)
    expect(isinstance(result, tuple) and len(result) == 2, "return two masks: (self_mask, cross_mask)")
    causal, cross = (torch.as_tensor(r).bool() for r in result)
    expect_shape(causal, (3, 3), what="the decoder's self-attention mask for T = 3")
    expect_shape(cross, (2, 3, 4), what="the cross-attention mask for a (2, 4) source and T = 3")
    if torch.equal(causal, torch.ones(3, 3, dtype=torch.bool).triu()):
        raise ExerciseFailure("that is the upper triangle: target position t may see positions <= t")
    want_causal, want_cross = _decoder_masks(src, 3)
    expect(torch.equal(causal, want_causal), f"self_mask should be\n{want_causal.int()}\ngot\n{causal.int()}")
    if torch.equal(cross, ~want_cross):
        raise ExerciseFailure("the cross mask is inverted: True must mark real source tokens (src != PAD)")
    expect(torch.equal(cross, want_cross), f"cross_mask[0] should be\n{want_cross[0].int()}\ngot\n"
                                           f"{cross[0].int()}")


def _smoothed_loss(logits: torch.Tensor, targets: torch.Tensor, epsilon: float) -> torch.Tensor:
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, targets[..., None]).squeeze(-1)
    per_token = (1 - epsilon) * nll + epsilon * (-logp.mean(-1))
    real = targets != PAD
    return (per_token * real).sum() / real.sum()


@exercise("seq2seq.label_smoothing", solution=_smoothed_loss,
          hint="log p = log_softmax(logits); per token (1-ε)·(-log p[y]) + ε·mean_v(-log p[v]); average "
               "over the positions whose target is not PAD only")
def _check_smoothed_loss(student) -> None:
    import torch.nn.functional as F

    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 9, generator=g)
    targets = torch.tensor([[3, 4, 5, PAD], [6, 7, PAD, PAD]])
    got = torch.as_tensor(_call(student, logits, targets, 0.1)).float()
    with_pad = F.cross_entropy(logits.view(-1, 9), targets.view(-1), label_smoothing=0.1)
    if torch.allclose(got, with_pad, atol=1e-4):
        raise ExerciseFailure("the padding positions count in your mean: average over targets != PAD only")
    plain = F.cross_entropy(logits.view(-1, 9), targets.view(-1), ignore_index=PAD)
    if torch.allclose(got, plain, atol=1e-4):
        raise ExerciseFailure("that is the plain cross-entropy: mix in ε·mean_v(-log p[v])")
    expect_close(got, _smoothed_loss(logits, targets, 0.1), what="smoothed_loss(logits, targets, 0.1)",
                 atol=1e-4)
    expect_close(torch.as_tensor(student(logits, targets, 0.0)).float(), plain,
                 what="smoothed_loss with ε = 0 (the plain cross-entropy)", atol=1e-4)


def _beam_step(scores: torch.Tensor, logp: torch.Tensor, width: int):
    V = logp.size(-1)
    top = torch.topk((scores[:, None] + logp).view(-1), width)
    return top.indices // V, top.indices % V, top.values


@exercise("seq2seq.beam_step", solution=_beam_step,
          hint="total = scores[:, None] + logp is (k, V); take the `width` largest of total.view(-1) with "
               "torch.topk; the flat index i is parent i // V and token i % V")
def _check_beam_step(student) -> None:
    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    scores = torch.tensor([-0.1, -3.0])
    logp = torch.log_softmax(torch.tensor([[2.0, 1.0, 0.1, -1.0], [3.0, 0.0, -1.0, 2.9]]), dim=-1)
    result = _call(student, scores, logp, 3)
    expect(isinstance(result, tuple) and len(result) == 3, "return (parents, tokens, new_scores)")
    parents, tokens, new_scores = (torch.as_tensor(r) for r in result)
    want = _beam_step(scores, logp, 3)
    alone = torch.topk(logp.view(-1), 3).indices
    if torch.equal(tokens.long(), alone % 4) and torch.equal(parents.long(), alone // 4):
        raise ExerciseFailure("you ranked by this step's log p alone: add each prefix's score first "
                              "(scores[:, None] + logp), a beam ranks whole prefixes")
    expect(torch.equal(parents.long(), want[0]),
           f"parents should be {want[0].tolist()}, got {parents.tolist()}")
    expect(torch.equal(tokens.long(), want[1]), f"tokens should be {want[1].tolist()}, got {tokens.tolist()}")
    expect_close(new_scores.float(), want[2], what="new scores", atol=1e-5)


def _bleu(hypothesis: str, reference: str) -> float:
    from collections import Counter

    log_p = 0.0
    for n in range(1, 5):
        h = Counter(hypothesis[i:i + n] for i in range(len(hypothesis) - n + 1))
        r = Counter(reference[i:i + n] for i in range(len(reference) - n + 1))
        log_p += math.log(sum(min(c, r[g]) for g, c in h.items()) / sum(h.values())) / 4
    bp = 1.0 if len(hypothesis) > len(reference) else math.exp(1 - len(reference) / len(hypothesis))
    return 100 * bp * math.exp(log_p)


@exercise("seq2seq.bleu", solution=_bleu,
          hint="for n = 1..4: p_n = clipped matching n-grams / n-grams of the hypothesis (clip each n-gram's "
               "count by its count in the reference); BLEU = 100 · BP · exp(mean log p_n), "
               "BP = exp(1 - len(ref)/len(hyp)) when the hypothesis is shorter, else 1")
def _check_bleu(student) -> None:
    import sacrebleu

    expect(callable(student), f"pass your function itself, not {student!r:.30}")
    examples = (("白日依山盡江", "白日依山盡海"), ("黃河入海流", "黃河入海流"),
                ("春春春眠不覺曉", "春眠不覺曉處處"))
    for hyp, ref in examples:
        want = sacrebleu.corpus_bleu([hyp], [[ref]], tokenize="zh").score
        got = float(_call(student, hyp, ref))
        if abs(got - want / 100) < 1e-3:
            raise ExerciseFailure("your BLEU is on a 0..1 scale; sacrebleu reports 0..100: multiply by 100")
        expect_close(got, want, what=f"bleu({hyp!r}, {ref!r}) (sacrebleu: {want:.2f})", atol=0.01)

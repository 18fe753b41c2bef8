"""Language-model scores from the mean cross-entropy (in nats per token): perplexity and bits per character.

    perplexity      = exp(loss)                       # "as unsure as a uniform choice among this many tokens"
    bits per token  = loss / ln 2
    bits per char   = loss · (tokens / characters) / ln 2

Bits per character compares models with different tokenizers on the same text (a word model's token
covers several characters); perplexity compares only models that share a vocabulary.

``evaluate_lm`` is the one loss they start from: the mean next-token cross-entropy of a model on fixed
batches, whatever the model (GPT, LSTM, a distilled student, a quantized or pruned copy).

A score means little alone: ``score_against_counts`` sets a trained model beside n-gram count models
(``lmlab.models.ngram.KneserNey``) on the same validation windows, each mean with a bootstrap interval over
the windows, and the paired gap ``baseline − model`` with its own interval:

    counts = {f"{n}-gram": KneserNey.fit(train_ids, V, n=n) for n in (2, 3)}
    print(score_against_counts(model, counts, val_ids, 64, 300, name="GPT").report(below="3-gram"))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lmlab.eval.bootstrap import bootstrap_mean
from lmlab.say import learner_text


def model_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits from a model that returns logits, ``(logits, loss)``, ``(logits, state)`` or an object with
    ``.logits``."""
    out = model(x)
    if isinstance(out, tuple):
        out = out[0]
    return getattr(out, "logits", out)


@torch.no_grad()
def evaluate_lm(model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                device: torch.device | str = "cpu", precision: Any = None) -> float:
    """Mean next-token cross-entropy (nats per token) over fixed batches of (inputs, targets), the model in
    eval mode (and back as it was). ``precision`` (``lmlab.device.Precision``) runs it under autocast."""
    from lmlab.device import autocast

    was_training = model.training
    model.eval()
    losses = []
    for x, y in batches:
        with autocast(torch.device(device), precision) if precision is not None else nullcontext():
            logits = model_logits(model, x.to(device))
        losses.append(F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.to(device).reshape(-1),
                                      ignore_index=-100).item())
    model.train(was_training)
    if not losses:
        raise ValueError("evaluate_lm needs at least one batch")
    return sum(losses) / len(losses)


@torch.no_grad()
def window_losses(model: torch.nn.Module, ids: torch.Tensor, block_size: int, max_windows: int | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Loss (nats) of the tokens of ``ids`` read in consecutive windows of ``block_size + 1`` tokens (the
    first of each window is context only), the model in eval mode: ``(windows, block_size)``. One row per
    window, so an interval can resample windows (neighbouring tokens are not independent)."""
    n = min(len(ids) // (block_size + 1), max_windows or len(ids)) * (block_size + 1)
    if n == 0:
        raise ValueError(f"{len(ids)} tokens make no window of block_size + 1 = {block_size + 1}; "
                         "use a smaller block_size or a longer text")
    windows = ids[:n].view(-1, block_size + 1)  # (W, T + 1)
    was_training = model.training
    model.eval()
    logits = model_logits(model, windows[:, :-1].to(device)).float().cpu()  # (W, T, V)
    model.train(was_training)
    return F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")  # (W, T)


def ngram_window_losses(ngram: Any, ids: torch.Tensor, block_size: int,
                        max_windows: int | None = None) -> torch.Tensor:
    """A count model's losses (``lmlab.models.ngram.KneserNey``) on exactly the tokens ``window_losses``
    scores, ``(windows, block_size)``: the simplest baseline a neural language model must beat."""
    n = min(len(ids) // (block_size + 1), max_windows or len(ids)) * (block_size + 1)
    every = torch.tensor(ngram.token_nll(ids[:n].tolist()))  # one loss per token, its n - 1 before it
    return every.view(-1, block_size + 1)[:, 1:]


@dataclass
class WindowScores:
    """Losses (nats per token) of a trained model and of count baselines on the same validation windows."""

    losses: dict[str, torch.Tensor]  # name -> (windows, block_size), the model's entry first
    model: str  # the trained model's name in ``losses``

    def mean(self, name: str) -> tuple[float, float, float]:
        """The mean loss of ``name`` and its 95 % bootstrap interval, resampling whole windows."""
        per_window = self.losses[name].mean(1).tolist()
        return (sum(per_window) / len(per_window), *bootstrap_mean(per_window))

    def gap(self, baseline: str) -> tuple[float, float, float]:
        """How far the model is below ``baseline``: the mean over windows of (baseline − model), paired on
        the same windows, and its 95 % bootstrap interval (above 0: the model has learned more)."""
        diff = (self.losses[baseline].mean(1) - self.losses[self.model].mean(1)).tolist()
        return (sum(diff) / len(diff), *bootstrap_mean(diff))

    def report(self, *, below: str | None = None, vocab_size: int | None = None,
               unit: str = "nats/token") -> str:
        """One line per model (mean, interval); the uniform guess ln V first (``vocab_size``), and the gap
        to the baseline named ``below`` last."""
        lines = []
        if vocab_size is not None:
            lines.append(learner_text("uniform guess: ln {V} = {loss:.3f} {unit}", V=vocab_size,
                                      loss=math.log(vocab_size), unit=unit))
        for name, losses in self.losses.items():
            mean, lo, hi = self.mean(name)
            lines.append(learner_text("{name} {mean:.3f} {unit}, 95% interval {lo:.3f} .. {hi:.3f} "
                                      "({windows} windows of {block})", name=f"{name:6}", mean=mean,
                                      unit=unit, lo=lo, hi=hi, windows=len(losses), block=losses.shape[1]))
        if below is not None:
            gap, lo, hi = self.gap(below)
            if gap >= 0:
                lines.append(learner_text("{model} below the {baseline} by {gap:.3f} {unit} (95% interval "
                                          "{lo:.3f} .. {hi:.3f})", model=self.model, baseline=below, gap=gap,
                                          unit=unit, lo=lo, hi=hi))
            else:  # a short run can leave the model worse than the counts: say so, not "below by -0.5"
                lines.append(learner_text("{model} above the {baseline} by {gap:.3f} {unit} (95% interval "
                                          "{lo:.3f} .. {hi:.3f}): not yet better than counting",
                                          model=self.model, baseline=below, gap=-gap, unit=unit, lo=-hi,
                                          hi=-lo))
        return "\n".join(lines)


def score_against_counts(model: torch.nn.Module, counts: Mapping[str, Any], ids: torch.Tensor,
                         block_size: int, max_windows: int | None = None, *, name: str = "model",
                         device: torch.device | str = "cpu") -> WindowScores:
    """``window_losses`` of ``model`` and ``ngram_window_losses`` of each count model in ``counts`` (a name
    -> a fitted model, e.g. ``{"3-gram": KneserNey.fit(train_ids, V, n=3)}``), on the same windows of
    ``ids``."""
    losses = {name: window_losses(model, ids, block_size, max_windows, device=device)}
    for baseline, ngram in counts.items():
        losses[baseline] = ngram_window_losses(ngram, ids, block_size, max_windows)
    return WindowScores(losses, name)


def _check_loss(loss: float) -> float:
    loss = float(loss)
    if math.isnan(loss) or loss < 0:
        raise ValueError(f"loss must be a non-negative number of nats per token, got {loss}")
    return loss


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats); inf when it overflows."""
    loss = _check_loss(loss)
    return math.exp(loss) if loss < 700 else math.inf


def bits_per_token(loss: float) -> float:
    """Nats to bits: divide by ln 2."""
    return _check_loss(loss) / math.log(2)


def bits_per_char(loss: float, n_tokens: int | None = None, n_chars: int | None = None) -> float:
    """Bits per character of text; give ``n_tokens`` and ``n_chars`` unless one token is one character."""
    if (n_tokens is None) != (n_chars is None):
        raise ValueError("give both n_tokens and n_chars (or neither, for a character-level model)")
    ratio = 1.0
    if n_tokens is not None and n_chars is not None:
        if n_tokens <= 0 or n_chars <= 0:
            raise ValueError(f"n_tokens and n_chars must be positive, got {n_tokens} and {n_chars}")
        ratio = n_tokens / n_chars
    return bits_per_token(loss) * ratio


def lm_scores(loss: float, n_tokens: int | None = None, n_chars: int | None = None) -> dict[str, float]:
    """All of the above in one dict: loss, perplexity, bits_per_token, bits_per_char."""
    return {"loss": _check_loss(loss), "perplexity": perplexity(loss), "bits_per_token": bits_per_token(loss),
            "bits_per_char": bits_per_char(loss, n_tokens, n_chars)}

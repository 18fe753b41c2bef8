"""Perplexity and bits per character follow from the loss in nats."""

from __future__ import annotations

import math

import pytest

from lmlab.eval.language_model import bits_per_char, bits_per_token, lm_scores, perplexity


def test_uniform_guess_over_v_tokens():
    loss = math.log(65)                      # a uniform guess over 65 characters
    assert perplexity(loss) == pytest.approx(65)
    assert bits_per_token(loss) == pytest.approx(math.log2(65))
    assert bits_per_char(loss) == pytest.approx(math.log2(65))


def test_bits_per_char_rescales_by_tokens_per_char():
    # a word model at 5 nats/token on text of 1000 tokens and 5000 characters
    assert bits_per_char(5.0, n_tokens=1000, n_chars=5000) == pytest.approx(5.0 / math.log(2) / 5)
    scores = lm_scores(1.5, 100, 100)
    assert scores["bits_per_char"] == pytest.approx(1.5 / math.log(2))
    assert scores["perplexity"] == pytest.approx(math.exp(1.5))


def test_overflow_and_bad_values():
    assert perplexity(1000.0) == math.inf
    with pytest.raises(ValueError, match="non-negative"):
        perplexity(-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        bits_per_token(float("nan"))
    with pytest.raises(ValueError, match="both"):
        bits_per_char(1.0, n_tokens=10)
    with pytest.raises(ValueError, match="positive"):
        bits_per_char(1.0, n_tokens=0, n_chars=10)


def test_window_losses_score_what_evaluate_lm_scores_and_the_ngram_the_same_tokens():
    import torch

    from lmlab.eval.language_model import evaluate_lm, ngram_window_losses, window_losses
    from lmlab.models.ngram import KneserNey
    from lmlab.models.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=16, dropout=0.0))
    ids = torch.randint(7, (50,))
    losses = window_losses(model, ids, 8)
    assert losses.shape == (5, 8)  # 50 // 9 windows, 8 scored tokens each
    windows = ids[:45].view(5, 9)
    assert losses.mean().item() == pytest.approx(evaluate_lm(model, [(windows[:, :-1], windows[:, 1:])]),
                                                 rel=1e-5)
    assert window_losses(model, ids, 8, max_windows=2).shape == (2, 8)
    bigram = KneserNey.fit(ids.tolist(), 7, n=2)
    counted = ngram_window_losses(bigram, ids, 8)
    assert counted.shape == (5, 8)
    assert counted[1, 0].item() == pytest.approx(-math.log(bigram.prob([int(ids[9])], int(ids[10]))))
    with pytest.raises(ValueError, match="no window"):
        window_losses(model, ids[:5], 8)


def test_scores_against_counts_pair_the_windows_and_report_the_gap():
    import torch

    from lmlab.eval.language_model import score_against_counts

    V, T, W = 4, 5, 10

    class Uniform(torch.nn.Module):  # knows nothing: ln V nats on every token
        def forward(self, x):
            return torch.zeros(*x.shape, V)

    class Counts:  # a stand-in count model: window w costs ln V + 0.1 w nats per token
        def token_nll(self, ids):
            return [math.log(V) + 0.1 * (i // (T + 1)) for i in range(len(ids))]

    ids = torch.randint(V, (W * (T + 1) + 3,), generator=torch.Generator().manual_seed(0))
    scores = score_against_counts(Uniform(), {"counts": Counts()}, ids, T, name="toy")
    assert list(scores.losses) == ["toy", "counts"] and scores.losses["toy"].shape == (W, T)
    mean, lo, hi = scores.mean("toy")
    assert mean == pytest.approx(math.log(V)) and lo == pytest.approx(mean) and hi == pytest.approx(mean)
    gap, lo, hi = scores.gap("counts")  # paired: each window's difference is exactly 0.1 w
    assert gap == pytest.approx(0.1 * (W - 1) / 2, abs=1e-6)
    assert 0 < lo < gap < hi < 0.1 * (W - 1)
    report = scores.report(below="counts", vocab_size=V, unit="nats/char").splitlines()
    assert report[0] == f"uniform guess: ln 4 = {math.log(4):.3f} nats/char"
    assert report[1].startswith(f"toy    {math.log(4):.3f} nats/char, 95% interval")
    assert report[1].endswith("(10 windows of 5)")
    assert report[-1].startswith(f"toy below the counts by {gap:.3f} nats/char (95% interval {lo:.3f} .. ")


def test_a_model_worse_than_the_counts_is_reported_above_them_not_below_by_a_negative_gap():
    import torch

    from lmlab.eval.language_model import score_against_counts

    V, T, W = 4, 5, 10

    class Uniform(torch.nn.Module):  # ln V nats on every token
        def forward(self, x):
            return torch.zeros(*x.shape, V)

    class Better:  # a count model that beats it: ln V - 0.1 (w + 1) nats per token
        def token_nll(self, ids):
            return [math.log(V) - 0.1 * (i // (T + 1) + 1) for i in range(len(ids))]

    ids = torch.randint(V, (W * (T + 1) + 3,), generator=torch.Generator().manual_seed(0))
    scores = score_against_counts(Uniform(), {"counts": Better()}, ids, T, name="toy")
    gap, lo, hi = scores.gap("counts")
    assert gap < 0 and hi < 0
    line = scores.report(below="counts").splitlines()[-1]
    assert line.startswith(f"toy above the counts by {-gap:.3f} nats/token "
                           f"(95% interval {-hi:.3f} .. {-lo:.3f})")
    assert "not yet better than counting" in line and "-" not in line.split("by")[1].split("(")[0]

"""Knowledge distillation: the loss is the blend it claims, and a distilled student imitates its teacher."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lmlab.eval.language_model import evaluate_lm, model_logits
from lmlab.models.distill import (
    DistillConfig,
    count_parameters,
    distill,
    distillation_loss,
    soft_targets,
)
from lmlab.models.transformer import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _logits(seed: int, shape=(3, 5, 7)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 3


def test_alpha_zero_is_plain_cross_entropy():
    s, t = _logits(0), _logits(1)
    y = torch.randint(0, 7, (3, 5), generator=torch.Generator().manual_seed(2))
    parts = distillation_loss(s, t, y, temperature=3.0, alpha=0.0)
    torch.testing.assert_close(parts["loss"], F.cross_entropy(s.reshape(-1, 7), y.reshape(-1)))


def test_soft_term_is_the_kl_of_softened_distributions_times_t_squared():
    s, t = _logits(0), _logits(1)
    y = torch.zeros(3, 5, dtype=torch.long)
    T = 2.5
    p_t, p_s = soft_targets(t, T).reshape(-1, 7), soft_targets(s, T).reshape(-1, 7)
    kl = (p_t * (p_t.log() - p_s.log())).sum(-1).mean()  # mean over the 15 positions
    parts = distillation_loss(s, t, y, temperature=T, alpha=1.0)
    torch.testing.assert_close(parts["soft"], kl)
    torch.testing.assert_close(parts["loss"], T**2 * kl)


def test_matching_the_teacher_exactly_costs_nothing_and_teacher_gets_no_gradient():
    t = _logits(1).requires_grad_(True)
    s = t.detach().clone().requires_grad_(True)
    parts = distillation_loss(s, t, torch.zeros(3, 5, dtype=torch.long), alpha=1.0)
    assert parts["loss"].item() == pytest.approx(0.0, abs=1e-6)
    parts["loss"].backward()
    assert t.grad is None


def test_higher_temperature_spreads_the_distribution():
    logits = torch.tensor([4.0, 1.0, 0.0, -2.0])
    entropy = [-(p * p.log()).sum().item() for p in (soft_targets(logits, T) for T in (0.5, 1.0, 4.0))]
    assert entropy[0] < entropy[1] < entropy[2] < math.log(4)


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"alpha": 1.5}, "alpha must be in"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distillation_loss(_logits(0), _logits(1), torch.zeros(3, 5, dtype=torch.long), **kwargs)


def test_different_vocabularies_are_refused():
    with pytest.raises(ValueError, match="same tokenizer"):
        distillation_loss(_logits(0), _logits(1, (3, 5, 8)), torch.zeros(3, 5, dtype=torch.long))


def _batches(data: torch.Tensor, it: int, batch: int = 16, block: int = 16):
    g = torch.Generator().manual_seed(it)
    starts = torch.randint(0, len(data) - block - 1, (batch,), generator=g).tolist()
    x = torch.stack([data[s:s + block] for s in starts])
    y = torch.stack([data[s + 1:s + block + 1] for s in starts])
    return x, y


def _kl_to_teacher(student, teacher, batches) -> float:
    with torch.no_grad():
        return sum(distillation_loss(model_logits(student, x), model_logits(teacher, x), y, temperature=1.0,
                                     alpha=1.0)["soft"].item() for x, y in batches) / len(batches)


@pytest.mark.slow
def test_a_distilled_student_is_smaller_and_closer_to_its_teacher_than_one_trained_on_labels():
    torch.manual_seed(0)
    # a corpus with structure: a noisy cycle over 12 tokens, so the teacher has real knowledge to pass on
    g = torch.Generator().manual_seed(0)
    steps = torch.where(torch.rand(4000, generator=g) < 0.8, 1, torch.randint(0, 12, (4000,), generator=g))
    data = torch.cumsum(steps, 0) % 12
    teacher = GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=2, n_head=2, n_embd=32))
    opt = torch.optim.AdamW(teacher.parameters(), lr=3e-3)
    for it in range(150):
        _, loss = teacher(*_batches(data, 10_000 + it))
        opt.zero_grad()
        loss.backward()
        opt.step()
    val = [_batches(data, 99_000 + i) for i in range(4)]
    student_cfg = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=1, n_embd=8)
    results = {}
    for alpha in (0.0, 0.9):
        torch.manual_seed(1)
        student = GPT(student_cfg)
        result = distill(teacher, student, lambda it: _batches(data, it),
                         DistillConfig(alpha=alpha, temperature=2.0, max_iters=60, lr=1e-2),
                         val_batches=val, progress=False)
        assert result.next_iter == 60 and math.isfinite(result.train_s)
        results[alpha] = (_kl_to_teacher(student, teacher, val), evaluate_lm(student, val))
    assert count_parameters(student) < count_parameters(teacher) / 5
    assert results[0.9][0] < results[0.0][0]  # distillation moved the student towards the teacher
    assert results[0.9][1] < math.log(12)  # and it learned the data, not just noise


def test_distillation_exercise_accepts_the_library_and_names_the_missing_t_squared(capsys):
    from lmlab.exercises import check

    def library(s, t, y, T, alpha):
        return distillation_loss(s, t, y, temperature=T, alpha=alpha)["loss"]

    assert check("scaling.distillation_loss", library, quiet=True)

    def forgot_t_squared(s, t, y, T, alpha):
        parts = distillation_loss(s, t, y, temperature=T, alpha=alpha)
        return alpha * parts["soft"] + (1 - alpha) * parts["hard"]

    assert not check("scaling.distillation_loss", forgot_t_squared)
    assert "T**2" in capsys.readouterr().out


def test_scaling_exercises_give_specific_feedback(capsys):
    from lmlab.exercises import check

    assert not check("scaling.tokens_per_step", lambda b, w, a, t: b * a * t)
    assert "leaves out the 8 ranks" in capsys.readouterr().out
    assert not check("scaling.adam_bytes_per_param", 8)
    assert "two moments" in capsys.readouterr().out
    assert check("scaling.adam_bytes_per_param", 16, quiet=True)

"""Mixed precision: the per-device policy, the number formats' limits, and GradScaler's loss-scale rules.

Notebook 05 states these facts with numbers; the tests keep those statements true on the installed torch.
"""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.device import autocast, pick_precision

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cpu_trains_in_fp32_unless_asked_and_never_scales_the_loss():
    auto = pick_precision(CPU)
    assert auto.name == "fp32" and auto.dtype is None and not auto.use_grad_scaler
    for request, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        p = pick_precision(CPU, request)
        assert p.dtype is dtype and not p.use_grad_scaler  # GradScaler is for fp16 on CUDA
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        pick_precision(CPU, "fp8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the CUDA policy needs a GPU")
def test_cuda_picks_bf16_or_fp16_with_a_scaler():
    p = pick_precision(torch.device("cuda"))
    if torch.cuda.is_bf16_supported():
        assert p.name == "bf16" and not p.use_grad_scaler
    else:
        assert p.name == "fp16" and p.use_grad_scaler


def test_formats_range_and_resolution_as_the_notebook_states():
    half, bf16, single = torch.finfo(torch.float16), torch.finfo(torch.bfloat16), torch.finfo(torch.float32)
    assert half.max == 65504 and half.bits == 16 and bf16.bits == 16
    assert bf16.max == pytest.approx(single.max, rel=0.01)  # bf16 keeps fp32's 8 exponent bits
    assert half.eps == 2**-10 and bf16.eps == 2**-7 and single.eps == 2**-23
    # overflow and underflow, on a tensor
    assert torch.isinf(torch.tensor(70_000.0).half())
    assert torch.tensor(70_000.0).bfloat16().item() == 70_144.0  # in range, but only 3 digits kept
    assert torch.tensor(1e-8).half().item() == 0.0  # a small gradient vanishes in fp16
    assert torch.tensor(1e-8).bfloat16().item() == pytest.approx(1e-8, rel=1e-2)
    assert (torch.tensor(1.0, dtype=torch.bfloat16) + 2**-9).item() == 1.0  # 1 + 1/512 rounds back to 1


def test_loss_scaling_rescues_a_gradient_fp16_would_flush_to_zero():
    grad = torch.tensor(1e-8)  # below half the smallest fp16 subnormal, 2**-24 ≈ 6e-8
    assert grad.half().item() == 0.0
    scaled = (grad * 2**16).half()
    assert scaled.item() != 0.0
    assert scaled.float().item() / 2**16 == pytest.approx(1e-8, rel=1e-2)


def test_grad_scaler_skips_overflowing_steps_halves_then_grows_the_scale():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=2)
    trace = []
    for step in range(5):
        loss = (w * (math.inf if step == 1 else 1.0)).sum()  # step 1 overflows
        scaler.scale(loss).backward()
        before = w.item()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        trace.append((scaler.get_scale(), w.item() != before))
    assert trace[0] == (2.0**16, True)
    assert trace[1] == (2.0**15, False)  # inf gradient: the update is skipped and the scale halves
    assert trace[2] == (2.0**15, True)
    assert trace[3] == (2.0**16, True)  # growth_interval clean steps in a row: the scale doubles again


def test_bf16_autocast_runs_the_gpt_trainer_on_cpu():
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
    from lmlab.tokenizers import CharTokenizer

    text = "to be or not to be, that is the question. " * 40
    tok = CharTokenizer.fit(text)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=32))
    precision = pick_precision(CPU, "bf16")
    with autocast(CPU, precision):
        logits, _ = model(torch.zeros(1, 4, dtype=torch.long))
    assert logits.dtype == torch.bfloat16  # matmuls ran in bf16
    from lmlab.train.engine import train

    tcfg = TrainConfig(batch_size=4, max_iters=4, eval_interval=4, eval_iters=1, warmup_iters=1,
                       lr_decay_iters=4)
    result = train(GPTRecipe(tcfg, TokenData.from_text(text, tok)), model=model, device=CPU,
                   precision=precision, progress=False)
    assert result.metrics["precision"] == "bf16"
    assert model.embed.wte.weight.dtype == torch.float32  # the master weights stay fp32
    assert math.isfinite(result.metrics["train_loss"])

"""Devices, numerics, presets and seeding."""

from __future__ import annotations

import contextlib

import pytest
import torch

from lmlab.device import autocast, device_report, pick_device, pick_precision, seed_everything
from lmlab.presets import PRESETS, preset_values, resolve_preset


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.delenv("LMLAB_DEVICE", raising=False)


def test_auto_is_cpu_without_accelerators(no_gpu):
    assert pick_device() == torch.device("cpu")
    assert pick_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("LMLAB_DEVICE", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device().type == "mps"


def test_device_from_environment(no_gpu, monkeypatch):
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("auto") == torch.device("cpu")  # the CLI's default defers to the environment
    monkeypatch.setenv("LMLAB_DEVICE", "cuda")
    with pytest.raises(ValueError, match=r"\(LMLAB_DEVICE\) but CUDA is not available"):
        pick_device("auto")
    assert pick_device("cpu") == torch.device("cpu")  # an explicit argument wins


@pytest.mark.parametrize("name, match", [
    ("cuda", r"\(--device\) but CUDA is not available; use --device=cpu"),
    ("cuda:1", "CUDA is not available"),
    ("mps", "MPS is not available"),
    ("tpu", "unknown device 'tpu'"),
    ("meta", "unsupported device 'meta'"),
])
def test_bad_device_requests(no_gpu, name, match):
    with pytest.raises(ValueError, match=match):
        pick_device(name)


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        pick_device("cuda:3")


def test_precision_cpu_is_fp32():
    p = pick_precision(torch.device("cpu"))
    assert (p.name, p.dtype, p.use_grad_scaler) == ("fp32", None, False)
    assert isinstance(autocast(torch.device("cpu"), p), contextlib.nullcontext)


def test_precision_mps_is_fp32_unless_asked():
    assert pick_precision(torch.device("mps")).name == "fp32"
    assert pick_precision(torch.device("mps"), "fp16").use_grad_scaler is False


@pytest.mark.parametrize("bf16, name, scaler", [(True, "bf16", False), (False, "fp16", True)])
def test_precision_cuda_bf16_else_fp16_with_scaler(monkeypatch, bf16, name, scaler):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    p = pick_precision(torch.device("cuda"))
    assert (p.name, p.use_grad_scaler) == (name, scaler)


def test_emulated_bf16_does_not_count(monkeypatch):
    seen = {}

    def is_bf16_supported(including_emulation=True):
        seen["including_emulation"] = including_emulation
        return including_emulation  # a T4: bf16 only by emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert pick_precision(torch.device("cuda")).name == "fp16"
    assert seen == {"including_emulation": False}


def test_explicit_precision_and_bad_one():
    assert pick_precision(torch.device("cpu"), "bf16").dtype == torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        pick_precision(torch.device("cpu"), "fp8")


def test_bf16_autocast_on_cpu_really_casts():
    p = pick_precision(torch.device("cpu"), "bf16")
    with autocast(torch.device("cpu"), p):
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16


def test_device_report_has_versions():
    r = device_report()
    assert r["torch"] == torch.__version__ and isinstance(r["cuda_available"], bool)


# ---- presets --------------------------------------------------------------------------------------------

def test_preset_argument_beats_environment_beats_device(monkeypatch):
    monkeypatch.setenv("LMLAB_PRESET", "smoke")
    assert resolve_preset("full") == "full"
    assert resolve_preset() == "smoke"
    monkeypatch.delenv("LMLAB_PRESET")
    assert resolve_preset(device="cpu") == "class"
    assert resolve_preset(device="cuda") == "full"
    assert resolve_preset(device="mps") == "class"


@pytest.mark.parametrize("where", ["argument", "environment"])
def test_bad_preset_is_named(monkeypatch, where):
    monkeypatch.setenv("LMLAB_PRESET", "huge" if where == "environment" else "smoke")
    with pytest.raises(ValueError, match="unknown preset 'huge'; choose one of smoke, class, full"):
        resolve_preset("huge" if where == "argument" else None)


def test_preset_values_overrides_win_and_none_means_unset():
    table = {p: {"n_layer": i + 1, "batch_size": 8 * (i + 1)} for i, p in enumerate(PRESETS)}
    assert preset_values(table, "class", {"n_layer": 6, "batch_size": None}) == {"n_layer": 6,
                                                                                  "batch_size": 16}
    with pytest.raises(ValueError, match="unknown preset 'big'"):
        preset_values(table, "big")


# ---- seeding --------------------------------------------------------------------------------------------

def losses(seed: int) -> list[float]:
    seed_everything(seed)
    model = torch.nn.Sequential(torch.nn.Embedding(20, 16), torch.nn.Dropout(0.2), torch.nn.Linear(16, 20))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    out = []
    for _ in range(5):
        x = torch.randint(0, 20, (8,))
        loss = torch.nn.functional.cross_entropy(model(x), torch.roll(x, 1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def test_same_seed_same_losses_on_cpu():
    assert losses(7) == losses(7)
    assert losses(7) != losses(8)


def test_seed_generator_is_reproducible():
    a = torch.randint(0, 1000, (5,), generator=seed_everything(3))
    b = torch.randint(0, 1000, (5,), generator=seed_everything(3))
    assert torch.equal(a, b)

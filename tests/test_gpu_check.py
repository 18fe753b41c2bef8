"""benchmarks/gpu_check.py without a GPU: it says so, prints JSON and exits 0."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch


def test_gpu_check_on_a_cpu_says_so_and_exits_cleanly(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # also on a machine with a GPU
    path = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cuda"] is False and "no CUDA device" in report["message"]

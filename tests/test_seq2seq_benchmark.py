"""The benchmark script runs at tiny sizes and reports both sides (no timing is asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_seq2seq_benchmark_smoke(capsys, one_torch_thread):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "seq2seq_vs_torch.py"
    spec = importlib.util.spec_from_file_location("seq2seq_vs_torch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--d-model", "16", "--n-head", "2", "--n-layer", "1", "--batch-size", "4",
                          "--vocab", "50", "--warmup", "1", "--iters", "2", "--rounds", "1",
                          "--lengths", "4", "6", "--gen-repeats", "1", "--beam", "2"])
    t = result["training"]
    assert t["lmlab_tokens_per_sec"] > 0 and t["torch_tokens_per_sec"] > 0 and t["ratio"] > 0
    assert [r["length"] for r in result["generation"]] == [4, 6]
    assert result["generation"][1]["greedy"]["tokens"] == 6  # ran to full length, as intended
    assert '"seq2seq_vs_torch"' in capsys.readouterr().out

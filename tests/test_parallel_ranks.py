"""FSDP2, tensor and pipeline parallelism on 2 (and 4) gloo ranks against one process.

Tolerances are what float32 arithmetic in another order gives (measured: losses agree to ~3e-7,
tensor-parallel logits to ~1e-7, gradients to ~3e-8); nothing else may differ.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from lmlab.distributed import torchrun_command

pytestmark = pytest.mark.slow


def _compare(tmp_path, nproc: int, *args: str) -> dict:
    out = tmp_path / f"compare{nproc}.json"
    cmd = torchrun_command(nproc, ["--out", str(out), *args], module="lmlab.parallel.compare")
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return _compare(tmp_path_factory.mktemp("par"), 2, "--schemes", "fsdp,tp,pp", "--steps", "4")


def test_fsdp_follows_the_single_process_curve_with_half_the_memory(two_ranks):
    single, fsdp = two_ranks["single"], two_ranks["fsdp"]
    assert fsdp["losses"] == pytest.approx(single["losses"], abs=1e-5)
    assert single["losses"][-1] < single["losses"][0]  # it trained
    for rank_bytes in fsdp["bytes_per_rank"]:  # each rank: half of what DDP keeps on every rank
        for kind in ("params", "grads", "optimizer"):
            assert rank_bytes[kind] == pytest.approx(single["bytes"][kind] / 2, rel=0.02)


def test_tensor_parallel_equals_the_unsplit_model(two_ranks):
    tp = two_ranks["tp"]
    assert tp["logits_max_diff"] < 1e-5 and tp["loss_diff"] < 1e-5 and tp["grad_max_diff"] < 1e-6
    assert tp["local_W_qkv_shape"] == [tp["full_W_qkv_shape"][0] // 2, tp["full_W_qkv_shape"][1]]
    assert tp["hand_matmul_max_diff"] < 1e-6


def test_pipeline_losses_equal_the_single_process(two_ranks):
    assert two_ranks["pp"]["losses"] == pytest.approx(two_ranks["single"]["losses"], abs=1e-5)


def test_fsdp_on_four_ranks(tmp_path):
    result = _compare(tmp_path, 4, "--schemes", "fsdp", "--steps", "3")
    assert result["fsdp"]["losses"] == pytest.approx(result["single"]["losses"], abs=1e-5)
    quarter = result["single"]["bytes"]["params"] / 4
    assert all(r["params"] == pytest.approx(quarter, rel=0.05) for r in result["fsdp"]["bytes_per_rank"])

"""The trainer contract under ``torchrun --nproc_per_node=2 ... --parallel ddp|fsdp|tp|pp`` (gloo on CPU).

A nan/inf loss stops every rank at the same iteration with one line (from rank 0) and metrics.json says
so; a write that fails stops every rank with one line and a non-zero exit (no rank left waiting in a
collective); the previous checkpoints stay intact and finite.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

import lmlab
from lmlab.checkpoint import load_checkpoint
from lmlab.distributed import launch, torchrun_command

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

FLAGS = ["--preset", "smoke", "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
         "--warmup-iters", "1", "--eval-interval", "3", "--eval-iters", "1", "--log-interval", "1",
         "--grad-accum", "2", "--batch-size", "4", "--dropout", "0", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    sentence = "the king shall speak of love and war to his people while night falls"
    words = sentence.split(" ")
    idx = torch.randint(len(words), (3000,), generator=torch.Generator().manual_seed(0)).tolist()
    path = tmp_path_factory.mktemp("corpus") / "salad.txt"
    path.write_text("\n".join(" ".join(words[i] for i in idx[k:k + 12]) for k in range(0, 3000, 12)))
    return str(path)


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(torchrun_command(2, args), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _no_lmlab_traceback(stderr: str) -> None:
    # a frame in lmlab's own files, not "lmlab" anywhere in a path (a checkout named lmlab holds its .venv,
    # and torchrun's own traceback of the stopped ranks runs through it)
    package = str(Path(lmlab.__file__).resolve().parent) + os.sep
    frames = [line for line in stderr.splitlines() if 'File "' in line and package in line]
    assert not frames, stderr[-3000:]


def _finite(path) -> dict:
    payload = load_checkpoint(path)
    assert all(torch.isfinite(t).all() for t in payload["model"].values() if t.is_floating_point())
    return payload


# fsdp and pp resume a healthy run (its files must survive); ddp and tp diverge from the start (one
# torchrun launch each, to keep the suite short)
@pytest.mark.parametrize(("scheme", "resume"), [("ddp", False), ("fsdp", True), ("tp", False), ("pp", True)])
def test_a_diverging_run_stops_every_rank_with_one_line(scheme, resume, corpus, tmp_path):
    common = ["train", "gpt", "--corpus", corpus, *FLAGS, "--parallel", scheme, "--out", str(tmp_path)]
    good = {}
    if resume:
        launch(2, [*common, "--max-iters", "3"], echo=False)  # a healthy start: ckpt.pt and best.pt
        good = {name: (tmp_path / name).read_bytes() for name in ("ckpt.pt", "best.pt")}
    proc = _torchrun(*common, "--max-iters", "12", "--lr", "1e30", "--grad-clip", "0",
                     *(["--resume"] if resume else []))
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if "training diverged" in line]
    assert len(lines) == 1, proc.stderr[-3000:]  # rank 0 says it; rank 1 stops quietly at the same step
    _no_lmlab_traceback(proc.stderr)
    metrics = json.loads((tmp_path / "metrics.json").read_text())  # strict JSON: no NaN token
    at = metrics["diverged_at"]
    assert metrics["stopped"] == "diverged" and metrics["train_loss"] is None
    assert (3 if resume else 0) < at <= 12
    assert f"iteration {at}" in lines[0] and "--lr" in lines[0]
    assert 0 < metrics["train_s"] < metrics["wall_s"]  # the steps alone, inside the whole run
    assert metrics["config"]["parallel"] == scheme and metrics["world_size"] == 2
    for name in ("ckpt.pt", "best.pt"):  # a diverged model never replaces a good file
        path = tmp_path / name
        if path.exists() and path.read_bytes() != good.get(name):  # only a finite one from before `at`
            assert _finite(path)["extra"]["next_iter"] < at
        if name in good:
            _finite(path)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failed_write_under_ddp_stops_both_ranks_with_one_line(corpus, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the run's parent folder should be")
    proc = _torchrun("train", "gpt", "--corpus", corpus, *FLAGS, "--max-iters", "6",
                     "--out", str(blocker / "run"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lmlab: error:")]
    assert len(lines) == 1 and "could not write the best checkpoint" in lines[0], proc.stderr[-3000:]
    assert "Connection closed" not in proc.stderr  # rank 1 was told, not left in an all-reduce
    _no_lmlab_traceback(proc.stderr)


def test_a_failed_sharded_write_under_fsdp_keeps_the_plain_checkpoint(corpus, tmp_path):
    (tmp_path / ".dcp-partial").write_text("a file where the shards' folder should go")
    proc = _torchrun("train", "gpt", "--corpus", corpus, *FLAGS, "--parallel", "fsdp", "--max-iters", "6",
                     "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lmlab: error:")]
    assert len(lines) == 1 and "could not write the sharded checkpoint" in lines[0], proc.stderr[-3000:]
    assert str(tmp_path / "dcp") in lines[0]
    _no_lmlab_traceback(proc.stderr)
    assert _finite(tmp_path / "ckpt.pt")["extra"]["next_iter"] == 3  # written just before the shards
    assert not (tmp_path / "dcp").exists()

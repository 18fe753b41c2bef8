"""Checkpoints: everything in one file, atomic against a killed process, safe loading, named mismatches."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import torch

from lmlab.checkpoint import (
    check_config,
    checkpoint_tokenizer,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
)
from lmlab.tokenizers import CharTokenizer

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class TinyConfig:
    vocab_size: int = 11
    hidden: int = 8


class Tiny(torch.nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.out = torch.nn.Linear(cfg.hidden, cfg.vocab_size)


def trained(cfg: TinyConfig) -> tuple[Tiny, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = Tiny(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = model.out(model.emb(torch.tensor([1, 2, 3]))).logsumexp(-1).mean()
    loss.backward()
    opt.step()
    return model, opt


def test_round_trip_keeps_everything(tmp_path):
    cfg = TinyConfig()
    model, opt = trained(cfg)
    tok = CharTokenizer.fit("hello wörld 🙂")
    history = [{"iter": 1, "train_loss": 2.5, "val_loss": None}]
    path = save_checkpoint(tmp_path / "run" / "ckpt.pt", model=model, config=cfg, kind="tiny",
                           tokenizer=tok, optimizer=opt, history=history, extra={"iter": 1})
    payload = load_checkpoint(tmp_path / "run")  # a folder means its ckpt.pt
    assert payload["kind"] == "tiny" and payload["config"] == asdict(cfg)
    assert payload["history"] == history and payload["extra"] == {"iter": 1}
    assert checkpoint_tokenizer(payload).to_dict() == tok.to_dict()
    fresh = Tiny(cfg)
    load_model_state(fresh, payload)
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    opt2 = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    opt2.load_state_dict(payload["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt.pt"]  # no temporary file left


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*train one first"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "model": {}, "config": argparse.Namespace(x=1)}, path)
    with pytest.raises(ValueError, match="refusing to load .*pickled Python objects") as err:
        load_checkpoint(path)
    assert "argparse.Namespace" in str(err.value) and len(str(err.value)) < 500


@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_damaged_file_gets_a_clear_error(tmp_path, damage):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model=torch.nn.Linear(64, 64), config={"a": 1}, kind="lin")
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "text": b"hello world"}[damage])
    with pytest.raises(ValueError, match="is not a readable checkpoint .*train again or restore a copy"):
        load_checkpoint(path)


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not an lmlab checkpoint"):
        load_checkpoint(path)


def test_config_mismatch_names_every_difference():
    with pytest.raises(ValueError, match=r"hidden: checkpoint 8 vs requested 16; vocab_size: checkpoint 11 "
                                         r"vs requested 12"):
        check_config({"vocab_size": 11, "hidden": 8}, {"vocab_size": 12, "hidden": 16})
    check_config({"hidden": 8}, {"hidden": 8})  # equal: no error


def test_loading_into_another_config_names_the_tensor(tmp_path):
    model, _ = trained(TinyConfig())
    save_checkpoint(tmp_path / "ckpt.pt", model=model, config=TinyConfig(), kind="tiny")
    other = Tiny(TinyConfig(hidden=16))
    with pytest.raises(ValueError, match=r"emb.weight: checkpoint \(11, 8\) vs model \(11, 16\)"):
        load_model_state(other, load_checkpoint(tmp_path / "ckpt.pt"))


KILLED_SAVER = textwrap.dedent("""
    import os, sys, time, torch
    from lmlab.checkpoint import save_checkpoint
    path, marker = sys.argv[1], sys.argv[2]
    real_fsync = os.fsync
    def fsync_then_hang(fd):
        real_fsync(fd)
        open(marker, "w").close()   # the new checkpoint is fully written to its temporary file...
        time.sleep(60)              # ...and we are killed before the rename
    os.fsync = fsync_then_hang
    model = torch.nn.Linear(4, 4)
    torch.nn.init.constant_(model.weight, 2.0)
    save_checkpoint(path, model=model, config={"generation": 2}, kind="lin")
""")


def test_process_killed_mid_save_leaves_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    first = torch.nn.Linear(4, 4)
    torch.nn.init.constant_(first.weight, 1.0)
    save_checkpoint(path, model=first, config={"generation": 1}, kind="lin")
    marker = tmp_path / "written"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(path), str(marker)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the saving process died before reaching the save"
            assert time.monotonic() < deadline, "the saving process never reached the save"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    payload = load_checkpoint(path)
    assert payload["config"] == {"generation": 1}
    assert torch.equal(payload["model"]["weight"], torch.ones(4, 4))
    # the killed save left its hidden temporary file; the next save clears it once it is stale
    (orphan,) = tmp_path.glob(".ckpt.pt.*.tmp")
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))
    save_checkpoint(path, model=first, config={"generation": 3}, kind="lin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt", "written"]


KILLED_LOOP = textwrap.dedent("""
    import sys, torch
    from lmlab.checkpoint import save_checkpoint
    path = sys.argv[1]
    model = torch.nn.Linear(1024, 1024)          # 4 MB per save
    g = 0
    while True:
        g += 1
        torch.nn.init.constant_(model.weight, float(g))
        save_checkpoint(path, model=model, config={"generation": g}, kind="lin")
        print(g, flush=True)
""")


def test_process_killed_at_a_random_moment_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_LOOP, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):  # let a few saves complete, then kill it wherever it is
            assert proc.stdout.readline(), "the saving process stopped early"
        time.sleep(0.013)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    payload = load_checkpoint(path)
    g = payload["config"]["generation"]
    assert g >= 3 and torch.all(payload["model"]["weight"] == float(g))

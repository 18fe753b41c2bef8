"""`lmlab train bert`: metrics.json, best.pt, --resume on the same curve, a NaN stops the run."""

import json

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.cli import main

pytestmark = pytest.mark.slow  # real (tiny) trainings

TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "24", "--batch-size", "4",
        "--eval-interval", "5", "--eval-iters", "1", "--log-interval", "1", "--no-progress",
        "--device", "cpu", "--preset", "smoke"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text("床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n\n" * 60, encoding="utf-8")
    return str(path)


def test_metrics_and_checkpoints(tmp_path, corpus):
    out = tmp_path / "run"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(out), *TINY]) == 0
    m = json.loads((out / "metrics.json").read_text())
    for key in ("mlm_loss", "val_mlm_loss", "masked_acc", "tokens_per_sec", "wall_s", "train_s", "params"):
        assert m[key] is not None, key
    assert m["stopped"] == "done" and m["diverged_at"] is None
    assert m["wall_s"] >= m["train_s"] > 0 and 0 <= m["masked_acc"] <= 1
    assert m["config"]["n_embd"] == 32 and m["config"]["layout"] == "bert"
    assert (out / "best.pt").exists()
    payload = load_checkpoint(out)
    assert payload["kind"] == "bert" and payload["extra"]["next_iter"] == 10


def test_resume_follows_the_uninterrupted_curve(tmp_path, corpus):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(whole), *TINY]) == 0
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "5", "--out", str(parts), *TINY]) == 0
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(parts), "--resume",
                 *TINY]) == 0

    def curve(run):
        return [r["train_loss"] for r in load_checkpoint(run)["history"] if "train_loss" in r and "lr" in r]

    assert len(curve(whole)) == 10
    assert curve(parts) == pytest.approx(curve(whole), rel=1e-5)


def test_existing_run_needs_resume(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "2", "--out", str(out), *TINY]) == 0
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "2", "--out", str(out), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err


def test_non_finite_loss_stops_with_the_iteration_and_keeps_weights(tmp_path, corpus, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "5", "--out", str(out), *TINY]) == 0
    before = load_checkpoint(out)["model"]
    best_before = load_checkpoint(out / "best.pt")["model"]
    from lmlab.models.bert import model as bert_model

    real = bert_model.BertForMaskedLM.forward
    calls = {"train": 0}

    def poisoned(self, *args, **kw):  # a real NaN in the forward pass of the 2nd resumed step (iteration 6)
        logits, loss = real(self, *args, **kw)
        if self.training:
            calls["train"] += 1
            if calls["train"] >= 2:
                loss = loss * float("nan")
        return logits, loss

    monkeypatch.setattr(bert_model.BertForMaskedLM, "forward", poisoned)
    code = main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(out), "--resume",
                 *TINY])
    err = capsys.readouterr().err
    assert code == 1  # the contract: diverged -> exit 1, one line naming the iteration, the value and the fix
    lines = [line for line in err.strip().splitlines() if "diverged" in line]
    assert len(lines) == 1 and "iteration 7" in lines[0] and "nan" in lines[0] and "--lr" in lines[0]
    m = json.loads((out / "metrics.json").read_text())
    assert m["stopped"] == "diverged" and m["diverged_at"] == 7 and m["mlm_loss"] is None
    after = load_checkpoint(out)
    assert all(torch.equal(before[k], after["model"][k]) for k in before)  # ckpt.pt: the good weights
    assert after["extra"]["next_iter"] == 5
    best = load_checkpoint(out / "best.pt")["model"]
    assert all(torch.equal(best_before[k], best[k]) for k in best_before)

    # the fix (here: the poison gone) and --resume continue from iteration 5 on the uninterrupted curve
    monkeypatch.setattr(bert_model.BertForMaskedLM, "forward", real)
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(out), "--resume",
                 *TINY]) == 0
    whole = tmp_path / "whole"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(whole), *TINY]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["stopped"] == "done" and m["diverged_at"] is None and m["iters"] == 10

    def curve(run):
        return {r["iter"]: r["train_loss"] for r in load_checkpoint(run)["history"]
                if "lr" in r and not r.get("diverged")}

    resumed, straight = curve(out), curve(whole)
    assert [resumed[i] for i in range(6, 11)] == pytest.approx([straight[i] for i in range(6, 11)], rel=1e-5)


def test_whole_word_and_prenorm_layout(tmp_path, corpus):
    out = tmp_path / "ww"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "3", "--whole-word", "--layout",
                 "prenorm", "--out", str(out), *TINY]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["whole_word"] is True and m["config"]["layout"] == "prenorm"


def test_prenorm_layout_does_not_export(tmp_path, corpus, capsys):
    out = tmp_path / "pre"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "2", "--layout", "prenorm",
                 "--out", str(out), *TINY]) == 0
    assert main(["export", str(out), "--to", "hf", str(tmp_path / "hf")]) == 2
    assert "--layout bert" in capsys.readouterr().err


def test_non_finite_weights_are_never_checkpointed(tmp_path, corpus, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "bert", "--corpus", corpus, "--max-iters", "5", "--out", str(out), *TINY]) == 0
    before = load_checkpoint(out)["model"]
    real_step = torch.optim.AdamW.step

    def poisoned_step(self, *args, **kw):  # the update itself writes a NaN into the weights
        result = real_step(self, *args, **kw)
        with torch.no_grad():
            self.param_groups[0]["params"][0].view(-1)[0] = float("nan")
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", poisoned_step)
    code = main(["train", "bert", "--corpus", corpus, "--max-iters", "10", "--out", str(out), "--resume",
                 *TINY])
    err = capsys.readouterr().err
    assert code == 1 and "nan" in err  # the poisoned weights give a nan loss: diverged, nothing written
    after = load_checkpoint(out)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)

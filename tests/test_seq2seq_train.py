"""``lmlab train seq2seq`` and ``lmlab translate`` end to end (smoke preset): metrics.json holds the
contract's keys, --resume continues, best.pt exists, a non-finite loss stops training with a clear line."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lmlab.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def pairs_file(tmp_path):
    lines = [f"{a}\t{b}" for a, b in [("白日依山盡", "黃河入海流"), ("春眠不覺曉", "處處聞啼鳥"),
                                      ("床前明月光", "疑是地上霜"), ("舉頭望明月", "低頭思故鄉")] * 10]
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("arch", ["transformer", "rnn-attention", "rnn"])
def test_train_then_translate(arch, tmp_path, pairs_file, capsys, one_torch_thread):
    out = tmp_path / arch
    base = ["train", "seq2seq", "--arch", arch, "--preset", "smoke", "--pairs", str(pairs_file),
            "--eval-interval", "10", "--out", str(out), "--no-progress", "--device", "cpu"]
    args = [*base, "--max-iters", "20"]
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    for key in ("wall_s", "train_s", "tokens_per_sec", "params", "config", "test", "best_val_loss"):
        assert key in m, key
    assert m["iters"] == 20 and m["wall_s"] >= m["train_s"] > 0 and m["config"]["arch"] == arch
    assert {"copy_source", "nearest_pair"} <= set(m["test"]["baselines"])
    assert (out / "best.pt").exists() and (out / "ckpt.pt").exists()
    # resume: refuses to overwrite, continues with --resume
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*base, "--max-iters", "30", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["iters"] == 30
    capsys.readouterr()
    assert main(["translate", str(out), "--text", "白日依山盡", "--text", "白雲", "--beam", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("白日依山盡 -> ") and "雲" in captured.err  # the unknown character noted
    assert main(["translate", str(out), "--text", "白日", "--beam", "0"]) == 2
    assert "--beam must be >= 1" in capsys.readouterr().err
    assert main(["translate", str(out), "--text", ""]) == 2
    assert "source is empty" in capsys.readouterr().err
    assert main(["translate", str(out), "--text", "白" * 40]) == 2
    assert "reads at most" in capsys.readouterr().err
    assert main(["sample", str(out)]) == 2  # one interface per kind of model: translate answers a line
    assert "lmlab translate" in capsys.readouterr().err


def test_malformed_pairs_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("天\t地\noops\n", encoding="utf-8")
    assert main(["train", "seq2seq", "--pairs", str(bad), "--preset", "smoke", "--out",
                 str(tmp_path / "o")]) == 2
    assert "malformed line(s) at line 2" in capsys.readouterr().err


def test_non_finite_loss_stops_with_one_line_writes_no_nan_checkpoint_then_resumes(tmp_path, pairs_file,
                                                                                   monkeypatch, capsys,
                                                                                   one_torch_thread):
    """The trainer contract: fit stops at the first nan, exit 1, metrics say so, --resume continues."""
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.seq2seq import trainer

    real, calls = trainer.label_smoothed_loss, {"n": 0}

    def nan_at_step_13(logits, target, eps):
        calls["n"] += logits.requires_grad  # training steps only, not validation
        loss = real(logits, target, eps)
        return loss * float("nan") if calls["n"] == 13 and logits.requires_grad else loss

    monkeypatch.setattr(trainer, "label_smoothed_loss", nan_at_step_13)
    out = tmp_path / "nan"
    base = ["train", "seq2seq", "--preset", "smoke", "--pairs", str(pairs_file), "--eval-interval", "5",
            "--eval-pairs", "4", "--out", str(out), "--no-progress", "--device", "cpu"]
    assert main([*base, "--max-iters", "20"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "diverged" in line]
    assert len(lines) == 1 and "iteration 13" in lines[0] and "--lr" in lines[0] and "Traceback" not in err
    m = json.loads((out / "metrics.json").read_text())  # strict JSON: the nan is null
    assert m["stopped"] == "diverged" and m["diverged_at"] == 13 and m["train_loss"] is None
    assert "test" not in m and m["wall_s"] >= m["train_s"] > 0
    for name in ("ckpt.pt", "best.pt"):  # the last checkpoint before the nan, all finite
        payload = load_checkpoint(out / name)
        assert payload["extra"]["next_iter"] <= 10
        assert all(torch.isfinite(t).all() for t in payload["model"].values() if t.is_floating_point())
    first_train_s = load_checkpoint(out / "ckpt.pt")["extra"]["train_s"]
    assert first_train_s > 0
    monkeypatch.setattr(trainer, "label_smoothed_loss", real)
    assert main([*base, "--max-iters", "20", "--resume"]) == 0
    assert "resumed from" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["stopped"] == "done" and m["iters"] == 20 and m["diverged_at"] is None and "test" in m
    assert m["train_s"] > first_train_s  # summed over both parts
    assert m["val_loss"] is not None and math.isfinite(m["train_loss"])


def test_a_write_that_fails_is_one_line_and_exit_1(tmp_path, pairs_file, capsys, one_torch_thread):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the run's folder should be")
    assert main(["train", "seq2seq", "--preset", "smoke", "--pairs", str(pairs_file), "--max-iters", "5",
                 "--out", str(blocker / "run"), "--no-progress", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("lmlab: error:")]
    assert len(lines) == 1 and "could not write the" in lines[0] and "Traceback" not in err
    assert "session's memory" not in lines[0]  # the CLI's advice, not the notebook's
    assert blocker.read_text().startswith("a file")


def test_session_nan_keeps_the_weights_of_the_last_good_step(tmp_path, pairs_file, one_torch_thread):
    from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqVocab, build_model, load_couplets
    from lmlab.models.seq2seq.trainer import Seq2SeqRecipe, TrainConfig
    from lmlab.train.engine import start

    data = load_couplets(pairs_file)
    vocab = Seq2SeqVocab.fit([s for p in data.train for s in p])
    model = build_model(Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=16, n_head=2, n_layer=1,
                                      max_len=8))
    tcfg = TrainConfig(max_iters=10, eval_interval=5, eval_pairs=4)
    session = start(Seq2SeqRecipe(tcfg, data, vocab), model=model, out=tmp_path / "nan",
                    progress=False).session
    session.fit(max_iters=5)
    with torch.no_grad():
        model.decoder[0].mlp.fc.weight[0, 0] = float("nan")  # injected into the weights
    result = session.fit(max_iters=10)
    assert result.stopped == "diverged" and result.diverged_at == 6 and session.next_iter == 6
    assert math.isnan(session.history.last("train_loss"))
    assert session.restore()  # back to the last good checkpoint: iteration 5, finite weights
    assert session.next_iter == 5 and all(torch.isfinite(p).all() for p in model.parameters())


def test_offline_without_the_corpus_trains_on_the_builtin_poems_in_simplified(isolated_data, tmp_path,
                                                                              capsys, one_torch_thread):
    out = tmp_path / "simplified"
    assert main(["train", "seq2seq", "--preset", "smoke", "--script", "simplified", "--max-iters", "5",
                 "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "not available here" in captured.out and "built-in quatrains" in captured.out
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"] == "builtin_poems" and m["config"]["script"] == "simplified"
    # a traditional line is converted for a simplified model, and the note says so
    assert main(["translate", str(out), "--text", "舉頭望明月", "--method", "sample", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("举头望明月 -> ") and "converted to simplified" in captured.err


def test_seq2seq_takes_resume_and_the_contract_keywords():
    from lmlab.cli import build_parser
    from lmlab.models.seq2seq.trainer import TrainConfig, make_optimizer
    from lmlab.train.schedule import noam_lr

    args = build_parser().parse_args(["train", "seq2seq", "--out", "x", "--resume", "--weight-decay", "0.1"])
    assert args.resume is True and args.weight_decay == 0.1
    model = torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.LayerNorm(4))
    opt = make_optimizer(model, TrainConfig(lr=1e-3, weight_decay=0.1))
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.98)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]  # matrices only decay
    assert noam_lr(0, 16, 10) > 0


def test_a_resumed_session_carries_train_s_wall_s_and_the_rest_of_the_budget(tmp_path, pairs_file,
                                                                             one_torch_thread):
    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqVocab, build_model, load_couplets
    from lmlab.models.seq2seq.trainer import Seq2SeqRecipe, TrainConfig
    from lmlab.train.engine import start

    data = load_couplets(pairs_file)
    vocab = Seq2SeqVocab.fit([s for p in data.train for s in p])
    cfg = Seq2SeqConfig(vocab_size=vocab.vocab_size, d_model=16, n_head=2, n_layer=1, max_len=8)
    tcfg = TrainConfig(max_iters=6, eval_interval=3, eval_pairs=4, time_budget_s=1000.0)
    first = start(Seq2SeqRecipe(tcfg, data, vocab), model=build_model(cfg), out=tmp_path,
                  progress=False).session
    first.fit()
    extra = load_checkpoint(tmp_path / "ckpt.pt")["extra"]
    assert extra["wall_s"] >= extra["train_s"] > 0 and extra["next_iter"] == 6
    assert (tmp_path / "best.pt").exists()
    longer = TrainConfig(**{**tcfg.__dict__, "max_iters": 9})
    again = start(Seq2SeqRecipe(longer, data, vocab), model=build_model(cfg), out=tmp_path, progress=False,
                  resume=True).session
    assert again.train_s == extra["train_s"] and again.next_iter == 6
    assert again.time_left_s == pytest.approx(1000.0 - extra["train_s"])
    again.fit()
    later = load_checkpoint(tmp_path / "ckpt.pt")["extra"]
    assert later["next_iter"] == 9 and later["train_s"] > extra["train_s"]
    assert later["wall_s"] > extra["wall_s"]


def test_ctrl_c_checkpoints_exits_130_and_resume_goes_on(tmp_path, pairs_file, monkeypatch, capsys,
                                                         one_torch_thread):
    import signal

    from lmlab.checkpoint import load_checkpoint
    from lmlab.models.seq2seq import trainer

    real, calls = trainer.label_smoothed_loss, {"n": 0}

    def ctrl_c_in_step_7(logits, target, eps):
        calls["n"] += logits.requires_grad
        if calls["n"] == 7 and logits.requires_grad:
            signal.raise_signal(signal.SIGINT)  # a Ctrl-C: the step finishes, then training stops
        return real(logits, target, eps)

    monkeypatch.setattr(trainer, "label_smoothed_loss", ctrl_c_in_step_7)
    out = tmp_path / "stop"
    base = ["train", "seq2seq", "--preset", "smoke", "--pairs", str(pairs_file), "--eval-interval", "5",
            "--eval-pairs", "4", "--out", str(out), "--no-progress", "--device", "cpu", "--max-iters", "12"]
    assert main(base) == 130
    m = json.loads((out / "metrics.json").read_text())
    assert m["stopped"] == "interrupted" and m["interrupted"] and m["iters"] == 7 and "test" not in m
    assert load_checkpoint(out / "ckpt.pt")["extra"]["next_iter"] == 7
    assert "Traceback" not in capsys.readouterr().err
    assert main([*base, "--resume"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["stopped"] == "done" and m["iters"] == 12 and "test" in m


def test_constrained_run_scores_every_system_with_intervals_and_translates_under_the_mask(
        tmp_path, pairs_file, capsys, one_torch_thread):
    out = tmp_path / "rules"
    assert main(["train", "seq2seq", "--preset", "smoke", "--pairs", str(pairs_file), "--max-iters", "10",
                 "--constrained", "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert {"copy_source", "nearest_pair", "lookup_table", "greedy", "greedy_constrained",
            "beam4_constrained", "reference"} <= set(test["intervals"])
    for name, r in test["intervals"].items():
        lo, hi = r["couplet_ci"]
        assert lo <= r["couplet"] <= hi, name
    assert test["near_duplicates_dropped"] == {"val": 0, "test": 0}  # the same four sources repeated
    capsys.readouterr()
    assert main(["translate", str(out), "--text", "白日依山盡", "--text", "床前明月光", "--constrained"]) == 0
    for row in capsys.readouterr().out.splitlines():
        source, answer = row.split(" -> ")
        assert len(answer) == len(source) and all(a != b for a, b in zip(source, answer, strict=True))
    with pytest.raises(SystemExit) as exit_info:  # argparse names the choices
        main(["train", "seq2seq", "--preset", "smoke", "--pairs-kind", "half", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2

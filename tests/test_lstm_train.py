"""The LSTM trainer learns, writes a checkpoint that samples, resumes, and refuses bad input clearly."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.cli import main
from lmlab.models.lstm import LSTMRecipe, generate, load_for_sampling, preset_config
from lmlab.train.engine import train

PATTERN = "the cat sat on the mat.\n"
TEXT = PATTERN * 400


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared CPU
    yield
    torch.set_num_threads(threads)


def _config(**overrides):
    values = dict(n_layer=1, hidden=32, block_size=16, batch_size=8, max_iters=150, lr=1e-2, warmup_iters=5,
                  eval_interval=0, device="cpu", max_eval_tokens=None)
    values.update(overrides)
    return preset_config("smoke", **values)


def lstm(config, text, out=None, **options):
    return train(LSTMRecipe(config, text), out=out, device=config.device, progress=False, **options)


def test_trains_writes_checkpoint_and_samples(tmp_path):
    run = lstm(_config(), TEXT, tmp_path)
    m = run.metrics
    for key in ("train_loss", "val_loss", "val_bpc", "val_perplexity", "tokens_per_sec", "wall_s", "params"):
        assert m[key] is not None and m[key] > 0, key
    saved = load_checkpoint(tmp_path)["extra"]["train_config"]
    assert saved["hidden"] == 32 and saved["block_size"] == 16
    assert m["val_loss"] < 0.3, m            # a repeated sentence is nearly certain once learned
    assert m["val_bpc"] == pytest.approx(m["val_loss"] / 0.6931471805599453)
    model, tok = load_for_sampling(load_checkpoint(tmp_path))
    text = generate(model, tok, "the cat", 40, top_k=1)
    assert text in TEXT, text                # greedy decoding continues the pattern
    assert generate(run.model, run.tokenizer, "the cat", 40, top_k=1) == text


def test_gradient_accumulation_and_resume(tmp_path):
    first = lstm(_config(max_iters=20, grad_accum=2, batch_size=4), TEXT, tmp_path)
    assert first.metrics["iters"] == 20
    with pytest.raises(ValueError, match="already exists"):
        lstm(_config(max_iters=30), TEXT, tmp_path, overwrite=False)
    resumed = lstm(_config(max_iters=30, grad_accum=2, batch_size=4), TEXT, tmp_path, resume=True)
    assert resumed.metrics["iters"] == 30
    iters = [r["iter"] for r in resumed.history if "train_loss" in r]
    assert iters == [10, 20, 30]             # the history goes on where it stopped


def test_resumed_run_follows_the_uninterrupted_loss_curve(tmp_path):
    flat = dict(min_lr_frac=1.0)  # a flat schedule after warm-up: stopping at 15 is then an interruption
    whole = lstm(_config(max_iters=30, **flat), TEXT, tmp_path / "whole")
    lstm(_config(max_iters=15, **flat), TEXT, tmp_path / "split")
    resumed = lstm(_config(max_iters=30, **flat), TEXT, tmp_path / "split", resume=True)
    def curve(run):
        return {r["iter"]: r["train_loss"] for r in run.history if "train_loss" in r}

    after = [it for it in curve(whole) if it > 15]           # the iterations run after the resume
    assert after == [20, 30]
    assert [curve(resumed)[it] for it in after] == pytest.approx([curve(whole)[it] for it in after], abs=1e-6)


def test_resume_with_another_vocabulary_is_refused(tmp_path):
    lstm(_config(max_iters=5), TEXT, tmp_path)
    with pytest.raises(ValueError, match="another vocabulary"):
        lstm(_config(max_iters=10), TEXT.upper(), tmp_path, resume=True)


def test_time_budget_stops_early_and_schedule_follows_time():
    from lmlab.models.lstm.trainer import lr_at

    cfg = _config(max_iters=100_000, time_budget_s=0.5, warmup_iters=1)
    assert lr_at(cfg, 10, 0.0) == pytest.approx(cfg.lr, rel=1e-3)
    assert lr_at(cfg, 10, 0.5) == pytest.approx(cfg.lr * cfg.min_lr_frac)
    run = lstm(cfg, TEXT)
    assert run.metrics["out_of_time"] and run.metrics["iters"] < 100_000


def test_cli_trains_and_reports(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "lstm", "--corpus", str(corpus), "--tokenizer", "char", "--n-layer", "1",
            "--hidden", "16", "--block-size", "16", "--batch-size", "4", "--max-iters", "10", "--lr", "2e-3",
            "--dropout", "0.1", "--device", "cpu", "--preset", "smoke", "--out", str(out), "--quiet"]
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["iters"] == 10 and m["config"]["dropout"] == 0.1 and (out / "ckpt.pt").exists()
    assert load_checkpoint(out)["kind"] == "lstm"
    assert main(args) == 2                   # the checkpoint exists: a one-line error, no traceback
    assert "--resume" in capsys.readouterr().err
    bad = args[:]
    bad[bad.index("--batch-size") + 1] = "5000"
    assert main([*bad, "--overwrite"]) == 2
    assert "shorter than one batch" in capsys.readouterr().err


def test_word_level_bits_per_char_rescales(tmp_path):
    words = "the king and the queen went to the market . " * 150
    run = lstm(_config(tokenizer="word", max_iters=20, block_size=8, batch_size=4), words)
    m = run.metrics
    assert run.tokenizer.kind == "word"
    # a word covers ~4.4 characters, so bits per character are well below bits per word
    assert 0 < m["val_bpc"] < 0.5 * m["val_loss"] / math.log(2)


@pytest.mark.slow
def test_two_ranks_with_torchrun(tmp_path):
    from lmlab.distributed import launch

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    launch(2, ["train", "lstm", "--corpus", str(corpus), "--preset", "smoke", "--device", "cpu",
               "--hidden", "16", "--out", str(tmp_path / "ddp"), "--quiet", "--batch-size", "2",
               "--block-size", "16", "--max-iters", "12"], timeout=300, echo=False)
    m = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["iters"] == 12 and m["val_loss"] > 0
    assert load_checkpoint(tmp_path / "ddp")["kind"] == "lstm"    # rank 0 wrote it

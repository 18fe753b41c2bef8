"""Fault injection for the trainers: each failure happens for real (no mocks of the failure).

A diverging learning rate and a NaN injected into a forward pass, SIGINT sent to a trainer process, a
file-size limit (RLIMIT_FSIZE: the kernel refuses the write, as on a full disk), an output folder whose
parent is a file, a folder removed or replaced mid-run, a read-only folder (for non-root users only: root
writes through permission bits). Every case checks what a learner depends on: the exit status, one clear
line on stderr, the previous ckpt.pt/best.pt intact and loadable, no temporary files left, and metrics
that show a divergence instead of hiding it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.train import History, Session, iteration_batch
from lmlab.train.failures import WriteFailed

ROOT = Path(__file__).resolve().parent.parent
TEXT = "\n".join(f"the {a} cat sat on the {b} mat and the dog ran off" for a in ("black", "white", "grey")
                 for b in ("red", "blue", "green")) * 40
GPT_FLAGS = ["--preset", "smoke", "--device", "cpu", "--eval-interval", "10", "--eval-iters", "2",
             "--log-interval", "5"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", "LMLAB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _lmlab(*args: str, preexec=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmlab", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env(), preexec_fn=preexec)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def _no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []
    assert not left, f"temporary files left behind: {left}"


def _finite_checkpoint(path: Path) -> dict:
    payload = load_checkpoint(path)
    assert all(torch.isfinite(t).all() for t in payload["model"].values() if t.is_floating_point())
    return payload


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "cats.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory, corpus) -> Path:
    """A healthy 20-iteration GPT run (ckpt.pt and best.pt), copied by each test that needs one."""
    out = tmp_path_factory.mktemp("gpt") / "run"
    proc = _lmlab("train", "gpt", "--corpus", str(corpus), *GPT_FLAGS, "--max-iters", "20",
                  "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


# --- divergence ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_gpt_diverging_lr_stops_with_one_line_and_keeps_the_good_checkpoints(gpt_run, corpus, tmp_path):
    out = _copy(gpt_run, tmp_path)
    before = {name: _digest(out / name) for name in ("ckpt.pt", "best.pt")}
    proc = _lmlab("train", "gpt", "--corpus", str(corpus), *GPT_FLAGS, "--max-iters", "40", "--lr", "1e30",
                  "--grad-clip", "0", "--resume", "--no-progress", "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = lines[0]
    metrics = json.loads((out / "metrics.json").read_text())  # strict JSON: no NaN token
    assert metrics["stopped"] == "diverged" and metrics["train_loss"] is None
    at = metrics["diverged_at"]
    assert 20 < at <= 40 and f"iteration {at}" in line and ("nan" in line or "inf" in line)
    assert "--lr" in line and "--grad-clip" in line  # the fix is named
    for name, digest in before.items():  # nothing diverged was written over the good weights
        assert _digest(out / name) == digest, name
        _finite_checkpoint(out / name)
    _no_temporaries(out)
    history = History(load_checkpoint(out / "ckpt.pt")["history"])
    assert history.first_nonfinite() is None  # the saved history is the good run's


def test_nan_injected_by_a_hook_stops_a_session_where_it_happened(tmp_path, capsys):
    torch.manual_seed(0)
    data = torch.randint(0, 16, (400,), generator=torch.Generator().manual_seed(0))
    model = torch.nn.Sequential(torch.nn.Embedding(16, 16), torch.nn.Linear(16, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    poison = {"at": 13}

    def nan_after(module, inputs, output):  # a real forward pass producing NaN at one iteration
        return output * float("nan") if state["it"] == poison["at"] else output

    state = {"it": 0}
    model[1].register_forward_hook(nan_after)

    def step(it):
        state["it"] = it
        x, y = iteration_batch(data, it, seed=3, batch_size=4, block_size=8)
        loss = torch.nn.functional.cross_entropy(model(x).view(-1, 16), y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), "tokens": x.numel()}

    session = Session(step, model=model, optimizer=opt, max_iters=40, out=tmp_path, kind="toy",
                      checkpoint_interval=5, progress=False)
    result = session.fit()
    assert result.stopped == "diverged" and result.diverged_at == 14  # step 13 is the 14th iteration
    err = capsys.readouterr().err
    assert "iteration 14" in err and "nan" in err
    # the history keeps the NaN where it happened, and the last logged loss is that NaN
    assert math.isnan(session.history.last("train_loss"))
    assert session.history.first_nonfinite() == 14
    # ckpt.pt is the one of iteration 10, best.pt too; both load, neither holds the divergence
    saved = _finite_checkpoint(tmp_path / "ckpt.pt")
    assert saved["extra"]["next_iter"] == 10
    assert History(saved["history"]).first_nonfinite() is None
    _finite_checkpoint(tmp_path / "best.pt")
    _no_temporaries(tmp_path)


def test_lstm_nan_in_a_step_writes_no_weights_and_metrics_show_it(tmp_path, capsys):
    from lmlab.models.lstm import LSTMRecipe, preset_config
    from lmlab.train.engine import train

    config = preset_config("smoke", hidden=16, block_size=8, batch_size=4, max_iters=30, eval_interval=10,
                           max_eval_tokens=400, device="cpu")
    first = train(LSTMRecipe(config, TEXT), out=tmp_path, progress=False)
    assert first.metrics["stopped"] == "done"
    before = {name: _digest(tmp_path / name) for name in ("ckpt.pt", "best.pt")}
    calls = {"n": 0}

    def poison(module, inputs, output):  # every forward of the whole process: NaN logits from call 25 on
        if type(module).__name__ == "LSTMLanguageModel" and module.training:
            calls["n"] += 1
            if calls["n"] >= 25:
                logits, state = output
                return logits * float("nan"), state
        return output

    handle = torch.nn.modules.module.register_module_forward_hook(poison)
    try:
        config.max_iters = 60
        run = train(LSTMRecipe(config, TEXT), out=tmp_path, progress=False, resume=True)
    finally:
        handle.remove()
    m = run.metrics
    assert m["stopped"] == "diverged" and m["diverged_at"] == 55 and math.isnan(m["train_loss"])
    assert "iteration 55" in capsys.readouterr().err
    # the checkpoints are those of iteration 50 (the last interval before it), finite and loadable
    assert _finite_checkpoint(tmp_path / "ckpt.pt")["extra"]["next_iter"] == 50
    assert _finite_checkpoint(tmp_path / "best.pt")["extra"]["next_iter"] <= 50
    assert all(_digest(tmp_path / name) != digest for name, digest in before.items())  # they did move on
    _no_temporaries(tmp_path)


# --- Ctrl-C -----------------------------------------------------------------------------------------


def _interrupt_when_training(cmd: list[str], marker: str, timeout: float = 300) -> tuple[int, str, str]:
    """Start ``lmlab ...``, send SIGINT once its progress bar (``marker``) shows, wait for it to end."""
    proc = subprocess.Popen([sys.executable, "-m", "lmlab", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    err: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for chunk in iter(lambda: proc.stderr.read(1), ""):
            err.append(chunk)
            if marker in "".join(err[-200:]):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert seen.wait(timeout), "".join(err)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    proc.wait(timeout)
    reader.join(10)
    return proc.returncode, out, "".join(err)


@pytest.mark.slow
def test_sigint_to_lstm_before_its_first_log_saves_and_reports(corpus, tmp_path):
    out = tmp_path / "lstm"
    code, stdout, stderr = _interrupt_when_training(
        ["train", "lstm", "--corpus", str(corpus), "--preset", "smoke", "--hidden", "768", "--block-size",
         "256", "--batch-size", "32", "--max-iters", "100000", "--device", "cpu", "--out", str(out)], "lstm:")
    assert code == 130, stdout + stderr  # 128 + SIGINT: stopped by the user, checkpoint written
    assert "Traceback" not in stderr, stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] and metrics["stopped"] == "interrupted"
    assert metrics["iters"] < 10 and metrics["train_loss"] is None  # before the first log: nothing to show
    assert "train n/a" in stdout
    assert load_checkpoint(out)["extra"]["next_iter"] == metrics["iters"]
    _no_temporaries(out)


@pytest.mark.slow
def test_sigint_to_gpt_mid_run_checkpoints_and_exits_130(corpus, tmp_path):
    out = tmp_path / "gpt"
    code, stdout, stderr = _interrupt_when_training(
        ["train", "gpt", "--corpus", str(corpus), *GPT_FLAGS, "--max-iters", "100000",
         "--lr-decay-iters", "100000", "--out", str(out)], "gpt:")
    assert code == 130 and "Traceback" not in stderr, stdout + stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "interrupted" and metrics["iters"] > 0
    assert load_checkpoint(out)["extra"]["next_iter"] == metrics["iters"]
    _no_temporaries(out)


# --- writes that fail -------------------------------------------------------------------------------


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_file_size_limit_during_a_checkpoint_keeps_the_previous_one(gpt_run, corpus, tmp_path):
    out = _copy(gpt_run, tmp_path)
    before = {name: _digest(out / name) for name in ("ckpt.pt", "best.pt", "metrics.json")}
    # a checkpoint is ~1.2 MB: 256 KB lets Python start but no checkpoint be written (EFBIG, like ENOSPC)
    proc = _lmlab("train", "gpt", "--corpus", str(corpus), *GPT_FLAGS, "--max-iters", "40", "--resume",
                  "--no-progress", "--out", str(out), preexec=_limit_file_size(256 * 1024))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("lmlab: error: could not write the ") and "File too large" in lines[0]
    assert "is intact" in lines[0] and str(out) in lines[0]
    for name, digest in before.items():
        assert _digest(out / name) == digest, name
    _finite_checkpoint(out / "ckpt.pt")
    _finite_checkpoint(out / "best.pt")
    _no_temporaries(out)


@pytest.mark.slow
def test_an_out_folder_under_a_file_fails_in_one_line(corpus, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the run's parent folder should be")
    proc = _lmlab("train", "gpt", "--corpus", str(corpus), *GPT_FLAGS, "--max-iters", "10",
                  "--no-progress", "--out", str(blocker / "run"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "could not write the" in lines[0] and str(blocker / "run") in lines[0]
    assert blocker.read_text().startswith("a file")


def _toy_session(out: Path, on_step=None, max_iters: int = 30) -> Session:
    torch.manual_seed(0)
    data = torch.randint(0, 16, (300,), generator=torch.Generator().manual_seed(1))
    model = torch.nn.Sequential(torch.nn.Embedding(16, 16), torch.nn.Linear(16, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)

    def step(it):
        if on_step is not None:
            on_step(it)
        x, y = iteration_batch(data, it, seed=5, batch_size=4, block_size=8)
        loss = torch.nn.functional.cross_entropy(model(x).view(-1, 16), y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "tokens": x.numel()}

    return Session(step, model=model, optimizer=opt, max_iters=max_iters, out=out, kind="toy",
                   checkpoint_interval=10, progress=False)


def test_a_folder_removed_mid_run_is_written_again(tmp_path):
    out = tmp_path / "run"
    session = _toy_session(out, on_step=lambda it: shutil.rmtree(out) if it == 15 else None)
    session.fit()
    assert load_checkpoint(out)["extra"]["next_iter"] == 30  # the later checkpoints recreate it
    _no_temporaries(out)


def test_a_folder_replaced_by_a_file_mid_run_keeps_the_session_in_memory(tmp_path):
    out = tmp_path / "run"

    def replace(it: int) -> None:
        if it == 15:
            shutil.rmtree(out)
            out.write_text("not a folder")

    session = _toy_session(out, on_step=replace)
    with pytest.raises(WriteFailed) as info:
        session.fit()
    message = str(info.value)
    assert "could not write the checkpoint" in message and str(out / "ckpt.pt") in message
    assert "still in this session's memory" in message and "\n" not in message
    # nothing lost: 20 steps are in memory and can be saved elsewhere, then training goes on
    assert session.next_iter == 20 and len(session.history) == 20
    session.out = tmp_path / "elsewhere"
    session.save()
    session.fit()
    assert load_checkpoint(tmp_path / "elsewhere")["extra"]["next_iter"] == 30


def test_word2vec_metrics_that_cannot_be_written_exit_1_and_leave_the_checkpoint(tmp_path, capsys):
    from lmlab.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"the {w} cat sat on a {v} mat" for w in "ab" for v in "cd") * 50)
    out = tmp_path / "w2v"
    (out / "metrics.json").mkdir(parents=True)  # a folder where the file must go: fails for root too
    code = main(["train", "word2vec", "--corpus", str(corpus), "--dim", "8", "--epochs", "2", "--min-count",
                 "1", "--threads", "1", "--device", "cpu", "--preset", "class", "--no-eval", "--quiet",
                 "--out", str(out)])
    assert code == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "could not write the metrics" in lines[0], lines
    assert f"the previous {out / 'ckpt.pt'} is intact" in lines[0]
    assert load_checkpoint(out)["kind"] == "word2vec"
    _finite_checkpoint(out / "best.pt")
    _no_temporaries(out)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits; the file-size limit "
                    "and the folder-under-a-file tests cover the failure for root")
def test_read_only_folder_fails_in_one_line(tmp_path):
    out = tmp_path / "run"
    session = _toy_session(out, max_iters=10)
    session.fit()
    good = _digest(out / "ckpt.pt")
    out.chmod(0o500)
    try:
        session.max_iters = 20
        with pytest.raises(WriteFailed, match="could not write the checkpoint"):
            session.fit()
    finally:
        out.chmod(0o700)
    assert _digest(out / "ckpt.pt") == good
    _no_temporaries(out)


def test_a_direct_train_call_keeps_the_model_when_a_checkpoint_cannot_be_written(tmp_path):
    """In a notebook, ``train(GPTRecipe(...))``: the WriteFailed carries model, history and optimizer, so
    the work is saved elsewhere and training goes on from the same iteration (``state=err``)."""
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer.trainer import GPTRecipe, TokenData, TrainConfig
    from lmlab.tokenizers import CharTokenizer
    from lmlab.train.engine import train

    text = "to be or not to be, that is the question. " * 40
    tok = CharTokenizer.fit(text)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    data = TokenData.from_text(text, tok)
    tcfg = TrainConfig(batch_size=4, max_iters=12, eval_interval=6, eval_iters=1, warmup_iters=1,
                       lr_decay_iters=12, log_interval=1)
    out = tmp_path / "run"
    (out / "ckpt.pt").mkdir(parents=True)  # a folder where the checkpoint must go: fails for root too
    with pytest.raises(WriteFailed, match="could not write the checkpoint") as info:
        train(GPTRecipe(tcfg, data, tokenizer=tok), model=model, out=out, progress=False)
    err = info.value
    assert err.model is model and err.tokenizer is tok and err.next_iter == 6
    steps = [r for r in err.history.records if "lr" in r]  # one per optimizer step (evals have no lr)
    assert len(steps) == 6 and all(math.isfinite(r["train_loss"]) for r in steps)
    assert err.optimizer.state and err.train_s > 0
    # nothing lost: the same objects go on to iteration 12, writing to a folder that works
    done = train(GPTRecipe(tcfg, data, tokenizer=tok), model=err.model, out=tmp_path / "elsewhere",
                 progress=False, state=err)
    assert done.next_iter == 12 and len([r for r in done.history.records if "lr" in r]) == 12
    assert load_checkpoint(tmp_path / "elsewhere")["extra"]["next_iter"] == 12
    _no_temporaries(out)


def test_lstm_metrics_that_cannot_be_written_exit_1_and_leave_the_checkpoint(tmp_path, capsys):
    from lmlab.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "lstm"
    (out / "metrics.json").mkdir(parents=True)  # a folder where the file must go: fails for root too
    code = main(["train", "lstm", "--corpus", str(corpus), "--hidden", "16", "--block-size", "8",
                 "--batch-size", "4", "--max-iters", "20", "--eval-interval", "10", "--device", "cpu",
                 "--preset", "smoke", "--quiet", "--out", str(out)])
    assert code == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "could not write the metrics" in lines[0], lines
    assert f"the previous {out / 'ckpt.pt'} is intact" in lines[0]
    assert load_checkpoint(out)["extra"]["next_iter"] == 20  # the checkpoint before it is whole
    _no_temporaries(out)


def test_a_direct_word2vec_train_call_keeps_the_tables_when_best_pt_cannot_be_written(tmp_path):
    from lmlab.models.word2vec import Word2VecConfig, Word2VecRecipe, WordVectors, tokenize
    from lmlab.train.engine import train

    sentences = tokenize("\n".join(f"the {w} cat sat on a {v} mat" for w in "ab" for v in "cd") * 50)
    (tmp_path / "best.pt").mkdir()  # a folder where best.pt must go: fails for root too
    with pytest.raises(WriteFailed, match="could not write the best checkpoint") as info:
        train(Word2VecRecipe(Word2VecConfig(dim=8, epochs=2, min_count=1, threads=1), sentences),
              progress=False, out=tmp_path)
    err = info.value
    assert err.next_iter >= 1 and err.history.last("train_loss") is not None
    vectors = WordVectors(err.tokenizer.words, err.model.W_in.detach().numpy())  # still usable here
    assert vectors.dim == 8 and "cat" in vectors.words
    assert load_checkpoint(tmp_path)["extra"]["next_iter"] == err.next_iter  # ckpt.pt was written whole

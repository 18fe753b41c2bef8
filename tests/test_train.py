"""The one training loop: logging, clean Ctrl-C, resume on the same loss curve, checkpoints kept intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.train import History, Session, fit, iteration_batch, step_generator

# A tiny bigram language model with dropout: randomness in the batches AND in the forward pass.
TRAINER = textwrap.dedent('''
    import sys, time, json
    import torch
    from lmlab.train import Session, iteration_batch

    torch.set_num_threads(1)
    out, max_iters, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    torch.manual_seed(0)
    data = torch.randint(0, 16, (400,), generator=torch.Generator().manual_seed(0))
    model = torch.nn.Sequential(torch.nn.Embedding(16, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)

    def step(it):
        x, y = iteration_batch(data, it, seed=7, batch_size=8, block_size=12)
        loss = torch.nn.functional.cross_entropy(model(x).view(-1, 16), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        print(f"step {it}", flush=True)
        time.sleep(delay)
        return {"loss": loss.item(), "lr": 3e-2, "tokens": x.numel()}

    def evaluate():
        model.eval()
        with torch.no_grad():
            x, y = iteration_batch(data, 10**6, seed=7, batch_size=16, block_size=12)
            loss = torch.nn.functional.cross_entropy(model(x).view(-1, 16), y.view(-1)).item()
        model.train()
        return {"val_loss": loss}

    session = Session(step, model=model, optimizer=opt, max_iters=max_iters, out=out, kind="bigram",
                      config={"vocab": 16}, checkpoint_interval=5, evaluate=evaluate, eval_interval=10,
                      progress=False, resume=True)
    result = session.fit()
    state = {"next_iter": result.next_iter, "interrupted": result.interrupted}
    print("RESULT " + json.dumps(state), flush=True)
''')


def _curve(path: Path, key: str) -> list[tuple[int, float]]:
    history = History(load_checkpoint(path)["history"])
    xs, ys = history.series(key)
    return list(zip(xs, ys, strict=True))


def _run(script: Path, out: Path, max_iters: int, delay: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), str(out), str(max_iters), str(delay)],
                          capture_output=True, text=True, timeout=120, env=_env())


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_sigint_then_resume_repeats_the_uninterrupted_loss_curve(tmp_path):
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    max_iters = 40

    # 1) uninterrupted reference run
    ref = _run(script, tmp_path / "ref", max_iters, 0.0)
    assert ref.returncode == 0, ref.stderr

    # 2) the same run, sent SIGINT (what Ctrl-C and Jupyter's "interrupt kernel" send) mid-training
    out = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(max_iters), "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    for line in proc.stdout:
        if line.strip() == "step 17":
            proc.send_signal(signal.SIGINT)
            break
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr  # a clean stop, not a KeyboardInterrupt traceback
    cut = json.loads(stdout.split("RESULT ", 1)[1])
    assert cut["interrupted"] and 18 <= cut["next_iter"] < max_iters
    assert "interrupted cleanly" in stdout
    assert "Traceback" not in stderr
    payload = load_checkpoint(out)
    assert payload["extra"]["next_iter"] == cut["next_iter"]  # the checkpoint holds the interrupted state
    assert payload["optimizer"] is not None

    # 3) resume in a fresh process: it continues from the checkpoint to the end
    resumed = _run(script, out, max_iters, 0.0)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {out / 'ckpt.pt'} at iteration {cut['next_iter']}" in resumed.stdout
    assert json.loads(resumed.stdout.split("RESULT ", 1)[1])["next_iter"] == max_iters

    for key in ("train_loss", "val_loss"):
        got, want = _curve(out / "ckpt.pt", key), _curve(tmp_path / "ref" / "ckpt.pt", key)
        assert [i for i, _ in got] == [i for i, _ in want], key
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6, abs=1e-7), key
    a, b = load_checkpoint(out)["model"], load_checkpoint(tmp_path / "ref")["model"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def _toy(seed: int = 3):
    torch.manual_seed(seed)
    data = torch.randint(0, 10, (300,), generator=torch.Generator().manual_seed(1))
    model = torch.nn.Sequential(torch.nn.Embedding(10, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    calls = {"n": 0, "interrupt_at": None, "twice": False}

    def step(it):
        x, y = iteration_batch(data, it, seed=5, batch_size=4, block_size=8)
        loss = torch.nn.functional.cross_entropy(model(x).view(-1, 10), y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        calls["n"] += 1
        if it == calls["interrupt_at"]:
            signal.raise_signal(signal.SIGINT)
            if calls["twice"]:
                signal.raise_signal(signal.SIGINT)
        return {"loss": loss, "tokens": x.numel()}

    return model, opt, step, calls


def test_interrupt_kernel_then_fit_again_in_the_same_process(capsys):
    model, opt, step, calls = _toy()
    reference = Session(step, model=model, optimizer=opt, max_iters=30, progress=False)
    reference.fit()
    want = reference.losses()

    model, opt, step, calls = _toy()
    calls["interrupt_at"] = 11
    session = Session(step, model=model, optimizer=opt, max_iters=30, progress=False)
    first = session.fit()
    assert first.interrupted and first.next_iter == 12 and session.next_iter == 12
    assert len(session.losses()) == 12
    assert "interrupt received" in capsys.readouterr().err
    calls["interrupt_at"] = None
    second = session.fit()
    assert not second.interrupted and second.next_iter == 30
    assert session.losses() == pytest.approx(want, rel=1e-6)
    session.fit()  # already done: says so, trains nothing
    assert calls["n"] == 30 and "already trained" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_second_interrupt_stops_at_once_and_keeps_the_last_checkpoint(tmp_path, capsys):
    model, opt, step, calls = _toy()
    calls.update(interrupt_at=13, twice=True)
    session = Session(step, model=model, optimizer=opt, max_iters=30, out=tmp_path, kind="toy",
                      checkpoint_interval=5, progress=False)
    result = session.fit()
    assert result.interrupted
    assert "stopped hard" in capsys.readouterr().out
    # iteration 13's step was abandoned mid-way: the checkpoint is still the one from iteration 10
    assert load_checkpoint(tmp_path)["extra"]["next_iter"] == 10


def test_history_is_plain_data_saved_with_the_checkpoint(tmp_path):
    model, opt, step, _ = _toy()
    session = Session(step, model=model, optimizer=opt, max_iters=6, out=tmp_path, kind="toy",
                      progress=False, evaluate=lambda: {"val_loss": torch.tensor(1.5)}, eval_interval=3)
    session.fit()
    records = load_checkpoint(tmp_path)["history"]
    assert [r["iter"] for r in records if "train_loss" in r] == list(range(1, 7))
    assert [r["iter"] for r in records if "val_loss" in r] == [3, 6]
    json.dumps(records)  # plain numbers and strings only
    assert all(isinstance(r["train_loss"], float) for r in records if "train_loss" in r)


def test_a_gathered_state_is_what_every_write_saves(tmp_path):
    # a parallel plan's hooks: gather() before each write (ckpt.pt and best.pt), after_checkpoint() after
    # each ckpt.pt; the files hold what gather returned, not the session's own model
    model, opt, step, _ = _toy()
    plain = {"weight": torch.full((2, 2), 7.0)}
    calls = []

    def gather():
        calls.append("gather")
        return plain, {"state": {}, "param_groups": []}

    losses = iter([2.0, 1.0, 1.5])
    session = Session(step, model=model, optimizer=opt, max_iters=6, out=tmp_path, kind="toy",
                      checkpoint_interval=3, progress=False, gather=gather,
                      after_checkpoint=lambda: calls.append("after"),
                      evaluate=lambda: {"val_loss": next(losses)}, eval_interval=2)
    session.fit()
    # evaluations at 2 (best), 4 (best), 6 (not); checkpoints at 3 and at the end
    assert calls[:5] == ["gather", "gather", "after", "gather", "gather"]
    assert calls[-2:] == ["gather", "after"]
    for name in ("ckpt.pt", "best.pt"):
        payload = load_checkpoint(tmp_path / name)
        assert payload["model"].keys() == {"weight"} and payload["model"]["weight"].eq(7.0).all()
        assert payload["optimizer"] == {"state": {}, "param_groups": []}
    assert load_checkpoint(tmp_path / "best.pt")["extra"]["next_iter"] == 4


def test_one_clock_times_the_steps_for_the_loop_the_budget_and_the_session():
    import itertools

    ticks = itertools.count()  # each reading one second later: a step (two readings) takes exactly 1 s
    session = Session(lambda it: {"loss": 1.0}, model=torch.nn.Linear(1, 1), max_iters=10, time_budget_s=4.0,
                      clock=lambda: float(next(ticks)), progress=False)
    first = session.fit()
    assert first.out_of_time and first.next_iter == 4
    assert first.train_s == session.train_s == 4.0
    session.time_budget_s = 6.0  # two more seconds: the budget counts every part's seconds
    second = session.fit()
    assert second.next_iter == 6 and second.train_s == 2.0 and session.train_s == 6.0


def test_restore_refuses_another_kind(tmp_path):
    model, opt, step, _ = _toy()
    Session(step, model=model, optimizer=opt, max_iters=2, out=tmp_path, kind="toy", progress=False).fit()
    with pytest.raises(ValueError, match="'toy' checkpoint, not 'gpt'"):
        Session(step, model=model, optimizer=opt, max_iters=2, out=tmp_path, kind="gpt", resume=True)


def test_fit_keyword_api_and_time_budget():
    seen = []

    def step(it):
        seen.append(it)
        time.sleep(0.01)
        return {"loss": 1.0 / (it + 1), "tokens": 10}

    result = fit(step, max_iters=1000, time_budget_s=0.05, progress=False, log_interval=2)
    assert result.out_of_time and 0 < result.next_iter < 1000
    assert seen == list(range(result.next_iter))
    with pytest.raises(ValueError, match="start_iter=5 is past max_iters=3"):
        fit(step, max_iters=3, start_iter=5, progress=False)


def test_a_time_budgeted_bar_counts_seconds_of_training_not_iterations(capsys):
    def step(it):
        time.sleep(0.01)
        return {"loss": 1.0, "tokens": 1}

    fit(step, max_iters=100_000, time_budget_s=0.1, progress=True, log_interval=1000, desc="gpt")
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "s of training" in bar and "/0 s" in bar and "100000" not in bar  # total: the budget, 0.1 s
    assert "100%" in bar  # it ends when the budget is spent, and says so


def test_step_generator_depends_only_on_seed_and_iteration():
    a = torch.randint(100, (5,), generator=step_generator(1, 7))
    b = torch.randint(100, (5,), generator=step_generator(1, 7))
    c = torch.randint(100, (5,), generator=step_generator(1, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="block_size"):
        iteration_batch(torch.arange(5), 0, seed=1, batch_size=2, block_size=8)


def test_live_view_records_in_place_updates(monkeypatch):
    from lmlab.viz import curves

    shown = []

    class FakeHandle:
        def update(self, obj):
            shown.append(("update", obj))

    def fake_display(obj, display_id=False):
        shown.append(("display", obj))
        return FakeHandle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    view = curves.LiveView(title="toy", every_s=0.0, enabled=True, max_draw_share=None)
    model, opt, step, _ = _toy()
    fit(step, max_iters=5, live=view, progress=False, sample=lambda: "hello", sample_interval=2)
    kinds = [k for k, _ in shown]
    assert kinds.count("display") == 2  # one image, one status line + sample: created once ...
    assert kinds.count("update") == 2 * 5  # ... then updated in place: 4 more steps and the close
    texts = [o.data for _, o in shown if isinstance(getattr(o, "data", None), str)]
    assert texts[-1].startswith("live view · iteration 5 · train loss ")
    assert "sample at iteration 5:\nhello" in texts[-1]  # the final sample, at the end of training
    png = [o for _, o in shown if hasattr(o, "data") and isinstance(o.data, bytes)][-1].data
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 80_000


def test_live_view_leaves_a_static_png_behind(tmp_path):
    from lmlab.viz.curves import LiveView

    view = LiveView(title="toy", enabled=False, path=str(tmp_path / "curves.png"))
    model, opt, step, _ = _toy()
    fit(step, max_iters=4, live=view, progress=False)
    data = (tmp_path / "curves.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 100_000


KERNEL_SETUP = '''
import time, torch
from lmlab.train import Session

def make():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([w], lr=0.1)

    def step(it):
        target = torch.randn(3)  # torch randomness: re-seeded per step from (seed, it)
        loss = ((w - target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        time.sleep(0.03)
        if it == 20:
            print("RUNNING", flush=True)
        return {"loss": loss.item()}

    return Session(step, model=torch.nn.ParameterList([w]), optimizer=opt, max_iters=150, progress=False)
'''


@pytest.mark.slow
def test_jupyter_interrupt_kernel_then_fit_again_resumes_the_same_curve(tmp_path):
    """The real thing: a Jupyter kernel, its "interrupt kernel" (via jupyter_client), then fit() again."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env={**_env(), "HOME": str(tmp_path)})

    def run(code: str, *, interrupt: bool = False) -> str:
        msg_id = kc.execute(code)
        out = []
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
                if interrupt and "RUNNING" in content["text"]:
                    km.interrupt_kernel()  # what the ■ button does: SIGINT to the kernel, mid-training
                    interrupt = False
            elif kind == "error":
                out.append(f"ERROR {content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)

    try:
        run(KERNEL_SETUP)
        run("ref = make(); ref.fit()")
        text = run("s = make(); r = s.fit(); print('STOPPED', r.next_iter, r.interrupted)", interrupt=True)
        assert "ERROR" not in text and "interrupted cleanly" in text, text
        stopped = int(text.split("STOPPED ")[1].split()[0])
        assert 20 < stopped < 150
        text = run("r = s.fit(); print('DONE', r.next_iter, s.losses() == ref.losses(), len(s.losses()))")
        assert "DONE 150 True 150" in text, text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_live_view_draws_less_often_when_drawing_is_slow(monkeypatch):
    from lmlab.viz import curves

    view = curves.LiveView(every_s=1.0, enabled=True, max_draw_share=0.1)
    drawn = []
    monkeypatch.setattr(view, "_show", lambda history, samples: drawn.append(1))
    view.draw_s, view._last = 0.5, time.monotonic() - 2.0  # 2 s since a draw that took 0.5 s
    view.update(History())
    assert drawn == []  # 0.5 s of drawing needs 4.5 s of training in between
    view._last = time.monotonic() - 5.0
    view.update(History())
    assert drawn == [1]


def test_each_iteration_is_checkpointed_once_and_the_last_after_its_evaluation():
    writes, evals = [], []

    def evaluate():
        evals.append(len(writes))
        return {"val_loss": 1.0}

    fit(lambda it: {"loss": 1.0}, max_iters=10, history=History(), progress=False, checkpoint=writes.append,
        checkpoint_interval=5, evaluate=evaluate, eval_interval=5)
    assert writes == [5, 10]  # not 10 twice (under FSDP each write is a gather and a dcp/ copy)
    assert evals[-1] == 1  # the final evaluation comes before the final write

"""fit's progress display: a bar that redraws in a terminal, a plain line now and then in a file or CI log."""

import io

from lmlab.train import fit, progress
from lmlab.train.progress import LINE_INTERVAL_S, LineProgress, progress_bar


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_file_gets_a_line_at_start_every_interval_and_at_the_end():
    clock, out = FakeClock(), io.StringIO()
    bar = progress_bar(800, desc="train", stream=out, clock=clock)
    assert isinstance(bar, LineProgress)
    for _ in range(800):  # 8 steps a second for 100 s: tqdm would redraw about 1,000 times
        clock.t += 0.125
        bar.update(1)
    bar.close()
    bar.close()  # closing twice writes nothing more
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 1 + int(100 // LINE_INTERVAL_S) + 1  # start, at 30/60/90 s, end
    assert lines[0].startswith("train: 0/800 iterations (0%)")
    assert lines[1] == "train: 240/800 iterations (30%) [00:30<01:10,  8.00it/s]"
    assert lines[-1] == "train: 800/800 iterations (100%) [01:40<00:00,  8.00it/s]"


def test_a_resumed_run_counts_its_rate_from_where_it_resumed():
    clock, out = FakeClock(), io.StringIO()
    bar = progress_bar(1000, initial=500, desc="gpt", stream=out, clock=clock)
    clock.t += LINE_INTERVAL_S
    bar.update(300)  # 10 it/s since the resume, so 20 s left
    assert out.getvalue().splitlines()[1] == "gpt: 800/1000 iterations (80%) [00:30<00:20, 10.00it/s]"


def test_a_terminal_gets_tqdms_bar_and_disable_shows_nothing():
    term = Terminal()
    bar = progress_bar(50, desc="train", stream=term, clock=FakeClock())
    assert not isinstance(bar, LineProgress)
    for _ in range(50):
        bar.update(1)
    bar.close()
    assert "\r" in term.getvalue()
    quiet = io.StringIO()
    bar = progress_bar(50, desc="train", stream=quiet, disable=True)
    bar.update(50)
    bar.close()
    assert quiet.getvalue() == ""


def test_fit_writes_lines_to_a_captured_stderr(monkeypatch, capsys):
    clock = FakeClock()
    monkeypatch.setattr(progress, "now", clock)

    def step(it):
        clock.t += 1.0  # one second a step
        return {"loss": 1.0 / (it + 1), "tokens": 10}

    fit(step, max_iters=100, evaluate=lambda: {"val_loss": 0.5}, eval_interval=50, desc="seq2seq")
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines)
    assert len(lines) == 5  # start, 30 s, 60 s, 90 s, end
    assert lines[0].startswith("seq2seq: 0/100 iterations")
    assert lines[-1].startswith("seq2seq: 100/100 iterations (100%)") and "val_loss=0.500" in lines[-1]


def test_fit_with_a_time_budget_counts_seconds_in_its_lines(monkeypatch, capsys):
    monkeypatch.setattr(progress, "now", FakeClock())
    fit(lambda it: {"loss": 1.0}, max_iters=3, time_budget_s=60.0, desc="lstm")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all("s of training" in line for line in lines)
    assert lines[0].startswith("lstm: 0/60 s of training (0%)")


def test_the_lines_speak_the_learners_language(monkeypatch):
    monkeypatch.setenv("LMLAB_LANG", "zh")
    clock, out = FakeClock(), io.StringIO()
    bar = progress_bar(100, desc="gpt", stream=out, clock=clock)
    clock.t += 10
    bar.update(100)
    bar.close()
    assert out.getvalue().splitlines()[-1] == "gpt：第 100/100 轮迭代（100%）[00:10<00:00, 10.00it/s]"
    out = io.StringIO()
    progress_bar(60.0, desc="lstm", counts="seconds", stream=out, clock=clock).close()
    assert out.getvalue().startswith("lstm：训练 0/60 秒（0%）")

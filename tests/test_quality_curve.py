"""06's quality curve (``lmlab.models.seq2seq.curve``): scored after every stage, the last model saved, and an
interrupted curve goes on from its last checkpoint keeping its finished stages (``lmlab prepare`` resumes so),
saying where it is while it trains."""

from __future__ import annotations

import json

import pytest

from lmlab.models.seq2seq import curve as C

PAIRS = [("白日依山盡", "黃河入海流"), ("春眠不覺曉", "處處聞啼鳥"), ("床前明月光", "疑是地上霜"),
         ("舉頭望明月", "低頭思故鄉"), ("明月松間照", "清泉石上流")]
STAGES = {"iters": (10, 20, 40)}  # notebook 06's smoke stages


@pytest.fixture
def couplets(tmp_path):
    from lmlab.models.seq2seq import Seq2SeqVocab, load_couplets

    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(f"{a}\t{b}" for a, b in PAIRS * 12), encoding="utf-8")
    data = load_couplets(path)
    return data, Seq2SeqVocab.fit([s for p in data.train for s in p])


def _curve(couplets, out, **options):
    data, vocab = couplets
    stages = options.pop("stages", STAGES)
    return C.quality_curve(data, vocab, out, preset="smoke", stages=stages, test_lines=100, **options)


def _scores(metrics):
    """The curve without its clock readings (seconds differ from run to run; the scores must not)."""
    stages = json.loads(json.dumps(metrics["stages"]))  # as prepared.json holds them (tuples as lists)
    return [{k: v for k, v in s.items() if k not in ("train_s", "minutes")} for s in stages]


class StopAt:
    """A live view that presses Ctrl-C twice (a hard stop: no checkpoint) at the ``at``-th training step."""

    def __init__(self, at):
        self.at, self.steps = at, 0

    def update(self, history, samples):
        self.steps += 1
        if self.steps == self.at:
            raise KeyboardInterrupt

    def close(self, history, samples):
        pass


def test_the_curve_scores_every_stage_and_saves_the_last_model(tmp_path, couplets, one_torch_thread):
    from lmlab.models.seq2seq.translate import load_translator

    metrics = _curve(couplets, tmp_path / "run")
    assert [s["iters"] for s in metrics["stages"]] == list(STAGES["iters"])
    for s in metrics["stages"]:
        for name in ("free", "rules"):
            lo, hi = s[name]["chrf_ci"]
            assert lo <= s[name]["chrf"] <= hi
    assert all(len(e.split(" → ")[1]) == len(e.split(" → ")[0]) for e in metrics["examples"])  # the mask
    assert {"lookup_table", "nearest_pair", "copy_source", "reference"} <= set(metrics["baselines"])
    assert load_translator(tmp_path / "run")[0] is not None


def test_an_interrupted_curve_goes_on_from_its_last_checkpoint_and_keeps_finished_stages(
        tmp_path, couplets, monkeypatch, one_torch_thread):
    whole = _curve(couplets, tmp_path / "whole", resume=True)
    out = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        _curve(couplets, out, resume=True, live=StopAt(30))  # inside stage 3
    saved = json.loads((out / C.STAGES_FILE).read_text(encoding="utf-8"))
    assert [s["iters"] for s in saved["stages"]] == [10, 20]  # the finished stages' scores are kept ...
    assert (out / "stage-1.pt").exists() and (out / "stage-2.pt").exists()  # ... and their models
    assert not (out / "stage-3.pt").exists()

    scored = []
    score = C.score_stage
    monkeypatch.setattr(C, "score_stage", lambda *a, **k: scored.append(1) or score(*a, **k))
    resumed = _curve(couplets, out, resume=True, live=StopAt(10**9))
    assert len(scored) == 1  # only stage 3 was trained and scored again, from the checkpoint at step 20
    assert _scores(resumed) == _scores(whole)  # the same curve as a run never interrupted
    assert (out / "stage-3.pt").exists()

    fresh = _curve(couplets, out)  # resume=False
    assert len(scored) == 4 and _scores(fresh) == _scores(whole)  # starts again from scratch


def test_the_curve_says_which_stage_it_is_in_at_least_every_30_s_in_a_log(tmp_path, couplets, monkeypatch,
                                                                        capsys, one_torch_thread):
    from lmlab.train import progress

    clock = iter(range(0, 10**6, 31))  # a fake clock: 31 s pass between any two readings
    monkeypatch.setattr(progress, "now", lambda: float(next(clock)))
    _curve(couplets, tmp_path / "a", progress=True)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()  # stderr is no terminal here: whole lines, not a redrawn bar
    for k, end in enumerate(STAGES["iters"], 1):
        assert any(f"stage {k} of 3" in line and f"/{end} iterations" in line for line in lines), lines
    assert sum("stage 3 of 3" in line for line in lines) > 3  # a line at every 31 s step of the clock
    assert "stage 3 of 3: 40 steps" in captured.out and "scoring the baselines" in captured.out

    _curve(couplets, tmp_path / "b", progress=True, stages={"seconds": (0.2, 0.4)})  # a time budget
    lines = capsys.readouterr().err.splitlines()
    assert any("stage 2 of 2 (" in line and "s of training" in line for line in lines), lines

"""``lmlab prepare`` goes on where it stopped, inside a long job too (06's quality curve keeps each finished
stage and resumes an interrupted one from its last checkpoint), and says where it is while it trains."""

from __future__ import annotations

import json

import pytest

from lmlab.cli import main
from lmlab.prepared import JOBS, Job, find_prepared, register, run_dir

PAIRS = [("白日依山盡", "黃河入海流"), ("春眠不覺曉", "處處聞啼鳥"), ("床前明月光", "疑是地上霜"),
         ("舉頭望明月", "低頭思故鄉"), ("明月松間照", "清泉石上流")]


@pytest.fixture
def couplets(tmp_path):
    from lmlab.models.seq2seq import Seq2SeqVocab, load_couplets

    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(f"{a}\t{b}" for a, b in PAIRS * 12), encoding="utf-8")
    data = load_couplets(path)
    return data, Seq2SeqVocab.fit([s for p in data.train for s in p])


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


def test_an_interrupted_curve_goes_on_from_its_last_checkpoint_and_keeps_finished_stages(
        tmp_path, couplets, monkeypatch, one_torch_thread):
    from lmlab.cli import prepare_seq2seq
    from lmlab.prepared import CURVE_STAGES

    whole, _ = prepare_seq2seq.quality_curve_job("smoke", couplets, "pairs", tmp_path / "whole", "cpu",
                                                 resume=True)
    assert [s["iters"] for s in whole["stages"]] == list(CURVE_STAGES["smoke"]["iters"])  # 10, 20, 40

    out = tmp_path / "stopped"
    monkeypatch.setattr(prepare_seq2seq, "live_recorder", lambda title, path: StopAt(30))  # inside stage 3
    with pytest.raises(KeyboardInterrupt):
        prepare_seq2seq.quality_curve_job("smoke", couplets, "pairs", out, "cpu", resume=True)
    saved = json.loads((out / prepare_seq2seq.STAGES_FILE).read_text(encoding="utf-8"))
    assert [s["iters"] for s in saved["stages"]] == [10, 20]  # the finished stages' scores are kept ...
    assert (out / "stage-1.pt").exists() and (out / "stage-2.pt").exists()  # ... and their models
    assert not (out / "stage-3.pt").exists()

    scored = []
    score = prepare_seq2seq.score_stage
    monkeypatch.setattr(prepare_seq2seq, "score_stage", lambda *a, **k: scored.append(1) or score(*a, **k))
    monkeypatch.setattr(prepare_seq2seq, "live_recorder", lambda title, path: StopAt(10**9))
    resumed, _ = prepare_seq2seq.quality_curve_job("smoke", couplets, "pairs", out, "cpu", resume=True)
    assert len(scored) == 1  # only stage 3 was trained and scored again, from the checkpoint at step 20
    assert _scores(resumed) == _scores(whole)  # the same curve as a run never interrupted
    assert (out / "stage-3.pt").exists()

    fresh, _ = prepare_seq2seq.quality_curve_job("smoke", couplets, "pairs", out, "cpu")  # resume=False
    assert len(scored) == 4 and _scores(fresh) == _scores(whole)  # starts again from scratch


def test_an_interrupted_couplet_model_goes_on_from_its_checkpoint(tmp_path, couplets, monkeypatch, capsys,
                                                                   one_torch_thread):
    from lmlab.cli import prepare_seq2seq
    from lmlab.models.seq2seq.trainer import PRESETS

    out = tmp_path / "run"
    out.mkdir()
    monkeypatch.setattr(prepare_seq2seq, "live_recorder", lambda title, path: StopAt(30))
    with pytest.raises(KeyboardInterrupt):  # never a finished run: prepare records nothing
        prepare_seq2seq.transformer_job("smoke", couplets, "pairs", out, "cpu", resume=True)
    monkeypatch.setattr(prepare_seq2seq, "live_recorder", lambda title, path: StopAt(10**9))
    capsys.readouterr()
    metrics, samples = prepare_seq2seq.transformer_job("smoke", couplets, "pairs", out, "cpu", resume=True)
    assert "resumed from" in capsys.readouterr().out  # from the checkpoint at step 20, not from scratch
    assert metrics["iters"] == PRESETS["smoke"]["max_iters"] and samples


def test_the_curve_says_which_stage_it_is_in_at_least_every_30_s_in_a_log(tmp_path, couplets, monkeypatch,
                                                                        capsys, one_torch_thread):
    from lmlab.cli import prepare_seq2seq
    from lmlab.prepared import CURVE_STAGES
    from lmlab.train import progress

    clock = iter(range(0, 10**6, 31))  # a fake clock: 31 s pass between any two readings
    monkeypatch.setattr(progress, "now", lambda: float(next(clock)))
    prepare_seq2seq.quality_curve_job("smoke", couplets, "pairs", tmp_path / "a", "cpu", progress=True)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()  # stderr is no terminal here: whole lines, not a redrawn bar
    for k, end in enumerate(CURVE_STAGES["smoke"]["iters"], 1):
        assert any(f"stage {k} of 3" in line and f"/{end} iterations" in line for line in lines), lines
    assert sum("stage 3 of 3" in line for line in lines) > 3  # a line at every 31 s step of the clock
    assert "stage 3 of 3: 40 steps" in captured.out and "scoring the baselines" in captured.out

    monkeypatch.setitem(CURVE_STAGES, "smoke", {"seconds": (0.2, 0.4)})  # a time budget: seconds, not steps
    prepare_seq2seq.quality_curve_job("smoke", couplets, "pairs", tmp_path / "b", "cpu", progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert any("stage 2 of 2 (" in line and "s of training" in line for line in lines), lines


def _fake_data(preset):
    return "abc", "fake_corpus"


def test_prepare_resumes_an_unfinished_run_of_the_same_settings_only(isolated_data, tmp_path, monkeypatch,
                                                                      capsys):
    from lmlab.cli import prepare

    seen = []

    def staged(preset, text, corpus, out, device):
        seen.append((out / "part1").exists())
        if not (out / "part1").exists():
            (out / "part1").write_text("done")
            raise KeyboardInterrupt  # stopped after its first part
        return {"val_loss": 0.5}, []

    jobs = dict(JOBS)
    monkeypatch.setattr("lmlab.prepared.JOBS", jobs)
    monkeypatch.setattr("lmlab.cli.prepare.JOBS", jobs)
    monkeypatch.setattr(prepare, "TRAIN", {**prepare.TRAIN, "09_staged": (_fake_data, staged)})
    monkeypatch.setattr(prepare, "RESUMES", {*prepare.RESUMES, "09_staged"})
    size = {"size": 1}
    register(Job("09_staged", "09_fake", "a staged job", lambda preset: dict(size)))
    dest = tmp_path / "mirror"
    argv = ["prepare", "09_staged", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]
    assert main(argv) == 130  # Ctrl-C: one line, no traceback
    assert "09_staged (a staged job, fake_corpus): interrupted after" in capsys.readouterr().err
    assert main(argv) == 0
    assert seen == [False, True]  # the second run found the first part
    assert "09_staged (a staged job, fake_corpus): resuming the unfinished run" in capsys.readouterr().out
    record = json.loads((run_dir(dest, "smoke", "09_staged") / "prepared.json").read_text(encoding="utf-8"))
    assert record["cost"]["device"] == "cpu" and record["cost"]["wall_s"] >= 0 and record["cost"]["resumed"]

    (run_dir(dest, "smoke", "09_staged") / "prepared.json").unlink()
    size["size"] = 2  # other settings: the unfinished folder is not theirs, so it starts from scratch
    assert main(argv) == 130 and seen[-1] is False
    assert main([*argv, "--force"]) == 130 and seen[-1] is False  # --force never resumes (part1 is gone)


def test_a_run_its_trainer_says_was_interrupted_is_not_recorded(isolated_data, tmp_path, monkeypatch, capsys):
    from lmlab.cli import prepare

    def stopped(preset, text, corpus, out, device):  # as train_gpt returns after a clean Ctrl-C
        return {"val_loss": 0.5, "stopped": "interrupted"}, []

    jobs = dict(JOBS)
    monkeypatch.setattr("lmlab.prepared.JOBS", jobs)
    monkeypatch.setattr("lmlab.cli.prepare.JOBS", jobs)
    monkeypatch.setattr(prepare, "TRAIN", {**prepare.TRAIN, "09_stopped": (_fake_data, stopped)})
    register(Job("09_stopped", "09_fake", "a job", lambda preset: {"size": 1}))
    dest = tmp_path / "mirror"
    assert main(["prepare", "09_stopped", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]) == 130
    assert "interrupted after" in capsys.readouterr().err
    assert not (run_dir(dest, "smoke", "09_stopped") / "prepared.json").exists()


def test_a_cut_short_record_is_reported_and_retrained(isolated_data, tmp_path, monkeypatch, capsys):
    from lmlab.cli import prepare

    def train(preset, text, corpus, out, device):
        return {"val_loss": 0.5}, []

    jobs = dict(JOBS)
    monkeypatch.setattr("lmlab.prepared.JOBS", jobs)
    monkeypatch.setattr("lmlab.cli.prepare.JOBS", jobs)
    monkeypatch.setattr(prepare, "TRAIN", {**prepare.TRAIN, "09_cut": (_fake_data, train)})
    register(Job("09_cut", "09_fake", "a job", lambda preset: {"size": 1}))
    dest = tmp_path / "mirror"
    argv = ["prepare", "09_cut", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]
    assert main(argv) == 0
    record = run_dir(dest, "smoke", "09_cut") / "prepared.json"
    record.write_text(record.read_text(encoding="utf-8")[:40], encoding="utf-8")  # a copy broken off
    capsys.readouterr()

    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    assert find_prepared("09_cut", "smoke", corpus="fake_corpus") is None
    said = capsys.readouterr().out.strip()
    assert said.count("\n") == 0 and str(record) in said and "cut short" in said
    assert "lmlab prepare 09_cut --preset smoke" in said  # the value and the fix, on one line
    monkeypatch.delenv("LMLAB_DATA_DIR")

    assert main([*argv, "--list"]) == 0
    assert f"{record} cannot be read" in capsys.readouterr().out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cut short or edited: training it again" in out and "1 trained" in out
    assert json.loads(record.read_text(encoding="utf-8"))["hash"]


def test_an_unknown_run_name_is_one_line_naming_it_and_the_choices(isolated_data, tmp_path, capsys):
    assert main(["prepare", "06_quality_curv", "--dest", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'06_quality_curv'" in err and "06_quality_curve" in err
    assert "lmlab prepare --list" in err

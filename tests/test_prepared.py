"""Prepared runs are a cache (``lmlab.prepared.cached``): a training cell names its run and hands over its
configuration and its fit; a run of exactly that configuration is loaded and said so in one line, a stale
or unreadable one is reported in one line and trained here, and ``lmlab prepare`` (``$LMLAB_PREPARE_INTO``)
trains each run into the mirror, writes ``prepared.json`` last and goes on with an unfinished one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lmlab.prepared import (
    PREPARE_ENV,
    RECORD,
    STARTED,
    cached,
    config_hash,
    find_checkpoint,
    lookup,
    read_log,
    resolved_config,
    run_dir,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"hidden": 64, "max_iters": 30, "device": "cpu"}  # "device": where, not what: never hashed


class Fit:
    """A fit that counts its calls and leaves a checkpoint and metrics.json in its folder."""

    def __init__(self, metrics=None):
        self.calls, self.outs, self.metrics = 0, [], metrics or {"val_loss": 1.5, "train_s": 12.0}

    def __call__(self, out):
        self.calls += 1
        self.outs.append(Path(out))
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "ckpt.pt").write_bytes(b"weights")
        return dict(self.metrics)


@pytest.fixture
def lesson(isolated_data, tmp_path, monkeypatch):
    """A student's laptop (an empty cache, no mirror) in a notebook folder of its own."""
    monkeypatch.chdir(tmp_path)
    for name in (PREPARE_ENV, "LMLAB_RETRAIN", "LMLAB_LANG", "LMLAB_PREPARED_LOG"):
        monkeypatch.delenv(name, raising=False)
    return isolated_data


def _prepare(monkeypatch, into, name="02_demo", config=CONFIG, fit=None, **options):
    monkeypatch.setenv(PREPARE_ENV, str(into))
    try:
        return cached(name, config, preset="smoke", corpus="demo", fit=fit or Fit(), **options)
    finally:
        monkeypatch.delenv(PREPARE_ENV)


def test_the_key_is_the_resolved_configuration_and_not_where_it_trains():
    a = resolved_config("02_demo", CONFIG, preset="smoke", corpus="demo")
    b = resolved_config("02_demo", {**CONFIG, "device": "cuda", "threads": 8}, preset="smoke", corpus="demo")
    assert config_hash(a) == config_hash(b) and "device" not in a
    assert config_hash(a) != config_hash({**a, "max_iters": 31})
    assert config_hash({"x": 1, "y": [1, 2]}) == config_hash({"y": (1, 2), "x": 1})  # key order, tuples

    from dataclasses import dataclass

    @dataclass
    class Config:
        hidden: int = 64
        max_iters: int = 30
        precision: str = "bf16"

    assert resolved_config("02_demo", Config(), preset="smoke", corpus="demo") == a


def test_the_hash_of_a_class_run_prepared_before_the_cache_is_unchanged():
    """The class runs prepared by the old job table (hours of training) keep their key: 06's quality curve,
    built as notebook 06's cell builds it, hashes to what its prepared.json recorded."""
    from lmlab import __version__
    from lmlab.models.seq2seq.trainer import PRESETS
    from lmlab.presets import preset_values

    if __version__ != "0.1.0":
        pytest.skip("another lmlab version: every prepared run is stale by design")
    config = {"arch": "transformer", "seed": 0, **preset_values(PRESETS, "class"), "couplets": "middle",
              "stages": {"seconds": (300.0, 900.0, 3600.0)}, "test_lines": 500}
    if PRESETS["class"].get("dropout") != 0.3:
        pytest.skip("the class preset changed since that run: it is stale by design")
    key = config_hash(resolved_config("06_quality_curve", config, preset="class", corpus="tang_poems"))
    assert key == "2762d752dabfeeca"
    bert = {"argv": ["train", "bert", "--corpus", "CORPUS", "--preset", "class", "--time-budget", "3600",
                     "--snapshot-at", "180,600,1800"]}
    assert config_hash(resolved_config("07_bert_zh", bert, preset="class", corpus="tang_poems")) \
        == "210ba8fe2552bb45"


def test_a_lesson_trains_when_nothing_is_prepared_and_says_so(lesson, capsys):
    fit = Fit()
    run = cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=fit)
    assert fit.calls == 1 and fit.outs == [Path("runs/02_demo")]  # the notebook's own runs/ folder
    assert run.metrics == {"val_loss": 1.5, "train_s": 12.0} and not run.loaded
    assert "no prepared run of 02_demo for the smoke preset; training it here" in capsys.readouterr().out
    assert not (Path("runs/02_demo") / RECORD).exists()  # a lesson's run is no prepared run


def test_prepare_trains_into_the_mirror_records_last_and_the_lesson_loads_it(lesson, tmp_path, monkeypatch,
                                                                               capsys):
    mirror = tmp_path / "mirror"
    fit = Fit()
    made = _prepare(monkeypatch, mirror, fit=fit)
    path = mirror / "prepared" / "smoke" / "02_demo"
    assert fit.outs == [path] and made.path == path
    record = json.loads((path / RECORD).read_text(encoding="utf-8"))
    assert record["hash"] == config_hash(resolved_config("02_demo", CONFIG, preset="smoke", corpus="demo"))
    assert record["metrics"]["val_loss"] == 1.5 and record["cost"]["wall_s"] >= 0
    said = capsys.readouterr().out
    assert f"lmlab prepare: training 02_demo in {path}" in said and "02_demo done in" in said

    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))  # the students' mirror
    again = Fit()
    run = cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=again, show=False,
                 load=lambda prep: ("loaded", prep.path, prep.metrics["val_loss"]))
    assert again.calls == 0 and run == ("loaded", path, 1.5)
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0  # one line: what it is, how long it trained, where, how to retrain
    assert line.startswith("lmlab: ✓ loaded the prepared run 02_demo (smoke preset, demo; trained 12 s")
    assert "LMLAB_RETRAIN=02_demo" in line

    monkeypatch.setenv("LMLAB_RETRAIN", "01_other,02_demo")
    cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=again)
    assert again.calls == 1
    assert "training 02_demo here (LMLAB_RETRAIN asked for it)" in capsys.readouterr().out


def test_the_changed_settings_are_named_as_the_record_holds_them():
    from lmlab.prepared import differences

    old = {"gpt": [4, 128], "grid": True, "a": 1, "b": 2, "c": 3}
    new = {"gpt": (4, 128), "a": 2, "b": 3, "c": 4, "d": "中"}
    assert differences(old, new) == "a 1 → 2, b 2 → 3, c 3 → 4 (+2)"  # gpt: a tuple is a list in JSON
    assert differences({"grid": True}, {"d": "中"}) == 'd — → "中", grid true → —'


def test_a_stale_run_says_which_setting_changed_and_trains_here(lesson, tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror)
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    capsys.readouterr()
    fit = Fit()
    cached("02_demo", {**CONFIG, "max_iters": 60}, preset="smoke", corpus="demo", fit=fit)
    said = capsys.readouterr().out.strip()
    assert fit.calls == 1 and said.count("\n") == 0
    path = mirror / "prepared" / "smoke" / "02_demo"
    assert said == (f"lmlab: the prepared run in {path} was trained with other settings (max_iters 30 → 60); "
                    "training 02_demo here")


def test_a_record_cut_short_is_named_in_one_line_and_the_lesson_goes_on(lesson, tmp_path, monkeypatch,
                                                                        capsys):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror)
    record = mirror / "prepared" / "smoke" / "02_demo" / RECORD
    record.write_text(record.read_text(encoding="utf-8")[:40], encoding="utf-8")  # a copy broken off
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    capsys.readouterr()
    fit = Fit()
    run = cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=fit)
    said = capsys.readouterr().out.strip()
    assert fit.calls == 1 and run.metrics["val_loss"] == 1.5
    assert said.count("\n") == 0 and said.startswith(f"lmlab: {record} cannot be read (JSONDecodeError")
    assert said.endswith("it was cut short or edited: training 02_demo here")


def test_a_checkpoint_cut_short_or_unloadable_is_named_and_the_lesson_goes_on(lesson, tmp_path, monkeypatch,
                                                                              capsys):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror)
    ckpt = mirror / "prepared" / "smoke" / "02_demo" / "ckpt.pt"
    assert json.loads((ckpt.parent / RECORD).read_text(encoding="utf-8"))["files"] == {"ckpt.pt": 7}
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    capsys.readouterr()
    ckpt.write_bytes(b"wei")  # a copy broken off after 3 of 7 bytes
    fit = Fit()
    cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=fit)
    said = capsys.readouterr().out.strip()
    assert fit.calls == 1
    assert said == f"lmlab: {ckpt} holds 3 of its 7 bytes; the copy was cut short: training 02_demo here"

    ckpt.write_bytes(b"weights")  # whole again, but the notebook's loader cannot read it

    def unreadable(prep):
        raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")

    run = cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=fit, load=unreadable)
    said = capsys.readouterr().out.strip()
    assert fit.calls == 2 and run == {"val_loss": 1.5, "train_s": 12.0} and said.count("\n") == 0
    assert said == (f"lmlab: the prepared run in {ckpt.parent} cannot be loaded (RuntimeError: "
                    "PytorchStreamReader failed reading zip archive: failed finding central directory): "
                    "training 02_demo here")

    monkeypatch.setenv(PREPARE_ENV, str(mirror))  # lmlab prepare trains a cut-short run again, from scratch
    ckpt.write_bytes(b"w")
    seen = []
    cached("02_demo", CONFIG, preset="smoke", corpus="demo",
           fit=lambda out: seen.append((out / "ckpt.pt").exists()))
    assert seen == [False]


def test_prepare_goes_on_with_an_unfinished_run_of_the_same_settings_only(lesson, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    path = run_dir(mirror, "smoke", "02_demo")

    class Interrupted(Fit):
        def __call__(self, out):
            super().__call__(out)
            return {"stopped": "interrupted"}  # a trainer that stopped cleanly on Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        _prepare(monkeypatch, mirror, fit=Interrupted())
    assert (path / STARTED).exists() and (path / "ckpt.pt").exists() and not (path / RECORD).exists()

    seen = []
    resumed = _prepare(monkeypatch, mirror,
                       fit=lambda out: seen.append((out / "ckpt.pt").exists()) or {"a": 1})
    assert seen == [True] and resumed.metrics == {"a": 1}  # the checkpoint was still there: it went on

    (path / RECORD).unlink()  # unfinished again, but now of other settings: start from scratch
    seen.clear()
    _prepare(monkeypatch, mirror, config={**CONFIG, "hidden": 128},
             fit=lambda out: seen.append((out / "ckpt.pt").exists()) or {"a": 2})
    assert seen == [False]


def test_resuming_tells_a_fit_whether_it_goes_on(lesson, tmp_path, monkeypatch):
    from lmlab.prepared import resuming

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ckpt.pt").write_bytes(b"")
    assert not resuming(tmp_path / "out")  # a lesson always starts afresh
    monkeypatch.setenv(PREPARE_ENV, str(tmp_path / "mirror"))
    assert resuming(tmp_path / "out") and not resuming(tmp_path / "empty")


def test_results_that_are_not_models_come_back_as_json_gives_them_either_way(lesson, tmp_path, monkeypatch):
    import numpy as np

    def scores(out):
        return {"by_length": {3: [0.5]}, "features": np.zeros((2, 2), np.float32)}

    here = cached("08_scores", {"seeds": 2}, preset="smoke", corpus="demo", fit=scores)
    prepared = _prepare(monkeypatch, tmp_path / "mirror", name="08_scores", config={"seeds": 2}, fit=scores)
    as_json = {"by_length": {"3": [0.5]}, "features": [[0.0, 0.0], [0.0, 0.0]]}
    assert here.metrics == prepared.metrics == as_json


def test_a_failed_command_stops_with_its_status(lesson):
    with pytest.raises(RuntimeError, match="02_demo: the training command failed \\(exit status 2\\)"):
        cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=lambda out: 2)


def test_runs_that_read_the_poems_keep_an_edition_folder(lesson, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror, name="02_poet", script=True)
    _prepare(monkeypatch, mirror, name="02_demo")
    monkeypatch.setenv("LMLAB_LANG", "zh")
    zh = _prepare(monkeypatch, mirror, name="02_poet", script=True)
    assert zh.path == mirror / "prepared" / "smoke" / "zh" / "02_poet"  # beside the English run, not over it
    assert (mirror / "prepared" / "smoke" / "02_poet" / RECORD).exists()
    assert run_dir(mirror, "smoke", "02_demo", script=False) == mirror / "prepared" / "smoke" / "02_demo"
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    assert lookup("02_demo", CONFIG, preset="smoke", corpus="demo").run is not None  # one run, both editions


def test_the_log_records_what_was_loaded_and_what_trained(lesson, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror)
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    monkeypatch.setenv("LMLAB_PREPARED_LOG", str(tmp_path / "log"))
    cached("02_demo", CONFIG, preset="smoke", corpus="demo", fit=Fit(), show=False)
    cached("02_other", CONFIG, preset="smoke", corpus="demo", fit=Fit())
    assert read_log(tmp_path / "log") == {"02_demo": True, "02_other": False}


def test_a_later_notebook_finds_an_earlier_ones_model_by_its_configuration(lesson, tmp_path, monkeypatch,
                                                                            capsys):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror, name="03_gpt")
    monkeypatch.setenv("LMLAB_DATA_DIR", str(mirror))
    found = find_checkpoint("03_gpt", CONFIG, preset="smoke", corpus="demo", notebook="03_transformer")
    assert found == mirror / "prepared" / "smoke" / "03_gpt"
    assert find_checkpoint("03_gpt", {**CONFIG, "hidden": 1}, preset="smoke", corpus="demo",
                           notebook="03_transformer", local=["runs/none"], env="NO_SUCH") is None
    said = capsys.readouterr().out
    assert "no trained 03_gpt found in $NO_SUCH, runs/none" in said and "is stale: other settings" in said
    assert "run notebook 03_transformer first" in said


def _lmlab(*args, env=None):
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "lmlab", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_prepare_names_a_bad_name_in_one_line(tmp_path):
    for name in ("nosuch", "06_nosuch"):
        proc = _lmlab("prepare", name, "--preset", "smoke", "--dest", str(tmp_path))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(f"lmlab: error: no notebook or prepared run called '{name}'")
        assert "06_seq2seq" in lines[0] and "00_welcome" not in lines[0]  # the notebooks that train
    assert not (tmp_path / "prepared").exists()


def test_prepare_chooses_notebooks_by_name_number_or_run(tmp_path):
    from lmlab.cli.prepare import choose, training_notebooks

    folder = ROOT / "notebooks"
    trains = [p.stem for p in training_notebooks(folder)]
    assert trains[0] == "01_word2vec" and "06_seq2seq" in trains
    assert "00_welcome" not in trains and "04_attention" not in trains  # they train nothing of their own
    assert [p.stem for p in training_notebooks(folder / "zh")] == trains  # the twins train the same runs
    assert choose(["06"], folder) == ([folder / "06_seq2seq.ipynb"], [])
    assert choose(["06_quality_curve", "02_lstm"], folder) == (
        [folder / "06_seq2seq.ipynb", folder / "02_lstm.ipynb"], ["06_quality_curve"])


def test_prepare_lists_the_prepared_runs_of_each_notebook(lesson, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    _prepare(monkeypatch, mirror, name="02_lstm_shakespeare")
    broken = run_dir(mirror, "smoke", "06_quality_curve")
    broken.mkdir(parents=True)
    (broken / RECORD).write_text("{", encoding="utf-8")
    proc = _lmlab("prepare", "--list", "--preset", "smoke", "--dest", str(mirror))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "02_lstm: 1 run(s)" in out and "02_lstm_shakespeare: prepared" in out and "trained 12 s" in out
    assert "01_word2vec: no run(s)" in out
    assert "06_quality_curve" in out and "cannot be read" in out


def test_prepare_reads_the_corpora_of_its_dest_mirror_unless_told_otherwise(tmp_path):
    """`lmlab data fetch --all --dest D` then `lmlab prepare --dest D`: the notebooks read D's corpora (what
    the students will read), not the cache's or a fallback; an explicit LMLAB_DATA_DIR still wins."""
    import nbformat

    folder, mirror, seen = tmp_path / "notebooks", tmp_path / "mirror", tmp_path / "seen.txt"
    folder.mkdir()
    cell = ("import os  # a lesson that trains would call cached(...)\n"
            "open(os.environ['SEEN'], 'w').write(os.environ.get('LMLAB_DATA_DIR', ''))")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nbformat.write(notebook, folder / "01_tiny.ipynb")
    env = {"SEEN": str(seen), "LMLAB_DATA_DIR": ""}
    proc = _lmlab("prepare", "--preset", "smoke", "--dest", str(mirror), "--notebooks", str(folder), env=env)
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text() == ""  # a new folder holds no corpora yet (and LMLAB_DATA_DIR must be a folder)
    mirror.mkdir(exist_ok=True)
    proc = _lmlab("prepare", "--preset", "smoke", "--dest", str(mirror), "--notebooks", str(folder), env=env)
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text() == str(mirror.resolve())
    other = tmp_path / "corpora"
    other.mkdir()
    proc = _lmlab("prepare", "--preset", "smoke", "--dest", str(mirror), "--notebooks", str(folder),
                  env={**env, "LMLAB_DATA_DIR": str(other)})
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text() == str(other)

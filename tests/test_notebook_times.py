"""Smoke test of ``benchmarks/notebook_times.py``: it runs a notebook both ways and reports JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_notebook_times_reports_both_modes_as_json(capsys, monkeypatch):
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    spec = importlib.util.spec_from_file_location("nb_times", ROOT / "benchmarks" / "notebook_times.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["00_welcome", "--preset", "smoke"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report))
    row = report["notebooks"]["00_welcome"]
    assert report["preset"] == "smoke" and report["target_s"] == 180
    assert row["prepared_s"] > 0 and row["fresh_s"] > 0 and "prepared_errors" not in row
    assert row["within_target"] is (row["prepared_s"] <= 180)
    assert report["prepare_s"] >= 0 and row["prepared_runs_loaded"] == 0  # 00 trains nothing worth preparing


@pytest.mark.slow
def test_notebook_times_prepares_what_a_later_notebook_reuses(capsys, monkeypatch):
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    monkeypatch.delenv("LMLAB_GPT_CKPT", raising=False)
    spec = importlib.util.spec_from_file_location("nb_times", ROOT / "benchmarks" / "notebook_times.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["04_attention", "05_scaling", "--preset", "smoke", "--mode", "prepared"])
    capsys.readouterr()
    # 04 and 05 load 03's GPT: notebook 03 is prepared for them too (its three runs), then 05's students
    assert list(report["prepare_runs_s"]) == ["03_gpt_shakespeare", "03_gpt_poems", "03_race", "05_students"]
    row = report["notebooks"]["04_attention"]
    assert row["prepared_runs_loaded"] == 1 and "prepared_errors" not in row and "fresh_s" not in row
    row = report["notebooks"]["05_scaling"]
    assert row["prepared_runs_loaded"] == 2 and "prepared_errors" not in row  # the teacher and the students

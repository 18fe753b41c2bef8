"""Smoke tests of benchmarks/bert_vs_transformers.py and bert_transfer.py at tiny sizes (no timing
asserted)."""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")


def test_benchmark_prints_both_sides_as_json(capsys):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bert_vs_transformers.py"
    spec = importlib.util.spec_from_file_location("bert_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--corpus", "random", "--vocab", "50", "--n-layer", "1", "--n-head", "2",
                       "--n-embd", "16", "--block-size", "16", "--batch-size", "2", "--steps", "2",
                       "--rounds", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    for side in ("lmlab", "transformers", "lmlab_all_positions"):
        assert report[side]["tokens_per_sec"] > 0 and len(report[side]["round_seconds"]) == 1
    assert report["ratio"] == pytest.approx(report["lmlab"]["tokens_per_sec"]
                                            / report["transformers"]["tokens_per_sec"])
    assert report["ratio_same_work"] > 0
    assert report["threads"] == 1 and report["precision"] == "fp32"


@pytest.mark.slow
def test_transfer_report_has_every_comparison(tmp_path):
    """``bert_transfer.py`` at tiny sizes: every table of notebook 07's comparisons is in its JSON report."""
    from test_benchmarks import run_benchmark

    report = run_benchmark("bert_transfer.py", "--out", str(tmp_path), "--subsets", "2", "--en-seconds", "1",
                           "--zh-seconds", "1", "--snapshot-at", "0.5", "--per-poet", "5", timeout=600)
    methods = {row["method"] for row in report["polarity"]["curve"]}
    assert {"TF-IDF", "MiniLM"} <= methods and report["poets"]["curve"], report
    assert [d["seconds"] for d in report["dose"]][0] == 0.0 and len(report["dose"]) >= 2  # random, then runs
    probe = report["layer_probe"]
    assert set(probe) == {"position in window", "position in half-line", "rhyme slot", "control task"}
    assert all(len(p["pre_trained"]) == len(p["random_init"]) > 0 for p in probe.values())

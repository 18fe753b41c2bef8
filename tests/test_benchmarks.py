"""Every script in benchmarks/ runs at tiny sizes and prints the JSON its README sentences are read from.

These are smoke tests (no timing is asserted): a changed trainer signature or a renamed metric breaks them
here instead of silently breaking the benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def run_benchmark(name: str, *args: str, timeout: float = 300) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LMLAB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def test_every_benchmark_has_a_smoke_test():
    """Each script is run by a test: here, or in its model's own test module (named as a string literal)."""
    tests = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py")}
    for script in sorted(BENCH.glob("*.py")):
        runners = [name for name, text in tests.items() if f'"{script.name}"' in text and "def test_" in text]
        assert runners, f"{script.name} has no smoke test: run it at tiny sizes from a test in tests/"


@pytest.fixture
def shakespeare_like(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
                    * 300, encoding="utf-8")
    return path


def test_gpt_vs_nanogpt_reports_same_optimizer_and_both_ratios(shakespeare_like):
    report = run_benchmark("gpt_vs_nanogpt.py", "--corpus", str(shakespeare_like), "--n-layer", "1",
                           "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--batch-size", "2",
                           "--max-iters", "6", "--warmup-iters", "1", "--eval-interval", "3",
                           "--eval-iters", "1", "--final-eval-iters", "1", "--rounds", "3", "--chunk", "1",
                           "--threads", "1")
    assert report["config"]["adamw"] == "default" and "the same" in report["optimizer"]
    assert report["targets"]["nanogpt_published_loss"] == 1.88
    inter = report["throughput_interleaved"]
    assert inter["rounds"] == 3 and len(inter["ratio_same_architecture_per_round"]) == 3
    assert report["tokens_per_sec_ratio"] == pytest.approx(
        inter["lmlab_tokens_per_sec"] / inter["reference_tokens_per_sec"])
    assert report["tokens_per_sec_ratio_same_architecture"] == pytest.approx(
        inter["lmlab_learned_tokens_per_sec"] / inter["reference_tokens_per_sec"])
    for side in ("reference", "lmlab", "lmlab_learned"):
        run = report[side]
        assert run["iters"] == 6 and run["wall_s"] >= run["train_s"] > 0
        assert run["val_loss_common_eval"] > 0
    assert report["tokens_per_sec_ratio_sequential_same_architecture"] == pytest.approx(
        report["lmlab_learned"]["tokens_per_sec_wall"] / report["reference"]["tokens_per_sec_wall"])


def test_gpt_vs_nanogpt_defaults_keep_nanogpt_eval_interval():
    src = (BENCH / "gpt_vs_nanogpt.py").read_text(encoding="utf-8")
    assert '("eval_interval", 250)' in src and "1.874" not in src


def test_word2vec_vs_gensim_reports_raw_and_effective_rates_for_both(tmp_path):
    pytest.importorskip("gensim")
    words = ["cat", "dog", "bird", "fish", "red", "blue", "green", "the", "a", "and"]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(words[(i * 7 + j) % 10] for j in range(12)) for i in range(200)),
                      encoding="utf-8")
    report = run_benchmark("word2vec_vs_gensim.py", "--corpus", str(corpus), "--epochs", "1", "--dim", "8",
                           "--min-count", "1", "--threads", "1", "--repeats", "2")
    assert report["raw_words"] == 200 * 12
    for system in ("lmlab", "gensim"):
        r = report[system]
        assert r["raw_words"] == 200 * 12 and len(r["runs"]) == 2
        # sub-sampling drops some of these very frequent words: effective < raw for both systems
        assert 0 < r["effective_words"] < r["raw_words"]
        for one in r["runs"]:
            assert one["raw_words_per_sec"] == pytest.approx(one["raw_words"] / one["train_s"])
            assert one["effective_words_per_sec"] == pytest.approx(one["effective_words"] / one["train_s"])
        assert "wordsim353_spearman" in r and r["vocab_size"] == 10
    assert report["raw_words_per_sec_ratio"] == pytest.approx(
        report["lmlab"]["raw_words_per_sec"] / report["gensim"]["raw_words_per_sec"])
    assert report["effective_words_per_sec_ratio"] == pytest.approx(
        report["lmlab"]["effective_words_per_sec"] / report["gensim"]["effective_words_per_sec"])
    # same vocabulary, same sub-sampling formula: lmlab's expected count (~264 here, each word keeps
    # P = 0.11) is close to gensim's drawn one (a binomial draw: about 4% spread over two runs)
    assert report["lmlab"]["effective_words"] == pytest.approx(report["gensim"]["effective_words"], rel=0.25)


def test_lstm_throughput_copies_lmlabs_optimizer_kernel(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("To be, or not to be, that is the question. Whether tis nobler in the mind\n" * 400,
                      encoding="utf-8")
    report = run_benchmark("lstm_throughput.py", "--corpus", str(corpus), "--hidden", "16", "--n-layer", "1",
                           "--block-size", "8", "--batch-size", "2", "--iters", "12", "--warmup", "2",
                           "--rounds", "2", "--val-chars", "2000", "--threads", "1")
    assert report["config"]["hidden"] == 16 and report["config"]["rounds"] == 2
    assert len(report["plain_tokens_per_sec"]) == len(report["lmlab_tokens_per_sec"]) == 2
    assert "on both sides" in report["optimizer"] and report["ratio"] > 0

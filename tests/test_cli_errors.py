"""The ``lmlab`` command's error policy, run as a user runs it (``python -m lmlab`` in a subprocess):

bad input -> one line on stderr, exit 2, no traceback (``LMLAB_DEBUG=1`` shows it); an internal error
(a RuntimeError, a bug) keeps its traceback. OSErrors are in tests/test_faults_cli.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
TEXT = "to be or not to be, that is the question.\n"


def lmlab(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "LMLAB_DEBUG"}
    full_env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", LMLAB_OFFLINE="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "lmlab", *args], capture_output=True, text=True,
                          timeout=300, env=full_env, cwd=cwd or ROOT)


def assert_one_line(proc: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    err = proc.stderr
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """A tiny GPT, a tiny LSTM and a word-vector file, written once for the module."""
    from lmlab.checkpoint import save_checkpoint
    from lmlab.models.lstm import LSTMConfig, LSTMLanguageModel
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.word2vec import WordVectors
    from lmlab.tokenizers import CharTokenizer

    root = tmp_path_factory.mktemp("ckpts")
    tok = CharTokenizer.fit(TEXT)
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    save_checkpoint(root / "gpt" / "ckpt.pt", model=gpt, config=gpt.config, kind="gpt", tokenizer=tok)
    cfg = LSTMConfig(vocab_size=tok.vocab_size, n_embd=16, hidden=16, n_layer=1)
    save_checkpoint(root / "lstm" / "ckpt.pt", model=LSTMLanguageModel(cfg), config=cfg, kind="lstm",
                    tokenizer=tok)
    words = ["king", "queen", "man", "woman", "well-known", "paris", "france"]
    WordVectors(words, torch.randn(len(words), 4).numpy()).save_word2vec_format(root / "vectors.txt")
    (root / "not_a_checkpoint.pt").write_text("hello", encoding="utf-8")
    return root


BAD_FLAGS = [
    (["--no-such-flag"], "required: COMMAND"),
    (["data", "list", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["doctor", "--verbose"], "unrecognized arguments: --verbose"),
    (["data", "fetch", "no_such_corpus"], "unknown corpus 'no_such_corpus'"),
    (["data", "fetch"], "or pass --all"),
    (["data", "fetch", "tiny_shakespeare", "--all"], "not both"),
    (["sample", "DIR", "--max-new-tokens", "many"], "invalid int value: 'many'"),
    (["viz", "attention", "minilm", "--text", "hi", "--view", "pie", "-o", "x.png"], "invalid choice: 'pie'"),
    (["train", "gpt", "--out", "o", "--pos-encoding", "alibi"], "invalid choice: 'alibi'"),
]


@pytest.mark.parametrize("args, needle", BAD_FLAGS, ids=[" ".join(a[:2]) for a, _ in BAD_FLAGS])
def test_bad_flags_are_one_line_and_exit_2(args, needle, tmp_path):
    assert_one_line(lmlab(*args, cwd=tmp_path), needle)


def in_process(capsys, *args: str, code: int = 2) -> str:
    """The same policy through ``main()`` in this process (each case above costs a torch import)."""
    from lmlab.cli import main

    assert main(list(args)) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_sample_bad_input_as_a_user_types_it(checkpoints):
    assert_one_line(lmlab("sample", str(checkpoints / "lstm"), "--temperature", "-1"), "temperature", "-1.0")


@pytest.mark.parametrize("kind", ["gpt", "lstm"])
def test_sample_bad_settings_name_the_value(checkpoints, capsys, kind):
    ckpt = str(checkpoints / kind)
    assert "temperature" in in_process(capsys, "sample", ckpt, "--temperature", "nan")
    assert "top_k=500" in in_process(capsys, "sample", ckpt, "--top-k", "500", "--max-new-tokens", "3")
    assert "top_k must be" in in_process(capsys, "sample", ckpt, "--top-k", "0")
    assert "top_p" in in_process(capsys, "sample", ckpt, "--top-p", "1.5")
    assert "top_p" in in_process(capsys, "sample", ckpt, "--top-p", "0")
    assert "max_new_tokens" in in_process(capsys, "sample", ckpt, "--max-new-tokens", "0")
    assert "--num-samples" in in_process(capsys, "sample", ckpt, "--num-samples", "0")
    line = in_process(capsys, "sample", ckpt, "--prompt", "Zebra€", "--max-new-tokens", "3")
    assert "'Z'" in line and "'€'" in line
    assert "empty" in in_process(capsys, "sample", ckpt, "--prompt", "", "--max-new-tokens", "3")


def test_sample_missing_or_foreign_checkpoint_is_one_line(checkpoints, capsys):
    assert "no checkpoint" in in_process(capsys, "sample", str(checkpoints / "nothing"))
    assert "not_a_checkpoint.pt" in in_process(capsys, "sample", str(checkpoints / "not_a_checkpoint.pt"))


def test_a_long_gpt_prompt_is_cropped_with_a_one_line_note(checkpoints):
    proc = lmlab("sample", str(checkpoints / "gpt"), "--prompt", TEXT, "--max-new-tokens", "3", "--seed", "0")
    line = assert_one_line(proc, "lmlab: note:", "using its last 16 tokens", code=0)
    assert line.startswith("lmlab: note:") and proc.stdout.startswith(TEXT)


def test_viz_bad_input_as_a_user_types_it(checkpoints, tmp_path):
    out = str(tmp_path / "x.png")
    assert_one_line(lmlab("viz", "attention", str(checkpoints / "gpt"), "--text", "to be", "--layer", "7",
                          "-o", out), "layer 7")
    assert_one_line(lmlab("viz", "embeddings", str(checkpoints / "vectors.txt"), "--words", "king,emperor",
                          "-o", out), "'emperor'")
    assert not (tmp_path / "x.png").exists()


def test_viz_bad_input_is_one_line(checkpoints, tmp_path, capsys):
    vectors = str(checkpoints / "vectors.txt")
    out = str(tmp_path / "x.png")
    assert "neither a checkpoint" in in_process(capsys, "viz", "attention", str(tmp_path / "nothing"),
                                                "--text", "hi", "-o", out)
    assert "'lstm' model" in in_process(capsys, "viz", "attention", str(checkpoints / "lstm"), "--text",
                                        "to be", "-o", out)
    assert "head 9" in in_process(capsys, "viz", "attention", str(checkpoints / "gpt"), "--text", "to be",
                                  "--view", "grid", "--head", "9", "-o", out)
    assert "x.gif" in in_process(capsys, "viz", "attention", str(checkpoints / "gpt"), "--text", "to be",
                                 "-o", "x.gif")
    assert "--max-tokens" in in_process(capsys, "viz", "attention", str(checkpoints / "gpt"), "--text",
                                        "to be", "--max-tokens", "0", "-o", out)
    assert "does not exist" in in_process(capsys, "viz", "embeddings", str(tmp_path / "none.txt"), "-o", out)
    assert "names no word" in in_process(capsys, "viz", "embeddings", vectors, "--words", ";;", "-o", out)
    assert "--top" in in_process(capsys, "viz", "embeddings", vectors, "--top", "-1", "-o", out)
    assert "a:b::c" in in_process(capsys, "viz", "embeddings", vectors, "--analogies", "man:king", "-o",
                                  str(tmp_path / "p.html"))
    assert "'duchess'" in in_process(capsys, "viz", "embeddings", vectors, "--analogies",
                                     "man:king::duchess", "-o", str(tmp_path / "p.html"))
    assert "p.jpg" in in_process(capsys, "viz", "embeddings", vectors, "-o", str(tmp_path / "p.jpg"))
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "p.html").exists()


def test_debug_shows_the_traceback(tmp_path):
    proc = lmlab("data", "fetch", "no_such_corpus", env={"LMLAB_DEBUG": "1"}, cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "no_such_corpus" in proc.stderr


def test_an_internal_error_keeps_its_traceback(tmp_path):
    """A RuntimeError (CUDA out of memory, a bug) is not bad input: the traceback is what a report needs."""
    (tmp_path / "broken_command.py").write_text(
        "def add_arguments(p):\n    pass\n\n"
        "def run(args):\n    raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB')\n",
        encoding="utf-8")
    code = ("import sys, lmlab.cli as cli\n"
            "cli.COMMANDS['broken'] = ('broken_command', 'raises like an internal error')\n"
            "sys.exit(cli.main(['broken']))\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    env.pop("LMLAB_DEBUG", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "CUDA out of memory" in proc.stderr


def _bad_train_runs(corpus: str, out: str) -> list[tuple[list[str], str]]:
    """``lmlab train ...`` with one bad value each: the line names the flag (or value) and no file appears."""
    gpt = ["train", "gpt", "--corpus", corpus, "--out", out, "--preset", "smoke"]
    lstm = ["train", "lstm", "--corpus", corpus, "--out", out, "--preset", "smoke"]
    w2v = ["train", "word2vec", "--corpus", corpus, "--out", out, "--preset", "smoke"]
    return [
        ([*gpt, "--max-iters", "0"], "max_iters must be >= 1"),
        ([*gpt, "--lr", "-1"], "lr=-1.0"),
        ([*gpt, "--n-embd", "15", "--n-head", "2"], "n_embd=15 is not divisible by n_head=2"),
        ([*gpt, "--block-size", "100000"], "--block-size below"),
        ([*gpt, "--dropout", "2"], "dropout must be in [0, 1)"),
        ([*gpt, "--device", "tpu"], "unknown device 'tpu'"),
        ([*lstm, "--max-iters", "0"], "--max-iters must be at least 1"),
        ([*lstm, "--lr", "-1"], "--lr must be a positive learning rate"),
        ([*lstm, "--grad-clip", "-1"], "--grad-clip must be a positive"),
        ([*lstm, "--time-budget", "-1"], "--time-budget must be seconds"),
        ([*lstm, "--hidden", "0"], "must be >= 1, got 0"),
        ([*lstm, "--block-size", "0"], "block_size must be >= 1"),
        ([*lstm, "--tokenizer", "morse"], "unknown LSTM tokenizer 'morse' (--tokenizer); choose one of char"),
        ([*w2v, "--dim", "0"], "dim must be at least 1"),
        ([*w2v, "--window", "0"], "window must be at least 1"),
        ([*w2v, "--sample", "-1"], "sample must be >= 0"),
        ([*w2v, "--min-count", "100000"], "lower --min-count"),
        (["train", "gpt", "--corpus", corpus + ".missing", "--out", out], "no such corpus file"),
    ]


def test_every_trainer_answers_bad_values_in_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 400, encoding="utf-8")
    out = tmp_path / "run"
    for args, needle in _bad_train_runs(str(corpus), str(out)):
        line = in_process(capsys, *args)
        assert needle in line, (args, line)
        assert not out.exists(), args  # refused before anything was written


def test_site_and_lab_bad_values_are_one_line(tmp_path, capsys):
    assert "--timeout -1" in in_process(capsys, "site", "00_welcome", "--timeout", "-1", "--out",
                                        str(tmp_path / "s"))
    assert "no notebook '99_x'" in in_process(capsys, "site", "99_x", "--out", str(tmp_path / "s"))
    assert "--port -1 is not a TCP port" in in_process(capsys, "lab", "--port", "-1")
    assert not (tmp_path / "s").exists()

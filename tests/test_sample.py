"""``lmlab sample DIR``: GPT and LSTM checkpoints, bad prompts, bad checkpoints."""

from __future__ import annotations

import pytest
import torch

from lmlab.checkpoint import save_checkpoint
from lmlab.cli import main
from lmlab.models.transformer import GPT, GPTConfig
from lmlab.tokenizers import CharTokenizer

TEXT = "to be or not to be, that is the question.\n"


@pytest.fixture
def gpt_dir(tmp_path):
    tok = CharTokenizer.fit(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    save_checkpoint(tmp_path / "ckpt.pt", model=model, config=model.config, kind="gpt", tokenizer=tok)
    return tmp_path


def test_sample_prints_prompt_and_continuation(gpt_dir, capsys):
    assert main(["sample", str(gpt_dir), "--prompt", "to be", "--max-new-tokens", "30", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("to be") and len(out.rstrip("\n")) >= 5
    assert main(["sample", str(gpt_dir), "--prompt", "to be", "--max-new-tokens", "30", "--seed", "1"]) == 0
    assert capsys.readouterr().out == out  # seeded: repeatable


def test_sample_long_prompt_is_cropped_with_a_note(gpt_dir, capsys):
    assert main(["sample", str(gpt_dir), "--prompt", TEXT, "--max-new-tokens", "5"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(TEXT)  # the whole prompt is printed; the model read its last 16 tokens
    assert err.count("\n") == 1 and err.startswith("lmlab: note:") and "using its last 16 tokens" in err


@pytest.mark.parametrize("prompt, message", [("", "prompt is empty"), ("zebra", "not in the vocabulary")])
def test_sample_bad_prompt_is_one_clear_line(gpt_dir, capsys, prompt, message):
    assert main(["sample", str(gpt_dir), "--prompt", prompt, "--max-new-tokens", "5"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sample_missing_or_foreign_checkpoint(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    save_checkpoint(tmp_path / "w2v" / "ckpt.pt", model=torch.nn.Linear(2, 2), config={"dim": 2},
                    kind="word2vec")
    assert main(["sample", str(tmp_path / "w2v")]) == 2
    assert "cannot generate text" in capsys.readouterr().err


def test_sample_dispatches_to_the_lstm(tmp_path, capsys):
    lstm = pytest.importorskip("lmlab.models.lstm")
    tok = CharTokenizer.fit(TEXT)
    config = lstm.LSTMConfig(vocab_size=tok.vocab_size, n_embd=16, hidden=16, n_layer=1)
    model = lstm.LSTMLanguageModel(config)
    save_checkpoint(tmp_path / "ckpt.pt", model=model, config=config, kind="lstm", tokenizer=tok)
    assert main(["sample", str(tmp_path), "--prompt", "to", "--max-new-tokens", "10", "--seed", "0"]) == 0
    assert capsys.readouterr().out.startswith("to")

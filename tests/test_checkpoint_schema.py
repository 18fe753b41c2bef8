"""One checkpoint schema: every trainer writes next_iter / best_loss / train_s / wall_s, and checkpoints
written by earlier trainers (GPT and BERT: iter, best_val; LSTM: best_val) still resume."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.checkpoint import load_checkpoint, open_run, run_state, save_checkpoint
from lmlab.train.engine import train

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
SCHEMA = {"next_iter", "best_loss", "train_s", "wall_s"}


def _to_old_schema(path, rename: dict[str, str]) -> None:
    """Rewrite a checkpoint's extra as an earlier trainer wrote it (new key -> old key)."""
    payload = load_checkpoint(path)
    payload["extra"] = {rename.get(k, k): v for k, v in payload["extra"].items()}
    torch.save(payload, path)


def test_run_state_reads_old_and_new_keys():
    old = run_state({"extra": {"iter": 7, "best_val": 1.5, "train_s": 2.0}})
    assert (old["next_iter"], old["best_loss"], old["train_s"], old["wall_s"]) == (7, 1.5, 2.0, 2.0)
    assert "iter" not in old and "best_val" not in old
    new = run_state({"extra": {"next_iter": 3, "best_loss": 0.5, "train_s": 1.0, "wall_s": 4.0, "vocab": {}}})
    assert (new["next_iter"], new["best_loss"], new["wall_s"], new["vocab"]) == (3, 0.5, 4.0, {})
    assert run_state({"extra": {}})["best_loss"] == math.inf


def test_open_run_is_the_one_rule(tmp_path):
    assert open_run(tmp_path, kind="gpt") is None
    with pytest.raises(FileNotFoundError, match="--resume given but there is no checkpoint"):
        open_run(tmp_path, kind="gpt", resume=True)
    save_checkpoint(tmp_path / "ckpt.pt", model=torch.nn.Linear(2, 2), config={}, kind="lstm")
    with pytest.raises(ValueError, match="already exists; pass --resume .* --overwrite"):
        open_run(tmp_path, kind="lstm")
    with pytest.raises(ValueError, match="holds a 'lstm' checkpoint, not 'gpt'"):
        open_run(tmp_path, kind="gpt", resume=True)
    with pytest.raises(ValueError, match="contradict"):
        open_run(tmp_path, kind="lstm", resume=True, overwrite=True)
    assert open_run(tmp_path, kind="lstm", overwrite=True) is None
    assert open_run(tmp_path, kind="lstm", resume=True)["kind"] == "lstm"


def _gpt(tmp_path):
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.models.transformer.trainer import TokenData, TrainConfig
    from lmlab.tokenizers import CharTokenizer

    tok = CharTokenizer.fit(TEXT)
    data = TokenData.from_text(TEXT, tok)

    def model():
        torch.manual_seed(0)
        return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16))

    def tcfg(max_iters):
        return TrainConfig(batch_size=4, max_iters=max_iters, lr=1e-3, min_lr=1e-4, warmup_iters=1,
                           lr_decay_iters=8, eval_interval=2, eval_iters=1, log_interval=1)
    return model, data, tcfg, tok


@pytest.mark.parametrize("old", [False, True], ids=["new", "old-schema"])
def test_gpt_resume_true_continues_the_checkpoint(tmp_path, old):
    from lmlab.models.transformer.trainer import GPTRecipe

    model, data, tcfg, tok = _gpt(tmp_path)

    def gpt(n, **options):
        return train(GPTRecipe(tcfg(n), data, tokenizer=tok), model=model(), progress=False, **options)

    whole = gpt(8, out=tmp_path / "whole")
    out = tmp_path / "parts"
    gpt(4, out=out)
    assert set(load_checkpoint(out)["extra"]) >= SCHEMA and "iter" not in load_checkpoint(out)["extra"]
    if old:
        _to_old_schema(out / "ckpt.pt", {"next_iter": "iter", "best_loss": "best_val"})
    with pytest.raises(ValueError, match="already exists"):
        gpt(8, out=out, overwrite=False)
    resumed = gpt(8, out=out, resume=True)
    assert resumed.next_iter == 8 and load_checkpoint(out)["extra"]["next_iter"] == 8
    assert resumed.history.series("train_loss")[1] == pytest.approx(whole.history.series("train_loss")[1])


@pytest.mark.parametrize("old", [False, True], ids=["new", "old-schema"])
def test_bert_resume_true_continues_the_checkpoint(tmp_path, old):
    from lmlab.models.bert import BertConfig, BertForMaskedLM, BertVocab
    from lmlab.models.bert.data import MLMData
    from lmlab.models.bert.trainer import BertRecipe, BertTrainConfig
    from lmlab.tokenizers import CharTokenizer

    vocab = BertVocab(CharTokenizer.fit(TEXT))
    data = MLMData.from_text(TEXT, TEXT[:400], vocab)

    def model():
        torch.manual_seed(0)
        return BertForMaskedLM(BertConfig(vocab_size=vocab.vocab_size, block_size=16, n_layer=1, n_head=2,
                                          n_embd=16, dropout=0.0, pad_token_id=vocab.pad_id))

    def tcfg(n):
        return BertTrainConfig(batch_size=4, max_iters=n, lr=1e-3, min_lr=1e-3, warmup_iters=1,
                               eval_interval=2, eval_iters=1, log_interval=1)  # one lr whatever max_iters
    def bert(n, **options):
        return train(BertRecipe(tcfg(n), data, vocab), model=model(), progress=False, **options)

    whole = bert(6, out=tmp_path / "whole")
    out = tmp_path / "parts"
    bert(4, out=out)
    assert set(load_checkpoint(out)["extra"]) >= SCHEMA
    if old:
        _to_old_schema(out / "ckpt.pt", {"next_iter": "iter", "best_loss": "best_val"})
    resumed = bert(6, out=out, resume=True)
    assert resumed.next_iter == 6 and load_checkpoint(out)["extra"]["next_iter"] == 6
    assert resumed.history.series("train_loss")[1] == pytest.approx(whole.history.series("train_loss")[1])


@pytest.mark.parametrize("old", [False, True], ids=["new", "old-schema"])
def test_lstm_checkpoints_of_either_schema_resume(tmp_path, old):
    from lmlab.models.lstm import LSTMRecipe, preset_config

    cfg = preset_config("smoke", hidden=16, block_size=8, batch_size=4, max_iters=4, eval_interval=2,
                        device="cpu", max_eval_tokens=None)
    run = train(LSTMRecipe(cfg, TEXT), out=tmp_path, progress=False)
    extra = load_checkpoint(tmp_path)["extra"]
    assert set(extra) >= SCHEMA and "best_val" not in extra
    if old:
        _to_old_schema(tmp_path / "ckpt.pt", {"best_loss": "best_val"})
    cfg.max_iters = 6
    again = train(LSTMRecipe(cfg, TEXT), out=tmp_path, progress=False, resume=True)
    assert again.metrics["iters"] == 6
    assert again.metrics["best_val_loss"] <= run.metrics["best_val_loss"]


def test_word2vec_checkpoint_has_the_schema_and_resumes(tmp_path):
    from lmlab.models.word2vec import Word2VecConfig, Word2VecRecipe, tokenize
    from lmlab.train.engine import train

    sentences = tokenize(TEXT)
    cfg = Word2VecConfig(dim=8, epochs=2, min_count=1, threads=1, backend="numba", seed=1)
    first = train(Word2VecRecipe(cfg, sentences, checkpoint_interval=1), out=tmp_path, progress=False)
    assert set(load_checkpoint(tmp_path)["extra"]) >= SCHEMA
    with pytest.raises(ValueError, match="already exists"):
        train(Word2VecRecipe(cfg, sentences), out=tmp_path, progress=False, overwrite=False)
    with pytest.raises(ValueError, match="this word2vec run is finished: all 2 epochs"):
        train(Word2VecRecipe(cfg, sentences), out=tmp_path, progress=False, resume=True)
    fresh = train(Word2VecRecipe(cfg, sentences), out=tmp_path, progress=False, overwrite=True)
    assert fresh.next_iter == first.next_iter

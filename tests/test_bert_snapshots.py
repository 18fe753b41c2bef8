"""Pre-training keeps snapshots at given training times (a dose-response curve from one run)."""

import itertools

import pytest
import torch

from lmlab.checkpoint import load_checkpoint
from lmlab.models.bert import BertConfig, BertForMaskedLM
from lmlab.models.bert.data import MLMData
from lmlab.models.bert.trainer import BertRecipe, BertTrainConfig, load_bert, snapshot_name, snapshots
from lmlab.models.bert.vocab import BertVocab
from lmlab.tokenizers import CharTokenizer
from lmlab.train.engine import train

TEXT = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n\n" * 40


def tiny_run(out, snapshot_at, max_iters=6, **kw):
    vocab = BertVocab(CharTokenizer.fit(TEXT))
    data = MLMData.from_text(TEXT, TEXT, vocab)
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=vocab.vocab_size, pad_token_id=vocab.pad_id, block_size=16,
                                       n_layer=1, n_head=2, n_embd=16))
    tcfg = BertTrainConfig(batch_size=2, max_iters=max_iters, warmup_iters=1, eval_interval=100, eval_iters=1,
                           log_interval=1, snapshot_at=snapshot_at)
    ticks = itertools.count()  # each call one second later: a step (two calls) takes exactly 1 s
    return train(BertRecipe(tcfg, data, vocab), model=model, out=out, progress=False,
                 clock=lambda: float(next(ticks)), **kw)


def test_snapshots_are_saved_when_training_time_passes_each(tmp_path):
    result = tiny_run(tmp_path, "2,3.5,100")
    assert result.train_s == pytest.approx(6.0)
    found = snapshots(tmp_path)
    assert [(t, p.name) for t, p in found] == [(2.0, "at-2s.pt"), (3.5, "at-3.5s.pt")]  # 100 s never came
    # at-2s: after the 2nd step (next_iter 2); at-3.5s: the first step that ends at or past 3.5 s is the 4th
    assert [load_checkpoint(p)["extra"]["next_iter"] for _, p in found] == [2, 4]
    assert load_checkpoint(found[0][1])["extra"]["train_s"] == pytest.approx(2.0)
    model, vocab, layout = load_bert(found[1][1])
    assert layout == "bert" and not model.training
    final = load_bert(tmp_path)[0].state_dict()
    early = load_bert(found[0][1])[0].state_dict()
    assert any(not torch.equal(final[k], early[k]) for k in final)  # a snapshot is not the last weights


def test_no_snapshots_without_times_and_bad_times_are_refused(tmp_path):
    tiny_run(tmp_path, None, max_iters=2)
    assert snapshots(tmp_path) == []
    assert snapshot_name(180.0) == "at-180s.pt"
    assert BertTrainConfig(snapshot_at=(600, 180)).snapshot_times == (180.0, 600.0)
    with pytest.raises(ValueError, match="seconds separated by commas"):
        BertTrainConfig(snapshot_at="3 min")
    with pytest.raises(ValueError, match="must be > 0"):
        BertTrainConfig(snapshot_at="0,10")


def test_cli_flag_refuses_a_bad_value_with_one_line(tmp_path, capsys):
    from lmlab.cli import main

    corpus = tmp_path / "poems.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    code = main(["train", "bert", "--corpus", str(corpus), "--max-iters", "2", "--out", str(tmp_path / "run"),
                 "--no-progress", "--device", "cpu", "--preset", "smoke", "--snapshot-at", "3 min"])
    assert code == 2
    assert "snapshot_at must be seconds separated by commas" in capsys.readouterr().err

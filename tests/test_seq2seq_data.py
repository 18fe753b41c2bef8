"""Couplet pairs: extracted from regulated lines, split by poem, deduplicated, test never in training;
user pairs files with malformed lines named; the built-in fallback offline; the vocabulary's <unk>."""

from __future__ import annotations

import pytest

from lmlab.models.seq2seq import EOS, PAD, UNK, Seq2SeqVocab, load_couplets, read_pairs
from lmlab.models.seq2seq.batches import PairTensors
from lmlab.models.seq2seq.couplets import couplets_of, split_by_poem


def test_couplets_of_keeps_equal_halves_of_five_or_seven():
    lines = ["白日依山盡，黃河入海流。", "朝辭白帝彩雲間，千里江陵一日還。", "長短不一，黃河入海流。",
             "一二三四五六，一二三四五六。", "欲窮千里目，更上一層樓！"]
    assert couplets_of(lines) == [("白日依山盡", "黃河入海流"), ("朝辭白帝彩雲間", "千里江陵一日還"),
                                  ("欲窮千里目", "更上一層樓")]


def test_split_by_poem_dedups_and_keeps_test_out_of_training():
    poems = [[(f"src{i % 7}", f"tgt{i}"), (f"own{i}", f"x{i}")] for i in range(100)]
    train, val, test = split_by_poem(poems, 0.1, 0.1, seed=3)
    sources = [a for a, _ in train]
    assert len(sources) == len(set(sources))  # deduplicated
    assert not {a for a, _ in test} & set(sources)  # a test source is never trained on
    assert not {a for a, _ in val} & set(sources)
    assert len(test) > 0 and len(val) > 0
    own = {a for a, _ in test if a.startswith("own")}  # a poem's pairs stay in one split
    assert all(f"own{i}" not in sources for i in (int(a[3:]) for a in own))


def test_builtin_fallback_offline_says_so(isolated_data, capsys):
    data = load_couplets()
    assert data.source == "builtin_poems" and "not available" in data.note
    assert "note:" in capsys.readouterr().out
    assert ("白日依山盡", "黃河入海流") in data.train + data.val + data.test
    assert data.train and data.test


def test_simplified_script(isolated_data):
    data = load_couplets(script="simplified")
    assert ("白日依山尽", "黄河入海流") in data.train + data.val + data.test
    with pytest.raises(ValueError, match="unknown script"):
        load_couplets(script="latin")


def test_pairs_file_and_malformed_lines_by_number(tmp_path):
    good = tmp_path / "good.tsv"
    good.write_text("天\t地\n雨\t風\n\n大陸\t長空\n", encoding="utf-8")
    assert read_pairs(good) == [("天", "地"), ("雨", "風"), ("大陸", "長空")]
    data = load_couplets(good)
    assert data.source == str(good) and len(data.train) >= 1
    bad = tmp_path / "bad.tsv"
    bad.write_text("天\t地\nno tab here\n雨\t\n山\t水\ta\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"3 malformed line\(s\) at line 2, 3, 4"):
        read_pairs(bad)
    with pytest.raises(FileNotFoundError, match="no pairs file"):
        read_pairs(tmp_path / "missing.tsv")
    (tmp_path / "latin1.tsv").write_bytes("caf\xe9\tx\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8"):
        read_pairs(tmp_path / "latin1.tsv")


def test_vocab_unknown_characters_and_round_trip():
    vocab = Seq2SeqVocab.fit(["白日依山盡", "黃河入海流"])
    ids = vocab.encode("白雲")
    assert ids[1] == UNK and vocab.unknown("白雲") == ["雲"]
    assert vocab.decode(vocab.encode("黃河") + [EOS] + vocab.encode("白")) == "黃河"
    assert Seq2SeqVocab.from_dict(vocab.to_dict()).encode("入海") == vocab.encode("入海")


def test_pair_tensors_shift_targets_and_pad():
    vocab = Seq2SeqVocab.fit(["天地雨風大陸長空"])
    pairs = PairTensors.from_pairs([("天", "地"), ("大陸", "長空")], vocab, max_len=8)
    src, tgt_in, tgt_out = pairs.rows(__import__("torch").arange(2))
    assert src.shape == (2, 2) and src[0, 1] == PAD
    assert tgt_in[:, 1:].tolist() == tgt_out[:, :-1].tolist()  # teacher forcing: shifted by one
    assert tgt_out[0].tolist()[-2:] == [EOS, PAD]
    with pytest.raises(ValueError, match="longer than max_len=2"):
        PairTensors.from_pairs([("大陸", "長空")], vocab, max_len=2)


def test_written_in_keeps_pairs_of_known_characters_in_every_split():
    from lmlab.models.seq2seq.couplets import CoupletData, written_in

    data = CoupletData([("天地", "雨風"), ("天雪", "地風")], [("地天", "風雨")], [("雪天", "風地")], "x")
    kept = written_in(data, set("天地雨風"))
    assert kept.train == [("天地", "雨風")] and kept.val == [("地天", "風雨")] and kept.test == []
    assert "kept the 1 of 2 training pairs" in kept.note
    with pytest.raises(ValueError, match="raise --max-vocab"):
        written_in(data, set("山"))


def test_preset_configs_follow_the_preset_and_the_data():
    from lmlab.models.seq2seq.couplets import CoupletData
    from lmlab.models.seq2seq.trainer import PRESETS, preset_configs

    data = CoupletData([("白日依山盡", "黃河入海流")], [], [("春眠不覺曉", "處處聞啼鳥")], "x")
    vocab = Seq2SeqVocab.fit(["白日依山盡黃河入海流"])
    model_cfg, tcfg = preset_configs("smoke", "rnn", vocab, data, batch_size=3)
    assert model_cfg.arch == "rnn" and model_cfg.max_len == 6 and model_cfg.vocab_size == vocab.vocab_size
    assert model_cfg.d_model == PRESETS["smoke"]["d_model"] and tcfg.batch_size == 3

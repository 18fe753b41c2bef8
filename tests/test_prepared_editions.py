"""The English and the Chinese edition share a mirror: a run that reads the Tang poems (in the edition's
script) is prepared once per edition, the Chinese one in ``prepared/PRESET/zh/``; the English path stays."""

from __future__ import annotations

import pytest

from lmlab.cli import main
from lmlab.prepared import (
    JOBS,
    Job,
    find_prepared,
    job_config,
    record_prepared,
    register,
    run_dir,
    start_from,
)


def test_only_the_runs_that_read_the_poems_get_an_edition_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LMLAB_LANG", raising=False)
    assert run_dir(tmp_path, "class", "06_quality_curve") == tmp_path / "prepared/class/06_quality_curve"
    monkeypatch.setenv("LMLAB_LANG", "zh")
    assert run_dir(tmp_path, "class", "06_quality_curve") == tmp_path / "prepared/class/zh/06_quality_curve"
    assert run_dir(tmp_path, "class", "07_bert_zh") == tmp_path / "prepared/class/zh/07_bert_zh"
    assert run_dir(tmp_path, "class", "03_gpt_shakespeare") == tmp_path / "prepared/class/03_gpt_shakespeare"
    assert run_dir(tmp_path, "class", "07_bert_en") == tmp_path / "prepared/class/07_bert_en"


def test_every_job_that_reads_the_poems_says_so():
    from lmlab.cli import prepare, prepare_bert, prepare_seq2seq

    poem_readers = {prepare.lstm_poems_corpus, prepare.gpt_poems_corpus, prepare_seq2seq.couplets,
                    prepare_bert.poems}
    for name, (data, _) in prepare.TRAIN.items():
        assert JOBS[name].script == (data in poem_readers), name


def _poems(preset):
    from lmlab.data import edition_script

    return edition_script(), "built-in poems"  # the same name in both scripts, as 07's fallback is


def _train(preset, text, corpus, out, device):
    (out / "ckpt.pt").write_text(text, encoding="utf-8")
    return {"script": text}, []


def test_preparing_the_chinese_edition_keeps_the_english_runs(isolated_data, tmp_path, monkeypatch, capsys):
    from lmlab.cli import prepare

    jobs = dict(JOBS)
    monkeypatch.setattr("lmlab.prepared.JOBS", jobs)
    monkeypatch.setattr("lmlab.cli.prepare.JOBS", jobs)
    monkeypatch.setattr(prepare, "TRAIN", {**prepare.TRAIN, "09_poet": (_poems, _train)})
    register(Job("09_poet", "09_fake", "a poet", lambda preset: {"size": 1}, script=True))
    dest = tmp_path / "mirror"
    argv = ["prepare", "09_poet", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]
    monkeypatch.delenv("LMLAB_LANG", raising=False)
    assert main(argv) == 0
    english = dest / "prepared/smoke/09_poet"
    assert (english / "ckpt.pt").read_text(encoding="utf-8") == "traditional"

    monkeypatch.setenv("LMLAB_LANG", "zh")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 trained" in out and "smoke/zh/" in out  # trained, not skipped as the English run ...
    assert (dest / "prepared/smoke/zh/09_poet/ckpt.pt").read_text(encoding="utf-8") == "simplified"
    assert (english / "ckpt.pt").read_text(encoding="utf-8") == "traditional"  # ... which is still there
    assert main(argv) == 0 and "0 trained, 1 already prepared" in capsys.readouterr().out

    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    for lang, script in (("zh", "simplified"), ("en", "traditional")):
        monkeypatch.setenv("LMLAB_LANG", lang)
        run = find_prepared("09_poet", "smoke", corpus="built-in poems", show=False)
        assert run.metrics == {"script": script}


def test_a_chinese_run_starts_from_the_chinese_run_it_needs(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_LANG", "zh")
    bert = run_dir(tmp_path, "smoke", "07_bert_zh")
    bert.mkdir(parents=True)
    record_prepared(bert, job_config("07_bert_zh", "smoke", "built-in poems"), metrics={})
    finetune = run_dir(tmp_path, "smoke", "07_finetune")
    assert start_from("07_bert_zh", finetune, "smoke", "built-in poems") == bert
    monkeypatch.delenv("LMLAB_LANG")  # the English fine-tuning finds no English pre-training
    with pytest.raises(ValueError, match="starts from the prepared 07_bert_zh"):
        start_from("07_bert_zh", run_dir(tmp_path, "smoke", "07_finetune"), "smoke", "built-in poems")

"""``lmlab prepare`` trains the notebooks' models ahead of a lesson; ``lmlab.prepared`` finds them, says so,
and trains instead when they are missing, stale or a retrain is asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.prepared import (
    DISTILL_ITERS,
    JOBS,
    POEM_SIZES,
    RACE_S,
    TANG,
    W2V_SIZES,
    WATCH,
    config_hash,
    find_checkpoint,
    find_prepared,
    job_config,
    record_prepared,
    run_dir,
)

ROOT = Path(__file__).resolve().parent.parent


def test_config_hash_ignores_key_order_and_sees_every_value():
    assert config_hash({"a": 1, "b": [2, 3]}) == config_hash({"b": [2, 3], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    smoke = job_config("03_gpt_shakespeare", "smoke", "x")
    klass = job_config("03_gpt_shakespeare", "class", "x")
    assert smoke["preset"] == "smoke" and smoke["n_layer"] and config_hash(smoke) != config_hash(klass)
    with pytest.raises(ValueError, match="no prepared job called 'nope'"):
        job_config("nope", "smoke", "x")


def _table(notebook: str, name: str) -> dict | list:
    """The ``NAME = {...}`` (or ``[...]``) table as the notebook writes it: the job must train the same."""
    source = (ROOT / "notebooks" / notebook).read_text(encoding="utf-8")
    start = source.index(f"\n{name} = ") + len(name) + 4
    opening = source[start]
    closing = {"{": "}", "[": "]"}[opening]
    depth = 0
    for end, char in enumerate(source[start:], start):
        depth += {opening: 1, closing: -1}.get(char, 0)
        if depth == 0:
            return eval(source[start:end + 1], {"dict": dict})  # noqa: S307 - our own notebook's table
    raise AssertionError(f"{name} in {notebook} has no closing bracket")


def test_the_jobs_use_the_notebooks_own_tables():
    assert _table("02_lstm.py", "POEM_SIZES") == POEM_SIZES
    assert _table("03_transformer.py", "TANG") == TANG
    assert _table("03_transformer.py", "RACE_S") == RACE_S
    assert _table("01_word2vec.py", "SIZES") == W2V_SIZES and _table("01_word2vec.py", "WATCH") == WATCH
    size = _table("05_scaling.py", "SIZE")
    assert {preset: row["distill_iters"] for preset, row in size.items()} == DISTILL_ITERS
    for job in JOBS.values():
        assert f'"{job.name}"' in (ROOT / "notebooks" / f"{job.notebook}.py").read_text(encoding="utf-8")


def test_the_jobs_of_06_to_08_use_their_notebooks_tables():
    from lmlab.cli.prepare_seq2seq import DIGITS
    from lmlab.compress.prepare import SIZES as COMPRESS_SIZES
    from lmlab.prepared import BERT_SIZES, FINETUNE, SEQ2SEQ_RUNS, reversal_sizes

    assert _table("06_seq2seq.py", "PREPARED") == SEQ2SEQ_RUNS
    names = {*SEQ2SEQ_RUNS.values(), "06_reversal", "06_quality_curve"}
    assert {j.name for j in JOBS.values() if j.notebook == "06_seq2seq"} == names
    source = (ROOT / "notebooks" / "06_seq2seq.py").read_text(encoding="utf-8")
    for preset in ("smoke", "class"):  # the reversal race's sizes, as its cell writes them
        sizes = reversal_sizes(preset)
        assert 'n_toy = 2000 if lab.preset == "smoke" else 20000' in source and sizes["n_toy"] == (
            2000 if preset == "smoke" else 20000)
        assert 'time_budget_s=90.0 if lab.preset == "class" else None' in source
        assert sizes["time_budget_s"] == (90.0 if preset == "class" else None)
    assert f'digits = "{DIGITS}"' in source and "eval_pairs=50" in source
    bert = _table("07_bert.py", "SIZE")
    assert {p: {k: row[k] for k in ("zh", "en", "gpt")} for p, row in bert.items()} == BERT_SIZES
    assert {p: {k: row[k] for k in ("per_poet", "ft_steps", "per_season", "season_counts", "n_subsets")}
            for p, row in bert.items()} == FINETUNE
    compress = _table("08_parallel_compression.py", "SIZE")
    assert {p: {k: row[k] for k in ("iters", "gpt")} for p, row in compress.items()} == COMPRESS_SIZES
    assert set(jobs_for_07()) == {"07_bert_zh", "07_bert_en", "07_gpt_zh", "07_finetune"}
    smoke, klass = job_config("07_bert_zh", "smoke", "x"), job_config("07_bert_zh", "class", "x")
    assert "--max-iters" in smoke["argv"] and config_hash(smoke) != config_hash(klass)
    assert job_config("06_rnn", "smoke", "x")["arch"] == "rnn"


def jobs_for_07() -> list[str]:
    from lmlab.prepared import jobs_for

    return jobs_for(["07_bert"])


def test_lookup_says_what_it_found(isolated_data, monkeypatch, capsys):
    monkeypatch.delenv("LMLAB_RETRAIN", raising=False)
    assert find_prepared("03_gpt_poems", "smoke", corpus="tang_poems") is None
    assert "no prepared run of 03_gpt_poems for the smoke preset; training it here" in capsys.readouterr().out

    path = run_dir(isolated_data, "smoke", "03_gpt_poems")
    path.mkdir(parents=True)
    (path / "ckpt.pt").write_bytes(b"")
    record_prepared(path, job_config("03_gpt_poems", "smoke", "tang_poems"), metrics={"val_loss": 1.5},
                    samples=["床前明月光"])
    run = find_prepared("03_gpt_poems", "smoke", corpus="tang_poems", show=False)
    out = capsys.readouterr().out
    assert run is not None and run.metrics == {"val_loss": 1.5} and run.samples == ["床前明月光"]
    assert "✓ loaded the prepared run 03_gpt_poems" in out
    assert "retrain=True" in out and "LMLAB_RETRAIN=1" in out

    assert find_prepared("03_gpt_poems", "smoke", corpus="tang_poems", retrain=True) is None
    assert "retrain=True asked for it" in capsys.readouterr().out
    monkeypatch.setenv("LMLAB_RETRAIN", "02_lstm_poems,03_gpt_poems")
    assert find_prepared("03_gpt_poems", "smoke", corpus="tang_poems") is None
    monkeypatch.delenv("LMLAB_RETRAIN")

    assert find_prepared("03_gpt_poems", "smoke", corpus="another corpus") is None  # another hash: stale
    assert "trained with other settings" in capsys.readouterr().out
    assert find_checkpoint("03_gpt_poems", "smoke", corpus="tang_poems") == path
    assert find_checkpoint("03_gpt_shakespeare", "smoke", corpus="x", local=["runs/none"],
                           env="NO_SUCH") is None
    said = capsys.readouterr().out
    assert "no trained 03_gpt_shakespeare found in $NO_SUCH, runs/none" in said
    assert "run notebook 03_transformer first" in said


@pytest.mark.slow
def test_prepare_trains_records_skips_and_resumes(isolated_data, tmp_path, monkeypatch, capsys,
                                                  one_torch_thread):
    dest = tmp_path / "mirror"
    argv = ["prepare", "02_lstm_poems", "03_gpt_poems", "--preset", "smoke", "--dest", str(dest),
            "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[1/2] 02_lstm_poems" in out and "[2/2] 03_gpt_poems" in out
    assert "2 trained, 0 already prepared" in out
    for name in ("02_lstm_poems", "03_gpt_poems"):
        path = run_dir(dest, "smoke", name)
        record = json.loads((path / "prepared.json").read_text(encoding="utf-8"))
        assert (path / "ckpt.pt").stat().st_size > 0 and (path / "live.png").stat().st_size > 1000
        assert record["metrics"]["val_loss"] > 0 and record["samples"] and record["hash"]

    assert main(argv) == 0  # everything current: nothing is trained again
    assert "0 trained, 2 already prepared" in capsys.readouterr().out
    (run_dir(dest, "smoke", "03_gpt_poems") / "prepared.json").unlink()  # as if interrupted in that run
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "02_lstm_poems (" in out and "prepared and current, skipped" in out and "1 trained" in out

    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))  # the class's machines read the mirror
    corpus = json.loads((run_dir(dest, "smoke", "03_gpt_poems") / "prepared.json").read_text())["config"]
    run = find_prepared("03_gpt_poems", "smoke", corpus=corpus["corpus"], show=False)
    assert run is not None and run.figure is not None
    assert main(["prepare", "nope", "--dest", str(dest)]) == 2


@pytest.mark.slow
def test_prepared_word2vec_loads_back_with_its_snapshots(isolated_data, tmp_path, monkeypatch, capsys,
                                                         one_torch_thread):
    from lmlab.models.word2vec import Vocab
    from lmlab.prepared import load_word2vec, word2vec_config

    dest = tmp_path / "mirror"
    assert main(["prepare", "01_skipgram", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]) == 0
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    record = json.loads((run_dir(dest, "smoke", "01_skipgram") / "prepared.json").read_text())
    run = find_prepared("01_skipgram", "smoke", corpus=record["config"]["corpus"], show=False)
    assert run is not None
    sg = load_word2vec(run, Vocab.build([["a"]], min_count=1), word2vec_config("skipgram", "smoke"))
    assert sg.vectors.dim == 50 and len(sg.vectors) > 1000 and sg.words_per_sec > 0
    assert len(sg.snapshots) >= 3 and sg.snapshots[0][1].shape[1] == 50
    assert sg.vectors.most_similar("one", topn=3)  # usable vectors, in the notebook's word order


def test_prepare_knows_how_to_train_every_job_and_later_notebooks_get_what_they_reuse():
    from lmlab.cli.prepare import TRAIN
    from lmlab.prepared import jobs_for

    assert list(TRAIN) == list(JOBS)  # one training per run the notebooks look up, in the same order
    assert all(callable(data) and callable(train) for data, train in TRAIN.values())

    assert jobs_for(["04_attention"]) == ["03_gpt_shakespeare"]
    assert set(jobs_for(["01_word2vec"])) == {"01_skipgram", "01_cbow"}
    assert jobs_for(["00_welcome"]) == []


def fake_data(preset):
    return "abc" * 10, "fake_corpus"


def fake_train(preset, text, corpus, out, device):
    (out / "ckpt.pt").write_bytes(text.encode())
    return {"val_loss": 0.5, "preset": preset}, [corpus]


def test_a_registered_job_is_prepared_and_found(isolated_data, tmp_path, monkeypatch, capsys):
    from lmlab.cli.prepare import TRAIN
    from lmlab.prepared import Job, register

    jobs = dict(JOBS)  # the registry as it is, plus the test's job, for this test only
    monkeypatch.setattr("lmlab.prepared.JOBS", jobs)
    monkeypatch.setattr("lmlab.cli.prepare.JOBS", jobs)
    monkeypatch.setattr("lmlab.cli.prepare.TRAIN", {**TRAIN, "09_fake": (fake_data, fake_train)})
    register(Job("09_fake", "09_fake", "a test's job", lambda preset: {"size": 1}))
    with pytest.raises(ValueError, match="already registered"):
        register(Job("09_fake", "09_fake", "another", lambda preset: {}))
    dest = tmp_path / "mirror"
    assert main(["prepare", "09_fake", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]) == 0
    assert "[1/1] 09_fake (a test's job, fake_corpus): done" in capsys.readouterr().out
    assert (run_dir(dest, "smoke", "09_fake") / "ckpt.pt").read_bytes() == b"abc" * 10
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    run = find_prepared("09_fake", "smoke", corpus="fake_corpus", show=False)
    assert run is not None and run.metrics == {"val_loss": 0.5, "preset": "smoke"}
    assert run.samples == ["fake_corpus"]


@pytest.mark.slow
def test_students_are_distilled_from_the_prepared_teacher_which_is_prepared_first(isolated_data, tmp_path,
                                                                                   monkeypatch, capsys,
                                                                                   one_torch_thread):
    from lmlab.checkpoint import load_checkpoint

    text = "".join(f"ROMEO {i % 7}:\nTo be, or not to be; that is the question.\n" for i in range(4000))
    monkeypatch.setattr("lmlab.cli.prepare.shakespeare_corpus", lambda preset: (text, "tiny_shakespeare"))
    dest = tmp_path / "mirror"
    argv = ["prepare", "05_students", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[1/2] 03_gpt_shakespeare" in out and "[2/2] 05_students" in out  # the teacher comes first
    record = json.loads((run_dir(dest, "smoke", "05_students") / "prepared.json").read_text())
    histories = record["metrics"]["histories"]
    assert set(histories) == {"0.0", "0.7"}
    assert all(any("val_loss" in r for r in h) for h in histories.values())
    teacher = load_checkpoint(run_dir(dest, "smoke", "03_gpt_shakespeare"))
    student = load_checkpoint(run_dir(dest, "smoke", "05_students") / "student_0.7")
    assert student["config"]["vocab_size"] == teacher["config"]["vocab_size"]
    assert student["config"]["n_layer"] == 1 and student["config"]["n_embd"] >= 32
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    assert find_prepared("05_students", "smoke", corpus=record["config"]["corpus"], show=False) is not None

    (run_dir(dest, "smoke", "03_gpt_shakespeare") / "prepared.json").unlink()  # no current teacher
    with pytest.raises(ValueError, match="05_students starts from the prepared 03_gpt_shakespeare"):
        from lmlab.cli.prepare import students_job

        students_job("smoke", text, "tiny_shakespeare", run_dir(dest, "smoke", "05_students"), "cpu")


@pytest.mark.slow
def test_prepared_couplet_model_and_bert_are_found_by_their_notebooks_lookup(isolated_data, tmp_path,
                                                                            monkeypatch, capsys,
                                                                            one_torch_thread):
    from lmlab.models.bert.trainer import load_bert
    from lmlab.models.seq2seq import load_couplets
    from lmlab.models.seq2seq.trainer import PRESETS, translate_pairs
    from lmlab.models.seq2seq.translate import load_translator

    dest = tmp_path / "mirror"
    argv = ["prepare", "06_transformer", "07_finetune", "--preset", "smoke", "--dest", str(dest),
            "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[1/3] 06_transformer" in out and "[2/3] 07_bert_zh" in out and "[3/3] 07_finetune" in out
    assert "3 trained" in out  # the fine-tuning's pre-trained BERT is prepared first
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))  # the class's machines read the mirror

    # notebook 06: the corpus name is its couplets' source (the built-in quatrains here: no corpus offline)
    data = load_couplets(max_pairs=PRESETS["smoke"]["max_pairs"])
    capsys.readouterr()
    run = find_prepared("06_transformer", "smoke", corpus=data.source, show=False)
    assert run is not None and "✓ loaded the prepared run 06_transformer" in capsys.readouterr().out
    assert run.figure is not None and run.figure.stat().st_size > 1000
    assert run.metrics["arch"] == "transformer" and run.metrics["iters"] == PRESETS["smoke"]["max_iters"]
    assert run.samples and all(" → " in s for s in run.samples)
    model, vocab, saved = load_translator(run.path)
    assert saved["arch"] == "transformer" and len(translate_pairs(model, vocab, ["白日依山盡"])) == 1
    assert find_prepared("06_rnn", "smoke", corpus=data.source) is None  # not prepared: trained here
    assert "no prepared run of 06_rnn" in capsys.readouterr().out

    # notebook 07: "tang_poems" when the corpus is there, else its built-in poems
    run = find_prepared("07_bert_zh", "smoke", corpus="built-in poems", show=False)
    assert run is not None and (run.path / "metrics.json").exists() and run.metrics["params"] > 0
    assert run.figure is not None
    bert, bert_vocab, _ = load_bert(run.path)
    assert bert_vocab.vocab_size > 10
    assert find_prepared("07_bert_zh", "smoke", corpus="tang_poems", show=False) is None  # another corpus
    curve = find_prepared("07_finetune", "smoke", corpus="built-in poems", show=False).metrics["curve"]
    assert {r["method"] for r in curve["rows"]} == {"fine-tuned", "random init", "linear probe"}
    assert len(curve["rows"]) == 9 and len(curve["features"]) == len(curve["train_idx"] + curve["test_idx"])
    prepared_ft = find_prepared("07_finetune", "smoke", corpus="built-in poems", show=False)
    season = prepared_ft.metrics["season_ft_rows"]
    assert [(r["method"], r["n_subsets"]) for r in season[:2]] == [("fine-tuned", 3), ("random init", 3)]
    assert all(r["accuracy_lo"] <= r["accuracy"] <= r["accuracy_hi"] for r in season)
    (run_dir(dest, "smoke", "07_bert_zh") / "prepared.json").unlink()  # no current pre-training
    from lmlab.cli.prepare_bert import finetune_job

    with pytest.raises(ValueError, match="starts from the prepared 07_bert_zh"):
        finetune_job("smoke", "", "built-in poems", run_dir(dest, "smoke", "07_finetune"), "cpu")


def test_08_later_trainings_use_the_notebooks_table():
    from lmlab.compress.prepare import AUGMENT, LATER

    compress = _table("08_parallel_compression.py", "SIZE")
    for table in (LATER, AUGMENT):
        assert {p: {k: row[k] for k in table["smoke"]} for p, row in compress.items()} == table


@pytest.mark.slow
def test_08_pruning_distillation_and_hygiene_are_prepared_and_found(isolated_data, tmp_path, monkeypatch,
                                                                    capsys, one_torch_thread):
    import copy

    from lmlab.compress import magnitude_prune
    from lmlab.compress.prepare import LATER, load, load_small, small_gpt, student_model
    from lmlab.data import load_text_or_fallback
    from lmlab.tokenizers import CharTokenizer

    dest = tmp_path / "mirror"
    argv = ["prepare", "08_small_models", "08_hygiene", "--preset", "smoke", "--dest", str(dest),
            "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[1/3] 08_compress_models" in out and "[2/3] 08_small_models" in out and "3 trained" in out
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    text, corpus = load_text_or_fallback("tiny_shakespeare")  # as the notebook loads it
    small = find_prepared("08_small_models", "smoke", corpus=corpus, show=False)
    assert small is not None and "✓ loaded the prepared run 08_small_models" in capsys.readouterr().out
    sweep = small.metrics["sweep"]
    assert [r[0] for r in sweep] == list(LATER["smoke"]["prune"]) and sweep[-1][3] >= 0.89  # 90 % zeros
    assert sweep[-1][1] > sweep[0][1]  # pruning 90 % hurts before the fine-tune
    vocab = CharTokenizer.fit(text[:300_000]).vocab_size
    _, gpt = load(run_dir(dest, "smoke", "08_compress_models"), vocab, "smoke")
    teacher_pruned = magnitude_prune(copy.deepcopy(gpt), 0.5, permanent=False)
    student = student_model(vocab, "smoke")
    fresh = {k: v.clone() for k, v in student.state_dict().items()}
    load_small(small.path, teacher_pruned, student)
    assert any(not (v == student.state_dict()[k]).all() for k, v in fresh.items())  # the distilled weights

    hygiene = find_prepared("08_hygiene", "smoke", corpus=corpus, show=False)
    assert hygiene is not None and hygiene.metrics["grid"] == {}  # smoke: no grid
    evals, best = hygiene.metrics["evals"], hygiene.metrics["stopped"]
    assert evals and evals[-1]["iter"] >= LATER["smoke"]["hygiene_iters"] - 1
    assert best["best_iter"] in [r["iter"] for r in evals] and best["stopped_at"] >= best["best_iter"]
    assert small_gpt(vocab, "smoke").config.n_embd == 64
    (run_dir(dest, "smoke", "08_compress_models") / "prepared.json").unlink()  # no current base models
    from lmlab.cli.prepare_compress import small_models_job

    with pytest.raises(ValueError, match="starts from the prepared 08_compress_models"):
        small_models_job("smoke", text, corpus, run_dir(dest, "smoke", "08_small_models"), "cpu")


@pytest.mark.slow
def test_08_augmentation_scores_are_prepared_and_found(isolated_data, tmp_path, monkeypatch, capsys,
                                                       one_torch_thread):
    dest = tmp_path / "mirror"
    assert main(["prepare", "08_augment", "--preset", "smoke", "--dest", str(dest), "--device", "cpu"]) == 0
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    run = find_prepared("08_augment", "smoke", corpus="pang_lee_polarity", show=False)  # as the notebook
    assert run is not None and "✓ loaded the prepared run 08_augment" in capsys.readouterr().out
    scores = run.metrics["scores"]
    assert set(scores) == {"originals", "with augmentation"}
    assert all(len(acc) == 1 and 0.5 < acc[0] <= 1.0 for acc in scores.values())  # MiniLM beats chance

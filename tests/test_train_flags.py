"""``lmlab train MODEL``: one mechanism derives every model's flags from its config fields, every model has
the same common flags with the same meanings, and the two rules (existing --out, --max-iters vs the
preset's clock) hold for all."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from lmlab.cli import TRAINERS, build_parser
from lmlab.recipes import bert, config_values, gpt, lstm, seq2seq, word2vec

COMMON = {"--preset", "--out", "--resume", "--overwrite", "--time-budget", "--quiet", "--no-progress",
          "--device", "--seed", "--max-iters"}
CONFIGS = {"gpt": (gpt.PRESETS, gpt.GPTSizes, gpt.TrainConfig),
           "bert": (bert.PRESETS, bert.BertSizes, bert.BertTrainConfig),
           "lstm": (lstm.LSTM_PRESETS, lstm.LSTMTrainConfig),
           "word2vec": (word2vec.PRESETS, word2vec.Word2VecConfig),
           "seq2seq": (seq2seq.PRESETS, seq2seq.Seq2SeqSizes, seq2seq.TrainConfig)}


def _parser(model: str) -> argparse.ArgumentParser:
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    sub = next(a for a in train.choices["train"]._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[model]


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {o: a for a in parser._actions for o in a.option_strings}


@pytest.mark.parametrize("model", list(TRAINERS))
def test_every_model_has_the_common_flags_with_one_meaning(model):
    options = _options(_parser(model))
    common = COMMON - ({"--max-iters"} if model == "word2vec" else set())  # word2vec: --epochs
    assert common <= set(options), sorted(common - set(options))
    assert options["--quiet"] is options["--no-progress"] and options["--quiet"].dest == "quiet"
    if "--time-budget" in options:
        assert options["--time-budget"].dest == "time_budget_s"
    args = _parser(model).parse_args(["--out", "x", "--no-progress"])
    assert args.quiet and not args.resume and not args.overwrite and args.seed == 1337


@pytest.mark.parametrize("model", list(TRAINERS))
def test_flags_are_derived_from_the_config_fields_with_presets_shown(model):
    presets, *configs = CONFIGS[model]
    options = _options(_parser(model))
    for config in configs:
        for field in dataclasses.fields(config):
            if "help" not in field.metadata:
                continue
            name = "--" + field.metadata.get("flag", field.name.replace("_", "-"))
            action = options[name]
            assert action.dest == field.name and action.default is None, name
            assert field.metadata["help"] in action.help
            values = {p: t[field.name] for p, t in presets.items() if field.name in t}
            if len({repr(v) for v in values.values()}) > 1:  # the help shows what each preset sets
                smoke = "none" if values["smoke"] is None else values["smoke"]
                assert "preset: " in action.help and f"smoke {smoke}," in action.help, action.help


def test_the_gpt_keeps_nanogpts_flag_names():
    options = _options(_parser("gpt"))
    for name in ("--n-layer", "--n-head", "--n-embd", "--block-size", "--batch-size", "--max-iters", "--lr",
                 "--min-lr", "--warmup-iters", "--lr-decay-iters", "--dropout", "--eval-interval",
                 "--eval-iters", "--weight-decay", "--beta1", "--beta2", "--grad-clip", "--bias",
                 "--compile"):
        assert name in options, name


def test_an_explicit_max_iters_beats_the_presets_clock():
    class_budget = gpt.PRESETS["class"]["time_budget_s"]
    assert config_values({}, gpt.PRESETS, "class")["time_budget_s"] == class_budget
    assert config_values({"max_iters": 10}, gpt.PRESETS, "class")["time_budget_s"] is None
    given = {"max_iters": 10, "time_budget_s": 5.0}
    assert config_values(given, gpt.PRESETS, "class")["time_budget_s"] == 5.0
    assert config_values({"time_budget_s": 0}, lstm.LSTM_PRESETS, "class")["time_budget_s"] is None
    assert config_values({"lr": None}, lstm.LSTM_PRESETS, "smoke")["lr"] == lstm.LSTM_PRESETS["smoke"]["lr"]


def test_word2vec_takes_its_presets_values(tmp_path, monkeypatch):
    from lmlab.models.word2vec import run as w2v_run

    seen = {}

    def fake_train(recipe, **kwargs):
        seen["config"] = recipe.tcfg
        raise SystemExit(0)

    monkeypatch.setattr("lmlab.train.engine.train", fake_train)
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat. " * 50, encoding="utf-8")
    args = vars(_parser("word2vec").parse_args(["--corpus", str(corpus), "--out", str(tmp_path / "o"),
                                                "--preset", "full", "--window", "3"]))
    with pytest.raises(SystemExit):
        w2v_run.run(args)
    config = seen["config"]
    assert (config.dim, config.epochs, config.window) == (200, 10, 3)  # preset, preset, flag
    assert config.sample == word2vec.Word2VecConfig.sample  # the config's default, not a copy in run.py


@pytest.mark.slow
@pytest.mark.parametrize("model, flags", [
    ("gpt", ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "8", "--batch-size", "2",
             "--eval-interval", "2", "--eval-iters", "1", "--max-iters", "2"]),
    ("lstm", ["--hidden", "8", "--block-size", "8", "--batch-size", "2", "--max-iters", "2"]),
    ("word2vec", ["--dim", "8", "--min-count", "1", "--threads", "1", "--no-eval"]),
])
def test_overwrite_replaces_and_resume_continues_for_every_model(tmp_path, capsys, model, flags):
    from lmlab.cli import main

    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 60, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", model, "--corpus", str(corpus), "--out", str(out), "--preset", "smoke",
            "--device", "cpu", "--quiet", *flags]
    assert main(args) == 0
    before = (out / "ckpt.pt").read_bytes()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exists; pass --resume" in err and "--overwrite" in err
    assert (out / "ckpt.pt").read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "metrics.json").read_text())["stopped"] == "done"
    with pytest.raises(SystemExit) as stop:  # argparse: not both
        main([*args, "--resume", "--overwrite"])
    assert stop.value.code == 2

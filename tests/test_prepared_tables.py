"""``scripts/prepared_tables.py`` writes README's marked tables from a mirror's prepared runs: the cost of
each run and 06's quality curve, only between the markers, and fails in one line when a run is missing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.prepared import run_dir

ROOT = Path(__file__).resolve().parent.parent
KEPT = "| `01_word2vec` | `01_skipgram` | 2.0 min | 2.5 min | cpu, 1 thread | class | measured elsewhere |"
README = f"""# a README

Prose before, with a number 1.50 that is no table's.

<!-- prepared:06_quality_curve -->
Not yet measured.
<!-- /prepared -->

Prose between.

<!-- prepared:cost -->
| notebook | run | training | wall clock | device | preset | prepared |
|---|---|---|---|---|---|---|
{KEPT}
<!-- /prepared -->

Prose after.
"""


def _script():
    spec = importlib.util.spec_from_file_location("prepared_tables", ROOT / "scripts" / "prepared_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outside(text):
    """The text with every marked table's body cut out: what the script must leave alone."""
    return _script().MARK.sub(lambda m: m.group(1) + m.group(4), text)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A mirror with the smoke runs of notebook 06 (its quality curve among them), prepared as a teacher
    does (built-in quatrains)."""
    import os

    import torch

    dest = tmp_path_factory.mktemp("mirror")
    cache = tmp_path_factory.mktemp("cache")
    names = ("LMLAB_CACHE_DIR", "LMLAB_DATA_DIR", "LMLAB_OFFLINE", "LMLAB_LANG")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(LMLAB_CACHE_DIR=str(cache), LMLAB_OFFLINE="1")
    os.environ.pop("LMLAB_DATA_DIR", None)
    os.environ.pop("LMLAB_LANG", None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["prepare", "06_quality_curve", "--preset", "smoke", "--dest", str(dest),
                     "--device", "cpu"]) == 0
    finally:
        torch.set_num_threads(threads)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return dest


def test_the_tables_are_written_from_the_runs_and_only_between_the_markers(mirror, tmp_path, capsys):
    tables = _script()
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    argv = [str(mirror), "--preset", "smoke", "--readme", str(readme)]
    assert tables.main([*argv, "--check"]) == 1  # README is behind the runs, and --check changes nothing
    assert readme.read_text(encoding="utf-8") == README
    assert tables.main(argv) == 0
    text = readme.read_text(encoding="utf-8")
    assert _outside(text) == _outside(README)  # not a character outside the markers changed

    record = json.loads((run_dir(mirror, "smoke", "06_quality_curve") / "prepared.json").read_text("utf-8"))
    last = record["metrics"]["stages"][-1]
    curve = text.split("<!-- prepared:06_quality_curve -->")[1].split("<!-- /prepared -->")[0]
    assert "Not yet measured" not in curve
    row = (f"| Transformer + couplet mask | {last['minutes']:.1f} | {last['iters']:,} | "
           f"{last['rules']['chrf']:.2f} [")
    assert row in curve
    lookup = record["metrics"]["baselines"]["lookup_table"]
    assert f"| per-position lookup table | — | — | {lookup['chrf']:.2f} [" in curve

    cost = text.split("<!-- prepared:cost -->")[1].split("<!-- /prepared -->")[0]
    assert KEPT in cost  # a run this mirror lacks keeps README's row
    curve_row = next(line for line in cost.splitlines() if "`06_quality_curve`" in line)
    assert f"{last['train_s']:.0f} s" in curve_row and "cpu" in curve_row and "smoke" in curve_row
    assert "`06_rnn_attention`" in cost and "`06_reversal`" in cost  # every run notebook 06 prepared
    assert "07_bert_zh" not in cost  # a run neither prepared here nor in README: no row
    printed = capsys.readouterr().out
    assert "06_quality_curve: " in printed and "of training" in printed and "chrF" in printed
    assert tables.main([*argv, "--check"]) == 0  # now current


def test_a_missing_or_cut_short_run_fails_in_one_line_and_changes_nothing(mirror, tmp_path, capsys):
    import shutil

    tables = _script()
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    argv = [str(copy), "--preset", "smoke", "--readme", str(readme)]
    record = run_dir(copy, "smoke", "06_quality_curve") / "prepared.json"
    record.write_text(record.read_text(encoding="utf-8")[:50], encoding="utf-8")
    assert tables.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(record) in err and "lmlab prepare 06_quality_curve" in err

    record.unlink()
    assert tables.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "06_quality_curve" in err and "--preset smoke" in err
    assert "--table cost" in err  # the way round it
    assert readme.read_text(encoding="utf-8") == README
    assert tables.main([*argv, "--table", "cost"]) == 0  # the cost table alone needs no particular run

    assert tables.main([str(tmp_path / "nowhere"), "--readme", str(readme)]) == 2
    assert "nowhere" in capsys.readouterr().err
    readme.write_text(README.replace("prepared:cost", "prepared:costs"), encoding="utf-8")
    assert tables.main(argv) == 2
    assert "prepared:costs" in capsys.readouterr().err


def test_a_run_prepared_before_costs_were_recorded_gets_the_device_the_teacher_names(mirror, tmp_path):
    import shutil

    tables = _script()
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    path = run_dir(copy, "smoke", "06_quality_curve") / "prepared.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    del record["cost"]  # as lmlab prepare wrote it before this change
    path.write_text(json.dumps(record), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert tables.main([str(copy), "--preset", "smoke", "--readme", str(readme), "--table", "cost",
                        "--device", "cpu, 2 cores"]) == 0
    text = readme.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "`06_quality_curve`" in line)
    last = record["metrics"]["stages"][-1]
    # the first of notebook 06's runs (by name) carries the notebook's cell
    seconds = f"{last['train_s']:.0f} s"
    assert row.startswith(f"| `06_seq2seq` | `06_quality_curve` | {seconds} | — | cpu, 2 cores | smoke |")

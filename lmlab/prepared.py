"""Models trained ahead of a lesson: ``lmlab prepare`` writes them, the notebooks look them up here.

A prepared run lives in ``ROOT/prepared/PRESET/NAME/``: the trainer's own files (``ckpt.pt``,
``metrics.json``), the live view's last figure (``live.png``) and ``prepared.json``, written last, which
records the job's configuration and its hash (and what preparing it cost). A job that reads the Tang poems
in the edition's script (``Job.script``) keeps the Chinese edition's run in ``ROOT/prepared/PRESET/zh/NAME/``,
so that the two editions never train over each other's runs. ROOT is the classroom mirror
(``$LMLAB_DATA_DIR``, where ``lmlab data fetch --all --dest`` put the corpora) or else the cache. A run
counts only when its hash is the one the job would train with today; otherwise the notebook trains and
says why.

    prep = find_prepared("03_gpt_shakespeare", lab.preset, corpus=corpus)   # None: train here
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmlab.i18n import _

RETRAIN_ENV = "LMLAB_RETRAIN"  # "1": retrain everything here; "a,b": retrain the runs named a and b
RECORD = "prepared.json"

# Notebook 02's poet and 03's Tang GPT, sized per preset: the notebooks' own tables (a test keeps them equal).
POEM_SIZES = {
    "smoke": dict(hidden=64, n_layer=1, batch_size=4, block_size=32, max_iters=30, max_poems=300),
    "class": dict(hidden=256, n_layer=2, batch_size=32, block_size=64, time_budget_s=150.0, max_iters=5000,
                  eval_interval=500, max_poems=None),
    "full": dict(hidden=512, n_layer=2, batch_size=64, block_size=128, max_iters=5000, max_poems=None),
}
TANG = {"smoke": dict(max_poems=300, time_budget_s=None, max_iters=40),
        "class": dict(max_poems=None, time_budget_s=120.0, max_iters=100_000),
        "full": dict(max_poems=None, time_budget_s=None, max_iters=5000)}
RACE_S = {"smoke": 4.0, "class": 90.0, "full": 120.0}
# Notebook 05's distillation: steps per student (its SIZE table's distill_iters; a test keeps them equal).
DISTILL_ITERS = {"smoke": 60, "class": 400, "full": 2000}
STUDENT_ALPHAS = (0.0, 0.7)  # labels only, then distilled (T = 2)
# Notebook 01's sizes and the words whose vectors it watches during training (the same test keeps them equal).
W2V_SIZES = {
    "smoke": {"words": 100_000, "dim": 50, "epochs": 3, "glove_epochs": 5, "poem_chars": 80_000,
              "poem_epochs": 2, "tsne_words": 150},
    "class": {"words": None, "dim": 100, "epochs": 5, "glove_epochs": 10, "poem_chars": 1_500_000,
              "poem_epochs": 3, "tsne_words": 400},
    "full": {"words": None, "dim": 100, "epochs": 10, "glove_epochs": 25, "poem_chars": None,
             "poem_epochs": 5, "tsne_words": 1000},
}
WATCH = ["king", "queen", "man", "woman", "france", "paris", "germany", "berlin", "war", "army",
         "music", "film", "one", "two", "three", "four"]


def word2vec_config(model: str, preset: str) -> Any:
    """Notebook 01's ``Word2VecConfig`` for skip-gram or CBOW (CBOW starts at the C tool's 0.05)."""
    from lmlab.models.word2vec import Word2VecConfig

    sizes = W2V_SIZES[preset]
    return Word2VecConfig(model=model, dim=sizes["dim"], window=5, negative=5, min_count=5,
                          epochs=sizes["epochs"], sample=1e-3, **({"alpha": 0.05} if model == "cbow" else {}))


def _word2vec(preset: str, model: str) -> dict[str, Any]:
    config = asdict(word2vec_config(model, preset))
    config.pop("threads")  # how many cores, not what is learned
    return {"words": W2V_SIZES[preset]["words"], "watch": WATCH if model == "skipgram" else [], **config}


def _lstm(preset: str, **sizes: Any) -> dict[str, Any]:
    from lmlab.models.lstm import preset_config

    config = asdict(preset_config(preset, **sizes))
    return {k: v for k, v in config.items() if k not in ("device", "precision")}  # where, not what


def _gpt(preset: str) -> dict[str, Any]:
    from lmlab.models.transformer.trainer import PRESETS

    return {"tokenizer": "char", **PRESETS[preset]}


# Notebook 06's prepared run of each architecture, and its reversal race (the cell's sizes).
SEQ2SEQ_RUNS = {"rnn": "06_rnn", "rnn-attention": "06_rnn_attention", "transformer": "06_transformer"}
COUPLETS = "middle"  # notebook 06 trains on the 颔联 and 颈联, the pairs that must be parallel
# its "quality against training time": one Transformer on the middle couplets, scored on the test couplets
# after each stage (class / full: 5, 15 and 60 minutes of optimizer steps; smoke: a few steps)
CURVE_STAGES = {"smoke": {"iters": (10, 20, 40)}, "class": {"seconds": (300.0, 900.0, 3600.0)},
                "full": {"seconds": (300.0, 900.0, 3600.0)}}
CURVE_TEST = {"smoke": 100, "class": 500, "full": 1000}


def reversal_sizes(preset: str) -> dict[str, Any]:
    """The reversal toy's size and time per model, as notebook 06's cell sets them."""
    return {"n_toy": 2000 if preset == "smoke" else 20000, "eval_pairs": 50,
            "time_budget_s": 90.0 if preset == "class" else None}


def _seq2seq(preset: str, arch: str) -> dict[str, Any]:
    from lmlab.models.seq2seq.trainer import PRESETS
    from lmlab.presets import preset_values

    return {"arch": arch, "seed": 0, **preset_values(PRESETS, preset)}


def _couplet_run(preset: str, arch: str) -> dict[str, Any]:
    """Every setting an architecture's couplet run depends on: the trainer's preset row and the data."""
    return {**_seq2seq(preset, arch), "couplets": COUPLETS}


def curve_spec(preset: str) -> dict[str, Any]:
    """Every setting the curve depends on: the Transformer's run, its stages, the test lines scored."""
    return {**_couplet_run(preset, "transformer"), "stages": CURVE_STAGES[preset],
            "test_lines": CURVE_TEST[preset]}


# Notebook 07's SIZE rows: its three `lmlab train` commands, and the fine-tuning comparison.
BERT_SIZES = {
    "smoke": dict(zh=["--max-iters", "40", "--snapshot-at", "0.2,0.5,1"],
                  en=["--max-iters", "20", "--vocab-size", "500"], gpt=["--max-iters", "40"]),
    "class": dict(zh=["--time-budget", "3600", "--snapshot-at", "180,600,1800"],
                  en=["--time-budget", "60", "--vocab-size", "2000"], gpt=["--time-budget", "180"]),
    "full": dict(zh=["--snapshot-at", "180,600,1800,3600"],
                 en=["--max-iters", "3000", "--vocab-size", "2000"],
                 gpt=["--max-iters", "3000"]),
}
# the poet curve, and the season task's fine-tuning over label subsets (notebook 07, section 8b)
FINETUNE = {"smoke": dict(per_poet=40, ft_steps=10, per_season=80, season_counts=(30, 100, None),
                          n_subsets=3),
            "class": dict(per_poet=300, ft_steps=120, per_season=300, season_counts=(30, 100, None),
                          n_subsets=5),
            "full": dict(per_poet=None, ft_steps=600, per_season=None, season_counts=(30, 100, None),
                         n_subsets=10)}


def bert_argv(name: str, preset: str, corpus: str) -> list[str]:
    """The ``lmlab`` command line notebook 07 runs for ``name`` (without --device and --out)."""
    if name == "07_bert_zh":
        return ["train", "bert", "--corpus", corpus, "--preset", preset, *BERT_SIZES[preset]["zh"]]
    if name == "07_bert_en":
        return ["train", "bert", "--corpus", "wiki_sample", "--tokenizer", "bpe", "--preset", preset,
                *BERT_SIZES[preset]["en"]]
    return ["train", "gpt", "--corpus", corpus, "--preset", preset, *BERT_SIZES[preset]["gpt"],
            "--pos-encoding", "learned", "--activation", "gelu", "--block-size", "64"]


def _bert(name: str, preset: str) -> dict[str, Any]:
    argv = {"argv": bert_argv("07_bert_zh" if name == "07_finetune" else name, preset, "CORPUS")}
    return {**FINETUNE[preset], "seed": 0, "pretrained": argv} if name == "07_finetune" else argv


def _compress(preset: str, which: str = "spec") -> dict[str, Any]:
    from lmlab.compress import prepare

    return getattr(prepare, which)(preset)


@dataclass(frozen=True)
class Job:
    """One training a notebook runs: its name (as its ``runs/`` folder) and what decides its result.
    ``lmlab prepare`` knows how to train it (lmlab.cli.prepare); this says what the run depends on."""

    name: str
    notebook: str
    about: str
    spec: Callable[[str], dict[str, Any]]  # preset -> every setting the trained model depends on
    used_by: tuple[str, ...] = ()  # later notebooks that load this run too (through find_checkpoint)
    needs: tuple[str, ...] = ()  # prepared runs this one starts from (prepared first, in the same folder)
    # reads the Tang poems in the edition's script: the Chinese edition's run lives in its own folder
    # (run_dir), so that preparing one edition never trains over the other's
    script: bool = False


def live_recorder(title: str, out: Path) -> Any:
    """A live view that draws nothing on screen and saves its final figure as ``out/live.png``: what a
    notebook shows when it loads the prepared run."""
    from lmlab.viz.curves import LiveView

    return LiveView(title=title, enabled=False, path=str(Path(out) / "live.png"))


def register(job: Job) -> Job:
    """Add ``job`` to JOBS (``find_prepared`` finds it; ``lmlab prepare`` trains it); returns it."""
    if job.name in JOBS and JOBS[job.name] != job:
        raise ValueError(f"a prepared job called {job.name!r} is already registered")
    JOBS[job.name] = job
    return job


JOBS: dict[str, Job] = {}
# One line per training a notebook runs. A new notebook adds its Job here (name = its runs/ folder, as the
# notebook passes it to find_prepared) and its training to lmlab.cli.prepare.TRAIN (tests/test_prepare.py
# checks each).
for _job in (
    Job("01_skipgram", "01_word2vec", "skip-gram word vectors on the Wikipedia sample",
        lambda preset: _word2vec(preset, "skipgram")),
    Job("01_cbow", "01_word2vec", "CBOW word vectors on the Wikipedia sample",
        lambda preset: _word2vec(preset, "cbow")),
    Job("02_lstm_shakespeare", "02_lstm", "the character-level LSTM on tiny Shakespeare",
        lambda preset: _lstm(preset)),
    Job("02_lstm_poems", "02_lstm", "the LSTM poet on Tang poems",
        lambda preset: {**_lstm(preset, **{k: v for k, v in POEM_SIZES[preset].items() if k != "max_poems"}),
                        "max_poems": POEM_SIZES[preset]["max_poems"], "max_vocab": 3000}, script=True),
    Job("03_gpt_shakespeare", "03_transformer", "the GPT on tiny Shakespeare", _gpt,
        used_by=("04_attention", "05_scaling")),
    Job("03_gpt_poems", "03_transformer", "the GPT on Tang poems",
        lambda preset: {**_gpt(preset), **TANG[preset], "lr_decay_iters": TANG[preset]["max_iters"],
                        "max_vocab": 3000}, script=True),
    Job("03_race", "03_transformer", "the GPT-or-LSTM race, same parameters, same seconds",
        lambda preset: {**_gpt(preset), "race_s": RACE_S[preset]}),
    Job("05_students", "05_scaling", "two small GPTs distilled from 03's GPT (labels only, and α = 0.7)",
        lambda preset: {"teacher": _gpt(preset), "distill_iters": DISTILL_ITERS[preset],
                        "alphas": list(STUDENT_ALPHAS), "temperature": 2.0, "lr": 3e-3, "block": 64,
                        "batch": 16, "text_chars": 400_000 if preset == "smoke" else 1_000_000},
        needs=("03_gpt_shakespeare",)),
    *(Job(name, "06_seq2seq", f"the {arch} couplet model",
          lambda preset, arch=arch: _couplet_run(preset, arch), script=True)
      for arch, name in SEQ2SEQ_RUNS.items()),
    Job("06_reversal", "06_seq2seq", "GRU or GRU + attention reversing digit strings, same seconds",
        lambda preset: {"archs": ["rnn", "rnn-attention"], **reversal_sizes(preset),
                        **_seq2seq(preset, "rnn")}),
    Job("06_quality_curve", "06_seq2seq", "the couplet Transformer scored after 5, 15 and 60 minutes",
        curve_spec, script=True),
    Job("07_bert_zh", "07_bert", "BERT pre-trained (masked LM) on the Tang poems",
        lambda preset: _bert("07_bert_zh", preset), script=True),
    Job("07_bert_en", "07_bert", "an English BERT (byte-level BPE) on the Wikipedia sample",
        lambda preset: _bert("07_bert_en", preset)),
    Job("07_gpt_zh", "07_bert", "a small GPT on the Tang poems, to compare with BERT",
        lambda preset: _bert("07_gpt_zh", preset), script=True),
    Job("07_finetune", "07_bert", "07's BERT fine-tuned to name the poet, against random init and a probe",
        lambda preset: _bert("07_finetune", preset), needs=("07_bert_zh",), script=True),
    Job("08_compress_models", "08_parallel_compression", "the LSTM and GPT that notebook 08 compresses",
        lambda preset: _compress(preset)),
    Job("08_small_models", "08_parallel_compression", "08's pruning sweep, pruned GPT and distilled student",
        lambda preset: _compress(preset, "small_spec"), needs=("08_compress_models",)),
    Job("08_hygiene", "08_parallel_compression", "08's over-fitting run, early stopping, dropout × decay",
        lambda preset: _compress(preset, "hygiene_spec")),
    Job("08_augment", "08_parallel_compression", "08's augmentation comparison (MiniLM features, per seed)",
        lambda preset: _compress(preset, "augment_spec")),
):
    register(_job)


def jobs_for(notebooks: Sequence[str]) -> list[str]:
    """The prepared runs the ``notebooks`` load: their own trainings and the earlier ones they reuse."""
    wanted = set(notebooks)
    return [j.name for j in JOBS.values() if j.notebook in wanted or wanted & set(j.used_by)]


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable fingerprint of a configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def job_config(name: str, preset: str, corpus: str) -> dict[str, Any]:
    """Everything the run ``name`` depends on in ``preset`` on ``corpus``, plus the lmlab version."""
    if name not in JOBS:
        raise ValueError(f"no prepared job called {name!r}; known: {', '.join(JOBS)}")
    from lmlab import __version__

    return {"job": name, "preset": preset, "corpus": corpus, "lmlab": __version__, **JOBS[name].spec(preset)}


def default_root() -> Path:
    """The classroom mirror ($LMLAB_DATA_DIR) when set and writable, else lmlab's cache folder (a student
    on a class server prepares into their own cache; the read-only mirror is only read)."""
    from lmlab.data.download import cache_dir, mirror_dir
    from lmlab.mirror import readonly_mirror

    return cache_dir() if readonly_mirror() is not None else (mirror_dir() or cache_dir())


def search_roots() -> list[Path]:
    """Where notebooks look for prepared runs, in order: the mirror, then the cache."""
    from lmlab.data.download import cache_dir, mirror_dir

    roots = [mirror_dir(), cache_dir()]
    return [r for i, r in enumerate(roots) if r is not None and r not in roots[:i]]


EDITION_DIR = "zh"  # the Chinese edition's runs of the jobs that read the poems in its (simplified) script


def edition_dir(name: str) -> str | None:
    """The sub-folder of the run ``name`` in this edition: ``zh`` for a job that reads the Tang poems when
    the edition's script is simplified (``LMLAB_LANG=zh``), else None (one run serves both editions)."""
    from lmlab.data.corpora import edition_script

    job = JOBS.get(name)
    return EDITION_DIR if job is not None and job.script and edition_script() == "simplified" else None


def run_dir(root: Path, preset: str, name: str) -> Path:
    """The folder of the prepared run ``name`` of ``preset`` under ``root``: ``prepared/PRESET/NAME``, or
    ``prepared/PRESET/zh/NAME`` for the Chinese edition's run of a job that reads the poems."""
    edition = edition_dir(name)
    return Path(root) / "prepared" / preset / (f"{edition}/{name}" if edition else name)


@dataclass(frozen=True)
class PreparedRun:
    """A run ``lmlab prepare`` trained: its folder and what it recorded."""

    name: str
    path: Path
    record: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record.get("metrics", {})

    @property
    def samples(self) -> list[str]:
        return self.record.get("samples", [])

    @property
    def figure(self) -> Path | None:
        figure = self.path / self.record.get("figure", "live.png")
        return figure if figure.exists() else None

    def show(self) -> None:
        """The recorded live-view figure and samples, as the training cell would have shown them."""
        from IPython.display import Image, display

        if self.figure is not None:
            display(Image(filename=str(self.figure)))
        for sample in self.samples:
            print(_("--- a sample recorded after training") + f"\n{sample}")


def save_word2vec(result: Any, path: Path) -> None:
    """A word2vec run's vectors (word2vec text format) and its training snapshots, into ``path``."""
    import numpy as np

    result.vectors.save_word2vec_format(Path(path) / "vectors.txt")
    if result.snapshots:
        np.savez(Path(path) / "snapshots.npz", epochs=np.array([e for e, _ in result.snapshots]),
                 rows=np.stack([rows for _, rows in result.snapshots]))


def load_word2vec(run: PreparedRun, vocab: Any, config: Any) -> Any:
    """A ``Word2VecResult`` from a prepared run: the vectors, snapshots and speed it recorded."""
    import numpy as np

    from lmlab.models.word2vec import WordVectors
    from lmlab.models.word2vec.trainer import Word2VecResult
    from lmlab.train import History

    vectors = WordVectors.load_word2vec_format(run.path / "vectors.txt")
    snapshots = []
    if (run.path / "snapshots.npz").exists():
        with np.load(run.path / "snapshots.npz") as saved:
            snapshots = [(float(e), rows) for e, rows in zip(saved["epochs"], saved["rows"], strict=True)]
    return Word2VecResult(vectors=vectors, W_out=np.zeros((0, vectors.dim), np.float32), vocab=vocab,
                          config=config, history=History(), wall_s=run.metrics["wall_s"],
                          words_per_sec=run.metrics["words_per_sec"], snapshots=snapshots)


def record_prepared(path: Path, config: dict[str, Any], *, metrics: dict[str, Any],
                    samples: Sequence[str] = (), figure: str = "live.png",
                    cost: dict[str, Any] | None = None) -> Path:
    """Write ``prepared.json`` (last, atomically): the run in ``path`` is now complete and current.
    ``cost``: what preparing it took (``wall_s``, ``device``, ...), for README's cost table; not hashed."""
    from lmlab.atomic import atomic_write

    record = {"config": config, "hash": config_hash(config), "created": time.strftime("%Y-%m-%d %H:%M"),
              "metrics": metrics, "samples": list(samples), "figure": figure}
    if cost:
        record["cost"] = cost
    with atomic_write(Path(path) / RECORD, "w") as f:
        json.dump(record, f, indent=1, default=str)
    return Path(path) / RECORD


def read_record(path: Path) -> dict[str, Any] | None:
    """The run's ``prepared.json``, or None when there is none or it cannot be read (``record_problem``)."""
    try:
        record = json.loads((Path(path) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_problem(path: Path) -> str | None:
    """Why ``path/prepared.json`` exists but is no record (cut short by a full disk, a copy broken off,
    edited by hand), or None when it is absent or reads fine."""
    file = Path(path) / RECORD
    if not file.is_file():
        return None
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return _("{file} cannot be read ({error}); it was cut short or edited").format(
            file=file, error=f"{type(err).__name__}: {err}")
    if not isinstance(record, dict) or "hash" not in record:
        return _("{file} holds no run's record (no 'hash'); it was cut short or edited").format(file=file)
    return None


def is_current(path: Path, config: dict[str, Any]) -> bool:
    """True when ``path`` holds a finished run of exactly ``config``."""
    record = read_record(path)
    return record is not None and record.get("hash") == config_hash(config)


def start_from(need: str, out: Path, preset: str, corpus: str) -> Path:
    """The prepared run ``need`` beside ``out`` that the run in ``out`` starts from; says how to prepare it
    when it is missing or stale."""
    prepared = next((p for p in Path(out).parents if p.name == "prepared"), None)
    path = run_dir(prepared.parent, preset, need) if prepared is not None else Path(out).parent / need
    if not is_current(path, job_config(need, preset, corpus)):
        raise ValueError(f"{Path(out).name} starts from the prepared {need}, and {path} holds none: run "
                         f"'lmlab prepare {need} {Path(out).name} --preset {preset}'")
    return path


def _retrain_asked(name: str) -> bool:
    value = os.environ.get(RETRAIN_ENV, "").strip()
    return value in ("1", "all", "yes", "true") or name in {v.strip() for v in value.split(",")}


def _lookup(name: str, preset: str, corpus: str) -> tuple[PreparedRun | None, list[Path]]:
    """(the current run, or None; the folders holding a stale one)."""
    wanted = config_hash(job_config(name, preset, corpus))
    stale = []
    for root in search_roots():
        path = run_dir(root, preset, name)
        record = read_record(path)
        if record is not None and record.get("hash") == wanted:
            return PreparedRun(name, path, record), stale
        if record is not None:
            stale.append(path)
    return None, stale


def find_prepared(name: str, preset: str, *, corpus: str, retrain: bool = False,
                  show: bool = True) -> PreparedRun | None:
    """The prepared run ``name`` for ``preset`` and ``corpus`` if one is current; says what it found.

    Returns None (and says why) when there is none, when it is stale, or when retraining was asked for with
    ``retrain=True`` or ``$LMLAB_RETRAIN`` (``1`` for every run, or a comma-separated list of names).
    """
    if retrain or _retrain_asked(name):
        print(_("lmlab: training {name} here ({why} asked for it)").format(
            name=name, why="retrain=True" if retrain else RETRAIN_ENV))
        return None
    run, stale = _lookup(name, preset, corpus)
    if run is not None:
        print(_("lmlab: ✓ loaded the prepared run {name} ({preset} preset, {corpus}, trained {created}) "
                "from {path}.\n       To train it here instead: retrain=True in this cell, or {env}=1 (or "
                "={name}).")
              .format(name=name, preset=preset, corpus=corpus, created=run.record.get("created", "?"),
                      path=run.path, env=RETRAIN_ENV))
        if show:
            run.show()
    elif stale:
        print(_("lmlab: the prepared run in {path} was trained with other settings (or another lmlab); "
                "training {name} here. Refresh it with 'lmlab prepare --preset {preset}'.")
              .format(path=stale[0], name=name, preset=preset))
    elif broken := [why for root in search_roots() if (why := record_problem(run_dir(root, preset, name)))]:
        print(_("lmlab: {why}: training {name} here. Refresh it with 'lmlab prepare {name} --preset "
                "{preset}'.").format(why=broken[0], name=name, preset=preset))
    else:
        print(_("lmlab: no prepared run of {name} for the {preset} preset; training it here. A teacher can "
                "train every model ahead of a lesson with 'lmlab prepare --preset {preset}'.")
              .format(name=name, preset=preset))
    return run


def find_checkpoint(name: str, preset: str, *, corpus: str, local: Sequence[str | os.PathLike] = (),
                    env: str | None = None) -> Path | None:
    """A model an earlier notebook trained: ``$env``, then the ``local`` folders (``runs/...`` of this
    machine), then the current prepared run. Says which one it uses, or that there is none."""
    for path in [os.environ.get(env) if env else None, *local]:
        if path and (Path(path) / "ckpt.pt").exists():
            print(_("lmlab: using the model in {path}").format(path=path))
            return Path(path)
    run, stale = _lookup(name, preset, corpus)
    if run is not None and (run.path / "ckpt.pt").exists():
        print(_("lmlab: ✓ using the prepared run {name} ({preset} preset) from {path}").format(
            name=name, preset=preset, path=run.path))
        return run.path
    places = ([f"${env}"] * bool(env) + [str(p) for p in local]
              + [_("the prepared runs ({preset} preset)").format(preset=preset)])
    why = _(" ({path} is stale: other settings)").format(path=stale[0]) if stale else ""
    print(_("lmlab: no trained {name} found in {places}{why}: run notebook {notebook} first, or 'lmlab "
            "prepare --preset {preset}'.").format(name=name, places=", ".join(places), why=why,
                                                   notebook=JOBS[name].notebook, preset=preset))
    return None

"""Prepared runs: a cache of the notebooks' trainings, keyed by the hash of each run's configuration.

A training cell names its run and hands its configuration and its fit to :func:`cached`::

    run = cached("02_lstm_shakespeare", config, preset=lab.preset, corpus=corpus,
                 fit=lambda out: train(LSTMRecipe(config, train_text), out=out, ...), load=load_lstm_run)

Before fitting, ``cached`` looks for ``ROOT/prepared/PRESET/NAME/prepared.json`` (the classroom mirror
``$LMLAB_DATA_DIR``, then the cache) whose hash is the hash of this configuration (plus the run's name, the
preset, the corpus and the lmlab version). Found: the run is loaded and one line says what it is and how long
it trained. Trained with other settings: one line says which, and the cell trains here. A record that cannot
be read (a copy cut short): one line names the file, and the cell trains here. The lesson never stops.

``lmlab prepare`` fills the cache by executing the notebooks themselves with ``$LMLAB_PREPARE_INTO`` set:
each named fit then trains into ``ROOT/prepared/PRESET/NAME/`` (an interrupted run of the same configuration
goes on from its checkpoint) and writes ``prepared.json`` last; a run already prepared is found and skipped.
A run that reads the Tang poems in the edition's script (``script=True``) keeps the Chinese edition's copy
in ``prepared/PRESET/zh/NAME/``, so the two editions never train over each other's runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from lmlab.i18n import _

RETRAIN_ENV = "LMLAB_RETRAIN"  # "1": retrain everything here; "a,b": retrain the runs named a and b
PREPARE_ENV = "LMLAB_PREPARE_INTO"  # set by `lmlab prepare`: the root each named fit trains into
NOTEBOOK_ENV = "LMLAB_PREPARE_NOTEBOOK"  # set by `lmlab prepare`: the notebook it runs (recorded)
LIVE_FIGURE_ENV = "LMLAB_LIVE_FIGURE"  # while a run is prepared: where its live view leaves its last figure
LOG_ENV = "LMLAB_PREPARED_LOG"  # a folder: NAME.json per cached() call, {"name", "loaded"} (prepare, tests)
RECORD = "prepared.json"  # written last: the run is complete
STARTED = "preparing.json"  # written first: which configuration an unfinished folder holds
EDITION_DIR = "zh"  # the Chinese edition's runs of the fits that read the poems in its (simplified) script
WHERE = ("device", "precision", "threads")  # where and how fast a run trains, not what it learns: not hashed


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable fingerprint of a configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resolved_config(name: str, config: Any, *, preset: str, corpus: str) -> dict[str, Any]:
    """What the run ``name`` depends on: its configuration (a dict or a dataclass, less :data:`WHERE`),
    its name, preset, corpus and the lmlab version. Its hash is the key of the prepared run."""
    from lmlab import __version__

    values = asdict(config) if is_dataclass(config) and not isinstance(config, type) else dict(config)
    values = {k: v for k, v in values.items() if k not in WHERE}
    return {"job": name, "preset": preset, "corpus": corpus, "lmlab": __version__, **values}


def default_root() -> Path:
    """The classroom mirror ($LMLAB_DATA_DIR) when set and writable, else lmlab's cache folder (a student
    on a class server prepares into their own cache; the read-only mirror is only read)."""
    from lmlab.data.download import cache_dir, mirror_dir
    from lmlab.mirror import readonly_mirror

    return cache_dir() if readonly_mirror() is not None else (mirror_dir() or cache_dir())


def search_roots() -> list[Path]:
    """Where prepared runs are looked up, in order: the mirror, then the cache (``lmlab prepare``: only
    the folder it fills)."""
    from lmlab.data.download import cache_dir, mirror_dir

    into = preparing()
    roots = [into] if into is not None else [mirror_dir(), cache_dir()]
    return [r for i, r in enumerate(roots) if r is not None and r not in roots[:i]]


def preparing() -> Path | None:
    """The root ``lmlab prepare`` trains into while it executes a notebook, else None (a lesson)."""
    into = os.environ.get(PREPARE_ENV, "").strip()
    return Path(into) if into else None


def resuming(out: str | os.PathLike) -> bool:
    """True when ``lmlab prepare`` goes on with an interrupted run of the same configuration in ``out``
    (a fit passes it to its trainer's ``resume``); in a lesson a fit always starts afresh."""
    return preparing() is not None and (Path(out) / "ckpt.pt").exists()


def run_dir(root: Path, preset: str, name: str, *, script: bool = False) -> Path:
    """The folder of the prepared run ``name``: ``ROOT/prepared/PRESET/NAME``, or ``.../PRESET/zh/NAME``
    for a run that reads the Tang poems (``script``) when the edition's script is simplified."""
    from lmlab.data.corpora import edition_script

    edition = EDITION_DIR if script and edition_script() == "simplified" else None
    return Path(root) / "prepared" / preset / (f"{edition}/{name}" if edition else name)


@dataclass(frozen=True)
class PreparedRun:
    """A run's folder and its record (``prepared.json``); ``loaded``: found prepared, not trained here."""

    name: str
    path: Path
    record: dict[str, Any]
    loaded: bool = field(default=True, compare=False)

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


def record_prepared(path: Path, config: dict[str, Any], *, metrics: dict[str, Any],
                    samples: Sequence[str] = (), figure: str = "live.png",
                    cost: dict[str, Any] | None = None, notebook: str | None = None) -> Path:
    """Write ``prepared.json`` (last, atomically): the run in ``path`` is now complete and current.
    ``cost``: what preparing it took (``wall_s``, ``device``, ...), for README's cost table; not hashed."""
    from lmlab.atomic import atomic_write

    record = {"config": config, "hash": config_hash(config), "created": time.strftime("%Y-%m-%d %H:%M"),
              "metrics": metrics, "samples": list(samples), "figure": figure, "files": file_sizes(path)}
    if cost:
        record["cost"] = cost
    if notebook:
        record["notebook"] = notebook
    with atomic_write(Path(path) / RECORD, "w") as f:
        json.dump(record, f, indent=1, default=str)
    return Path(path) / RECORD


def file_sizes(path: Path) -> dict[str, int]:
    """Every file of the run in ``path`` (but its records) and its size: a copy cut short shows."""
    return {str(f.relative_to(path)): f.stat().st_size for f in sorted(Path(path).rglob("*"))
            if f.is_file() and f.name not in (RECORD, STARTED) and not f.name.endswith(".part")}


def files_problem(path: Path, record: dict[str, Any]) -> str | None:
    """Why a file the record lists is not there whole (missing, or of another size), or None."""
    for name, size in (record.get("files") or {}).items():
        file = Path(path) / name
        if not file.is_file():
            return _("{file} is missing; the copy was cut short").format(file=file)
        if file.stat().st_size != size:
            return _("{file} holds {have:,} of its {size:,} bytes; the copy was cut short").format(
                file=file, have=file.stat().st_size, size=size)
    return None


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


@dataclass
class Lookup:
    """What a lookup found: the current run, or the folders holding a stale or an unreadable one."""

    run: PreparedRun | None = None
    stale: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # (folder, its record)
    broken: list[str] = field(default_factory=list)  # why each unreadable record is no record


def lookup(name: str, config: Any, *, preset: str, corpus: str, script: bool = False) -> Lookup:
    """Look the run ``name`` of ``config`` up in :func:`search_roots`; says nothing, trains nothing."""
    wanted = resolved_config(name, config, preset=preset, corpus=corpus)
    key, found = config_hash(wanted), Lookup()
    for root in search_roots():
        path = run_dir(root, preset, name, script=script)
        record = read_record(path)
        if record is not None and record.get("hash") == key:
            if why := files_problem(path, record):
                found.broken.append(why)
                continue
            found.run = PreparedRun(name, path, record)
            return found
        if record is not None:
            found.stale.append((path, record))
        elif why := record_problem(path):
            found.broken.append(why)
    return found


def differences(old: dict[str, Any], new: dict[str, Any], most: int = 3) -> str:
    """The settings that differ, ``key old → new``, at most ``most`` of them (then how many more)."""
    def shown(values: dict[str, Any], key: str) -> str:  # as the record holds it (a tuple is a list there)
        if key not in values:
            return "—"
        return json.dumps(values[key], sort_keys=True, default=str, ensure_ascii=False)

    keys = [k for k in sorted({*old, *new}) if shown(old, k) != shown(new, k)]
    parts = [f"{k} {shown(old, k)} → {shown(new, k)}" for k in keys[:most]]
    return ", ".join(parts) + (f" (+{len(keys) - most})" if len(keys) > most else "")


def _retrain_asked(name: str) -> bool:
    value = os.environ.get(RETRAIN_ENV, "").strip()
    return value in ("1", "all", "yes", "true") or name in {v.strip() for v in value.split(",")}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else (f"{seconds / 60:.0f} min" if seconds < 7200
                                                      else f"{seconds / 3600:.1f} h")


def _trained_for(record: dict[str, Any]) -> str:
    """How long the run trained: its training seconds, else what preparing it took."""
    metrics, cost = record.get("metrics") or {}, record.get("cost") or {}
    seconds = metrics.get("train_s") if isinstance(metrics, dict) else None
    return _duration(seconds if isinstance(seconds, (int, float)) else cost.get("wall_s"))


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (numpy arrays as lists, dict keys as strings): a run trained here
    hands the cell the same kinds of values as a prepared one."""
    def default(o: Any) -> Any:
        return o.tolist() if hasattr(o, "tolist") else str(o)

    return json.loads(json.dumps(value, default=default))


def _metrics(result: Any, out: Path, save: Callable[[Any, Path], Any] | None) -> dict[str, Any]:
    """What a fit's result records: ``save``'s dict, the result itself when it is a dict, its ``metrics``,
    else the ``metrics.json`` the fit wrote (a command line run)."""
    saved = save(result, out) if save is not None else None
    if isinstance(saved, dict):
        metrics: Any = saved
    elif isinstance(result, dict):
        metrics = result
    elif isinstance(getattr(result, "metrics", None), dict):
        metrics = result.metrics
    elif (Path(out) / "metrics.json").is_file():
        metrics = json.loads((Path(out) / "metrics.json").read_text(encoding="utf-8"))
    else:
        metrics = {}
    return _plain(metrics)


def _cost(wall_s: float, resumed: bool) -> dict[str, Any]:
    """What preparing a run took, recorded beside it (README's cost table reads it; not hashed).
    ``resumed``: ``wall_s`` is the last part's only (its training seconds, in the metrics, count them all)."""
    import torch

    cuda = torch.cuda.is_available() and os.environ.get("LMLAB_DEVICE", "cuda").startswith("cuda")
    return {"wall_s": round(wall_s, 1), "device": "cuda" if cuda else os.environ.get("LMLAB_DEVICE", "cpu"),
            "device_name": torch.cuda.get_device_name() if cuda else "", "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), "resumed": resumed}


def _say(text: str) -> None:
    print(text, flush=True)


def _log(name: str, loaded: bool) -> None:
    """``$LMLAB_PREPARED_LOG/NAME.json`` (when the folder is named): whether the run was loaded or trained."""
    folder = os.environ.get(LOG_ENV)
    if folder:
        from lmlab.atomic import atomic_write

        with atomic_write(Path(folder) / f"{name}.json") as f:
            json.dump({"name": name, "loaded": loaded}, f)


def read_log(folder: str | os.PathLike) -> dict[str, bool]:
    """What ``$LMLAB_PREPARED_LOG`` recorded: run name -> loaded (True) or trained here (False)."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        entry = json.loads(path.read_text(encoding="utf-8"))
        found[entry["name"]] = bool(entry["loaded"])
    return found


def cached(name: str, config: Any, *, preset: str, corpus: str, fit: Callable[[Path], Any],
           load: Callable[[PreparedRun], Any] | None = None, save: Callable[[Any, Path], Any] | None = None,
           out: str | os.PathLike | None = None, script: bool = False, show: bool = True) -> Any:
    """The run ``name`` of ``config``: loaded when it is prepared and current, else ``fit(out)`` here.

    ``fit(out)`` trains and writes its files into ``out`` (default ``runs/NAME``); ``load(run)`` turns a
    prepared run into what ``fit`` returns. Without ``load`` the answer is a :class:`PreparedRun` either way
    (``.metrics``, ``.path``, ``.loaded``): the fit then returns its metrics (a dict, or an object with
    ``.metrics``, or nothing when it writes ``metrics.json``). ``save(result, out)`` writes what a fit
    returns but does not write itself (only while ``lmlab prepare`` runs) and may return the metrics to
    record. ``script``: the fit reads the Tang poems in the edition's script. ``$LMLAB_RETRAIN`` (``1``,
    or names) trains here even when a run is prepared."""
    wanted = resolved_config(name, config, preset=preset, corpus=corpus)
    into = preparing()
    if _retrain_asked(name):
        _say(_("lmlab: training {name} here ({env} asked for it)").format(name=name, env=RETRAIN_ENV))
    else:
        found = lookup(name, config, preset=preset, corpus=corpus, script=script)
        run = found.run
        try:
            loaded = load(run) if load is not None and run is not None else run
        except Exception as err:  # a file that cannot be read (a copy cut short): never stop the lesson
            found.broken.insert(0, _("the prepared run in {path} cannot be loaded ({error})").format(
                path=run.path, error=f"{type(err).__name__}: {err}".splitlines()[0]))
            run = None
        if run is not None:
            _say(_("lmlab: ✓ loaded the prepared run {name} ({preset} preset, {corpus}; trained {trained}, "
                   "{created}) from {path}; {env}={name} trains it here").format(
                name=name, preset=preset, corpus=corpus, trained=_trained_for(run.record),
                created=run.record.get("created", "?"), path=run.path, env=RETRAIN_ENV))
            if show:
                run.show()
            _log(name, True)
            return loaded
        if found.broken:
            _say(_("lmlab: {why}: training {name} here").format(why=found.broken[0], name=name))
        elif found.stale:
            path, record = found.stale[0]
            _say(_("lmlab: the prepared run in {path} was trained with other settings ({changes}); training "
                   "{name} here").format(path=path, name=name,
                                         changes=differences(record.get("config") or {}, wanted)))
        elif into is None:
            _say(_("lmlab: no prepared run of {name} for the {preset} preset; training it here ('lmlab "
                   "prepare --preset {preset}' trains every run ahead of a lesson)").format(
                name=name, preset=preset))
    _log(name, False)
    if into is not None:
        return _prepare(name, wanted, run_dir(into, preset, name, script=script), fit, load, save)
    target = Path(out) if out is not None else Path("runs") / name
    target.mkdir(parents=True, exist_ok=True)
    result = fit(target)
    _check_exit(name, result)
    if load is not None:
        return result
    record = {"config": wanted, "metrics": _metrics(result, target, None)}
    return PreparedRun(name, target, record, loaded=False)


def _check_exit(name: str, result: Any) -> None:
    if isinstance(result, int) and not isinstance(result, bool) and result != 0:  # a command line's status
        raise RuntimeError(f"{name}: the training command failed (exit status {result})")


def _prepare(name: str, wanted: dict[str, Any], target: Path, fit: Callable[[Path], Any],
             load: Callable[[PreparedRun], Any] | None, save: Callable[[Any, Path], Any] | None) -> Any:
    """``lmlab prepare``'s fit: into ``target``, going on from an unfinished run of the same configuration,
    then ``prepared.json`` last."""
    from lmlab.train.metrics import write_json_atomic

    key = config_hash(wanted)
    try:
        started = json.loads((target / STARTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        started = None
    resume = (isinstance(started, dict) and started.get("hash") == key and not _retrain_asked(name)
              and not (target / RECORD).exists())  # a finished run found broken is trained again
    if not resume:
        if target.exists():
            shutil.rmtree(target)  # a stale, broken or half-finished run of other settings
        target.mkdir(parents=True)
        write_json_atomic(target / STARTED, {"hash": key, "job": name,
                                             "started": time.strftime("%Y-%m-%d %H:%M")})
    _say(f"lmlab prepare: {'going on with the unfinished' if resume else 'training'} {name} in {target} ...")
    t0 = time.perf_counter()
    figure = os.environ.get(LIVE_FIGURE_ENV)
    os.environ[LIVE_FIGURE_ENV] = str(target / "live.png")
    try:
        result = fit(target)
    finally:
        if figure is None:
            os.environ.pop(LIVE_FIGURE_ENV, None)
        else:
            os.environ[LIVE_FIGURE_ENV] = figure
    _check_exit(name, result)
    metrics = _metrics(result, target, save)
    if metrics.get("stopped") == "interrupted":  # a trainer that stopped cleanly on Ctrl-C: not finished
        raise KeyboardInterrupt(f"{name} was interrupted; 'lmlab prepare' goes on from its checkpoint")
    wall_s = time.perf_counter() - t0
    record = record_prepared(target, wanted, metrics=metrics, cost=_cost(wall_s, resume),
                             notebook=os.environ.get(NOTEBOOK_ENV))
    _say(f"lmlab prepare: {name} done in {_duration(wall_s)} -> {record}")
    if load is not None:
        return result
    return PreparedRun(name, target, json.loads(record.read_text(encoding="utf-8")), loaded=False)


def find_checkpoint(name: str, config: Any, *, preset: str, corpus: str, notebook: str,
                    local: Sequence[str | os.PathLike] = (), env: str | None = None) -> Path | None:
    """A model an earlier notebook trained: ``$env``, then the ``local`` folders (``runs/...`` of this
    machine), then the prepared run ``name`` of ``config``. Says which one it uses, or that there is none."""
    for path in [os.environ.get(env) if env else None, *local]:
        if path and (Path(path) / "ckpt.pt").exists():
            print(_("lmlab: using the model in {path}").format(path=path))
            return Path(path)
    found = lookup(name, config, preset=preset, corpus=corpus)
    if found.run is not None and (found.run.path / "ckpt.pt").exists():
        print(_("lmlab: ✓ using the prepared run {name} ({preset} preset) from {path}").format(
            name=name, preset=preset, path=found.run.path))
        return found.run.path
    places = ([f"${env}"] * bool(env) + [str(p) for p in local]
              + [_("the prepared runs ({preset} preset)").format(preset=preset)])
    why = _(" ({path} is stale: other settings)").format(path=found.stale[0][0]) if found.stale else ""
    print(_("lmlab: no trained {name} found in {places}{why}: run notebook {notebook} first, or 'lmlab "
            "prepare --preset {preset}'.").format(name=name, places=", ".join(places), why=why,
                                                   notebook=notebook, preset=preset))
    return None


def save_word2vec(result: Any, path: Path) -> dict[str, Any]:
    """A word2vec run's vectors (word2vec text format) and its training snapshots, into ``path``; returns
    the metrics to record (its speed)."""
    import numpy as np

    from lmlab.atomic import atomic_write

    result.recipe.vectors.save_word2vec_format(Path(path) / "vectors.txt")
    snapshots = result.recipe.snapshots
    if snapshots:
        with atomic_write(Path(path) / "snapshots.npz", "wb") as f:
            np.savez(f, epochs=np.array([e for e, _ in snapshots]),
                     rows=np.stack([rows for _, rows in snapshots]))
    m = result.metrics
    return {"words_per_sec": m["words_per_sec"], "wall_s": m["wall_s"], "train_s": m["train_s"]}


def load_word2vec(run: PreparedRun, vocab: Any, config: Any) -> Any:
    """A prepared run as a trained ``Run`` reads: ``.metrics`` (its speed) and ``.recipe`` (``vectors``,
    ``snapshots``, ``vocab``, ``tcfg``)."""
    from types import SimpleNamespace

    import numpy as np

    from lmlab.models.word2vec import WordVectors

    vectors = WordVectors.load_word2vec_format(run.path / "vectors.txt")
    snapshots = []
    if (run.path / "snapshots.npz").exists():
        with np.load(run.path / "snapshots.npz") as saved:
            snapshots = [(float(e), rows) for e, rows in zip(saved["epochs"], saved["rows"], strict=True)]
    recipe = SimpleNamespace(vectors=vectors, snapshots=snapshots, vocab=vocab, tcfg=config)
    return SimpleNamespace(recipe=recipe, metrics={k: run.metrics[k] for k in ("words_per_sec", "wall_s")})

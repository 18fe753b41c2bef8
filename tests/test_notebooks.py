"""The notebook contract: every pair in sync, no outputs committed, and every notebook runs top to bottom
in the smoke preset on a bare machine (CPU, no network, empty home, no data mirror) and draws its figures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PY_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
IPYNB_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))

# Python sockets may reach 127.0.0.1 only (the kernel's own zmq sockets are not Python sockets).
NO_NETWORK = '''
import socket as _socket

_connect = _socket.socket.connect
_LOCAL = ("127.", "::1", "localhost")


def _local_only(self, address, *args, **kwargs):
    if self.family in (_socket.AF_INET, _socket.AF_INET6) and not str(address[0]).startswith(_LOCAL):
        raise OSError(f"network access to {address!r} is blocked in the notebook tests")
    return _connect(self, address, *args, **kwargs)


_socket.socket.connect = _local_only
'''

# An IPython start-up file of the bare machine's kernel: every figure drawn (shown inline or saved) appends
# its words (titles, axis labels, legends, annotations, table cells; not tick labels, which show data) to
# $LMLAB_FIGURE_TEXTS as one JSON line, so a test can read what a learner saw on the figures.
FIGURE_TEXTS = '''
import json as _json
import os as _os

if _os.environ.get("LMLAB_FIGURE_TEXTS"):
    import matplotlib.backend_bases as _bb
    import matplotlib.text as _mtext

    _print_figure = _bb.FigureCanvasBase.print_figure

    def _figure_words(fig):
        ticks, labels = set(), []
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                for which in ("major", "minor"):
                    ticks.update(map(id, axis.get_ticklabels(which=which)))
                ticks.add(id(axis.get_offset_text()))
                labels.append(axis.label)
            labels += [ax.title, ax._left_title, ax._right_title]
        for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
            if legend is not None:
                labels += [*legend.get_texts(), legend.get_title()]
        labels += [t for t in (getattr(fig, n, None) for n in ("_suptitle", "_supxlabel", "_supylabel")) if t]
        shown = lambda t: t.get_visible() and t.get_text().strip()
        label_ids = {id(t) for t in labels}
        return {"labels": [t.get_text() for t in labels if shown(t)],
                "texts": [t.get_text() for t in fig.findobj(_mtext.Text)
                          if id(t) not in ticks and id(t) not in label_ids and shown(t)]}

    def _recording_print_figure(self, *args, **kwargs):
        try:
            words = _figure_words(self.figure)
            with open(_os.environ["LMLAB_FIGURE_TEXTS"], "a", encoding="utf-8") as f:
                f.write(_json.dumps(words, ensure_ascii=False) + "\\n")
        except Exception:  # recording must never change what the notebook does
            pass
        return _print_figure(self, *args, **kwargs)

    _bb.FigureCanvasBase.print_figure = _recording_print_figure
'''


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks_and_every_py_has_its_ipynb():
    assert (NOTEBOOKS / "00_welcome.py").exists()
    for py in PY_FILES:
        assert py.with_suffix(".ipynb").exists(), f"{py.name} has no .ipynb: run jupytext --sync {py}"
    for nb in IPYNB_FILES:
        assert nb.with_suffix(".py").exists(), f"{nb.name} has no .py pair: run jupytext --sync {nb}"


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.stem)
def test_pair_is_in_sync(py):
    from_py = jupytext.read(py)
    from_ipynb = jupytext.read(py.with_suffix(".ipynb"))
    assert _cells(from_py) == _cells(from_ipynb), (
        f"{py.name} and {py.with_suffix('.ipynb').name} differ: run "
        f"'.venv/bin/jupytext --sync notebooks/{py.name}' after editing either")


@pytest.mark.parametrize("path", IPYNB_FILES, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs_and_is_small(path):
    """Outputs are left out of git (small diffs, no stale results); the static site shows them."""
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("outputs")]
    assert not with_outputs, (f"{path.name} cells {with_outputs} carry outputs; clear them (Edit > Clear "
                              "Outputs of All Cells, or jupytext --sync from the .py)")
    assert path.stat().st_size < 200_000


def bare_machine_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a fresh machine: empty home, no mirror, no network, CPU, smoke preset."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_NETWORK)
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-figure-texts.py").write_text(FIGURE_TEXTS)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LMLAB_", "JUPYTER_", "IPYTHON", "MPLCONFIGDIR", "XDG_"))}
    env.update(
        HOME=str(home), LMLAB_PRESET="smoke", LMLAB_OFFLINE="1", LMLAB_DEVICE="cpu",
        CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYDEVD_DISABLE_FILE_VALIDATION="1", LMLAB_FIGURE_TEXTS=str(figure_texts_path(tmp_path)),
        LMLAB_UNKNOWN_LOG=str(tmp_path / "unknown"),  # what models could not read (lmlab.tokenizers.unknown)
    )
    return env


def assert_models_read_their_script(name: str, env: dict[str, str], limit: float = 0.01) -> None:
    """At most ``limit`` of the characters each model's vocabulary was given in the notebook were unknown
    to it: a model trained on one script and fed the other (春眠不觉晓 to a traditional model) fails here."""
    from lmlab.tokenizers.unknown import read_log, too_many

    over = too_many(read_log(env["LMLAB_UNKNOWN_LOG"]), limit)
    assert not over, (f"{name}: a model was fed characters it does not know (is everything in the edition's "
                      "script?):\n" + "\n".join(over))


def figure_texts_path(tmp_path: Path) -> Path:
    """Where a kernel started with :func:`bare_machine_env` writes the words of every figure it drew."""
    return tmp_path / "figure-texts.jsonl"


def figure_texts(tmp_path: Path) -> dict[str, list[str]]:
    """The distinct words of every figure the notebook drew: ``labels`` (titles, axis labels, legends)
    and ``texts`` (annotations, table cells: often data, such as the words of a word-vector map)."""
    import json

    path = figure_texts_path(tmp_path)
    seen: dict[str, dict[str, None]] = {"labels": {}, "texts": {}}
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        for kind, texts in json.loads(line).items():
            seen[kind].update(dict.fromkeys(texts))
    return {kind: list(texts) for kind, texts in seen.items()}


def execute_notebook(path: Path, env: dict[str, str], timeout: int = 300) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in its own folder with nbclient; raises on the first error."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return nb


def figures(nb: nbformat.NotebookNode) -> int:
    return sum(1 for c in nb.cells for o in c.get("outputs", [])
               if {"image/png", "image/svg+xml"} & set(o.get("data", {})))


def prepare_for(path: Path, tmp_path: Path, env: dict[str, str]) -> Path | None:
    """``lmlab prepare --preset smoke`` of what ``path`` trains and of the earlier notebooks whose models it
    loads (``find_checkpoint(..., notebook="03_transformer")``), on the same bare machine, into a fresh
    mirror: the training half of the test (each fit trains there, as a teacher's prepare does). None when the
    notebook trains nothing through the cache and loads no earlier model."""
    import re
    import subprocess
    import sys

    source = path.with_suffix(".py").read_text(encoding="utf-8")
    names = set(re.findall(r'notebook="(\d\d_\w+)"', source))  # 04 and 05 load 03's GPT
    if "cached(" in source:
        names.add(path.stem)
    names = sorted(names)
    if not names:
        return None
    mirror = tmp_path / "mirror"
    side = {**env, "LMLAB_UNKNOWN_LOG": str(tmp_path / "prepare-unknown"),
            "LMLAB_FIGURE_TEXTS": str(tmp_path / "prepare-figures.jsonl")}
    proc = subprocess.run([sys.executable, "-m", "lmlab", "prepare", *names, "--preset", "smoke", "--dest",
                           str(mirror), "--notebooks", str(path.parent)], env=side, capture_output=True,
                          text=True, timeout=1800)
    said = f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0, f"lmlab prepare {' '.join(names)}:\n{said}"
    return mirror


@pytest.mark.slow
@pytest.mark.parametrize("path", IPYNB_FILES, ids=lambda p: p.stem)
def test_notebook_runs_on_a_bare_machine(path, tmp_path):
    """Trains what the notebook trains (``lmlab prepare`` into a fresh mirror), then runs the notebook with
    that mirror: every cell runs, and every fit it names loads the prepared run instead of training."""
    env = bare_machine_env(tmp_path)
    env["LMLAB_RECORD"] = str(tmp_path / "figures.json")  # what cite(...) computed, for the prose check
    mirror = prepare_for(path, tmp_path, env)
    if mirror is not None:
        env.update(LMLAB_DATA_DIR=str(mirror), LMLAB_PREPARED_LOG=str(tmp_path / "prepared-log"))
    folder = tmp_path / "notebook"  # a folder of its own: no runs/ an earlier notebook left is found here
    folder.mkdir()
    nb = execute_notebook(Path(shutil.copy(path, folder / path.name)), env)
    errors = [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells)
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{path.name}: cells raised {errors}"
    stderr = "".join(o.text for c in nb.cells for o in c.get("outputs", [])
                     if o.output_type == "stream" and o.name == "stderr")
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "missing from font" not in stderr, "a glyph fell back to a box: " + stderr[-500:]
    assert figures(nb) >= 1, f"{path.name} drew no figure"
    assert "blocked in the notebook tests" not in stderr
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "could not read the measurement" not in text, "a prediction check got a broken measurement"
    assert_models_read_their_script(path.name, env)
    assert_prose_matches_output(path.with_suffix(".py"), Path(env["LMLAB_RECORD"]))
    if mirror is not None:
        assert_everything_loaded(path, env, text)


def assert_everything_loaded(path: Path, env: dict[str, str], text: str) -> None:
    """With a prepared mirror no fit trained: each run the notebook named was loaded (``lmlab.prepared``'s
    log), and an earlier notebook's model it needs came from the mirror."""
    from lmlab.prepared import read_log

    fits = read_log(env["LMLAB_PREPARED_LOG"])
    trained = [name for name, loaded in fits.items() if not loaded]
    assert not trained, f"{path.name} trained {trained} although the mirror holds them prepared"
    if "cached(" in path.with_suffix(".py").read_text(encoding="utf-8"):
        assert fits, f"{path.name} named no prepared run"
    if 'notebook="' in path.with_suffix(".py").read_text(encoding="utf-8"):
        assert "✓ using the prepared run" in text, f"{path.name} did not load the earlier notebook's model"


def assert_prose_matches_output(notebook: Path, record_path: Path, preset: str = "smoke") -> None:
    """Every figure the markdown cites (``4.17<!--cite:name-->``) was computed by this run, and matches it
    unless it names another preset (lmlab.cite): a stale figure in the prose fails here."""
    import json

    from lmlab.cite import stale_figures

    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    stale = stale_figures(notebook, record, preset)
    assert not stale, "\n".join(stale)


@pytest.mark.slow
def test_welcome_shows_live_view_fallback_note_and_feedback(tmp_path):
    nb = execute_notebook(NOTEBOOKS / "00_welcome.ipynb", bare_machine_env(tmp_path))
    text = "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                     for c in nb.cells for o in c.get("outputs", []))
    assert "preset=smoke" in text
    assert "not available here; using the built-in offline corpus" in text  # visible note, no traceback
    assert "live view · iteration 60" in text
    assert "✗ welcome.uniform_loss" in text and "replace the `...`" in text
    live = [o for c in nb.cells if c.cell_type == "code" and "run.fit()" in c.source for o in c.outputs
            if "image/png" in o.get("data", {})]
    assert len(live) == 1, "the live view must be one image updated in place"
    assert len(live[0]["data"]["image/png"]) < 100_000  # base64 of a small PNG
    assert figures(nb) >= 3  # live view, temperature plot, CJK bar chart

"""Fault injection for the command line, for real: a file-size limit (a full disk, as the kernel reports
it), an output path whose parent is a regular file, a folder that refuses new files, bad flags. No failure
is mocked; each runs ``python -m lmlab`` in a subprocess. (The tests run as root, so chmod would not stop
a write: a file-size limit and paths the kernel refuses are what root cannot get around.)

Every case: one line on stderr naming what failed and where, a non-zero exit, no traceback, and no
half-written file: the previous output, if any, is intact.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def lmlab(*args: str, cwd: Path, file_size_limit: int | None = None,
          debug: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LMLAB_DEBUG"}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", LMLAB_OFFLINE="1")
    if debug:
        env["LMLAB_DEBUG"] = "1"

    def limit() -> None:  # in the child only: writes past this size fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([sys.executable, "-m", "lmlab", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300, preexec_fn=limit if file_size_limit else None)


def one_line(proc: subprocess.CompletedProcess, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lmlab") and ": error: " in lines[0]
    return lines[0]


@pytest.fixture
def vectors(tmp_path: Path) -> Path:
    from lmlab.models.word2vec import WordVectors

    words = ["king", "queen", "man", "woman", "paris", "france", "rome", "italy"]
    rows = np.random.default_rng(0).normal(size=(len(words), 5)).astype(np.float32)
    return WordVectors(words, rows).save_word2vec_format(tmp_path / "vectors.txt")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_full_disk_leaves_the_previous_figure_intact(tmp_path, vectors):
    out = tmp_path / "words.png"
    out.write_bytes(b"the previous figure")
    # a 2-D PNG of 8 labelled words is tens of KB; 4 KB is not enough
    line = one_line(lmlab("viz", "embeddings", str(vectors), "-o", str(out), cwd=tmp_path,
                          file_size_limit=4096), code=1)
    assert "File too large (EFBIG)" in line and repr(str(out)) in line and "ulimit" in line
    assert out.read_bytes() == b"the previous figure" and leftovers(tmp_path) == []
    proc = lmlab("viz", "embeddings", str(vectors), "-o", str(out), cwd=tmp_path)  # no limit: it works
    assert proc.returncode == 0 and out.read_bytes().startswith(b"\x89PNG")


def test_a_full_disk_during_the_html_projector(tmp_path, vectors):
    out = tmp_path / "projector.html"
    line = one_line(lmlab("viz", "embeddings", str(vectors), "--analogies", "man:king::woman", "-o", str(out),
                          cwd=tmp_path, file_size_limit=2048), code=1)
    assert "EFBIG" in line and "projector.html" in line
    assert not out.exists() and leftovers(tmp_path) == []


def test_an_output_folder_that_is_a_file(tmp_path, vectors):
    (tmp_path / "results").write_text("a file, not a folder", encoding="utf-8")
    line = one_line(lmlab("viz", "embeddings", str(vectors), "-o", "results/words.png", cwd=tmp_path), code=1)
    assert "'results'" in line and "not a folder" in line


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_a_folder_that_refuses_new_files(tmp_path, vectors):
    """sysfs refuses to create files even for root: the same answer as a read-only folder."""
    line = one_line(lmlab("viz", "embeddings", str(vectors), "-o", "/sys/kernel/lmlab-words.png",
                          cwd=tmp_path), code=1)
    assert "'/sys/kernel/lmlab-words.png'" in line
    assert any(code in line for code in ("EACCES", "EROFS", "EPERM"))


def test_bad_flags_stop_before_any_file_is_written(tmp_path, vectors):
    line = one_line(lmlab("viz", "embeddings", str(vectors), "--dim", "4", "-o", "w.png", cwd=tmp_path), 2)
    assert "--dim" in line and "invalid choice: 4" in line
    line = one_line(lmlab("viz", "embeddings", str(vectors), "--analogies", "man:king::woman", "-o", "w.png",
                          cwd=tmp_path), 2)
    assert "FILE.html" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.txt"]


@pytest.fixture
def gpt_checkpoint(tmp_path: Path) -> Path:
    import torch

    from lmlab.checkpoint import save_checkpoint
    from lmlab.models.transformer import GPT, GPTConfig
    from lmlab.tokenizers import CharTokenizer

    tok = CharTokenizer.fit("to be or not to be, that is the question.")
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    save_checkpoint(tmp_path / "gpt" / "ckpt.pt", model=gpt, config=gpt.config, kind="gpt", tokenizer=tok)
    return tmp_path / "gpt"


def test_a_full_disk_during_an_attention_page_leaves_the_previous_page(tmp_path, gpt_checkpoint):
    out = tmp_path / "head.html"
    out.write_text("the previous page", encoding="utf-8")
    # the self-contained page carries bertviz's d3 and jQuery (hundreds of KB); 32 KB is not enough
    line = one_line(lmlab("viz", "attention", str(gpt_checkpoint), "--text", "to be", "--view", "head", "-o",
                          str(out), cwd=tmp_path, file_size_limit=32_768), code=1)
    assert "EFBIG" in line and "head.html" in line
    assert out.read_text(encoding="utf-8") == "the previous page" and leftovers(tmp_path) == []


def test_a_full_disk_during_lmlab_site_leaves_the_previous_pages(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "00_welcome.html").write_text("the previous page", encoding="utf-8")
    # a rendered notebook carries its CSS and formulas (over 300 KB); 64 KB is not enough
    line = one_line(lmlab("site", "00_welcome", "--no-execute", "--out", str(site), cwd=tmp_path,
                          file_size_limit=65_536), code=1)
    assert "EFBIG" in line and "00_welcome.html" in line
    assert (site / "00_welcome.html").read_text(encoding="utf-8") == "the previous page"
    assert leftovers(site) == []


GIF_SCRIPT = """
import sys
from matplotlib.figure import Figure
from lmlab.viz.animate import figures_to_gif, save_animation
from matplotlib.animation import FuncAnimation
figs = []
for k in range(4):
    fig = Figure(figsize=(4, 4))
    fig.subplots().plot(range(50), [((k + 1) * x) % 7 for x in range(50)])
    figs.append(fig)
try:
    if sys.argv[2] == "figures":
        figures_to_gif(figs, sys.argv[1], dpi=100)
    else:
        save_animation(FuncAnimation(figs[0], lambda k: None, frames=6), sys.argv[1], dpi=100)
except OSError as err:
    print(err.filename, err.errno, file=sys.stderr)
    sys.exit(1)
"""


@pytest.mark.parametrize("how", ["figures", "animation"])
def test_a_full_disk_during_a_gif_leaves_the_previous_gif(tmp_path, how):
    out = tmp_path / "grow.gif"
    out.write_bytes(b"the previous gif")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", GIF_SCRIPT, str(out), how], capture_output=True, text=True,
                          env=env, timeout=300, preexec_fn=limit)
    assert proc.returncode == 1, proc.stderr
    assert str(out) in proc.stderr  # the OSError names the GIF, not its temporary
    assert out.read_bytes() == b"the previous gif"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grow.gif"]


def test_lmlab_debug_shows_the_traceback_of_a_full_disk(tmp_path, vectors):
    out = tmp_path / "projector.html"
    proc = lmlab("viz", "embeddings", str(vectors), "-o", str(out), cwd=tmp_path, file_size_limit=2048,
                 debug=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "File too large" in proc.stderr
    assert not out.exists() and leftovers(tmp_path) == []

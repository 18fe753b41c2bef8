"""The read-only classroom mirror (lmlab.mirror): lookups read it, every lmlab write into it is refused with
one line before anything changes, and per-user writes go to the user's own folders."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from classroom import CONFIG, CORPUS, JOB, checksums, chmod_read_only, make_mirror, make_writable

from lmlab.errors import ReadOnlyMirror

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mirror(tmp_path, monkeypatch, wiki_sample_file) -> Path:
    """A classroom mirror, declared read-only the way ``lmlab hub`` does; an empty per-user cache."""
    folder = make_mirror(tmp_path / "mirror", wiki_sample_file)
    monkeypatch.setenv("LMLAB_DATA_DIR", str(folder))
    monkeypatch.setenv("LMLAB_DATA_READONLY", "1")
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path / "home" / "cache"))
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    return folder


def test_lookups_read_the_read_only_mirror(mirror, capsys, wiki_sample_file):
    from lmlab.data import load_text, local_path
    from lmlab.prepared import cached, default_root

    before = checksums(mirror)
    assert local_path("wiki_sample") == (mirror / wiki_sample_file.name, "mirror")
    assert len(load_text("wiki_sample")) > 1000
    prep = cached(JOB, CONFIG, preset="smoke", corpus=CORPUS, show=False, fit=lambda out: 1 / 0)  # no fit
    assert prep.loaded and prep.path == mirror / "prepared" / "smoke" / JOB
    assert "loaded the prepared run" in capsys.readouterr().out
    # a student's own 'lmlab prepare' goes to their cache, not the shared mirror
    assert default_root() == Path(os.environ["LMLAB_CACHE_DIR"])
    assert checksums(mirror) == before


def test_every_write_into_the_mirror_is_refused_and_nothing_changes(mirror, tmp_path):
    import torch

    from lmlab.atomic import atomic_write
    from lmlab.checkpoint import save_checkpoint
    from lmlab.data import download

    before = checksums(mirror)
    target = mirror / "prepared" / "smoke" / "new_run" / "metrics.json"
    with pytest.raises(ReadOnlyMirror) as err, atomic_write(target) as f:
        f.write("{}")
    assert str(err.value) == (
        f"refusing to write '{mirror}/prepared/smoke/new_run/metrics.json': it is inside the read-only "
        f"classroom mirror LMLAB_DATA_DIR={mirror} (LMLAB_DATA_READONLY=1); write to your own folder "
        "instead (runs/ beside the notebook, or LMLAB_CACHE_DIR)")
    with pytest.raises(ReadOnlyMirror):
        save_checkpoint(mirror / "ckpt.pt", model=torch.nn.Linear(2, 2), config={}, kind="test")
    with pytest.raises(ReadOnlyMirror):
        download("https://example.org/x.txt", mirror / "x.txt", None)
    assert checksums(mirror) == before  # not even a folder or a temporary file
    # the same writes into the user's own folder work
    with atomic_write(tmp_path / "home" / "runs" / "metrics.json") as f:
        f.write("{}")
    assert (tmp_path / "home" / "runs" / "metrics.json").read_text() == "{}"


def _lmlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "lmlab", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_cli_writes_into_the_mirror_are_one_line(mirror):
    before = checksums(mirror)
    for args in (["prepare", JOB, "--preset", "smoke", "--dest", str(mirror)],
                 ["data", "fetch", "wiki_sample", "--dest", str(mirror / "corpora")]):
        proc = _lmlab(*args)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lmlab: error: refusing to "), proc.stderr
        assert f"read-only classroom mirror LMLAB_DATA_DIR={mirror}" in lines[0]
    assert checksums(mirror) == before


def test_hub_refuses_a_writable_mirror_when_read_only_is_asked(mirror, tmp_path):
    proc = _lmlab("hub", "--mirror", str(mirror), "--dir", str(tmp_path / "hub"), "--config-only")
    assert proc.returncode == 2
    mode = stat.filemode(mirror.stat().st_mode)
    assert proc.stderr.strip() == (
        f"lmlab: error: the classroom mirror '{mirror}' is writable ({mirror} has mode {mode}) but "
        f"--read-only was asked; make it read-only with 'chmod -R a-w {mirror}' or a read-only mount, or "
        "pass --no-read-only")
    assert not (tmp_path / "hub").exists()
    chmod_read_only(mirror)
    try:
        proc = _lmlab("hub", "--mirror", str(mirror), "--dir", str(tmp_path / "hub"), "--config-only",
                      "--threads-per-user", "3")
    finally:
        make_writable(mirror)
    assert proc.returncode == 0, proc.stderr
    config = (tmp_path / "hub" / "jupyterhub_config.py").read_text()
    assert f"'LMLAB_DATA_DIR': '{mirror}'" in config and "'LMLAB_THREADS': '3'" in config
    assert "'LMLAB_DATA_READONLY': '1'" in config and "c.JupyterHub.authenticator_class = 'pam'" in config
    assert "configurable-http-proxy" in config
    proc = _lmlab("hub", "--mirror", str(mirror), "--dir", str(tmp_path / "hub2"), "--config-only",
                  "--no-read-only")
    assert proc.returncode == 0 and "LMLAB_DATA_READONLY" not in (tmp_path / "hub2" /
                                                                   "jupyterhub_config.py").read_text()


@pytest.mark.parametrize("args, message", [
    (["--auth", "dummy"], "--auth dummy needs a shared password in LMLAB_HUB_PASSWORD"),
    (["--class-size", "0"], "--class-size 0 must be at least 1"),
    (["--users-root", "/tmp/x"], "--users-root is for --auth dummy"),
])
def test_hub_bad_flags_are_one_line(mirror, tmp_path, args, message):
    proc = _lmlab("hub", "--mirror", str(mirror), "--no-read-only", "--config-only",
                  "--dir", str(tmp_path / "hub"), *args, env={"LMLAB_HUB_PASSWORD": ""})
    assert proc.returncode == 2 and proc.stderr.startswith(f"lmlab: error: {message}"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_hub_without_a_mirror_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LMLAB_DATA_DIR"}
    proc = subprocess.run([sys.executable, "-m", "lmlab", "hub", "--config-only", "--dir", str(tmp_path)],
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("lmlab: error: no classroom mirror: pass --mirror")

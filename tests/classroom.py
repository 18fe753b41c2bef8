"""A small classroom mirror for the tests: a corpus and a current prepared run, then made read-only."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from contextlib import contextmanager
from pathlib import Path

JOB, CORPUS = "03_gpt_shakespeare", "tiny_shakespeare"  # the lookup only hashes the run's settings
CONFIG = {"tokenizer": "char", "n_layer": 2}  # the configuration the run is keyed by (a stand-in)


def make_mirror(folder: Path, wiki_sample: Path) -> Path:
    """A mirror with the built-in corpus and a prepared run of ``JOB`` (smoke) that is current."""
    from lmlab.prepared import record_prepared, resolved_config, run_dir

    folder.mkdir(parents=True)
    shutil.copyfile(wiki_sample, folder / wiki_sample.name)
    run = run_dir(folder, "smoke", JOB)
    run.mkdir(parents=True)
    config = resolved_config(JOB, CONFIG, preset="smoke", corpus=CORPUS)
    record_prepared(run, config, metrics={"val_loss": 1.0}, samples=["to be"])
    return folder


def checksums(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (folders too) with its content's sha256 and its mode."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = stat.filemode(path.lstat().st_mode)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        out[str(path.relative_to(folder))] = f"{digest} {mode}"
    return out


def chmod_read_only(folder: Path) -> None:
    """``chmod -R a-w``: what a teacher does to a mirror on a shared drive."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@contextmanager
def read_only_mirror(src: Path, mount_point: Path):
    """``src`` seen read-only at ``mount_point``: a read-only bind mount where this process may mount
    (root with CAP_SYS_ADMIN, as in CI's container); else ``chmod -R a-w`` (which root ignores, so then
    lmlab's own refusal is what keeps the mirror whole). Yields (path, how)."""
    chmod_read_only(src)
    mount_point.mkdir()
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"):
        bind = subprocess.run(["mount", "--bind", str(src), str(mount_point)], capture_output=True)
        if bind.returncode == 0:
            ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(mount_point)], capture_output=True)
            if ro.returncode == 0:
                mounted = True
            else:
                subprocess.run(["umount", str(mount_point)], check=True)
    try:
        if mounted:
            yield mount_point, "read-only bind mount"
        else:
            mount_point.rmdir()
            yield src, "chmod -R a-w"
    finally:
        if mounted:
            subprocess.run(["umount", str(mount_point)], check=True)
        make_writable(src)  # so pytest can remove its tmp_path

#!/usr/bin/env python3
"""Set up lmlab in ./.venv and open the lab or run the tests.

    python3 scripts/bootstrap.py lab     # install (first time) and open JupyterLab on notebooks/
    python3 scripts/bootstrap.py test    # install (first time) and run the whole test suite
    python3 scripts/bootstrap.py hub     # install the class server's parts and run 'lmlab hub ARGS'
    python3 scripts/bootstrap.py setup   # install only

The first run says what it installs, then prints one line per stage; pip's full output goes to
.venv/lmlab-install.log.

Only the standard library is used here: this runs before anything is installed.
Environment knobs:
  LMLAB_TORCH            pip requirement for torch (default below: a release with a CPU wheel
                         beside this lab's CI and a CUDA build on PyPI for GPU machines)
  LMLAB_TORCH_INDEX_URL  extra index for torch, e.g. https://download.pytorch.org/whl/cu124
  LMLAB_VENV             where the virtual environment lives (default: .venv)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TORCH = "torch==2.13.0"


LOG_NAME = "lmlab-install.log"
# What the first run costs, said before it starts. Measured (README's set-up paragraph has the command):
# 2.5 GB, of which torch's CPU build is 0.75 GB; 7 min 26 s on a busy 2-core Linux machine.
FIRST_RUN_COST = "about 2.5 GB on disk and a few minutes (7 on a busy 2-core machine)"


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def venv_python(env_dir: Path) -> Path:
    sub = "Scripts/python.exe" if platform.system() == "Windows" else "bin/python"
    return env_dir / sub


def venv_dir() -> Path:
    return Path(os.environ.get("LMLAB_VENV", ROOT / ".venv"))


def has_module(py: Path, name: str) -> bool:
    code = f"import importlib.util,sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    return subprocess.run([str(py), "-c", code]).returncode == 0


def torch_requirement() -> str:
    return os.environ.get("LMLAB_TORCH", DEFAULT_TORCH)


def stamp_path(py: Path, extras: str) -> Path:
    return py.parent.parent / f".lmlab-installed-{extras or 'core'}"


def project_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def plan(env_dir: Path, need_torch: bool, need_lmlab: bool, extras: str) -> list[str]:
    """The lines printed before pip starts: what will be installed, about how big and how long."""
    if not (need_torch or need_lmlab):
        return []
    log = env_dir / LOG_NAME
    if not need_torch:  # torch is there: pyproject.toml changed, or the dev tools are new
        what = "lmlab's development tools" if extras == "dev" else "lmlab's dependencies"
        return [f"updating {what} in {env_dir} (pyproject.toml changed or first 'test' run); "
                f"pip's output goes to {log}"]
    dev = " and the test tools (pytest, playwright, ruff)" if extras == "dev" else ""
    return [f"first run: installing lmlab into {env_dir}",
            f"  1. {torch_requirement()} (pip picks the wheel for this machine)",
            f"  2. lmlab and its dependencies (JupyterLab, transformers, matplotlib, gensim, ...){dev}",
            f"  {FIRST_RUN_COST}; a CUDA build of torch adds a few GB",
            f"  pip's full output goes to {log}"]


def pip_stage(cmd: list[str], label: str, log: Path) -> None:
    """One pip command, its output into ``log``: a line before and after; on failure the log's tail."""
    print(f"{label} ...", flush=True)
    start = time.monotonic()
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # pip stops itself (same process group); say where things stand
            proc.wait()
            sys.exit(f"\ninterrupted while installing {label}; run the same command again to finish "
                     f"(pip's output so far: {log})")
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
        print("\n".join(tail), file=sys.stderr)
        sys.exit(f"pip failed while installing {label} (exit status {code}); its full output is in {log}")
    print(f"{label}: done in {time.monotonic() - start:.0f} s", flush=True)


def install(extras: str) -> Path:
    """Create the venv and install torch first (so pip never resolves a multi-GB build by itself), then
    lmlab; say beforehand what is coming. Returns the venv's python."""
    env_dir = venv_dir()
    py = venv_python(env_dir)
    fresh = not py.exists()
    need_torch = fresh or not has_module(py, "torch")
    stamp = stamp_path(py, extras)
    need_lmlab = fresh or not (stamp.exists() and stamp.read_text() == project_digest())
    lines = plan(env_dir, need_torch, need_lmlab, extras)
    if not lines:
        return py
    print("\n".join(lines), flush=True)
    if fresh:
        venv.EnvBuilder(with_pip=True).create(env_dir)
    log = env_dir / LOG_NAME
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    if need_torch:
        index = os.environ.get("LMLAB_TORCH_INDEX_URL")
        extra = ["--extra-index-url", index] if index else []
        pip_stage([*pip, torch_requirement(), *extra], f"installing {torch_requirement()}", log)
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    pip_stage([*pip, "-e", target], "installing lmlab" + (" with its test tools" if extras else ""), log)
    stamp.write_text(project_digest())
    if need_torch:
        print(f"set-up finished ({env_dir}); later runs skip it", flush=True)
    return py


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it where we may (root + apt)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if is_root and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "chromium", "fonts-noto-cjk"], env=env)
    else:
        print("note: Chromium not found; install it (e.g. 'sudo apt-get install chromium') "
              "for the browser tests", flush=True)


PROXY = "configurable-http-proxy@5"  # JupyterHub's default proxy, from npm


def proxy_folder(py: Path) -> Path:
    """Where the class server's proxy lives: inside the virtual environment (lmlab.hub looks there)."""
    return py.parent.parent / "share" / "lmlab-proxy"


def ensure_proxy(py: Path) -> None:
    """Install configurable-http-proxy (JupyterHub's proxy, a node program) into the virtual environment;
    install node and npm first where we may (root + apt)."""
    folder = proxy_folder(py)
    if (folder / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        return
    if not shutil.which("npm"):
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        if is_root and shutil.which("apt-get"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            run(["apt-get", "update", "-qq"], env=env)
            run(["apt-get", "install", "-y", "-qq", "nodejs", "npm"], env=env)
        else:
            sys.exit("the class server needs node and npm for JupyterHub's proxy: install them "
                     "(e.g. 'sudo apt-get install nodejs npm') and run this again")
    folder.mkdir(parents=True, exist_ok=True)
    run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error", PROXY])


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "test", "setup", "hub"}:
        print(__doc__)
        return 2
    action, rest = argv[0], argv[1:]
    if sys.version_info < (3, 10):  # noqa: UP036 - this script runs under any python3
        sys.exit(f"lmlab needs Python >= 3.10; this is {platform.python_version()}")
    py = install({"test": "dev", "hub": "class"}.get(action, ""))
    if action in ("test", "hub"):
        ensure_proxy(py)
    if action == "setup":
        return 0
    if action == "lab":
        return hand_over([str(py), "-m", "lmlab", "lab", *rest])
    if action == "hub":
        return hand_over([str(py), "-m", "lmlab", "hub", *rest])
    ensure_chromium()
    return hand_over([str(py), "-m", "pytest", *rest])


def hand_over(cmd: list[str]) -> int:
    """Run the lab or the tests in the foreground and return their exit status. Ctrl-C reaches the whole
    process group, so the child stops itself cleanly; this script only waits for it (no traceback)."""
    proc = subprocess.Popen(cmd, cwd=ROOT)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

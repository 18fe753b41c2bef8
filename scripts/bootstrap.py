#!/usr/bin/env python3
"""Set up lmlab in ./.venv and open the lab or run the tests.

    python3 scripts/bootstrap.py lab     # install (first time) and open JupyterLab on notebooks/
    python3 scripts/bootstrap.py test    # install (first time) and run the whole test suite
    python3 scripts/bootstrap.py hub     # install the class server's parts and run 'lmlab hub ARGS'

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
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TORCH = "torch==2.13.0"


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def venv_python(env_dir: Path) -> Path:
    sub = "Scripts/python.exe" if platform.system() == "Windows" else "bin/python"
    return env_dir / sub


def ensure_venv() -> Path:
    env_dir = Path(os.environ.get("LMLAB_VENV", ROOT / ".venv"))
    py = venv_python(env_dir)
    if not py.exists():
        print(f"creating virtual environment in {env_dir}", flush=True)
        venv.EnvBuilder(with_pip=True).create(env_dir)
    return py


def has_module(py: Path, name: str) -> bool:
    code = f"import importlib.util,sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    return subprocess.run([str(py), "-c", code]).returncode == 0


def install(py: Path, extras: str) -> None:
    """Install torch first (so pip never resolves a multi-GB build by itself), then lmlab."""
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    if not has_module(py, "torch"):
        index = os.environ.get("LMLAB_TORCH_INDEX_URL")
        extra = ["--extra-index-url", index] if index else []
        run([*pip, os.environ.get("LMLAB_TORCH", DEFAULT_TORCH), *extra])
    stamp = py.parent.parent / f".lmlab-installed-{extras or 'core'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    run([*pip, "-e", target])
    stamp.write_text(digest)


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
    py = ensure_venv()
    install(py, {"test": "dev", "hub": "class"}.get(action, ""))
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

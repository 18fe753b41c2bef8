"""``lmlab lab``: JupyterLab on the notebooks, bound to 127.0.0.1, token authentication on.

The token is generated here (not disabled, not fixed) so the printed URL is the one that works:
``http://127.0.0.1:PORT/lab?token=...``. Nothing listens beyond this machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

HOST = "127.0.0.1"


def default_notebook_dir() -> Path:
    """The repository's ``notebooks/`` folder (next to the package), else ``./notebooks``."""
    import lmlab

    beside_package = Path(lmlab.__file__).resolve().parent.parent / "notebooks"
    return beside_package if beside_package.is_dir() else Path.cwd() / "notebooks"


def edition_dir(lang: str = "en") -> Path:
    """The notebooks of one edition: ``notebooks/`` (English, the source) or ``notebooks/zh/`` (中文版)."""
    return default_notebook_dir() / "zh" if lang == "zh" else default_notebook_dir()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the URL")
    p.add_argument("--dir", default=None, help="folder to open (default: the lab's notebooks/)")
    p.add_argument("--lang", choices=("en", "zh"), default="en",
                   help="edition: en (notebooks/) or zh, the Chinese one (notebooks/zh/, 中文版)")
    p.add_argument("--print-command", action="store_true",
                   help="print the JupyterLab command line (token shown) and exit without starting it")


def build_command(root: Path, port: int, token: str, open_browser: bool) -> list[str]:
    """The ``python -m jupyterlab`` command line: localhost only, our token, our folder."""
    return [sys.executable, "-m", "jupyterlab",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # fail loudly rather than move to a port the URL does not name
            f"--IdentityProvider.token={token}",
            f"--ServerApp.open_browser={open_browser}",
            # containers often run as root; Jupyter refuses that unless told (still localhost + token)
            *(["--ServerApp.allow_root=True"] if _is_root() else [])]


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir).expanduser().resolve() if args.dir else edition_dir(getattr(args, "lang", "en"))
    if not root.is_dir():
        raise FileNotFoundError(f"notebook folder {str(root)!r} does not exist; run from the lmlab checkout "
                                "or pass --dir FOLDER")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a TCP port; use 1..65535 (or leave it out)")
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise FileNotFoundError("JupyterLab is not installed in this Python; run "
                                "'python3 scripts/bootstrap.py lab' (or pip install jupyterlab)")
    port = args.port or free_port()
    token = secrets.token_urlsafe(24)
    cmd = build_command(root, port, token, open_browser=not args.no_browser)
    url = f"http://{HOST}:{port}/lab?token={token}"
    if args.print_command:
        print(" ".join(cmd))
        return 0
    print(f"lmlab lab: JupyterLab on {root}\n  open {url}\n"
          "  (only this machine can connect; Ctrl-C stops it)", flush=True)
    proc = subprocess.Popen(cmd, env={**os.environ, "LMLAB_LANG": getattr(args, "lang", "en")})
    try:
        return proc.wait()
    except KeyboardInterrupt:  # one Ctrl-C is enough: stop the server instead of asking "y/[n]?"
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130

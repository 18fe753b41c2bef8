"""``lmlab lab``: JupyterLab on the notebooks, bound to 127.0.0.1, token authentication on.

The token is generated here (not disabled, not fixed) so the printed URL is the one that works:
``http://127.0.0.1:PORT/lab?token=...``. Nothing listens beyond this machine. The token reaches
JupyterLab through a private file (mode 0600, named by ``JUPYTER_TOKEN_FILE``), never its command line,
which every local user of a shared classroom machine can read with ``ps``. The same private folder holds
a config file that keeps the lab quiet: no "Jupyter news?" prompt (there is no news offline), no
update check, no classic-notebook server extension (``nbclassic`` is installed only for its offline
jQuery) and its migration banner, server logs at warning level. The URL is printed once the server answers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from lmlab.atomic import atomic_write
from lmlab.i18n import N_, _
from lmlab.net import free_port

HOST = "127.0.0.1"

# Settings a class never needs to see or answer: JupyterLab's news prompt and update check, the nbclassic
# server extension (its migration banner), info-level server logs.
QUIET_CONFIG = {
    "LabApp": {"news_url": None, "log_level": "WARN",
               "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"},
    "ServerApp": {"jpserver_extensions": {"nbclassic": False}, "log_level": "WARN"},
}


def default_notebook_dir() -> Path:
    """The repository's ``notebooks/`` folder (next to the package), else ``./notebooks``."""
    import lmlab

    beside_package = Path(lmlab.__file__).resolve().parent.parent / "notebooks"
    return beside_package if beside_package.is_dir() else Path.cwd() / "notebooks"


def edition_dir(lang: str = "en") -> Path:
    """The notebooks of one edition: ``notebooks/`` (English, the source) or ``notebooks/zh/`` (中文版)."""
    return default_notebook_dir() / "zh" if lang == "zh" else default_notebook_dir()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the URL")
    p.add_argument("--dir", default=None, help="folder to open (default: the lab's notebooks/)")
    p.add_argument("--lang", choices=("en", "zh"), default="en",
                   help="edition: en (notebooks/) or zh, the Chinese one (notebooks/zh/, 中文版)")
    p.add_argument("--print-command", action="store_true",
                   help="print the JupyterLab command line (no token in it) and exit without starting it")


def build_command(root: Path, port: int, open_browser: bool, config_file: Path | None = None) -> list[str]:
    """The ``python -m jupyterlab`` command line: localhost only, our folder, no secret in it."""
    return [sys.executable, "-m", "jupyterlab",
            *([f"--config={config_file}"] if config_file else []),
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # fail loudly rather than move to a port the URL does not name
            f"--ServerApp.open_browser={open_browser}",
            # containers often run as root; Jupyter refuses that unless told (still localhost + token)
            *(["--ServerApp.allow_root=True"] if _is_root() else [])]


# JupyterLab's own menus in the edition's language (the zh_CN pack is a dependency of lmlab)
LAB_LOCALES = {"en": "en", "zh": "zh_CN"}
TRANSLATION_PLUGIN = "@jupyterlab/translation-extension:plugin"


def lab_settings_dir(folder: Path, lang: str = "en") -> Path:
    """A per-launch copy of JupyterLab's application settings with the edition's locale as the default
    (``overrides.json``); the installed settings and the learner's own settings stay untouched."""
    settings = folder / "settings"
    try:
        from jupyterlab.commands import get_app_dir

        installed = Path(get_app_dir()) / "settings"
    except Exception:  # an unusual JupyterLab: start from no installed settings
        installed = Path("/nonexistent")
    if installed.is_dir():
        shutil.copytree(installed, settings)
    settings.mkdir(exist_ok=True)
    overrides_path = settings / "overrides.json"
    overrides = json.loads(overrides_path.read_text(encoding="utf-8")) if overrides_path.exists() else {}
    overrides.setdefault(TRANSLATION_PLUGIN, {})["locale"] = LAB_LOCALES.get(lang, "en")
    with atomic_write(overrides_path, "w") as f:
        f.write(json.dumps(overrides, indent=1))
    return settings


def write_private_files(folder: Path, token: str, lang: str = "en") -> tuple[Path, Path]:
    """The token file (0600) and the quiet config file in ``folder`` (0700): (token_file, config_file)."""
    folder.chmod(0o700)
    token_file, config_file = folder / "token", folder / "jupyter_lab_config.json"
    config = json.loads(json.dumps(QUIET_CONFIG))
    config["LabApp"]["app_settings_dir"] = str(lab_settings_dir(folder, lang))
    for path, text in ((token_file, token), (config_file, json.dumps(config, indent=1))):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private from the first byte
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    return token_file, config_file


def server_env(token_file: Path, lang: str = "en") -> dict[str, str]:
    """Our environment with the token file named and the edition's language for the kernels' messages;
    a JUPYTER_TOKEN set outside would win, so it goes."""
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env["JUPYTER_TOKEN_FILE"] = str(token_file)
    env["LMLAB_LANG"] = lang
    return env


def wait_until_serving(port: int, token: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> bool:
    """True once the server answers HTTP on ``port``; False if it exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(f"http://{HOST}:{port}/api/status",
                                     headers={"Authorization": f"token {token}"})  # in a header, not a URL
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310 - localhost
                return True
        except urllib.error.HTTPError:  # it answered, even if with an error: it is up
            return True
        except OSError:
            time.sleep(0.25)
    return False


def _in(lang: str, message: str) -> str:
    """``message`` in the edition's language (``--lang``), whatever $LMLAB_LANG says."""
    before = os.environ.get("LMLAB_LANG")
    os.environ["LMLAB_LANG"] = lang
    try:
        return _(message)
    finally:
        if before is None:
            del os.environ["LMLAB_LANG"]
        else:
            os.environ["LMLAB_LANG"] = before


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
    if args.print_command:
        print(" ".join(build_command(root, port, open_browser=not args.no_browser)))
        return 0
    token = secrets.token_urlsafe(24)
    private = Path(tempfile.mkdtemp(prefix="lmlab-lab-"))
    try:
        token_file, config_file = write_private_files(private, token, getattr(args, "lang", "en"))
        cmd = build_command(root, port, open_browser=not args.no_browser, config_file=config_file)
        lang = getattr(args, "lang", "en")
        print(_in(lang, N_("lmlab lab: starting JupyterLab on {root} ...")).format(root=root), flush=True)
        proc = subprocess.Popen(cmd, env=server_env(token_file, getattr(args, "lang", "en")))
        if threading.current_thread() is threading.main_thread():  # `kill`: stop the server, drop the token
            signal.signal(signal.SIGTERM, _stop)
        try:
            if wait_until_serving(port, token, proc):
                ready = N_("  open {url}\n  (only this machine can connect; Ctrl-C stops it)")
                print(_in(lang, ready).format(url=f"http://{HOST}:{port}/lab?token={token}"), flush=True)
            return proc.wait()
        except KeyboardInterrupt:  # one Ctrl-C is enough: stop the server instead of asking "y/[n]?"
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            return 130
    finally:
        shutil.rmtree(private, ignore_errors=True)

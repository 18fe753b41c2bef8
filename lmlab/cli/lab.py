"""``lmlab lab``: JupyterLab on the notebooks, bound to 127.0.0.1, token authentication on.

The token is generated here (not disabled, not fixed) so the printed URL is the one that works:
``http://127.0.0.1:PORT/lab?token=...``. Nothing listens beyond this machine. The token reaches
JupyterLab through a private file (mode 0600, named by ``JUPYTER_TOKEN_FILE``), never its command line,
which every local user of a shared classroom machine can read with ``ps``. The same private folder holds
a config file that keeps the lab quiet: no "Jupyter news?" prompt (there is no news offline), no
update check, no classic-notebook server extension (``nbclassic`` is installed only for its offline
jQuery) and its migration banner, server logs at warning level, kernels on encrypted channels, and the
lab's own notebooks trusted (signed in a private notary). The URL is printed once the server answers.
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

from lmlab.i18n import N_, _
from lmlab.net import free_port

HOST = "127.0.0.1"

# Settings a class never needs to see or answer: JupyterLab's news prompt and update check, the nbclassic
# server extension (its migration banner), info-level server logs.
NBGRADER_EXTENSIONS = tuple(f"nbgrader.server_extensions.{name}" for name in
                            ("formgrader", "validate_assignment", "assignment_list", "course_list"))
QUIET_CONFIG = {
    "LabApp": {"news_url": None, "log_level": "WARN",
               "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"},
    # nbgrader (the class extra) is the teacher's tool: its server extensions warn at every start of a
    # learner's lab that no course config exists, so the lab leaves them off
    "ServerApp": {"jpserver_extensions": {"nbclassic": False, **dict.fromkeys(NBGRADER_EXTENSIONS, False)},
                  "log_level": "WARN",
                  # jupyter_server's websocket keep-alive counts in milliseconds (30000, timeout 90000) where
                  # tornado >= 6.5 reads seconds, and warns at every connection that the timeout exceeds the
                  # interval. On 127.0.0.1 there is no proxy to keep a socket alive for: no pings at all.
                  "tornado_settings": {"ws_ping_interval": 0}},
}
# JupyterLab's own setting (the server's news_url does not reach it): "Ask" shows a "get notified about
# official Jupyter news?" toast on first open; "Never" does not. A default: a learner's own choice still wins.
LAB_SETTING_DEFAULTS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}
# the lab's own notebooks (NN_name.ipynb, in the folder or its zh/), trusted as `jupyter trust` would
OWN_NOTEBOOKS = ("[0-9][0-9]_*.ipynb", "*/[0-9][0-9]_*.ipynb")


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


def lab_config(folder: Path) -> dict:
    """QUIET_CONFIG, plus the notary (the trusted notebooks' signatures) kept in the private ``folder``, and
    encrypted kernel channels where this Jupyter can."""
    return {**QUIET_CONFIG, "NotebookNotary": {"data_dir": str(folder)}, **kernel_encryption()}


def kernel_encryption() -> dict:
    """The kernel channels encrypted with CurveZMQ keys the server hands each kernel (ipykernel declares
    support): nothing in plain text on a shared machine's loopback, and no "Kernel is running over TCP
    without encryption" warning at every start. Empty where pyzmq lacks Curve or jupyter_client the
    setting (older than 8.10): 'auto' would stop the server there."""
    import zmq
    from jupyter_client.manager import KernelManager

    if not zmq.has("curve") or not KernelManager.class_traits().get("transport_encryption"):
        return {}
    return {"KernelManager": {"transport_encryption": "auto"}}


# JupyterLab's own menus in the edition's language (the zh_CN pack is a dependency of lmlab)
LAB_LOCALES = {"en": "en", "zh": "zh_CN"}


def lab_setting_defaults(lang: str = "en") -> dict:
    """JupyterLab's setting defaults for one launch: LAB_SETTING_DEFAULTS and the edition's locale."""
    locale = {"@jupyterlab/translation-extension:plugin": {"locale": LAB_LOCALES.get(lang, "en")}}
    return {**LAB_SETTING_DEFAULTS, **locale}


def write_private_files(folder: Path, token: str, lang: str = "en") -> tuple[Path, Path]:
    """The token file (0600), the quiet config file and JupyterLab's setting defaults in the edition's
    language (under ``labconfig/``) in ``folder`` (0700): (token_file, config_file)."""
    folder.chmod(0o700)
    (folder / "labconfig").mkdir(mode=0o700)
    token_file, config_file = folder / "token", folder / "jupyter_lab_config.json"
    for path, text in ((token_file, token), (config_file, json.dumps(lab_config(folder), indent=1)),
                       (folder / "labconfig" / "default_setting_overrides.json",
                        json.dumps(lab_setting_defaults(lang), indent=1))):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private from the first byte
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    return token_file, config_file


def trust_own_notebooks(root: Path, folder: Path) -> int:
    """Sign the lab's own notebooks in ``root`` with the notary kept in ``folder`` (what ``jupyter trust``
    does; the files are not changed), so that opening one logs no "Notebook ... is not trusted" and its saved
    outputs show. Returns how many were signed; one that does not read as a notebook is left untrusted."""
    import nbformat
    from nbformat.sign import NotebookNotary

    signed = 0
    with NotebookNotary(data_dir=str(folder)) as notary:
        for path in sorted({p for pattern in OWN_NOTEBOOKS for p in root.glob(pattern)}):
            try:
                notary.sign(nbformat.read(path, as_version=nbformat.NO_CONVERT))
            except (OSError, ValueError):  # unreadable or not JSON: JupyterLab will say so when it opens
                continue
            signed += 1
    return signed


def server_env(token_file: Path, lang: str = "en") -> dict[str, str]:
    """Our environment with the token file named and the edition's language for the kernels' messages;
    a JUPYTER_TOKEN set outside would win, so it goes."""
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env["JUPYTER_TOKEN_FILE"] = str(token_file)
    # the private folder first on the config path: JupyterLab reads our setting defaults from its labconfig/
    outside = os.environ.get("JUPYTER_CONFIG_PATH")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(token_file.parent), *([outside] if outside else [])])
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
        trust_own_notebooks(root, private)
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

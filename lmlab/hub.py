"""A class server on one machine: JupyterHub's own parts, configured for lmlab.

``lmlab hub`` writes ``jupyterhub_config.py`` into a state folder and runs JupyterHub on it. Nothing here
serves a request: JupyterHub's proxy (configurable-http-proxy, from npm; ``scripts/bootstrap.py hub`` puts
it in the virtual environment), its authenticator and its spawner do. What lmlab adds is the configuration:

- every user's server runs this environment's ``jupyterhub-singleuser`` (so its kernel is lmlab's);
- every user's environment names the classroom mirror (``LMLAB_DATA_DIR``), read-only
  (``LMLAB_DATA_READONLY=1``, see ``lmlab.mirror``), and a fair CPU share (``LMLAB_THREADS`` and the
  OpenMP/BLAS/numba variables, see ``lmlab.threads``);
- before a server starts, the notebooks are copied into the user's home (``~/lmlab-notebooks``) once, so
  each student edits their own copy and their runs, caches and figures stay in their own folders.

Sign-in: ``pam`` (JupyterHub's ``PAMAuthenticator`` + ``LocalProcessSpawner``: the machine's own accounts,
each server running as its user) for a class; ``dummy`` (``DummyAuthenticator`` with one shared password +
``SimpleLocalProcessSpawner``, homes under one folder, all servers as the hub's user) only to try the hub
on a laptop and in the tests: it isolates nobody.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmlab.threads import THREAD_ENV, available_cores

PROXY_FOLDER = Path("share") / "lmlab-proxy"  # under the virtual environment (scripts/bootstrap.py)
CONFIG_NAME = "jupyterhub_config.py"
NOTEBOOKS_HOME = "lmlab-notebooks"
AUTHS = ("pam", "dummy")


def proxy_command() -> list[str]:
    """configurable-http-proxy: the one bootstrap installed into this environment, else one on PATH."""
    local = Path(sys.prefix) / PROXY_FOLDER / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return [str(local)]
    found = shutil.which("configurable-http-proxy")
    if found:
        return [found]
    from lmlab.errors import UsageError

    raise UsageError("JupyterHub's proxy (configurable-http-proxy) is not installed; run "
                     "'python3 scripts/bootstrap.py hub' (it installs it with npm into the virtual "
                     "environment) or 'npm install -g configurable-http-proxy'")


def threads_per_user(class_size: int, cores: int | None = None) -> int:
    """Each student's share when the whole class computes at once: cores / students, at least 1."""
    cores = cores or available_cores()
    return max(1, cores // max(1, class_size))


def user_environment(mirror: Path, threads: int, read_only: bool = True,
                     preset: str | None = None) -> dict[str, str]:
    """What every student's server (and so their kernels) gets in its environment."""
    env = {"LMLAB_DATA_DIR": str(mirror), "LMLAB_THREADS": str(threads)}
    env.update({name: str(threads) for name in THREAD_ENV})  # non-lmlab code in a kernel is limited too
    if read_only:
        env["LMLAB_DATA_READONLY"] = "1"
    if preset:
        env["LMLAB_PRESET"] = preset
    return env


@dataclass
class HubSettings:
    """Everything ``lmlab hub`` puts into ``jupyterhub_config.py``."""

    mirror: Path
    state_dir: Path
    threads: int
    read_only: bool = True
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    auth: str = "pam"
    password: str | None = None  # dummy only: one shared password
    users_root: Path | None = None  # dummy only: homes are users_root/NAME
    admins: list[str] = field(default_factory=list)
    allowed_groups: list[str] = field(default_factory=list)  # pam: only these groups may sign in
    preset: str | None = None
    notebooks: Path | None = None


def render_config(s: HubSettings) -> str:
    """The text of ``jupyterhub_config.py`` (plain ``c.X = value`` lines a teacher can read and edit)."""
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    lines: list[tuple[str, Any]] = [
        ("JupyterHub.ip", s.ip),
        ("JupyterHub.port", s.port),
        ("JupyterHub.hub_ip", "127.0.0.1"),
        ("JupyterHub.hub_port", s.hub_port),
        ("ConfigurableHTTPProxy.api_url", f"http://127.0.0.1:{s.proxy_api_port}"),
        ("ConfigurableHTTPProxy.command", proxy_command()),
        ("ConfigurableHTTPProxy.pid_file", str(s.state_dir / "proxy.pid")),
        ("JupyterHub.db_url", f"sqlite:///{s.state_dir / 'jupyterhub.sqlite'}"),
        ("JupyterHub.cookie_secret_file", str(s.state_dir / "jupyterhub_cookie_secret")),
        ("JupyterHub.pid_file", str(s.state_dir / "jupyterhub.pid")),
        ("JupyterHub.cleanup_servers", True),  # stopping the hub stops every student's server
        ("Spawner.cmd", [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]),
        ("Spawner.environment", user_environment(s.mirror, s.threads, s.read_only, s.preset)),
        ("Spawner.cpu_limit", float(s.threads)),  # informs the server (CPU_LIMIT); a container enforces it
        ("Spawner.default_url", f"/lab/tree/{NOTEBOOKS_HOME}"),
        ("Spawner.start_timeout", 180),
        ("Spawner.http_timeout", 180),
        ("Authenticator.admin_users", set(s.admins)),
    ]
    if s.auth == "dummy":
        users_root = s.users_root or s.state_dir / "homes"
        lines += [
            ("JupyterHub.authenticator_class", "dummy"),
            ("DummyAuthenticator.password", s.password or ""),
            ("Authenticator.allow_all", True),
            ("JupyterHub.spawner_class", "simple"),
            ("SimpleLocalProcessSpawner.home_dir_template", str(users_root / "{username}")),
        ]
        if is_root:  # the servers run as the hub's user here; Jupyter refuses root without this flag
            lines.append(("Spawner.args", ["--allow-root"]))
    else:
        lines += [("JupyterHub.authenticator_class", "pam"), ("JupyterHub.spawner_class", "localprocess")]
        if s.allowed_groups:
            lines.append(("LocalAuthenticator.allowed_groups", set(s.allowed_groups)))
        else:
            lines.append(("Authenticator.allow_all", True))  # every account on this machine
    head = [
        "# Written by 'lmlab hub' (lmlab/hub.py): JupyterHub for a class, with lmlab's kernel, the classroom",
        "# mirror and a fair CPU share per student. Edit freely; 'lmlab hub --config-only' rewrites it.",
        "c = get_config()  # noqa: F821",
        "",
        "from lmlab.hub import give_notebooks",
        "",
        f"c.Spawner.pre_spawn_hook = give_notebooks({str(s.notebooks) if s.notebooks else None!r})",
    ]
    return "\n".join(head + [f"c.{key} = {value!r}" for key, value in lines]) + "\n"


def give_notebooks(source: str | None) -> Any:
    """A JupyterHub ``pre_spawn_hook``: copy the notebooks into the user's ``~/lmlab-notebooks`` once."""

    def hook(spawner: Any) -> None:
        from lmlab.cli.lab import default_notebook_dir

        home = _home_of(spawner)
        dest = home / NOTEBOOKS_HOME
        if dest.exists():
            return  # the student's own copy, with their answers: never overwritten
        src = Path(source) if source else default_notebook_dir()
        dest.mkdir(parents=True)
        for notebook in sorted(src.glob("*.ipynb")):
            shutil.copyfile(notebook, dest / notebook.name)
        if (src / "zh").is_dir():
            (dest / "zh").mkdir()
            for notebook in sorted((src / "zh").glob("*.ipynb")):
                shutil.copyfile(notebook, dest / "zh" / notebook.name)
        owner = _owner(spawner)
        if owner is not None:
            for folder, _dirs, files in os.walk(dest):
                for path in [folder, *(os.path.join(folder, f) for f in files)]:
                    os.chown(path, *owner)

    return hook


def _home_of(spawner: Any) -> Path:
    home = getattr(spawner, "home_dir", None)  # SimpleLocalProcessSpawner
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        return Path(home)
    import pwd

    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


def _owner(spawner: Any) -> tuple[int, int] | None:
    if getattr(spawner, "home_dir", None) or not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return None
    import pwd

    entry = pwd.getpwnam(spawner.user.name)
    return entry.pw_uid, entry.pw_gid

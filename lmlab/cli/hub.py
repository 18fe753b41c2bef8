"""``lmlab hub``: a class server on one machine (JupyterHub with lmlab's kernel and a read-only mirror).

    sudo lmlab hub --mirror /srv/lmlab-data --ip 0.0.0.0 --class-size 30      # students sign in (PAM)
    lmlab hub --mirror DIR --auth dummy                  # try it alone (LMLAB_HUB_PASSWORD, no isolation)
    lmlab hub --mirror DIR --config-only                 # write jupyterhub_config.py, start nothing

The configuration lives in ``--dir`` (default ``./lmlab-hub``) with the hub's database and cookie secret.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mirror", default=None,
                   help="the classroom mirror every student reads (default: $LMLAB_DATA_DIR); fill it with "
                        "'lmlab data fetch --all --dest DIR' and 'lmlab prepare --dest DIR'")
    p.add_argument("--read-only", action=argparse.BooleanOptionalAction, default=True,
                   help="require the mirror to be read-only (a read-only mount, or 'chmod -R a-w DIR') "
                        "and make lmlab refuse writes into it (default: on)")
    p.add_argument("--dir", default="lmlab-hub", help="the hub's state folder (config, database, secret)")
    p.add_argument("--ip", default="127.0.0.1", help="address students connect to (0.0.0.0: every one)")
    p.add_argument("--port", type=int, default=8000, help="port students connect to (default 8000)")
    p.add_argument("--hub-port", type=int, default=8081, help="the hub's internal port on 127.0.0.1")
    p.add_argument("--proxy-api-port", type=int, default=8001, help="the proxy's API port on 127.0.0.1")
    from lmlab.choices import PRESETS

    p.add_argument("--auth", choices=("pam", "dummy"), default="pam",
                   help="pam: the machine's accounts, each server as its user (a class); dummy: one shared "
                        "password from $LMLAB_HUB_PASSWORD, all servers as you (a try-out, no isolation)")
    p.add_argument("--users-root", default=None, help="dummy only: homes are USERS_ROOT/NAME "
                                                      "(default DIR/homes)")
    p.add_argument("--admin", action="append", default=[], help="a user who administers the hub (repeat)")
    p.add_argument("--allow-group", action="append", default=[],
                   help="pam: only members of this group may sign in (repeat; default: every account)")
    p.add_argument("--class-size", type=int, default=30,
                   help="students computing at once; each gets cores/class-size threads (default 30)")
    p.add_argument("--threads-per-user", type=int, default=None,
                   help="each student's thread share (LMLAB_THREADS), overriding --class-size")
    p.add_argument("--preset", choices=PRESETS, default=None, help="the students' preset (LMLAB_PRESET)")
    p.add_argument("--notebooks", default=None, help="notebooks copied into each new home "
                                                     "(default: lmlab's notebooks/)")
    p.add_argument("--config-only", action="store_true", help="write jupyterhub_config.py and stop")


def settings_from_args(args: argparse.Namespace):
    """Check every flag (one line, exit 2 on a bad one) and return the hub's settings."""
    from lmlab.errors import UsageError
    from lmlab.hub import HubSettings, threads_per_user
    from lmlab.mirror import check_read_only

    mirror = args.mirror or os.environ.get("LMLAB_DATA_DIR")
    if not mirror:
        raise UsageError("no classroom mirror: pass --mirror DIR (or set LMLAB_DATA_DIR), a folder filled "
                         "by 'lmlab data fetch --all --dest DIR' and 'lmlab prepare --dest DIR'")
    mirror_path = Path(mirror).expanduser().resolve()
    if not mirror_path.is_dir():
        raise UsageError(f"--mirror {mirror!r} is not a folder; fill one with 'lmlab data fetch --all "
                         "--dest DIR' first")
    if args.read_only:
        check_read_only(mirror_path)
    for flag, value in (("--class-size", args.class_size), ("--threads-per-user", args.threads_per_user)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value} must be at least 1")
    password = None
    if args.auth == "dummy":
        password = os.environ.get("LMLAB_HUB_PASSWORD")
        if not password:
            raise UsageError("--auth dummy needs a shared password in LMLAB_HUB_PASSWORD (the environment, "
                             "so it stays out of the process list)")
    elif args.users_root:
        raise UsageError("--users-root is for --auth dummy; with pam each student's home is their own")
    elif not args.config_only and hasattr(os, "geteuid") and os.geteuid() != 0:
        raise UsageError("--auth pam runs each student's server as that student, which needs root: run "
                         "'sudo lmlab hub ...' (or try it alone with --auth dummy)")
    notebooks = Path(args.notebooks).expanduser().resolve() if args.notebooks else None
    if notebooks is not None and not notebooks.is_dir():
        raise UsageError(f"--notebooks {args.notebooks!r} is not a folder")
    state = Path(args.dir).expanduser().resolve()
    return HubSettings(
        mirror=mirror_path, state_dir=state, read_only=args.read_only,
        threads=args.threads_per_user or threads_per_user(args.class_size),
        ip=args.ip, port=args.port, hub_port=args.hub_port, proxy_api_port=args.proxy_api_port,
        auth=args.auth, password=password,
        users_root=Path(args.users_root).expanduser().resolve() if args.users_root else None,
        admins=args.admin, allowed_groups=args.allow_group, preset=args.preset, notebooks=notebooks)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from lmlab.atomic import atomic_write
    from lmlab.hub import CONFIG_NAME, render_config

    settings = settings_from_args(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.state_dir, 0o700)  # the database and cookie secret are the hub's alone
    config = settings.state_dir / CONFIG_NAME
    with atomic_write(config) as f:
        f.write(render_config(settings))
    os.chmod(config, 0o600)  # a dummy hub's password is in it
    where = "read-only" if settings.read_only else "writable"
    print(f"lmlab hub: {config}\n  mirror {settings.mirror} ({where}), {settings.threads} thread(s) per "
          f"student, sign-in: {settings.auth}", flush=True)
    if args.config_only:
        print(f"  start it with: {sys.executable} -m jupyterhub -f {config}")
        return 0
    print(f"  class server at http://{settings.ip}:{settings.port}/ (Ctrl-C stops it and every student's "
          "server)", flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=settings.state_dir)
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)  # JupyterHub stops the proxy and the students' servers
        try:
            proc.wait(timeout=60)
            return 0
        except subprocess.TimeoutExpired:
            proc.kill()
            return 1
    finally:
        signal.signal(signal.SIGTERM, previous)

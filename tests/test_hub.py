"""A real class server: ``lmlab hub`` (JupyterHub, its configurable-http-proxy, DummyAuthenticator with a
password, SimpleLocalProcessSpawner) on 127.0.0.1; three students sign in through the REST API, start their
servers and run a smoke notebook through the kernel API at the same time, against one read-only mirror."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from classroom import CONFIG, CORPUS, JOB, checksums, make_mirror, read_only_mirror

from lmlab.net import free_port

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = ("ada", "bo", "chen")
PASSWORD = "class-of-2026"

# the smoke notebook: setup, a corpus and a prepared run from the mirror, the student's own checkpoint and
# figure, and a write into the mirror that lmlab refuses
CELLS = [
    "from lmlab.notebook import setup\nlab = setup()",
    "import os, torch\nprint('THREADS', torch.get_num_threads())",
    "from lmlab.data import load_text, local_path\n"
    "print('CORPUS', local_path('wiki_sample')[1], len(load_text('wiki_sample')) > 1000)",
    f"from lmlab.prepared import lookup\nprep = lookup({JOB!r}, {CONFIG!r}, preset=lab.preset, "
    f"corpus={CORPUS!r})\nprint('PREPARED', prep.run is not None)",
    "import matplotlib.pyplot as plt\nfrom lmlab.checkpoint import save_checkpoint\n"
    "from lmlab.viz.style import save_figure\n"
    "model = torch.nn.Linear(4, 4)\n"
    "save_checkpoint('runs/smoke/ckpt.pt', model=model, config={'user': os.environ['USER']}, kind='test')\n"
    "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nsave_figure(fig, 'runs/smoke/loss.png')\n"
    "print('SAVED', os.path.abspath('runs/smoke/ckpt.pt'))",
    "from lmlab.atomic import atomic_write\ntry:\n"
    "    with atomic_write(os.path.join(os.environ['LMLAB_DATA_DIR'], 'answers.txt')) as f:\n"
    "        f.write('mine')\nexcept OSError as err:\n    print('REFUSED', err)",
]


def _api(base: str, method: str, path: str, token: str | None = None, body: dict | None = None,
         ok: tuple[int, ...] = (200, 201, 202, 204)) -> dict:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{base}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 (127.0.0.1)
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    assert status in ok, f"{method} {path}: HTTP {status} {text[:300]}"
    return json.loads(text) if text.strip() else {"status": status}


def _wait_for_hub(base: str, proc: subprocess.Popen, log: Path) -> None:
    import urllib.request

    for _ in range(600):
        assert proc.poll() is None, f"the hub stopped:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{base}/hub/api/", timeout=5):  # noqa: S310
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the hub did not answer:\n{log.read_text()[-3000:]}")


def _start_server(base: str, name: str, token: str) -> None:
    _api(base, "POST", f"/hub/api/users/{name}/server", token)
    for _ in range(900):
        server = _api(base, "GET", f"/hub/api/users/{name}", token)["servers"].get("", {})
        if server.get("ready"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{name}'s server did not start: {server}")


def _run_notebook(base: str, name: str, token: str) -> str:
    """Each cell through the kernel API (REST to start the kernel, its websocket to execute)."""
    import websocket

    kernel = _api(base, "POST", f"/user/{name}/api/kernels", token, {"name": "python3"})
    ws_url = base.replace("http://", "ws://") + f"/user/{name}/api/kernels/{kernel['id']}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=300)
    out = []
    try:
        for code in CELLS:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": name,
                           "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
    finally:
        ws.close()
        _api(base, "DELETE", f"/user/{name}/api/kernels/{kernel['id']}", token)
    return "".join(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for every purpose but its parent's bookkeeping
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_three_students_on_one_hub_share_a_read_only_mirror(tmp_path, wiki_sample_file):
    source = make_mirror(tmp_path / "mirror-src", wiki_sample_file)
    port, hub_port, api_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    homes = tmp_path / "homes"
    with read_only_mirror(source, tmp_path / "mirror") as (mirror, how):
        before = checksums(mirror)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LMLAB_HUB_PASSWORD": PASSWORD}
        log = tmp_path / "hub.log"
        with open(log, "w") as log_file:
            hub = subprocess.Popen(
                [sys.executable, "-m", "lmlab", "hub", "--mirror", str(mirror),
                 "--dir", str(tmp_path / "state"), "--auth", "dummy", "--users-root", str(homes),
                 "--admin", "teacher", "--preset", "smoke",
                 "--port", str(port), "--hub-port", str(hub_port), "--proxy-api-port", str(api_port),
                 "--threads-per-user", "2"],
                env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for_hub(base, hub, log)
            # sign in through the REST API: a wrong password is refused; the teacher (an admin) adds the
            # students; each student asks the authenticator for their own token with their password
            _api(base, "POST", "/hub/api/users/teacher/tokens",
                 body={"auth": {"username": "teacher", "password": "wrong"}}, ok=(403,))
            teacher = _api(base, "POST", "/hub/api/users/teacher/tokens",
                           body={"auth": {"username": "teacher", "password": PASSWORD}})["token"]
            _api(base, "POST", "/hub/api/users", teacher, {"usernames": list(STUDENTS)})
            tokens = {name: _api(base, "POST", f"/hub/api/users/{name}/tokens",
                                 body={"auth": {"username": name, "password": PASSWORD}})["token"]
                      for name in STUDENTS}
            _api(base, "GET", "/hub/api/users/ada", tokens["bo"], ok=(403, 404))  # not each other's
            with ThreadPoolExecutor(len(STUDENTS)) as pool:
                list(pool.map(lambda n: _start_server(base, n, tokens[n]), STUDENTS))
                outputs = dict(zip(STUDENTS, pool.map(lambda n: _run_notebook(base, n, tokens[n]), STUDENTS),
                                   strict=True))
            pids = [_api(base, "GET", f"/hub/api/users/{n}", teacher)["servers"][""]["state"]["pid"]
                    for n in STUDENTS]
            proxy_pid = int((tmp_path / "state" / "proxy.pid").read_text())
        finally:
            hub.send_signal(signal.SIGTERM)
            try:
                code = hub.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(hub.pid, signal.SIGKILL)
                raise
        after = checksums(mirror)
    text = log.read_text()
    assert code == 0, text[-3000:]
    for name, out in outputs.items():
        assert "ERROR" not in out, f"{name}:\n{out}"
        assert "lmlab: CPU threads: 2 (from LMLAB_THREADS)" in out and "THREADS 2" in out, out
        assert "CORPUS mirror True" in out and "PREPARED True" in out, out
        assert f"SAVED {homes / name / 'runs' / 'smoke' / 'ckpt.pt'}" in out, out
        assert "REFUSED refusing to write" in out and "read-only classroom mirror" in out, out
        assert (homes / name / "runs" / "smoke" / "loss.png").stat().st_size > 0
        assert any((homes / name / "lmlab-notebooks").glob("*.ipynb"))  # their own copy of the lab
    assert after == before, f"the mirror ({how}) changed"
    for pid in [*pids, proxy_pid]:  # stopped cleanly: every student's server and the proxy are gone
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        assert not _alive(pid), f"process {pid} outlived the hub"


def test_pam_config_loads_in_jupyterhub(tmp_path):
    """The class configuration (PAM, each server as its student) is what JupyterHub's own loader reads."""
    from traitlets.config.loader import PyFileConfigLoader

    from lmlab.hub import CONFIG_NAME, HubSettings, render_config

    settings = HubSettings(mirror=tmp_path / "mirror", state_dir=tmp_path, threads=1, ip="0.0.0.0",
                           admins=["teacher"], allowed_groups=["students"], preset="class")
    (tmp_path / CONFIG_NAME).write_text(render_config(settings))
    config = PyFileConfigLoader(CONFIG_NAME, path=str(tmp_path)).load_config()
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.JupyterHub.spawner_class == "localprocess"
    assert config.LocalAuthenticator.allowed_groups == {"students"}
    assert config.Authenticator.admin_users == {"teacher"}
    assert config.Spawner.environment["LMLAB_DATA_READONLY"] == "1"
    assert config.Spawner.environment["LMLAB_THREADS"] == config.Spawner.environment["OMP_NUM_THREADS"] == "1"
    singleuser = Path(config.Spawner.cmd[0])
    assert singleuser.name == "jupyterhub-singleuser" and singleuser.exists()
    assert Path(config.ConfigurableHTTPProxy.command[0]).exists()
    assert callable(config.Spawner.pre_spawn_hook)


def test_each_student_gets_their_own_notebooks_once(tmp_path):
    from types import SimpleNamespace

    from lmlab.hub import NOTEBOOKS_HOME, give_notebooks

    source = tmp_path / "notebooks"
    (source / "zh").mkdir(parents=True)
    (source / "01_a.ipynb").write_text("{}")
    (source / "zh" / "01_a.ipynb").write_text("{}")
    (source / "01_a.py").write_text("# the jupytext twin stays with the teacher")
    hook = give_notebooks(str(source))
    spawner = SimpleNamespace(home_dir=str(tmp_path / "home" / "ada"), user=SimpleNamespace(name="ada"))
    hook(spawner)
    mine = tmp_path / "home" / "ada" / NOTEBOOKS_HOME
    assert sorted(str(p.relative_to(mine)) for p in mine.rglob("*.ipynb")) == ["01_a.ipynb", "zh/01_a.ipynb"]
    assert not (mine / "01_a.py").exists()
    (mine / "01_a.ipynb").write_text('{"answer": 42}')  # the student's work
    (source / "02_b.ipynb").write_text("{}")
    hook(spawner)
    assert (mine / "01_a.ipynb").read_text() == '{"answer": 42}'  # never overwritten

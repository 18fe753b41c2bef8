"""``lmlab lab`` keeps its token off the process list and opens clean: no news prompt, no classic-notebook
banner, and the URL printed only once the server answers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lmlab.cli.lab import (
    build_command,
    free_port,
    lab_config,
    server_env,
    write_private_files,
)

ROOT = Path(__file__).resolve().parent.parent


def _stop(proc: subprocess.Popen) -> None:
    """Stop a lab started in its own session as a user would (SIGTERM), and kill it if it hangs."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_private_files_are_owner_only_and_the_command_has_no_secret(tmp_path, monkeypatch):
    folder = tmp_path / "private"
    folder.mkdir()
    token_file, config_file = write_private_files(folder, "s3cret-token")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (token_file, config_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert token_file.read_text() == "s3cret-token"
    config = json.loads(config_file.read_text())
    assert config == lab_config(folder)
    defaults = json.loads((folder / "labconfig" / "default_setting_overrides.json").read_text())
    assert defaults["@jupyterlab/translation-extension:plugin"]["locale"] == "en"  # the edition's language
    assert defaults["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"  # no news toast
    cmd = build_command(tmp_path, 8899, open_browser=False, config_file=config_file)
    assert f"--config={config_file}" in cmd and not any("s3cret" in c or "token=" in c for c in cmd)
    monkeypatch.setenv("JUPYTER_TOKEN", "from-outside")  # it would override the file: dropped
    env = server_env(token_file)
    assert env["JUPYTER_TOKEN_FILE"] == str(token_file) and "JUPYTER_TOKEN" not in env


def _cmdlines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # a process that ended meanwhile, or one we may not read
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return lines


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux's /proc")
def test_started_lab_keeps_token_off_the_process_list_and_opens_clean(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_welcome.ipynb", notebooks)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    port = free_port()
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lmlab", "lab", "--no-browser", "--port", str(port),
                                 "--dir", str(notebooks)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (m := re.search(r"open http://127\.0\.0\.1:\d+/lab\?token=(\S+)", log_path.read_text())):
            assert proc.poll() is None, "lmlab lab exited:\n" + log_path.read_text()
            assert time.monotonic() < deadline, "no URL within 120 s:\n" + log_path.read_text()
            time.sleep(0.2)
        token = m.group(1)
        # printed once the server answers: the very first request after the URL succeeds
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)
        assert denied.value.code == 403
        leaks = [line for line in _cmdlines() if token in line]
        assert not leaks, f"the token is on a command line: {leaks}"
        ps = subprocess.run(["ps", "-eo", "args", "ww"], capture_output=True, text=True).stdout
        assert "jupyterlab" in ps and token not in ps
        ours = next(line for line in ps.splitlines() if f"--ServerApp.port={port} " in line + " ")
        private = Path(re.search(r"--config=(\S+)", ours).group(1)).parent  # not another lab's, running too
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        # the page JupyterLab serves turns the news prompt off (there is no news offline)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as r:
            page = r.read().decode()
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))
        assert config["news"] == {"disabled": True}
        # and JupyterLab's own setting says "never", so it does not ask on first open
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:"
                                    f"notification?token={token}", timeout=10) as r:
            schema = json.loads(r.read())["schema"]["properties"]
        assert schema["fetchNews"]["default"] == "false" and schema["checkForUpdates"]["default"] is False
        _open_notebook_and_talk_to_its_kernel(port, token, "00_welcome.ipynb")
        text = log_path.read_text()
        assert text.count("open http://127.0.0.1") == 1
        for noise in ("Notebook 7", "migrat", "nbclassic", "_jupyter_server_extension_points",
                      "is not trusted", "without encryption", "websocket_ping_timeout",
                      "nbgrader_config"):
            assert noise not in text, f"{noise!r} in the lab's output:\n{text}"
    finally:
        _stop(proc)
    assert not private.exists(), "the private token folder outlived the lab"


def _open_notebook_and_talk_to_its_kernel(port: int, token: str, name: str) -> None:
    """What the browser does on opening a notebook: read it, start its kernel, ask over the websocket."""
    import asyncio

    from tornado.websocket import websocket_connect

    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    opened = urllib.request.Request(f"{base}/api/contents/{name}", headers=auth)  # the server checks trust
    urllib.request.urlopen(opened, timeout=30).close()
    body = json.dumps({"path": name, "type": "notebook", "name": "", "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{base}/api/sessions", data=body, method="POST",
                                     headers={**auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        kernel = json.loads(r.read())["kernel"]["id"]

    async def ask() -> str:
        from tornado.httpclient import HTTPRequest

        ws = await websocket_connect(HTTPRequest(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?session_id=t", headers=auth))
        header = {"msg_id": "1", "username": "t", "session": "t", "msg_type": "kernel_info_request",
                  "version": "5.3", "date": ""}
        await ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                           "content": {}, "channel": "shell", "buffers": []}))
        while True:
            reply = json.loads(await asyncio.wait_for(ws.read_message(), 60))
            if reply["msg_type"] == "kernel_info_reply":
                ws.close()
                return reply["content"]["status"]

    assert asyncio.run(ask()) == "ok"  # the kernel answers over its encrypted channels


def test_the_labs_own_notebooks_are_trusted_and_others_are_not(tmp_path):
    import nbformat
    from nbformat.sign import NotebookNotary

    from lmlab.cli.lab import trust_own_notebooks

    private = tmp_path / "private"
    private.mkdir()
    for name in ("00_welcome.ipynb", "zh/00_welcome.ipynb", "downloaded.ipynb"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(name)]), tmp_path / name)
    (tmp_path / "01_broken.ipynb").write_text("{ not json")  # skipped: JupyterLab will say so on opening
    assert trust_own_notebooks(tmp_path, private) == 2
    with NotebookNotary(data_dir=str(private)) as notary:
        trusted = {name: notary.check_signature(nbformat.read(tmp_path / name, as_version=4))
                   for name in ("00_welcome.ipynb", "zh/00_welcome.ipynb", "downloaded.ipynb")}
    assert trusted == {"00_welcome.ipynb": True, "zh/00_welcome.ipynb": True, "downloaded.ipynb": False}


@pytest.mark.slow
def test_the_chinese_edition_opens_jupyterlab_in_chinese(tmp_path):
    """``lmlab lab --lang zh``: the served settings select the zh_CN language pack, which is installed."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "LMLAB_LANG"))}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    port = free_port()
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        cmd = [sys.executable, "-m", "lmlab", "lab", "--lang", "zh", "--no-browser", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        ready = r"打开 http://127\.0\.0\.1:\d+/lab\?token=(\S+)"  # its own lines in Chinese too
        while not (m := re.search(ready, log_path.read_text())):
            assert proc.poll() is None, "lmlab lab exited:\n" + log_path.read_text()
            assert time.monotonic() < deadline, "no URL within 120 s:\n" + log_path.read_text()
            time.sleep(0.2)
        headers = {"Authorization": f"token {m.group(1)}"}
        base = f"http://127.0.0.1:{port}/lab/api"

        def get(path: str) -> dict:
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=30) as r:
                return json.loads(r.read())

        plugin = get("/settings/@jupyterlab/translation-extension:plugin")
        locale = plugin["settings"].get("locale", plugin["schema"]["properties"]["locale"]["default"])
        assert locale == "zh_CN", plugin["schema"]["properties"]["locale"]
        packs = get("/translations/")["data"]
        assert "zh_CN" in packs, f"the zh_CN language pack is not installed: {sorted(packs)}"
        assert get("/translations/zh_CN")["data"], "the zh_CN pack has no strings"
        assert "正在" in log_path.read_text() and "starting JupyterLab" not in log_path.read_text()
    finally:
        _stop(proc)

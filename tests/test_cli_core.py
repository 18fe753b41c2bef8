"""The core commands: lmlab data list / fetch, lmlab doctor, lmlab lab."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.cli.lab import build_command, default_notebook_dir, free_port
from lmlab.data import registry as reg

ROOT = Path(__file__).resolve().parent.parent
BODY = b"a tiny corpus for the command line\n" * 50


@pytest.fixture
def served(http_server, isolated_data, monkeypatch):
    corpus = reg.Corpus(name="tiny_test", description="test corpus", filename="tiny_test.txt",
                        url=http_server.add("/tiny_test.txt", BODY), sha256=hashlib.sha256(BODY).hexdigest(),
                        size=len(BODY), source="local", license="-", language="en")
    monkeypatch.setitem(reg.CORPORA, "tiny_test", corpus)
    monkeypatch.delenv("LMLAB_OFFLINE")
    return corpus


def test_data_list_table(isolated_data, capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^name\s+size\s+available\s+source", out, re.M)
    assert re.search(r"^tiny_shakespeare\s+1\.1 MB\s+no: download\s+https://", out, re.M)
    upstream = r"https://raw.githubusercontent.com/chinese-poetry"  # rebuilt from upstream files
    assert re.search(rf"^tang_poems\s+6\.9 MB\s+no: download\s+{upstream}", out, re.M)
    assert re.search(r"^wiki_sample\s+2\.\d MB\s+cache", out, re.M)
    assert f"cache (LMLAB_CACHE_DIR): {isolated_data}" in out


def test_data_list_json(isolated_data, capsys):
    assert main(["data", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"tiny_shakespeare", "tang_poems", "text8", "wikitext2", "wiki_sample"} <= set(rows)
    assert rows["text8"]["available"] is None and rows["wiki_sample"]["available"] == "cache"


def test_data_fetch_into_cache_and_dest(served, isolated_data, tmp_path, capsys):
    dest = tmp_path / "classroom"
    assert main(["data", "fetch", "tiny_test", "--dest", str(dest)]) == 0
    assert (isolated_data / "tiny_test.txt").read_bytes() == BODY
    assert (dest / "tiny_test.txt").read_bytes() == BODY
    assert "ok      tiny_test" in capsys.readouterr().out


def test_prepared_folder_serves_as_mirror(served, tmp_path, monkeypatch):
    dest = tmp_path / "classroom"
    assert main(["data", "fetch", "tiny_test", "--dest", str(dest)]) == 0
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path / "fresh-laptop"))
    monkeypatch.setenv("LMLAB_DATA_DIR", str(dest))
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    from lmlab.data import load_text

    assert load_text("tiny_test") == BODY.decode()


def test_data_fetch_all_reports_each_failure(isolated_data, capsys):
    assert main(["data", "fetch", "--all"]) == 1  # offline: the downloadable ones fail, clearly
    out = capsys.readouterr().out
    assert "ok      wiki_sample" in out
    assert re.search(r"FAILED  text8: .*LMLAB_OFFLINE", out)
    assert re.search(r"FAILED  tang_poems: .*LMLAB_OFFLINE", out)
    failed = "tiny_shakespeare, tang_poems, tang_poems_simplified, text8, wikitext2"
    assert re.search(rf"\d of \d failed: {failed}", out)


@pytest.mark.parametrize("argv, message", [
    (["data", "fetch"], "name the corpora to fetch"),
    (["data", "fetch", "tiny_shakespeare", "--all"], "not both"),
    (["data", "fetch", "shakespeare"], "unknown corpus 'shakespeare'"),
])
def test_data_fetch_bad_input(isolated_data, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lmlab: error:") and message in err and "Traceback" not in err


def test_doctor_plain(isolated_data, capsys):
    code = main(["doctor"])
    out = capsys.readouterr().out
    for key in ("python", "torch", "device", "offline data", "CJK font", "bertviz offline"):
        assert re.search(rf"^\s*{key}\s", out, re.M), key
    assert "preset class" in out or "preset smoke" in out or "preset full" in out
    assert code == (1 if "problems:" in out else 0)


def test_doctor_json(isolated_data, capsys, monkeypatch):
    monkeypatch.setenv("LMLAB_PRESET", "smoke")
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["preset"] == "smoke" and report["device"] in {"cpu", "cuda", "mps"}
    assert report["corpora_offline"]["wiki_sample"] == "cache"
    assert "text8" in report["corpora_need_download"]
    assert report["corpora_mirror_only"] == []  # the Tang poems are rebuilt from upstream files
    assert set(report["eval_sets"]) == {"google_analogies", "wordsim353", "simlex999"}
    assert isinstance(report["problems"], list)


def test_lab_command_is_local_with_a_token(tmp_path):
    cmd = build_command(tmp_path, 8899, open_browser=False)
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.port=8899" in cmd
    assert "--ServerApp.open_browser=False" in cmd and not any("token" in c.lower() for c in cmd)
    assert f"--ServerApp.root_dir={tmp_path}" in cmd


def test_lab_print_command_defaults_to_notebooks(capsys):
    assert main(["lab", "--print-command", "--no-browser", "--port", "8123"]) == 0
    out = capsys.readouterr().out
    assert f"--ServerApp.root_dir={default_notebook_dir()}" in out
    assert default_notebook_dir() == ROOT / "notebooks"
    assert "token" not in out.lower()  # the token travels in a private file (tests/test_lab.py)


@pytest.mark.parametrize("argv, message", [
    (["lab", "--port", "70000"], "--port 70000 is not a TCP port"),
    (["lab", "--dir", "/no/such/folder"], "does not exist"),
])
def test_lab_bad_input(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_lab_really_serves_with_token_on_localhost(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "hello.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen([sys.executable, "-m", "lmlab", "lab", "--no-browser", "--port", str(port),
                             "--dir", str(notebooks)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=tmp_path, start_new_session=True)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, "lmlab lab exited before printing its URL"
            m = re.search(r"open (http://127\.0\.0\.1:(\d+)/lab\?token=(\S+))", line)
            if m:
                url, token = m.group(1), m.group(3)
                assert int(m.group(2)) == port
        api = f"http://127.0.0.1:{port}/api/contents"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{api}?token={token}", timeout=5) as resp:
                    listing = json.loads(resp.read())
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, "JupyterLab exited"
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.5)
        assert [c["name"] for c in listing["content"]] == ["hello.ipynb"]  # it opened our folder
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(api, timeout=5)  # no token: refused
        assert denied.value.code == 403
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # lmlab and the JupyterLab it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_lab_without_jupyterlab_says_how_to_install(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else
                        real(name, *a))
    assert main(["lab", "--no-browser"]) == 2
    assert "JupyterLab is not installed" in capsys.readouterr().err


def test_real_entry_point_one_line_errors(isolated_data):
    env = {**os.environ, "LMLAB_CACHE_DIR": str(isolated_data)}
    ok = subprocess.run([sys.executable, "-m", "lmlab", "data", "list"], capture_output=True, text=True,
                        env=env, cwd=ROOT, timeout=120)
    assert ok.returncode == 0 and "wiki_sample" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "lmlab", "data", "fetch", "tiny_shakspeare"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "did you mean 'tiny_shakespeare'" in bad.stderr

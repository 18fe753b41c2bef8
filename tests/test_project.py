"""The project keeps its promises: README commands, CI entry point, lint."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^    (python3 scripts/bootstrap\.py \w+)$", text, flags=re.M)


def test_readme_opens_with_lab_and_test_commands():
    assert readme_commands()[:2] == ["python3 scripts/bootstrap.py lab", "python3 scripts/bootstrap.py test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_bootstrap_rejects_unknown_action():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "frobnicate"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bootstrap.py lab" in proc.stdout


def _bootstrap():
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bootstrap_says_what_it_installs_before_it_starts(tmp_path, monkeypatch, capsys):
    """A first run names what it installs, how big and how long, then one line per stage; a second run
    says nothing. No real install: the venv and pip are stand-ins that record what they were asked."""
    bootstrap = _bootstrap()
    env_dir = tmp_path / "venv"
    monkeypatch.setenv("LMLAB_VENV", str(env_dir))
    monkeypatch.delenv("LMLAB_TORCH", raising=False)
    events = []

    class FakeEnvBuilder:
        def __init__(self, **kw):
            pass

        def create(self, where):
            events.append(("venv", capsys.readouterr().out))  # what was printed before the venv existed
            bootstrap.venv_python(Path(where)).parent.mkdir(parents=True)
            bootstrap.venv_python(Path(where)).write_text("")

    monkeypatch.setattr(bootstrap.venv, "EnvBuilder", FakeEnvBuilder)
    monkeypatch.setattr(bootstrap, "pip_stage", lambda cmd, label, log: events.append(("pip", cmd[-1], log)))
    monkeypatch.setattr(bootstrap, "has_module", lambda py, name: any(e[0] == "pip" for e in events))
    bootstrap.install("")
    announced = events[0][1]
    assert events[0][0] == "venv" and "first run" in announced
    assert "torch==2.13.0" in announced and "JupyterLab" in announced
    assert "2.5 GB" in announced and "minutes" in announced
    assert str(env_dir / bootstrap.LOG_NAME) in announced
    assert len(announced.splitlines()) <= 6
    log = env_dir / bootstrap.LOG_NAME
    assert events[1:] == [("pip", "torch==2.13.0", log), ("pip", str(bootstrap.ROOT), log)]
    capsys.readouterr()
    bootstrap.install("")  # set up: nothing to say, nothing to install
    assert capsys.readouterr().out == "" and len(events) == 3
    bootstrap.install("dev")  # the test tools on top: one line, one pip stage
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert events[3] == ("pip", f"{bootstrap.ROOT}[dev]", log)


def test_bootstrap_keeps_pips_output_in_a_log_and_names_it_on_failure(tmp_path, capsys):
    bootstrap = _bootstrap()
    log = tmp_path / "install.log"
    chatty = [sys.executable, "-c", "for i in range(500): print('Collecting package', i)"]
    bootstrap.pip_stage(chatty, "installing chatter", log)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0] == "installing chatter ..."
    assert out[1].startswith("installing chatter: done in")
    assert log.read_text().count("Collecting package 4") == 111  # 4, 40..49, 400..499: every line
    failing = [sys.executable, "-c", "import sys; print('ERROR: No matching distribution for torch==9'); "
                                     "sys.exit(1)"]
    with pytest.raises(SystemExit) as stop:
        bootstrap.pip_stage(failing, "installing torch==9", log)
    assert "installing torch==9" in str(stop.value) and str(log) in str(stop.value)
    assert "No matching distribution" in capsys.readouterr().err  # the log's tail, where one looks first


def test_readme_says_what_the_first_run_installs():
    setup = (ROOT / "README.md").read_text(encoding="utf-8").split("## What is inside")[0]
    assert "2.5 GB" in setup and "LMLAB_VENV=/tmp/fresh-venv python3 scripts/bootstrap.py setup" in setup
    assert bootstrap_log_name() in setup


def bootstrap_log_name() -> str:
    return _bootstrap().LOG_NAME


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a dev dependency: pip install -e '.[dev]'"
    proc = subprocess.run([ruff, "check", "lmlab", "tests", "benchmarks", "scripts", "notebooks"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

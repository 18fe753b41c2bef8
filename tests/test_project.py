"""The project keeps its promises: README commands, CI entry point, lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a dev dependency: pip install -e '.[dev]'"
    proc = subprocess.run([ruff, "check", "lmlab", "tests", "benchmarks", "scripts", "notebooks"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""environment.yml (conda) and pyproject.toml (pip) list the same packages with the same minimum versions."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest itself depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's
NOT_PACKAGES = {"python", "pip"}


def split_requirement(req: str) -> tuple[str, str]:
    """'Scikit_Learn >= 1.4' -> ('scikit-learn', '>=1.4'); names normalised as PEP 503 does."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*", req)
    assert m, f"unparseable requirement {req!r}"
    return re.sub(r"[-_.]+", "-", m.group(1)).lower(), m.group(3).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    reqs = list(project["dependencies"])
    for req in extras.get("dev", []):  # dev includes other extras by naming lmlab itself: "lmlab[class]"
        m = re.fullmatch(r"lmlab\[([^\]]*)\]", req.strip())
        reqs += [r for extra in m.group(1).split(",") for r in extras[extra.strip()]] if m else [req]
    return dict(split_requirement(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-e ") or item.startswith("."):
                continue  # lmlab itself
            name, spec = split_requirement(item.replace("=>", ">="))
            name = CONDA_TO_PYPI.get(name, name)
            if name not in NOT_PACKAGES:
                assert name not in out, f"{name} listed twice in environment.yml"
                out[name] = spec
    return out


def test_same_packages_and_versions():
    pip, conda = pyproject_requirements(), conda_requirements()
    assert set(pip) - set(conda) == set(), "in pyproject.toml but not environment.yml"
    assert set(conda) - set(pip) == set(), "in environment.yml but not pyproject.toml"
    assert {k: v for k, v in conda.items() if v != pip[k]} == {}, "version constraints differ"


def test_environment_installs_lmlab_and_names_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section
    assert any(str(d).startswith("python>=3.10") for d in env["dependencies"])
    assert env["name"] == "lmlab" and "conda-forge" in env["channels"]


def test_requirement_parser_normalises():
    assert split_requirement("Scikit_Learn >= 1.4") == ("scikit-learn", ">=1.4")
    assert split_requirement("torch") == ("torch", "")

"""Figures in the prose tied to the cells that compute them (lmlab.cite): recorded, compared, stale named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest

from lmlab.cite import cite, cited, main, stale_figures

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("0[0-9]_*.py"))

NOTEBOOK = '''# %% [markdown]
# A uniform guess scores 4.17<!--cite:uniform--> nats; the class run reached 1.07<!--cite:params@class--> M.

# %%
print(cite("uniform", 4.174387))
'''


def test_cite_formats_and_records_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("LMLAB_RECORD", raising=False)
    assert cite("x", 4.174387) == "4.17"
    assert not list(tmp_path.iterdir())
    record = tmp_path / "rec.json"
    monkeypatch.setenv("LMLAB_RECORD", str(record))
    assert cite("x", 4.174387) == "4.17" and cite("n", 50, "{}") == "50"
    assert cite("share", 0.231, "{:.0%}") == "23%"
    assert json.loads(record.read_text()) == {"x": "4.17", "n": "50", "share": "23%"}


def test_cited_reads_the_number_before_each_comment():
    md = "about ±0.12<!--cite:half@class--> wide, 1,525<!--cite:n--> couplets, 23 %<!-- cite:share -->"
    assert cited(md) == [("half", "0.12", "class"), ("n", "1,525", None), ("share", "23 %", None)]
    # the ± says "give or take": the half-width a cell prints as cite("half", h) is 0.12, not ±0.12


def test_a_stale_or_uncomputed_figure_is_named(tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text(NOTEBOOK)
    assert stale_figures(nb, {"uniform": "4.17", "params": "9.99"}, "smoke") == []  # class figure: name only
    assert "computed 9.99" in stale_figures(nb, {"uniform": "4.17", "params": "9.99"}, "class")[0]
    problems = stale_figures(nb, {"uniform": "4.18"}, "smoke")
    assert len(problems) == 2
    assert "the prose says 4.17 for 'uniform', the smoke run computed 4.18" in problems[0]
    assert "no cell computed it" in problems[1] and "'params'" in problems[1]


def test_the_command_compares_a_class_run(tmp_path, capsys):
    nb = tmp_path / "nb.py"
    nb.write_text(NOTEBOOK)
    rec = tmp_path / "rec.json"
    rec.write_text(json.dumps({"uniform": "4.17", "params": "1.07"}))
    assert main([str(nb), str(rec), "--preset", "class"]) == 0
    rec.write_text(json.dumps({"uniform": "4.17", "params": "1.10"}))
    assert main([str(nb), str(rec), "--preset", "class"]) == 1
    assert "1.10" in capsys.readouterr().out
    assert main([str(nb), str(tmp_path / "none.json")]) == 2


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_cited_figure_has_a_cell_that_computes_it(path):
    """Cheap, without running: each name the prose cites is a string in the code of a notebook that cites."""
    nb = jupytext.read(path)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    names = {name for name, _, _ in cited(markdown)}
    if names:
        assert "cite(" in code, f"{path.name} cites figures but never calls cite(...)"
    # a name built in a loop, cite(f"season_ft_{key}", ...), stands for every name its pattern matches
    templates = [re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(t)) + "$")
                 for t in re.findall(r"""cite\(f['"]([\w.{}]+)['"]""", code)]
    missing = {n for n in names - set(re.findall(r"""['"]([\w.]+)['"]""", code))
               if not any(t.match(n) for t in templates)}
    assert not missing, f"{path.name}: the prose cites {sorted(missing)}, which no cell computes (cite(...))"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_chinese_twin_cites_the_same_figures(path):
    """A translation keeps every ``<!--cite:...-->`` with the English figure before it, so the smoke run of
    the English notebook vouches for the Chinese prose too (a figure updated in English only fails here)."""
    from collections import Counter

    twin = path.parent / "zh" / path.name
    if not twin.exists():
        pytest.skip(f"{path.name} has no Chinese twin yet")

    def figures(p):
        markdown = "\n".join(c.source for c in jupytext.read(p).cells if c.cell_type == "markdown")
        return Counter(cited(markdown))

    english, chinese = figures(path), figures(twin)
    assert english == chinese, (f"zh/{path.name} cites other figures than {path.name}: only in English "
                                f"{sorted(english - chinese)}, only in Chinese {sorted(chinese - english)}; "
                                "translate the changed cells (python -m lmlab.i18n update)")

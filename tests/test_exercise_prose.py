"""Exercises test understanding: the answer is not written in the cells above the exercise, and a wrong answer
is told which misconception it shows (not only that it is wrong)."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from lmlab.exercises import check

ROOT = Path(__file__).resolve().parent.parent

# (notebook, exercise, what must not appear above its check cell, in markdown or code): the sentence or
# formula that used to give the answer away
GIVEAWAYS = [
    ("05_scaling.py", "scaling.fsdp_family", r"(FSDP|[Ss]harded data parallel)[^.]*\bis data parallelism"),
    ("01_word2vec.py", "word2vec.which_predicts_centre",
     r"CBOW[^.]*(predicts|predict) the \**centre|predict the centre word"),
    ("08_parallel_compression.py", "parallel.bubble", r"m \+ p [-−] 1"),
    ("08_parallel_compression.py", "parallel.local_shape", r"out/N|in/N"),
]


def _above(notebook: str, name: str) -> str:
    """The text of every cell above the one that checks ``name``."""
    cells = jupytext.read(ROOT / "notebooks" / notebook).cells
    at = next(i for i, c in enumerate(cells) if c.cell_type == "code" and f'check("{name}"' in c.source)
    return "\n".join(c.source for c in cells[:at])


@pytest.mark.parametrize(("notebook", "name", "giveaway"), GIVEAWAYS, ids=[g[1] for g in GIVEAWAYS])
def test_the_answer_is_not_in_the_cells_above(notebook, name, giveaway):
    found = re.search(giveaway, _above(notebook, name))
    assert not found, f"{notebook}: the cells above {name} give its answer away: {found.group(0)!r}"


def test_the_giveaway_patterns_would_catch_the_old_prose():
    """Guards the test above: each pattern matches the sentence that used to sit above its exercise."""
    old = {"scaling.fsdp_family": "**Sharded data parallelism** (PyTorch's FSDP, DeepSpeed's ZeRO) is data "
                                  "parallelism, not model parallelism",
           "word2vec.which_predicts_centre": "context ['king'] -> predict the centre word 'horse'",
           "parallel.bubble": 'label="(p − 1) / (m + p − 1)"',
           "parallel.local_shape": "output rows of its heads / hidden units: $W_r$ (out/N, in)"}
    for _, name, giveaway in GIVEAWAYS:
        assert re.search(giveaway, old[name]), name


@pytest.mark.parametrize(("name", "wrong", "misconception"), [
    ("scaling.fsdp_family", "model", "splitting the weights' storage is not model parallelism"),
    ("word2vec.which_predicts_centre", "skip-gram", "easy to swap"),
    ("parallel.bubble", lambda p, m: (p - 1) / m, "over *working* slots"),
])
def test_a_wrong_answer_is_told_its_misconception(name, wrong, misconception, capsys):
    assert not check(name, wrong)
    assert misconception in capsys.readouterr().out


@pytest.mark.parametrize(("name", "right"), [("scaling.fsdp_family", " Data "),
                                             ("word2vec.which_predicts_centre", "CBOW")])
def test_the_right_answer_passes_in_any_case(name, right):
    assert check(name, right, quiet=True)

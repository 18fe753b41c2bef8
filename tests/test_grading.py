"""Grading a class with nbgrader: ``lmlab assign`` writes the course, nbgrader's own commands release,
collect and autograde it, and ``lmlab grades`` reads back who solved what and which slips were common.

The class is three students on a three-exercise assignment (notebook 00's exercises, no torch): alice answers
all right, bob makes one known slip (the loss for the wrong class), carol hands in the blank notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.errors import UsageError
from lmlab.grading import assign, results

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "week1"

MINI = '''\
# %% [markdown]
# Three exercises from notebook 00.

# %%
import math

from lmlab.exercises import check


def uniform_loss(V):
    return ...  # your code: the cross-entropy of a uniform guess over V symbols


check("welcome.uniform_loss", uniform_loss)

# %%
def bits_per_char(loss_nats):
    """Nats to bits."""
    ...  # your code


check("welcome.bits_per_char", bits_per_char)

# %%
worked_loss = ...  # your answer: a number
check("welcome.worked_loss", worked_loss)
'''

RIGHT = {
    "return ...  # your code: the cross-entropy of a uniform guess over V symbols": "return math.log(V)",
    "    ...  # your code": "    return loss_nats / math.log(2)",
    "worked_loss = ...  # your answer: a number": "worked_loss = 0.5003",
}
SLIP = {**RIGHT, "worked_loss = ...  # your answer: a number": "worked_loss = 0.932"}  # t = 0, not t = 1
ANSWERS = {"alice": RIGHT, "bob": SLIP, "carol": {}}


def _mini(tmp_path: Path) -> Path:
    path = tmp_path / "mini.py"
    path.write_text(MINI, encoding="utf-8")
    return path


# ---------------------------------------------------------------- lmlab assign, without nbgrader


def test_assign_puts_the_registry_solution_between_nbgrader_markers(tmp_path):
    [done] = assign.write_course([_mini(tmp_path)], tmp_path / "course", assignment=ASSIGNMENT)
    assert done.exercises == ["welcome.uniform_loss", "welcome.bits_per_char", "welcome.worked_loss"]
    nb = json.loads(done.notebook.read_text(encoding="utf-8"))
    answers = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    tests = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in tests] == [
        "check-welcome-uniform_loss", "check-welcome-bits_per_char", "check-welcome-worked_loss"]
    for cell in tests:
        meta = cell["metadata"]["nbgrader"]
        assert meta["locked"] and meta["points"] == 1.0 and meta["schema_version"] == 3
        source = "".join(cell["source"])
        assert "### BEGIN HIDDEN TESTS" in source and "assert_check(" in source
    first = "".join(answers[0]["source"])
    assert "### BEGIN SOLUTION" in first and "from lmlab.exercises.welcome import _uniform_loss" in first
    assert "return ...  # your code" in first  # the template stays, for nbgrader to hand out
    assert "worked_loss = 0.5003" in "".join(answers[2]["source"])
    config = (tmp_path / "course" / "nbgrader_config.py").read_text()
    assert "c.ClearSolutions.code_stub" in config and "course_id = 'lmlab'" in config


def test_assign_speaks_the_chinese_edition(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_LANG", "en")
    zh = ROOT / "notebooks" / "zh" / "00_welcome.ipynb"
    assert main(["assign", str(zh), "--course", str(tmp_path / "course"), "--lang", "zh"]) == 0
    text = (tmp_path / "course" / "source" / "00_welcome" / "00_welcome.ipynb").read_text(encoding="utf-8")
    assert "评分" in text and "welcome.worked_loss" in text
    assert "你的答案" in (tmp_path / "course" / "nbgrader_config.py").read_text(encoding="utf-8")


def test_the_teachers_version_passes_its_own_checks(tmp_path, capsys):
    """Run the source notebook's cells (solutions in, hidden tests in): every assert_check passes."""
    [done] = assign.write_course([_mini(tmp_path)], tmp_path / "course", assignment=ASSIGNMENT)
    scope: dict = {}
    for cell in json.loads(done.notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "<cell>", "exec"), scope)
    out = capsys.readouterr().out
    assert out.count('"outcome": "solved"') == 3 and "✗" not in out


def test_every_lesson_notebook_becomes_an_assignment_whose_solutions_pass():
    """Each lesson's teacher version: every answer cell (solution in) and hidden test cell runs and passes."""
    import contextlib
    import io
    import math

    import jupytext
    import numpy as np
    import torch
    import torch.nn.functional as F

    from lmlab.exercises import check, hint

    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        nb, names = assign.assignment_notebook(jupytext.read(path), origin=path.name)
        assert names, path.name
        # what the lesson's earlier cells imported; the exercise cells themselves are run as written
        scope = {"np": np, "torch": torch, "math": math, "F": F, "check": check, "hint": hint}
        graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                  or c.metadata.get("nbgrader", {}).get("grade")]
        assert len([c for c in graded if c.metadata["nbgrader"]["grade"]]) == len(names)
        for cell in graded:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"{path.name}:{cell.metadata['nbgrader']['grade_id']}", "exec"),
                     scope)  # an AssertionError from assert_check fails the test with the feedback


def test_assign_refuses_a_notebook_without_exercises(tmp_path, capsys):
    plain = tmp_path / "plain.py"
    plain.write_text("# %%\nprint('no exercises here')\n", encoding="utf-8")
    assert main(["assign", str(plain), "--course", str(tmp_path / "course")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no exercises" in err and "plain.py" in err
    assert not (tmp_path / "course").exists()


@pytest.mark.parametrize("setup", ["missing", "not nbgrader"])
def test_grades_refuses_a_folder_that_is_not_a_course(tmp_path, capsys, setup):
    course = tmp_path / "course"
    if setup == "not nbgrader":
        course.mkdir()
        (course / "notes.txt").write_text("a folder of something else")
    assert main(["grades", "--course", str(course)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(course) in err
    assert ("does not exist" if setup == "missing" else "not an nbgrader course folder") in err


def test_assert_check_records_the_slip_the_check_knows(capsys):
    from lmlab.exercises.grade import assert_check

    with pytest.raises(AssertionError, match="t = 0"):
        assert_check("welcome.worked_loss", 0.932)
    record = json.loads(capsys.readouterr().out.split("application/vnd.lmlab.grade+json ", 1)[1])
    assert record["outcome"] == "slip" and record["slip"].startswith("welcome.py:")
    with pytest.raises(AssertionError):
        assert_check("welcome.worked_loss")
    assert '"outcome": "blank"' in capsys.readouterr().out


def test_the_teachers_view_reads_each_slip_in_its_edition(capsys, monkeypatch):
    import math

    from lmlab.exercises.grade import assert_check

    def log2_loss(V):
        return math.log2(V)  # the slip: bits instead of nats

    monkeypatch.setenv("LMLAB_LANG", "en")
    with pytest.raises(AssertionError):
        assert_check("welcome.uniform_loss", log2_loss)
    record = json.loads(capsys.readouterr().out.split("application/vnd.lmlab.grade+json ", 1)[1])
    assert "expected 0.693147" in record["messages"]["en"] and "期望" in record["messages"]["zh"]
    slipped = results.Result("bob", "w", "nb", "welcome.uniform_loss", 0.0, 1.0, "slip", record["slip"],
                             record["message"], record["messages"])
    solved = results.Result("alice", "w", "nb", "welcome.uniform_loss", 1.0, 1.0, "solved")
    [row] = results.class_table([slipped, solved])
    assert row.solved_share == 0.5 and row.common_slips()[0] == (record["messages"]["en"], 1)
    monkeypatch.setenv("LMLAB_LANG", "zh")
    assert row.common_slips()[0] == (record["messages"]["zh"], 1)
    assert "练习" in results.format_table([row]) and "期望" in results.format_table([row])


# ---------------------------------------------------------------- the real nbgrader, on three students

def _nbgrader(cwd: Path, *args: str, env: dict) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-4000:])


def _env(tmp: Path) -> dict:
    """nbgrader's processes: this lmlab, this venv's scripts (it runs `alembic`), English, one thread."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "LMLAB_LANG": "en", "OMP_NUM_THREADS": "1", "HOME": str(tmp / "home")}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A course after nbgrader's generate, release, fetch, submit, collect and autograde of three students."""
    tmp = tmp_path_factory.mktemp("class")
    env = _env(tmp)
    exchange = tmp / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    course = tmp / "course"
    assert main(["assign", str(_mini(tmp)), "--course", str(course), "--assignment", ASSIGNMENT,
                 "--exchange", str(exchange)]) == 0
    _nbgrader(course, "generate_assignment", ASSIGNMENT, env=env)
    _nbgrader(course, "release_assignment", ASSIGNMENT, env=env)
    for student, answers in ANSWERS.items():
        home = tmp / "students" / student
        home.mkdir(parents=True)
        flags = ["--course", "lmlab", f"--Exchange.root={exchange}"]
        _nbgrader(home, "fetch_assignment", ASSIGNMENT, *flags, env=env)
        notebook = home / ASSIGNMENT / "mini.ipynb"
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            for template, answer in answers.items():
                source = source.replace(template, answer)
            cell["source"] = source
        notebook.write_text(json.dumps(nb), encoding="utf-8")
        _nbgrader(home, "submit", ASSIGNMENT, "--student", student, *flags, env=env)
    _nbgrader(course, "collect", ASSIGNMENT, env=env)
    _nbgrader(course, "autograde", ASSIGNMENT, env=env)
    return course


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_the_released_notebook_is_lmlabs_template(graded_class):
    nb = json.loads((graded_class / "release" / ASSIGNMENT / "mini.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "SOLUTION" not in text and "_uniform_loss" not in text and "0.5003" not in text
    assert "assert_check" not in text  # the hidden tests stay hidden until autograde
    assert "return ...  # your code" in text and "worked_loss = ...  # your answer" in text


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_nbgrader_grades_all_right_one_slip_and_blank(graded_class):
    by_student: dict[str, dict[str, float]] = {}
    for r in results.read_results(graded_class):
        by_student.setdefault(r.student, {})[r.exercise] = r.score
    assert by_student == {
        "alice": {"welcome.uniform_loss": 1.0, "welcome.bits_per_char": 1.0, "welcome.worked_loss": 1.0},
        "bob": {"welcome.uniform_loss": 1.0, "welcome.bits_per_char": 1.0, "welcome.worked_loss": 0.0},
        "carol": {"welcome.uniform_loss": 0.0, "welcome.bits_per_char": 0.0, "welcome.worked_loss": 0.0},
    }


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_the_class_table_and_figure(graded_class, capsys):
    out_png = graded_class / "class.png"
    assert main(["grades", "--course", str(graded_class), "--out", str(out_png)]) == 0
    table = capsys.readouterr().out
    rows = {row.exercise: row for row in results.class_table(results.read_results(graded_class))}
    assert rows["welcome.uniform_loss"].counts == {"solved": 2, "blank": 1}
    worked = rows["welcome.worked_loss"]
    assert worked.counts == {"solved": 1, "slip": 1, "blank": 1}
    [(message, n)] = worked.common_slips()
    assert n == 1 and "the loss for t = 0" in message  # the checker's own words for bob's slip
    assert "67% (2/3)" in table and "33% (1/3)" in table and "the loss for t = 0" in table
    assert out_png.stat().st_size > 10_000 and out_png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_the_class_table_in_chinese(graded_class, capsys, monkeypatch):
    monkeypatch.setenv("LMLAB_LANG", "en")  # --lang zh sets it for the process; restored afterwards
    assert main(["grades", "--course", str(graded_class), "--lang", "zh",
                 "--out", str(graded_class / "zh.png")]) == 0
    table = capsys.readouterr().out
    assert "练习" in table and "67% (2/3)" in table
    assert (graded_class / "zh.png").is_file()


def _dave_deletes_a_check(course: Path) -> None:
    """dave hands in alice's answers without the check cell of worked_loss (as collect leaves it)."""
    submitted = course / "submitted" / "dave" / ASSIGNMENT
    shutil.copytree(course / "submitted" / "alice" / ASSIGNMENT, submitted)
    notebook = submitted / "mini.ipynb"
    notebook.chmod(0o644)
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"] = [c for c in nb["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") != "check-welcome-worked_loss"]
    notebook.write_text(json.dumps(nb), encoding="utf-8")


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_a_submission_with_its_check_deleted_is_named(graded_class, tmp_path, capsys):
    course = tmp_path / "course"
    shutil.copytree(graded_class, course)
    _dave_deletes_a_check(course)  # collected, not yet autograded: nothing graded that check
    assert main(["grades", "--course", str(course)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'dave'" in err and "'check-welcome-worked_loss'" in err
    assert "add_missing_cells" in err


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_autograde_puts_a_deleted_check_back_and_grades_it(graded_class, tmp_path, capsys):
    course = tmp_path / "course"
    shutil.copytree(graded_class, course)
    _dave_deletes_a_check(course)
    _nbgrader(course, "autograde", ASSIGNMENT, "--student", "dave", env=_env(tmp_path))
    assert main(["grades", "--course", str(course), "--out", str(tmp_path / "g.png")]) == 0
    err = capsys.readouterr().err.strip()
    assert "'dave'" in err and "put it back" in err
    dave = {r.exercise: r for r in results.read_results(course) if r.student == "dave"}
    assert dave["welcome.worked_loss"].score == 1.0 and dave["welcome.worked_loss"].outcome == "solved"


@pytest.mark.slow  # graded_class runs nbgrader's commands in 11 processes: minutes on a loaded machine
def test_points_without_lmlabs_checks_are_named(graded_class, tmp_path, capsys):
    """A student who redefined assert_check passes the cell: no lmlab record there, so it is flagged."""
    course = tmp_path / "course"
    shutil.copytree(graded_class, course)
    graded = course / "autograded" / "bob" / ASSIGNMENT / "mini.ipynb"
    graded.chmod(0o644)
    nb = json.loads(graded.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "check-welcome-worked_loss":
            cell["outputs"] = []  # what `assert_check = lambda *a: None` in an answer cell leaves
    graded.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(UsageError, match="'bob'.*'check-welcome-worked_loss'.*without lmlab's checks"):
        results.check_submissions(course)

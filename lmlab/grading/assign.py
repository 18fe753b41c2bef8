"""``lmlab assign``: an nbgrader course folder from lmlab notebooks.

An exercise cell is a code cell that calls ``check("topic.name", answer)`` at its top level. In the
course's source notebook it becomes an nbgrader *answer* cell (``solution: true``) with the registry's
reference solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, placed so that ``nbgrader
generate_assignment`` leaves the student exactly lmlab's template (the function with its ``...``, or
``name = ...``). After it comes one locked, graded *test* cell per exercise whose hidden part calls
``assert_check("topic.name", answer)``: the same checks, feedback and hint as ``check``, plus an
``AssertionError`` for nbgrader's score.

    lmlab assign notebooks/00_welcome.ipynb --course class/ --assignment week1
    cd class && nbgrader generate_assignment week1 && nbgrader release_assignment week1
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmlab.errors import UsageError
from lmlab.i18n import _

SCHEMA_VERSION = 3  # nbgrader's cell-metadata schema (nbgrader >= 0.6)
CONFIG_NAME = "nbgrader_config.py"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_TESTS, END_TESTS = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_ASSIGNMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def answer_id(name: str) -> str:
    """nbgrader's grade_id of the answer cell of exercise ``name`` (nbgrader allows [A-Za-z0-9_-] only)."""
    return "answer-" + name.replace(".", "-", 1)


def test_id(name: str) -> str:
    """nbgrader's grade_id of the (hidden) test cell that grades exercise ``name``."""
    return "check-" + name.replace(".", "-", 1)


def exercise_of(grade_id: str) -> str | None:
    """The exercise a test cell's grade_id grades (None for another cell)."""
    return grade_id[len("check-"):].replace("-", ".", 1) if grade_id.startswith("check-") else None


@dataclass
class Exercise:
    """One ``check("name", answer)`` call of a cell, and how its answer is defined there."""

    name: str
    answer: str  # the variable or function the learner fills in
    kind: str = "other"  # "function" | "value" | "other"
    node: Any = None


@dataclass
class Assigned:
    notebook: Path
    exercises: list[str] = field(default_factory=list)


def find_exercises(source: str) -> list[Exercise]:
    """The exercises a code cell checks: top-level ``check("name", answer)`` calls, in order.

    ``check("name", prediction, measured=...)`` is a "predict, then run" question: feedback, not a grade."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    defined: dict[str, tuple[str, Any]] = {}
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            defined[node.name] = ("function", node)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            defined[node.targets[0].id] = ("value", node)
        call = node.value if isinstance(node, ast.Expr) else None
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
                and len(call.args) >= 2 and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str) and isinstance(call.args[1], ast.Name)
                and not any(k.arg == "measured" for k in call.keywords)):  # a prediction is not graded
            answer = call.args[1].id
            kind, defn = defined.get(answer, ("other", None))
            found.append(Exercise(call.args[0].value, answer, kind, defn))
    return found


def _solution(name: str) -> Any:
    from lmlab import exercises

    ex = exercises._find(name)
    if ex is None:
        raise UsageError(f"the notebook checks {name!r}, which is not a registered exercise; "
                         "see lmlab.exercises.list_exercises()")
    if ex.solution is None:
        raise UsageError(f"exercise {name!r} has no reference solution in lmlab/exercises/; "
                         "register one with @exercise(..., solution=...)")
    return ex.solution


def _literal(value: Any) -> str | None:
    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value else None
    except (ValueError, SyntaxError):
        return None


def _call_arguments(func: ast.FunctionDef) -> str:
    a = func.args
    parts = [p.arg for p in (*a.posonlyargs, *a.args)]
    if a.vararg:
        parts.append(f"*{a.vararg.arg}")
    parts += [f"{p.arg}={p.arg}" for p in a.kwonlyargs]
    if a.kwarg:
        parts.append(f"**{a.kwarg.arg}")
    return ", ".join(parts)


def _reference_lines(solution: Any, name: str) -> tuple[list[str], str]:
    """Comment lines showing the reference solution's source, and the import that brings it in."""
    module, qualname = solution.__module__, solution.__qualname__
    if "." in qualname or "<" in qualname:
        raise UsageError(f"the reference solution of {name!r} ({qualname}) is not a module-level function; "
                         "lmlab assign imports it by name")
    try:
        shown = inspect.getsource(solution).rstrip().splitlines()
    except (OSError, TypeError):
        shown = []
    comment = [f"# the reference solution, {module}.{qualname}:"] + [f"#   {line}".rstrip() for line in shown]
    return comment, f"from {module} import {qualname}"


def _solution_region(ex: Exercise, solution: Any, indent: str) -> list[str]:
    """The lines between nbgrader's markers that make ``ex.answer`` the reference answer."""
    if callable(solution):
        comment, imp = _reference_lines(solution, ex.name)
        qualname = solution.__qualname__
        if ex.kind == "function":
            body = [*comment, imp, f"return {qualname}({_call_arguments(ex.node)})"]
        else:
            body = [*comment, imp, f"{ex.answer} = {qualname}"]
    else:
        literal = _literal(solution)
        if literal is None:
            raise UsageError(f"the reference solution of {ex.name!r} ({type(solution).__name__}) cannot be "
                             "written into a notebook; register a number, string or module-level function")
        body = [f"{ex.answer} = {literal}"]
    return [indent + line for line in (BEGIN, *body, END)]


def answer_source(source: str, exercises: list[Exercise]) -> str:
    """The cell's source with each exercise's reference solution between nbgrader's solution markers.

    A function gets the solution at the top of its body (the template's body stays below it, unreachable in
    the teacher's version, and is what the student sees once nbgrader removes the region); a value gets it on
    the line after the template's ``name = ...``; anything else just before the ``check`` call."""
    lines = source.splitlines()
    inserts: list[tuple[int, list[str]]] = []  # (index of the line to insert before, lines)
    tree = ast.parse(source)
    checks = {}
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check":
            checks.setdefault(getattr(call.args[0], "value", None), node)
    for ex in exercises:
        solution = _solution(ex.name)
        if ex.kind == "function" and callable(solution) and ex.node.body[0].lineno > ex.node.lineno:
            body = ex.node.body
            first = body[0]
            has_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                       and isinstance(first.value.value, str))
            indent = re.match(r"\s*", lines[first.lineno - 1]).group(0)
            at = first.end_lineno if has_doc else first.lineno - 1  # after the docstring, above the code
            inserts.append((at, _solution_region(ex, solution, indent)))
        elif ex.kind == "value":
            inserts.append((ex.node.end_lineno, _solution_region(ex, solution, "")))
        else:
            inserts.append((checks[ex.name].lineno - 1, _solution_region(
                Exercise(ex.name, ex.answer, "other"), solution, "")))
    for at, block in sorted(inserts, key=lambda item: item[0], reverse=True):
        lines[at:at] = block
    return "\n".join(lines)


def test_source(ex: Exercise) -> str:
    """The test cell: a visible comment, and the hidden call nbgrader puts back when it autogrades."""
    return "\n".join([
        _('# Graded: the hidden checks of check("{name}", ...) run here when your notebook is graded.')
        .format(name=ex.name),
        BEGIN_TESTS,
        "from lmlab.exercises.grade import assert_check",
        "",
        f'assert_check("{ex.name}", {ex.answer})',
        END_TESTS,
    ])


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: float | None = None) -> dict:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": grade and not solution,
                            "schema_version": SCHEMA_VERSION, "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def assignment_notebook(nb: Any, *, points: float = 1.0, origin: str = "notebook") -> tuple[Any, list[str]]:
    """The nbgrader source version of lmlab notebook ``nb`` (an nbformat v4 node), and its exercises."""
    import nbformat

    cells, names = [], []
    for cell in nb.cells:
        exercises = find_exercises(cell.source) if cell.cell_type == "code" else []
        if not exercises:
            cells.append(cell)
            continue
        seen = set(names)
        for ex in exercises:
            if ex.name in seen:
                raise UsageError(f"{origin} checks {ex.name!r} twice; nbgrader grades each exercise once: "
                                 "keep one check(...) per exercise")
            seen.add(ex.name)
        answer = nbformat.v4.new_code_cell(answer_source(cell.source, exercises))
        answer.metadata = {**cell.metadata,
                           "nbgrader": _nbgrader(answer_id(exercises[0].name), solution=True, grade=False)}
        cells.append(answer)
        for ex in exercises:
            test = nbformat.v4.new_code_cell(test_source(ex))
            graded = _nbgrader(test_id(ex.name), solution=False, grade=True, points=points)
            test.metadata = {"deletable": False, "editable": False, "nbgrader": graded,
                             "lmlab": {"exercise": ex.name}}
            cells.append(test)
            names.append(ex.name)
    out = nbformat.v4.new_notebook(metadata=nb.metadata, cells=cells)
    out.metadata.pop("jupytext", None)
    out.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                           "language": "python"})
    out.nbformat, out.nbformat_minor = 4, 5
    for i, cell in enumerate(out.cells):  # a course notebook starts clean: no outputs, ids in order
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell["id"] = f"cell-{i:03d}"
    return out, names


def _read(path: Path) -> Any:
    import jupytext

    if not path.is_file():
        raise UsageError(f"notebook {str(path)!r} does not exist; give an lmlab notebook (.ipynb or its "
                         ".py twin)")
    if path.suffix not in (".ipynb", ".py"):
        raise UsageError(f"{str(path)!r} is not a notebook; give an .ipynb file or its Jupytext .py twin")
    try:
        return jupytext.read(path)
    except Exception as err:  # nbformat's and jupytext's errors have no common base
        raise UsageError(f"cannot read {str(path)!r} as a notebook ({type(err).__name__}: {err})") from None


def code_stub() -> str:
    """What the student finds where the reference solution was (nbgrader's ClearSolutions.code_stub)."""
    return _("# your answer: fill in the `...`")


def config_text(course_id: str, exchange: str | None) -> str:
    """The course's nbgrader_config.py."""
    exchange_line = (f"c.Exchange.root = {exchange!r}" if exchange else
                     "# c.Exchange.root = '/srv/nbgrader/exchange'  # where release and collect meet")
    return textwrap.dedent(f'''\
        # nbgrader configuration of a course written by `lmlab assign` (edit freely; lmlab only reads it).
        # Run nbgrader in this folder: generate_assignment, release_assignment, collect, autograde.
        c = get_config()  # noqa: F821

        c.CourseDirectory.course_id = {course_id!r}
        c.CourseDirectory.root = __import__("os").path.dirname(__import__("os").path.abspath(__file__))
        {exchange_line}

        # The student keeps lmlab's template (the `...` to fill in); nbgrader writes this comment where the
        # reference solution was, instead of its default `raise NotImplementedError()`.
        c.ClearSolutions.code_stub = {{"python": {code_stub()!r}}}
        # A student who deletes a graded cell is graded anyway: autograde puts the check back and runs it.
        c.OverwriteCells.add_missing_cells = True
        # lmlab's checks import torch in some lessons, and lessons train small models: give cells time.
        c.ExecutePreprocessor.timeout = 600
        ''')


def write_course(notebooks: list[str | Path], course: str | Path, *, assignment: str | None = None,
                 course_id: str = "lmlab", exchange: str | None = None, points: float = 1.0,
                 force: bool = False) -> list[Assigned]:
    """Write ``course/source/ASSIGNMENT/NAME.ipynb`` for each notebook and ``course/nbgrader_config.py``."""
    import nbformat

    from lmlab.atomic import atomic_write

    if not notebooks:
        raise UsageError("give at least one notebook, e.g. lmlab assign notebooks/00_welcome.ipynb "
                         "--course DIR")
    paths = [Path(p) for p in notebooks]
    assignment = assignment or paths[0].stem
    if not _ASSIGNMENT_NAME.match(assignment):
        raise UsageError(f"assignment name {assignment!r} must be letters, digits, '_', '.' or '-' "
                         "(nbgrader uses it as a folder name); pass --assignment NAME")
    if points <= 0:
        raise UsageError(f"--points {points:g} must be positive")
    course = Path(course)
    if course.exists() and not course.is_dir():
        raise UsageError(f"course folder {str(course)!r} is a file; give a folder (it is created if missing)")
    built = []
    for path in paths:
        nb = _read(path)
        out, names = assignment_notebook(nb, points=points, origin=str(path))
        if not names:
            raise UsageError(f"{str(path)!r} has no exercises (no cell calls check(\"topic.name\", answer)); "
                             "give a notebook with exercises, e.g. notebooks/00_welcome.ipynb")
        target = course / "source" / assignment / f"{path.stem}.ipynb"
        if target.exists() and not force:
            raise UsageError(f"{str(target)!r} exists; pass --force to write it again (nbgrader's gradebook "
                             "keeps the grades already given)")
        built.append((target, out, Assigned(target, names)))
    nbformat_version = 4
    for target, out, _assigned in built:
        nbformat.validate(out)
        with atomic_write(target) as f:
            f.write(nbformat.writes(out, version=nbformat_version) + "\n")
    config = course / CONFIG_NAME
    if not config.exists():
        with atomic_write(config) as f:
            f.write(config_text(course_id, exchange))
    return [assigned for _t, _o, assigned in built]


def course_exercises(course: Path) -> dict[tuple[str, str], list[str]]:
    """(assignment, notebook) -> the exercises its source version grades, in order."""
    found = {}
    for path in sorted((course / "source").glob("*/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        names = [c.get("metadata", {}).get("lmlab", {}).get("exercise") for c in nb.get("cells", [])]
        found[(path.parent.name, path.stem)] = [n for n in names if n]
    return found

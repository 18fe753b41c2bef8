"""Grading an exercise with the checks ``check(...)`` runs: one place for feedback, grade and slip.

nbgrader's hidden test cells (written by ``lmlab assign``) call :func:`assert_check`. It runs ``check`` itself
(so the student's feedback is exactly what the notebook prints), and then

- records the outcome in the cell's output: a ``display_data`` of type :data:`RECORD_MIME` with the exercise,
  the outcome (``solved``, ``slip``, ``blank``, ``error``), which check fired (the checker's line: one per
  slip the checker knows) and the feedback; ``lmlab grades`` reads it back from the autograded notebooks;
- raises ``AssertionError`` carrying the feedback when the answer is not right, which nbgrader scores as 0.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

RECORD_MIME = "application/vnd.lmlab.grade+json"
OUTCOMES = ("solved", "slip", "blank", "error")


def assert_check(name: str, answer: Any = ...) -> None:
    """Run ``check(name, answer)``, record which check fired; ``AssertionError`` unless it passed."""
    __tracebackhide__ = True  # IPython shows the feedback, not lmlab's frames
    from lmlab import exercises

    ex = exercises._find(name)
    fired: dict[str, BaseException] = {}
    if ex is not None:
        def recording(student: Any, _checker=ex.checker) -> Any:
            try:
                return _checker(student)
            except BaseException as err:  # recorded, then raised again for check() to word
                fired["error"] = err
                raise

        exercises._REGISTRY[name] = replace(ex, checker=recording)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            passed = exercises.check(name, answer)
    finally:
        if ex is not None:
            exercises._REGISTRY[name] = ex
    feedback = out.getvalue().strip()
    print(feedback, flush=True)
    record = outcome(name, answer, passed, fired.get("error"), ex.checker if ex else None)
    record["feedback"] = feedback
    if record["outcome"] == "slip" and ex is not None:
        record["messages"] = _in_each_language(ex.checker, answer)
    _emit(record)
    if not passed:
        raise AssertionError(feedback)


def outcome(name: str, answer: Any, passed: bool, error: BaseException | None,
            checker: Any) -> dict[str, Any]:
    """What happened, in a form a class can be summed over: the slip is the checker line that fired."""
    from lmlab.exercises import ExerciseFailure

    record: dict[str, Any] = {"exercise": name, "outcome": "solved", "slip": None, "message": None}
    if passed:
        return record
    if (answer is ... or answer is None or error is None or isinstance(error, NotImplementedError)
            or _untouched(answer) or _returned_placeholder(error)):
        record["outcome"] = "blank"
        return record
    if isinstance(error, ExerciseFailure):
        record["outcome"] = "slip"
        record["slip"] = _checker_line(error, checker)
        record["message"] = str(error).splitlines()[0] if str(error) else type(error).__name__
        return record
    record["outcome"] = "error"
    record["slip"] = type(error).__name__
    record["message"] = f"{type(error).__name__}: {error}".splitlines()[0]
    return record


def _in_each_language(checker: Any, answer: Any) -> dict[str, str]:
    """The slip's first line in each edition (the checker runs again per language), for the teacher's view."""
    import os

    from lmlab.exercises import ExerciseFailure
    from lmlab.i18n import LANGUAGES, _

    saved = os.environ.get("LMLAB_LANG")
    found = {}
    try:
        for language in LANGUAGES:
            os.environ["LMLAB_LANG"] = language
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    checker(answer)
            except ExerciseFailure as fail:
                found[language] = _(str(fail)).splitlines()[0] if str(fail) else ""
            except Exception:  # the first run already recorded what happened
                pass
    finally:
        if saved is None:
            os.environ.pop("LMLAB_LANG", None)
        else:
            os.environ["LMLAB_LANG"] = saved
    return found


def _returned_placeholder(error: BaseException | None) -> bool:
    """The checker stopped because the student's function returned the template's ``...``."""
    tb = error.__traceback__ if error is not None else None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in ("_expect_filled", "_answered") and (
                frame.f_locals.get("got", frame.f_locals.get("value")) is ...):
            return True
        tb = tb.tb_next
    return False


def _untouched(answer: Any) -> bool:
    """A function whose body is still the template's: only ``...``, ``pass`` or ``return ...``."""
    import ast
    import textwrap

    if not inspect.isfunction(answer):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):
        return False
    func = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None:
        return False
    body = func.body[1:] if ast.get_docstring(func) is not None else func.body

    def placeholder(node: ast.stmt) -> bool:
        value = node.value if isinstance(node, (ast.Expr, ast.Return)) else None
        return (isinstance(node, ast.Pass) or (isinstance(node, ast.Return) and value is None)
                or (isinstance(value, ast.Constant) and value.value in (..., None)))

    return all(placeholder(node) for node in body)


def _checker_line(error: BaseException, checker: Any) -> str:
    """``module.py:LINE`` of the checker's own line that raised: the same line for the same slip."""
    try:
        source = Path(inspect.getsourcefile(checker) or "").resolve()
    except TypeError:
        source = None
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if source is not None and Path(f.filename).resolve() == source]
    frame = (own or frames or [None])[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}" if frame else type(error).__name__


def _emit(record: dict[str, Any]) -> None:
    """A display_data the autograded notebook keeps (in a kernel), else one JSON line on stdout."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        print(f"{RECORD_MIME} {json.dumps(record, ensure_ascii=False)}")
        return
    from IPython.display import display

    label = f"[graded: {record['exercise']} {record['outcome']}]"
    display({RECORD_MIME: record, "text/plain": label}, raw=True)

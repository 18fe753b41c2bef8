"""Checked exercises: a learner's cell calls ``check(name, answer)``; hidden tests answer with specifics.

A topic module (``lmlab/exercises/<topic>.py``) registers one checker per exercise::

    from lmlab.exercises import exercise, expect_close

    def _softmax(x):                                   # the reference solution (teachers only)
        return (x - x.max(-1, keepdim=True).values).exp().pipe(lambda e: e / e.sum(-1, keepdim=True))

    @exercise("attention.softmax", hint="subtract the row maximum before exp", solution=_softmax)
    def _check_softmax(student):
        x = torch.tensor([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
        expect_close(student(x), torch.softmax(x, -1), what="softmax(x) for a row with large values")

In the notebook::

    check("attention.softmax", my_softmax)   # prints "✓ ..." or "✗ ... expected ..., got ..."; returns bool

``check`` never raises: a wrong answer, an answer that raises, or an unfilled ``...`` all become feedback.

**Predict, then run.** A *prediction* is committed before the measuring cell runs and compared with what that
cell measured afterwards; it is not graded (a wrong prediction is the lesson, not a mistake)::

    @prediction("lstm.predict_forget", options={"a": N_("it keeps everything"), "b": N_("it forgets")},
                hint="the misconception, named", explain="what the measurement shows, either way")
    def _forget_outcome(measured):          # the measurement -> the right option (or the number)
        return "b" if measured < 0.5 else "a"

    prediction = "a"                                         # cell 1, before the run
    ...                                                      # cell 2, measures `share`
    check("lstm.predict_forget", prediction, measured=share)  # cell 3: right or not, it explains
Solutions live here, not in the student's notebook: ``solution(name)`` prints the reference source only when
``LMLAB_TEACHER=1`` is set (a teacher's machine or the teacher build of the static site).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import os
import pkgutil
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmlab.i18n import N_, _

__all__ = [
    "DIRECTIONS", "Exercise", "ExerciseFailure", "Prediction", "check", "direction", "exercise", "expect",
    "expect_close", "expect_equal", "expect_shape", "hint", "list_exercises", "list_predictions",
    "prediction", "solution",
]


class ExerciseFailure(AssertionError):
    """Raised by a checker (usually through an ``expect_*`` helper) with the feedback to show."""


@dataclass(frozen=True)
class Exercise:
    name: str
    checker: Callable[[Any], Any]
    hint: str | None = None
    solution: Any = None
    success: str | None = None


_REGISTRY: dict[str, Exercise] = {}


def exercise(name: str, *, hint: str | None = None, solution: Any = None,
             success: str | None = None) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register the decorated ``checker(answer)`` under ``name`` ("topic.exercise").

    The checker raises ``ExerciseFailure`` (or calls ``expect_*``) when the answer is wrong. ``solution`` is
    the reference answer (a value or a function); the test suite checks that every solution passes.
    """
    if "." not in name:
        raise ValueError(f"exercise name {name!r} needs a topic prefix, e.g. 'attention.{name}'")

    def register(checker: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _REGISTRY[name] = Exercise(name, checker, hint, solution, success)
        return checker

    return register


@dataclass(frozen=True)
class Prediction:
    """A "predict, then run" question: a choice among ``options`` or, without options, a number.

    ``outcome(measured)`` turns the measuring cell's result into the right option's key, or into the number
    the prediction is compared with (within ``tolerance``, absolute, or ``rel``, relative). ``explain`` says
    what the measurement shows and is printed either way; ``hint`` names the misconception, printed when the
    prediction missed. ``example`` is a measurement for the tests.
    """

    name: str
    outcome: Callable[[Any], Any]
    options: Mapping[str, str] | None = None
    tolerance: float = 0.0
    rel: float = 0.0
    explain: str = ""
    hint: str | None = None
    example: Any = None


_PREDICTIONS: dict[str, Prediction] = {}


def prediction(name: str, *, options: Mapping[str, str] | None = None, tolerance: float = 0.0,
               rel: float = 0.0, explain: str = "", hint: str | None = None,
               example: Any = None) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register the decorated ``outcome(measured)`` as prediction exercise ``name`` ("topic.predict_x")."""
    if "." not in name:
        raise ValueError(f"prediction name {name!r} needs a topic prefix, e.g. 'lstm.{name}'")
    if options is None and tolerance <= 0 and rel <= 0:
        raise ValueError(f"prediction {name!r}: give options (a choice) or a tolerance/rel (a number)")
    if options is not None and any(k != k.strip().lower() for k in options):
        raise ValueError(f"prediction {name!r}: option keys are lower-case words, e.g. 'a' or 'up'")

    def register(outcome: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _PREDICTIONS[name] = Prediction(name, outcome, dict(options) if options else None, tolerance, rel,
                                        explain, hint, example)
        return outcome

    return register


# the options of a "which way will it move?" prediction; ``direction(change, noise)`` gives the measured one
DIRECTIONS = {"up": N_("it goes up"), "down": N_("it goes down"), "same": N_("it stays within the noise")}


def direction(change: float, noise: float = 0.0) -> str:
    """The key of :data:`DIRECTIONS` that a measured ``change`` falls in (``|change| <= noise``: "same")."""
    return "same" if abs(change) <= noise else "up" if change > 0 else "down"


def list_predictions() -> list[str]:
    """Every registered prediction exercise, from every topic module."""
    _load_all()
    return sorted(_PREDICTIONS)


def _check_prediction(p: Prediction, answer: Any, measured: Any, say: Callable[[str], None]) -> bool:
    lesson = f"\n  {_indent(_(p.explain))}" if p.explain else ""
    truth = None
    if measured is not ... and measured is not None:
        try:  # read even before a prediction is made, so a broken measurement shows in every run
            truth = p.outcome(measured)
        except Exception as err:  # a measurement of the wrong kind must not crash the learner's cell
            say(_("✗ {name}: could not read the measurement {measured}: {kind}: {err}").format(
                name=p.name, measured=f"{measured!r:.60}", kind=type(err).__name__, err=err))
            return False
    if answer is ... or answer is None:
        choices = (_(" Choose one of: {options}.").format(options=_options(p)) if p.options
                   else _(" Write a number."))
        say(_("✗ {name}: not answered yet — commit to a prediction (replace the `...`) before you run the "
              "measuring cell.").format(name=p.name) + choices)
        return False
    if truth is None:
        say(_("✗ {name}: nothing measured yet — run the measuring cell above, then this check again.")
            .format(name=p.name))
        return False
    if p.options is not None:
        key = str(answer).strip().lower()
        if key not in p.options:
            say(_("✗ {name}: {answer} is not one of the options; choose one of: {options}.").format(
                name=p.name, answer=f"{answer!r:.40}", options=_options(p)))
            return False
        said = _("you predicted ({key}) {text}; the measurement says ({truth}) {truth_text}.").format(
            key=key, text=_(p.options[key]), truth=truth, truth_text=_(p.options[truth]))
        right = key == truth
    else:
        try:
            guess = float(answer)
        except (TypeError, ValueError):
            say(_("✗ {name}: predict a number, not {answer}").format(name=p.name, answer=f"{answer!r:.40}"))
            return False
        value = float(truth)
        right = math.isclose(guess, value, rel_tol=p.rel, abs_tol=p.tolerance)
        said = _("you predicted {guess:.4g}; the cell measured {value:.4g} (your guess was {off:+.3g} off; "
                 "within {tol} counts).").format(guess=guess, value=value, off=guess - value,
                                                 tol=_tolerance(p))
    if right:
        say(_("✓ {name}: your prediction held: ").format(name=p.name) + said + lesson)
        return True
    tip = _("\n  the misconception: {hint}").format(hint=_(p.hint)) if p.hint else ""
    say(_("✗ {name}: the measurement disagrees: ").format(name=p.name) + said + lesson + tip)
    return False


def _options(p: Prediction) -> str:
    return "; ".join(f"{k!r} ({_(v)})" for k, v in (p.options or {}).items())


def _tolerance(p: Prediction) -> str:
    parts = ([f"± {p.tolerance:g}"] if p.tolerance else []) + ([f"± {p.rel:.0%}"] if p.rel else [])
    return _(" or ").join(parts)


def _load_topic(topic: str) -> None:
    try:
        importlib.import_module(f"{__name__}.{topic}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{topic}":
            raise


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            _load_topic(info.name)


def _find(name: str) -> Exercise | None:
    if name not in _REGISTRY and name not in _PREDICTIONS:
        _load_topic(name.split(".", 1)[0])
        if name not in _REGISTRY:
            _load_topic("predict")  # every notebook's "predict, then run" question lives there
    return _REGISTRY.get(name)


def list_exercises() -> list[str]:
    """Every registered exercise name, from every topic module."""
    _load_all()
    return sorted(_REGISTRY)


def check(name: str, answer: Any = ..., *, measured: Any = ..., quiet: bool = False) -> bool:
    """Run the hidden tests of exercise ``name`` on ``answer``; print specific feedback; return True/False.

    For a prediction exercise, ``answer`` is the learner's prediction and ``measured`` what the cell measured.
    """
    say = (lambda _msg: None) if quiet else (lambda msg: print(msg, flush=True))
    try:
        ex = _find(name)
    except Exception as err:  # a broken topic module must not crash the learner's cell
        say(_("✗ could not load the checks for {name!r}: {kind}: {err}").format(
            name=name, kind=type(err).__name__, err=err))
        return False
    if ex is None and name in _PREDICTIONS:
        return _check_prediction(_PREDICTIONS[name], answer, measured, say)
    if ex is None:
        known = list_exercises() + list_predictions()
        close = difflib.get_close_matches(name, known, n=3)
        tip = _(" Did you mean {names}?").format(names=", ".join(map(repr, close))) if close else ""
        say(_("✗ there is no exercise called {name!r}.{tip} Known: {known}").format(
            name=name, tip=tip, known=", ".join(known) or _("none")))
        return False
    tip = _("\n  hint: {hint}").format(hint=_(ex.hint)) if ex.hint else ""
    unanswered = _("✗ {name}: no answer yet — replace the `...` with your code, run the cell, then check "
                   "again.").format(name=name) + tip
    if _blank(answer):
        say(unanswered)
        return False
    try:
        ex.checker(answer)
    except Exception as err:
        if _left_blank(answer):  # the `...` is still in the learner's function: unanswered, not a crash
            say(unanswered)
        elif isinstance(err, ExerciseFailure):
            say(_("✗ {name}: not yet.").format(name=name) + f"\n  {_indent(_(str(err)))}" + tip)
        elif isinstance(err, NotImplementedError):
            say(_("✗ {name}: your code still raises NotImplementedError — fill in the missing part.")
                .format(name=name) + tip)
        else:
            say(_("✗ {name}: your answer raised {kind}: {err}").format(
                name=name, kind=type(err).__name__, err=err)
                + f"\n  {_where(err)}" + tip)
        return False
    say(_("✓ {name}: correct.").format(name=name) + (f" {_(ex.success)}" if ex.success else ""))
    return True


def _blank(answer: Any) -> bool:
    """An answer that is still the placeholder: ``...``, None, or a list/tuple of them."""
    if answer is ... or answer is None:
        return True
    return isinstance(answer, (list, tuple)) and bool(answer) and all(a is ... or a is None for a in answer)


def _left_blank(answer: Any) -> bool:
    """A function (or a list of them) whose body still holds the ``...`` placeholder as a statement, an
    assigned value or a returned value (``x[..., 0]`` is code, not a placeholder)."""
    import ast
    import textwrap

    if isinstance(answer, (list, tuple)):
        return any(_left_blank(a) for a in answer)
    if not (inspect.isfunction(answer) or inspect.ismethod(answer)):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):
        return False
    for node in ast.walk(tree):
        value = getattr(node, "value", None) if isinstance(node, (ast.Expr, ast.Return, ast.Assign,
                                                                     ast.AnnAssign, ast.AugAssign)) else None
        if isinstance(value, ast.Constant) and value.value is ...:
            return True
    return False


def hint(name: str) -> None:
    """Print the exercise's hint (never the solution)."""
    ex = _find(name) or _PREDICTIONS.get(name)
    print(_("hint for {name}: {hint}").format(name=name, hint=_(ex.hint)) if ex and ex.hint
          else _("no hint registered for {name!r}").format(name=name))


def solution(name: str) -> Any:
    """For teachers: print the reference solution's source and return it. Needs ``LMLAB_TEACHER=1``."""
    ex = _find(name)
    if ex is None:
        raise ValueError(f"no exercise called {name!r}; see lmlab.exercises.list_exercises()")
    if os.environ.get("LMLAB_TEACHER") != "1":
        print(_("solutions are for teachers: set LMLAB_TEACHER=1 (or open the teacher site) to see {name!r}")
              .format(name=name))
        return None
    sol = ex.solution
    try:
        print(inspect.getsource(sol) if callable(sol) else repr(sol))
    except (OSError, TypeError):
        print(repr(sol))
    return sol


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _where(err: BaseException) -> str:
    """The innermost frame that is not lmlab's checker: usually the learner's own line."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "lmlab/exercises" not in f.filename]
    if not frames:
        return _("(raised inside the checker while using your answer)")
    f = frames[-1]
    return (_("at line {lineno}: {line}").format(lineno=f.lineno, line=f.line) if f.line
            else _("at line {lineno} of {filename}").format(lineno=f.lineno, filename=f.filename))


# ---------------------------------------------------------------- feedback helpers for checkers

def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseFailure(message)


def _as_array(value: Any) -> Any:
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else None


def expect_shape(got: Any, expected: Sequence[int], *, what: str = "your result") -> None:
    """Fail naming both shapes (and which axis differs) when ``got`` has another shape."""
    shape = _shape(got)
    what = _(what)
    expect(shape is not None, _("{what}: expected an array/tensor of shape {shape}, got a {kind}").format(
        what=what, shape=tuple(expected), kind=type(got).__name__))
    expected = tuple(expected)
    if shape != expected:
        axes = [i for i, (a, b) in enumerate(zip(shape, expected, strict=False)) if a != b]
        detail = (_(" (they differ on axis {axis})").format(axis=axes[0])
                  if axes and len(shape) == len(expected)
                  else _(" ({n} dimensions instead of {m})").format(n=len(shape), m=len(expected)))
        raise ExerciseFailure(_("{what}: expected shape {expected}, got {shape}{detail}").format(
            what=what, expected=expected, shape=shape, detail=detail))


def _expect_filled(got: Any, what: str) -> None:
    if got is ...:
        raise ExerciseFailure(_("{what} is still `...`: replace the `...` with your code").format(
            what=_(what)))
    if got is None:
        raise ExerciseFailure(_("{what} is None: did you forget a `return`?").format(what=_(what)))


def expect_close(got: Any, expected: Any, *, what: str = "your result", rtol: float = 1e-4,
                 atol: float = 1e-5) -> None:
    """Numbers, arrays or tensors: shape first, then the first entry that differs and how many do."""
    import numpy as np

    _expect_filled(got, what)
    what = _(what)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise ExerciseFailure(_("{what}: expected a number close to {expected:.6g}, got {kind} {got}")
                                  .format(
                what=what, expected=expected, kind=type(got).__name__, got=f"{got!r:.80}")) from None
        if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
            raise ExerciseFailure(_("{what}: expected {expected:.6g}, got {value:.6g} (off by {diff:+.3g})")
                                  .format(what=what, expected=expected, value=value, diff=value - expected))
        return
    exp = _as_array(expected)
    if _shape(got) is None and not isinstance(got, (list, tuple)):
        raise ExerciseFailure(_("{what}: expected an array/tensor of shape {shape}, got a {kind}").format(
            what=what, shape=exp.shape, kind=type(got).__name__))
    arr = _as_array(got)
    expect_shape(arr, exp.shape, what=what)
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise ExerciseFailure(_("{what}: expected numbers, got entries of type {dtype}").format(
            what=what, dtype=arr.dtype))
    arr = arr.astype(np.float64)
    exp = exp.astype(np.float64)
    bad = ~np.isclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = _(" at index {idx}").format(idx=idx) if idx else ""
        if np.isnan(arr).any() and not np.isnan(exp).any():
            raise ExerciseFailure(_("{what}: contains NaN{where} (first one) where {value:.6g} was "
                                    "expected — look for a division by zero or exp of a large number").format(
                what=what, where=where, value=exp[idx]))
        raise ExerciseFailure(_(
            "{what}: values differ{where}: expected {expected:.6g}, got {got:.6g}; {n} of {size} entries "
            "differ, largest difference {largest:.3g}").format(
            what=what, where=where, expected=exp[idx], got=arr[idx], n=int(bad.sum()), size=bad.size,
            largest=float(np.nanmax(np.abs(arr - exp)))))


def expect_equal(got: Any, expected: Any, *, what: str = "your result") -> None:
    """Exact equality with a pointer to the first difference (strings, sequences, mappings, scalars)."""
    if expected is not None:
        _expect_filled(got, what)
    what = _(what)
    if isinstance(expected, str):
        if not isinstance(got, str):
            raise ExerciseFailure(_("{what}: expected the string {expected}, got a {kind}").format(
                what=what, expected=f"{expected!r:.80}", kind=type(got).__name__))
        if got != expected:
            i = next((k for k, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                     min(len(got), len(expected)))
            raise ExerciseFailure(_("{what}: strings differ at character {i}: expected {expected!r}, got "
                                    "{got!r} (lengths {n} vs {m})").format(
                what=what, i=i, expected=expected[max(0, i - 10):i + 10], got=got[max(0, i - 10):i + 10],
                n=len(expected), m=len(got)))
        return
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            raise ExerciseFailure(_("{what}: expected a dict, got a {kind}").format(
                what=what, kind=type(got).__name__))
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            raise ExerciseFailure(_("{what}: keys differ: missing {missing}, unexpected {extra}").format(
                what=what, missing=missing[:5], extra=extra[:5]))
        for k in expected:
            expect_equal(got[k], expected[k], what=f"{what}[{k!r}]")
        return
    if isinstance(expected, (list, tuple)):
        if _shape(got) is not None and not isinstance(got, (list, tuple)):
            got = got.tolist()
        if not isinstance(got, (list, tuple)):
            raise ExerciseFailure(_("{what}: expected a {kind} of {n} items, got a {got_kind}").format(
                what=what, kind=type(expected).__name__, n=len(expected), got_kind=type(got).__name__))
        for i, (a, b) in enumerate(zip(got, expected, strict=False)):
            if a != b:
                raise ExerciseFailure(_("{what}: item {i} differs: expected {expected}, got {got}").format(
                    what=what, i=i, expected=f"{b!r:.80}", got=f"{a!r:.80}")
                    + (_(" (lengths {n} vs {m})").format(n=len(expected), m=len(got))
                       if len(got) != len(expected) else ""))
        if len(got) != len(expected):
            raise ExerciseFailure(_("{what}: expected {n} items, got {m}; the first {k} agree").format(
                what=what, n=len(expected), m=len(got), k=min(len(got), len(expected))))
        return
    if got != expected:
        raise ExerciseFailure(_("{what}: expected {expected}, got {got}").format(
            what=what, expected=f"{expected!r:.80}", got=f"{got!r:.80}"))

""""Predict, then run": the mechanism's feedback, every registered prediction, and one per notebook."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lmlab import exercises
from lmlab.exercises import DIRECTIONS, check, direction, list_predictions, prediction
from lmlab.grading.assign import find_exercises

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("0[0-9]_*.py"))


@prediction("testtopic.predict_sign", options={"up": "it rises", "down": "it falls"},
            hint="the misconception, named", explain="what the measurement shows", example=1.0)
def _sign(delta):
    return "up" if delta > 0 else "down"


@prediction("testtopic.predict_number", tolerance=0.5, rel=0.1, hint="numbers drift",
            explain="the number, measured", example=3.0)
def _number(value):
    return value


@prediction("testtopic.predict_way", options=DIRECTIONS, hint="it was noise", explain="the change, measured",
            example=0.01)
def _way(change):
    return direction(change, noise=0.05)


def test_a_direction_with_its_noise_band(capsys):
    assert [direction(x, 0.05) for x in (0.2, -0.2, 0.03)] == ["up", "down", "same"]
    assert check("testtopic.predict_way", "same", measured=-0.04) is True
    assert check("testtopic.predict_way", "down", measured=-0.04) is False
    assert "(same) it stays within the noise" in capsys.readouterr().out


def test_a_right_choice_says_so_and_explains(capsys):
    assert check("testtopic.predict_sign", "up", measured=2.0) is True
    out = capsys.readouterr().out
    assert "✓ testtopic.predict_sign" in out and "(up) it rises" in out
    assert "what the measurement shows" in out
    assert "misconception" not in out


def test_a_wrong_choice_names_the_misconception_and_explains(capsys):
    assert check("testtopic.predict_sign", " UP ", measured=-1.0) is False
    out = capsys.readouterr().out
    assert "you predicted (up) it rises; the measurement says (down) it falls" in out
    assert "what the measurement shows" in out and "the misconception: the misconception, named" in out


def test_unanswered_is_feedback_never_an_exception(capsys):
    assert check("testtopic.predict_sign", ..., measured=1.0) is False
    out = capsys.readouterr().out
    assert "not answered yet" in out and "'up' (it rises)" in out
    assert check("testtopic.predict_number", measured=1.0) is False
    assert "Write a number" in capsys.readouterr().out


def test_no_measurement_yet_and_a_bad_measurement_are_feedback(capsys):
    assert check("testtopic.predict_sign", "up") is False
    assert "nothing measured yet" in capsys.readouterr().out
    assert check("testtopic.predict_sign", "up", measured="not a number") is False
    assert "could not read the measurement" in capsys.readouterr().out
    assert check("testtopic.predict_sign", ..., measured="not a number") is False  # read before the answer
    assert "could not read the measurement" in capsys.readouterr().out


def test_an_answer_that_is_not_an_option_lists_the_options(capsys):
    assert check("testtopic.predict_sign", "sideways", measured=1.0) is False
    out = capsys.readouterr().out
    assert "'sideways' is not one of the options" in out and "'down' (it falls)" in out


def test_a_number_counts_within_its_tolerance(capsys):
    assert check("testtopic.predict_number", 3.4, measured=3.0) is True  # 0.4 < 0.5
    assert check("testtopic.predict_number", 11.5, measured=12.0) is True  # 0.5 <= 10 % of 12
    capsys.readouterr()
    assert check("testtopic.predict_number", 2.0, measured=3.0) is False
    out = capsys.readouterr().out
    assert "you predicted 2; the cell measured 3" in out and "-1 off" in out and "numbers drift" in out
    assert check("testtopic.predict_number", "many", measured=3.0) is False
    assert "predict a number" in capsys.readouterr().out


def test_registration_refuses_a_prediction_without_options_or_tolerance():
    with pytest.raises(ValueError, match="options"):
        prediction("testtopic.predict_nothing")
    with pytest.raises(ValueError, match="topic prefix"):
        prediction("predict_nothing", tolerance=1)


def test_every_registered_prediction_reads_its_example_and_explains_a_miss(capsys):
    names = [n for n in list_predictions() if not n.startswith("testtopic.")]
    assert len(names) >= 10
    for name in names:
        p = exercises._PREDICTIONS[name]
        assert p.hint and p.explain and p.example is not None, name
        truth = p.outcome(p.example)
        if p.options is None:
            assert check(name, truth, measured=p.example, quiet=True), name
            continue
        assert truth in p.options, f"{name}: outcome {truth!r} of its example is not an option"
        assert check(name, truth, measured=p.example, quiet=True), name
        wrong = next(k for k in p.options if k != truth)
        capsys.readouterr()
        assert check(name, wrong, measured=p.example) is False
        assert "misconception" in capsys.readouterr().out


def _prediction_checks(path: Path) -> list[str]:
    """The names of the notebook's top-level ``check("name", answer, measured=...)`` calls."""
    import jupytext

    names = []
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            call = node.value if isinstance(node, ast.Expr) else None
            if (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "check"
                    and any(k.arg == "measured" for k in call.keywords)):
                names.append(call.args[0].value)
    return names


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_notebook_asks_for_a_prediction_before_it_measures(path):
    import jupytext

    names = _prediction_checks(path)
    assert names, f"{path.name} has no 'predict, then run' question (check(name, prediction, measured=...))"
    known = set(list_predictions())
    assert set(names) <= known, f"{path.name} checks unregistered predictions {set(names) - known}"
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    for name in names:
        at = next(i for i, src in enumerate(cells) if f'check("{name}"' in src)
        committed = [i for i, src in enumerate(cells[:at]) if "prediction = ..." in src]
        assert committed and committed[-1] < at, (
            f"{path.name}: {name} needs `prediction = ...` in its own cell before the measuring cell")


def test_a_prediction_is_not_graded():
    assert find_exercises('prediction = "a"\ncheck("lstm.predict_memory", prediction, measured=f)') == []

"""The exercise kit: registry, specific feedback, never raising at the learner, solutions for teachers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmlab import exercises
from lmlab.exercises import (
    ExerciseFailure,
    check,
    exercise,
    expect_close,
    expect_equal,
    expect_shape,
    list_exercises,
    solution,
)


@exercise("testtopic.double", hint="multiply by two", solution=lambda x: 2 * x)
def _check_double(student):
    expect_close(student(torch.arange(6.0).reshape(2, 3)), torch.arange(6.0).reshape(2, 3) * 2,
                 what="double(x)")


def test_correct_answer_passes_and_says_so(capsys):
    assert check("testtopic.double", lambda x: x * 2) is True
    assert "✓ testtopic.double" in capsys.readouterr().out


def test_wrong_values_name_index_expected_and_got(capsys):
    assert check("testtopic.double", lambda x: x * 2 + (x == 4).float()) is False
    out = capsys.readouterr().out
    assert "index (1, 1)" in out and "expected 8" in out and "got 9" in out
    assert "1 of 6 entries differ" in out
    assert "hint: multiply by two" in out


def test_wrong_shape_is_named(capsys):
    assert check("testtopic.double", lambda x: (x * 2).T) is False
    assert "expected shape (2, 3), got (3, 2)" in capsys.readouterr().out


def test_an_answer_that_raises_becomes_feedback_not_a_traceback(capsys):
    def broken(x):
        return x / undefined_name  # noqa: F821

    assert check("testtopic.double", broken) is False
    out = capsys.readouterr().out
    assert "NameError" in out and "undefined_name" in out
    assert "at line" in out  # points at the learner's own line


def test_unfilled_and_not_implemented(capsys):
    assert check("testtopic.double", ...) is False
    assert "no answer yet" in capsys.readouterr().out

    def todo(x):
        raise NotImplementedError

    assert check("testtopic.double", todo) is False
    assert "NotImplementedError" in capsys.readouterr().out


def _returns_the_placeholder(x):
    return ...  # your code


def _body_is_the_placeholder(x):
    ...


def _assigns_the_placeholder(x):
    y = ...  # your code
    return torch.tensor(y)  # raises on the placeholder: still "not answered", not the exception


def _slices_with_an_ellipsis(x):
    return x[..., :] * 3  # Ellipsis indexing is code: a wrong answer, not an unanswered one


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_function_left_with_its_placeholder_is_not_answered_yet(lang, monkeypatch, capsys):
    monkeypatch.setenv("LMLAB_LANG", lang)
    for answer in (_returns_the_placeholder, _body_is_the_placeholder, _assigns_the_placeholder, [..., None]):
        assert check("testtopic.double", answer) is False
        out = capsys.readouterr().out
        assert ("no answer yet" if lang == "en" else "还没有作答") in out, out
        assert "raised" not in out and "抛出" not in out and "NoneType" not in out and "ellipsis" not in out
    assert check("testtopic.double", _slices_with_an_ellipsis) is False
    out = capsys.readouterr().out
    assert ("not yet" if lang == "en" else "还不对") in out and "作答" not in out, out


def test_unknown_name_suggests_close_match(capsys):
    assert check("testtopic.doubel", lambda x: x) is False
    assert "'testtopic.double'" in capsys.readouterr().out


def test_name_needs_a_topic():
    with pytest.raises(ValueError, match="topic prefix"):
        exercise("double")


def test_every_registered_solution_passes_its_own_check():
    names = list_exercises()
    assert "welcome.uniform_loss" in names
    for name in names:
        ex = exercises._REGISTRY[name]
        assert ex.solution is not None, f"{name} has no reference solution"
        assert check(name, ex.solution, quiet=True), f"the reference solution of {name} fails its own check"


def test_welcome_rejects_log2_with_specific_numbers(capsys):
    assert check("welcome.uniform_loss", lambda v: math.log2(v)) is False
    out = capsys.readouterr().out
    assert "uniform_loss(2)" in out and "expected 0.693147" in out and "got 1" in out


def test_solution_is_gated_for_teachers(monkeypatch, capsys):
    monkeypatch.delenv("LMLAB_TEACHER", raising=False)
    assert solution("welcome.uniform_loss") is None
    out = capsys.readouterr().out
    assert "LMLAB_TEACHER=1" in out and "math.log" not in out
    monkeypatch.setenv("LMLAB_TEACHER", "1")
    assert solution("welcome.uniform_loss")(65) == pytest.approx(math.log(65))
    assert "math.log(vocab_size)" in capsys.readouterr().out


def test_expect_helpers_messages():
    with pytest.raises(ExerciseFailure, match=r"differ on axis 1"):
        expect_shape(np.zeros((2, 4)), (2, 3))
    with pytest.raises(ExerciseFailure, match=r"contains NaN"):
        expect_close(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ExerciseFailure, match=r"strings differ at character 3"):
        expect_equal("abcXef", "abcdef")
    with pytest.raises(ExerciseFailure, match=r"item 2 differs: expected 3, got 4"):
        expect_equal([1, 2, 4], [1, 2, 3])
    with pytest.raises(ExerciseFailure, match=r"missing \['b'\]"):
        expect_equal({"a": 1}, {"a": 1, "b": 2})
    with pytest.raises(ExerciseFailure, match=r"expected a number"):
        expect_close("x", 1.0)
    with pytest.raises(ExerciseFailure, match=r"still `...`"):
        expect_close(..., 1.0)
    with pytest.raises(ExerciseFailure, match=r"forget a `return`"):
        expect_equal(None, [1])
    expect_close(torch.tensor([1.0, 2.0], dtype=torch.bfloat16), [1.0, 2.0])
    expect_equal(torch.tensor([1, 2]), [1, 2])

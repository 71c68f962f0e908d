"""What every exercise check owes a learner, for every chapter's checks at once (found, not listed).

Chapter files (tests/test_checks_chNN.py) test what is specific: each check passes on its solution and
catches that exercise's typical mistakes with the intended hint.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re

import numpy as np
import pytest

import utils.checks
from tests.checking import assert_caught
from tests.notebooks import ROOT
from utils.checks._core import Exercise, Wrong, as_float, call


def _exercises():
    for info in sorted(pkgutil.iter_modules(utils.checks.__path__), key=lambda m: m.name):
        if re.fullmatch(r"ch\d\d", info.name):
            module = importlib.import_module(f"utils.checks.{info.name}")
            for name, obj in vars(module).items():
                if isinstance(obj, Exercise):
                    yield pytest.param(info.name, obj, id=f"{info.name}.{name}")


EXERCISES = list(_exercises())


def _arity(question: Exercise) -> int:
    """Return how many answers the check takes (its required positional parameters)."""
    params = inspect.signature(question.checker).parameters.values()
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _raises(*args, **kwargs):
    raise RuntimeError("the learner's code failed")


def _placeholder(*args, **kwargs): ...  # an untouched exercise function: its body is `...`, so it returns None


BROKEN = {
    "None": None,
    "Ellipsis": ...,
    "text": "0.25",
    "bool": True,
    "nan": float("nan"),
    "inf": float("inf"),
    "list": [1, 2, 3],
    "array": np.zeros((2, 3)),
    "raises": _raises,
    "placeholder function": _placeholder,
    "returns nan": lambda *args, **kwargs: np.nan,
    "returns text": lambda *args, **kwargs: "oops",
    "returns dict": lambda *args, **kwargs: {"a": 1},
    "returns wrong shape": lambda *args, **kwargs: np.zeros((2, 2)),
    "returns four things": lambda *args, **kwargs: (1, 2, 3, 4),
    "wrong arity": lambda: 1,
}


def test_every_chapter_with_exercises_has_checks():
    chapters = {p.name[:2] for p in (ROOT / "solutions").glob("*.ipynb")}
    assert chapters == {param.values[0][2:] for param in EXERCISES}, "each solutions notebook needs utils.checks.chNN"


@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_solution_text_matches_the_solutions_notebook(chapter, question):
    notebook = next((ROOT / "solutions").glob(f"{chapter[2:]}_*.ipynb"))
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    in_notebook = {line.split("#")[0].strip() for line in code.splitlines()}
    missing = [
        line for line in question.solution_text.strip().splitlines() if line.split("#")[0].strip() not in in_notebook
    ]
    assert not missing, f"{question.name}: solution_text drifted from {notebook.name}: {missing}"


@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_hints_grow_and_the_solution_prints(chapter, question, capsys):
    question._hints_shown = 0
    try:
        question.hint()
        first = capsys.readouterr().out
        question.hint()
        second = capsys.readouterr().out
        assert first.count("Hint") == 1 and second.count("Hint") == min(2, len(question.hints))
        question.solution()
        assert question.solution_text.strip() in capsys.readouterr().out
    finally:
        question._hints_shown = 0


@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_placeholders_say_not_answered_yet(chapter, question):
    for placeholder in (None, ...):
        result = question.evaluate(*[placeholder] * _arity(question))
        assert not result.passed and result.message.startswith("✏️ Not answered yet")


@pytest.mark.parametrize("answer", BROKEN.values(), ids=BROKEN.keys())
@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_checks_never_raise_on_broken_answers(chapter, question, answer, capsys):
    args = [answer] * _arity(question)
    result = question.evaluate(*args)
    assert not result.passed
    assert result.message.startswith(("❌", "✏️"))
    assert not question.check(*args)
    assert result.message in capsys.readouterr().out


QUIET = {name: answer for name, answer in BROKEN.items() if name != "raises"}  # answers whose code raises nothing


@pytest.mark.parametrize("answer", QUIET.values(), ids=QUIET.keys())
@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_only_errors_of_the_learners_code_are_blamed_on_it(chapter, question, answer):
    """An answer of an unexpected type gets a message about its type, never "your code raised" (the check's own
    code failing on it, e.g. a KeyError inside a helper of the check)."""
    result = question.evaluate(*[answer] * _arity(question))
    assert "your code raised" not in result.message, result.message


@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_every_wrong_broken_answer_gets_a_hint_or_says_what_is_expected(chapter, question):
    for name, answer in BROKEN.items():
        result = question.evaluate(*[answer] * _arity(question))
        assert result.hint or "should" in result.message or result.message.startswith("✏️"), (name, result.message)


def test_an_error_of_the_check_itself_is_not_blamed_on_the_learner():
    question = Exercise("a check that fails on its own", {}.__getitem__, hints=[], solution_text="")
    result = question.evaluate("an answer")
    assert not result.passed and "your code raised" not in result.message
    assert "could not read your answer" in result.message and "KeyError" in result.message and result.hint


def test_an_error_in_the_learners_code_names_their_line_and_the_call():
    def learner(x):
        return {}["missing"]  # the learner's own KeyError

    def checker(function):
        call(function, 1, what="`learner(1)`")

    result = Exercise("a check", checker, hints=[], solution_text="").evaluate(learner)
    assert "your code raised KeyError" in result.message and "of learner" in result.message
    assert "`learner(1)`" in result.message


def test_a_function_with_other_parameters_is_told_so():
    def checker(function):
        call(function, 1, 2, what="`f(a, b)`")

    result = Exercise("a check", checker, hints=[], solution_text="").evaluate(lambda a: a)
    assert_caught(result, "the check passes 2 arguments", "`def` line")


@pytest.mark.parametrize(
    "value", [0.5, np.float32(0.5), np.array(0.5), np.array([0.5]), np.array([[0.5]]), np.int64(1)], ids=repr
)
def test_as_float_accepts_any_single_number(value):
    assert as_float(value, "x") == pytest.approx(float(np.ravel(value)[0]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.5", "got str"),
        (True, "got bool"),
        (np.array([True]), "boolean"),
        ([0.5], "got list"),
        (np.array([0.5, 0.6]), "one number, got an array of shape (2,)"),
        ({"a": 1}, "got dict"),
        (np.array([np.nan]), "nan"),
    ],
    ids=["text", "bool", "bool array", "list", "two numbers", "dict", "nan"],
)
def test_as_float_refuses_what_is_not_one_number(value, message):
    with pytest.raises(Wrong) as wrong:
        as_float(value, "x")
    assert message in wrong.value.message


def test_a_verdict_is_truthy_on_a_pass_and_shows_nothing():
    from utils.checks._core import Verdict

    assert Verdict(True) and not Verdict(False)
    assert Verdict(True)._ipython_display_() is None and "passed=True" in repr(Verdict(True))

"""What every exercise check owes a learner, for every chapter's checks at once (found, not listed).

Every declared typical mistake (``Exercise.mistakes``) is run through its check here and must get its own message
and hint. Chapter files (tests/test_checks_chNN.py) test what is specific: each check passes on its solution, and
catches the mistakes that are not declared as data (shapes, types, order, code errors).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest

import utils.checks
from tests.checking import assert_caught
from tools.notebooks import ROOT
from utils.checks._core import Exercise, Wrong, as_array, as_float, call, close, single_number, solution_text


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
    "text array": np.array(["0.25"]),
    "bool": True,
    "nan": float("nan"),
    "inf": float("inf"),
    "list": [1, 2, 3],
    "array": np.zeros((2, 3)),
    "raises": _raises,
    "placeholder function": _placeholder,
    "returns nan": lambda *args, **kwargs: np.nan,
    "returns text": lambda *args, **kwargs: "oops",
    "returns a number as text": lambda *args, **kwargs: "0.25",
    "returns dict": lambda *args, **kwargs: {"a": 1},
    "returns wrong shape": lambda *args, **kwargs: np.zeros((2, 2)),
    "returns four things": lambda *args, **kwargs: (1, 2, 3, 4),
    "wrong arity": lambda: 1,
}


def test_every_chapter_with_exercises_has_checks():
    chapters = {p.name[:2] for p in (ROOT / "solutions").glob("*.ipynb")}
    assert chapters == {param.values[0][2:] for param in EXERCISES}, "each solutions notebook needs utils.checks.chNN"


@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_every_exercise_has_a_generated_solution(chapter, question):
    """``make exercises`` writes the solution regions per exercise (its ``--check`` keeps them in step)."""
    text = solution_text(question)
    assert "no solution is recorded" not in text and "BEGIN SOLUTION" not in text, question.name


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
        assert solution_text(question) in capsys.readouterr().out
    finally:
        question._hints_shown = 0


def _mistakes():
    for param in EXERCISES:
        chapter, question = param.values
        for i, mistake in enumerate(question.mistakes):
            yield pytest.param(question, mistake, id=f"{param.id}-{i}")


def _pattern(text: str) -> str:
    """Return a regular expression for a declared text whose ``{placeholders}`` may hold anything."""
    return ".+?".join(re.escape(part) for part in re.split(r"\{[^{}]*\}", text))


@pytest.mark.parametrize(("question", "mistake"), list(_mistakes()))
def test_every_declared_mistake_is_caught_with_its_own_message(question, mistake):
    """A typical mistake is declared once, as data: the check, run on its answer, names it with its message and hint."""
    result = question.evaluate(*question.answers_with(mistake))
    assert not result.passed, f"{question.name}: the check passed the mistake {mistake.message!r}"
    assert re.search(_pattern(mistake.message), result.message), (mistake.message, result.message)
    assert re.fullmatch(_pattern(mistake.hint or ""), result.hint or ""), (mistake.hint, result.hint)


def test_the_references_pass():
    for param in EXERCISES:
        chapter, question = param.values
        if question.reference:
            assert question.evaluate(*question.reference).passed, param.id


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
    question = Exercise("a check that fails on its own", {}.__getitem__, hints=[])
    result = question.evaluate("an answer")
    assert not result.passed and "your code raised" not in result.message
    assert "could not read your answer" in result.message and "KeyError" in result.message and result.hint


def test_an_error_in_the_learners_code_names_their_line_and_the_call():
    def learner(x):
        return {}["missing"]  # the learner's own KeyError

    def checker(function):
        call(function, 1, what="`learner(1)`")

    result = Exercise("a check", checker, hints=[]).evaluate(learner)
    assert "your code raised KeyError" in result.message and "of learner" in result.message
    assert "`learner(1)`" in result.message


def test_a_function_with_other_parameters_is_told_so():
    def checker(function):
        call(function, 1, 2, what="`f(a, b)`")

    result = Exercise("a check", checker, hints=[]).evaluate(lambda a: a)
    assert_caught(result, "the check passes 2 arguments", "`def` line")


@pytest.mark.parametrize(
    "value", [0.5, np.float32(0.5), np.array(0.5), np.array([0.5]), np.array([[0.5]]), np.int64(1)], ids=repr
)
def test_as_float_accepts_any_single_number(value):
    assert as_float(value, "x") == pytest.approx(float(np.ravel(value)[0]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.5", "the text '0.5'"),
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


# ------------------------------------------------------------------------------------------------------------
# A number is a number: text is refused with a message that says so, size-1 arrays are numbers
# ------------------------------------------------------------------------------------------------------------

TEXTS = {
    "str(norm)": str(2.31),
    "f-string": f"{2.3109:.2f}",
    "np.str_": np.str_("2.31"),
    "bytes": b"2.31",
    "0-d text array": np.array("2.31"),
    "size-1 text array": np.array(["2.31"]),
    "np.asarray(text)": np.asarray(f"{2.31:.2f}"),
}


@pytest.mark.parametrize("value", TEXTS.values(), ids=TEXTS.keys())
def test_as_float_refuses_text_saying_so(value):
    with pytest.raises(Wrong) as wrong:
        as_float(value, "the norm")
    assert "text" in wrong.value.message and "2.31" in wrong.value.message
    assert "float(" in wrong.value.message or "numbers themselves" in wrong.value.message
    assert "str(" in wrong.value.hint and "f-string" in wrong.value.hint


@pytest.mark.parametrize(
    "value",
    [["0.1", "0.2"], np.array(["0.1", "0.2"]), "0.1", np.array([b"0.1"])],
    ids=["list", "array", "str", "bytes"],
)
def test_as_array_refuses_text_that_numpy_would_convert(value):
    assert np.asarray(value, dtype=str).size  # numpy itself would turn most of these into floats
    with pytest.raises(Wrong) as wrong:
        as_array(value, "the norms")
    assert "text" in wrong.value.message and wrong.value.hint


def test_close_never_matches_text():
    assert not close("2.31", 2.31) and not close(2.31, np.array(["2.31"])) and close(np.array([2.31]), 2.31)


def test_a_tensor_of_text_is_refused_and_a_size_1_tensor_is_a_number():
    import tensorflow as tf

    with pytest.raises(Wrong, match="the text '2.5'"):
        as_float(tf.constant("2.5"), "x")
    assert as_float(tf.constant([2.5]), "x") == 2.5


@pytest.mark.parametrize(
    "value", [np.array([1.25]), np.array([[1.25]]), np.float32(1.25), np.percentile([1.0, 1.5], [50])], ids=repr
)
def test_a_demo_after_a_pass_gets_a_size_1_array_as_a_number(value, capsys):
    """ch05 q2's demo used to crash after a pass on np.percentile(norms, [90]) (a shape (1,) array)."""
    question = Exercise("a number", lambda x: as_float(x, "x"), hints=[], on_pass=lambda x: print(f"{x:.2f}"))
    assert question.check(value)
    out = capsys.readouterr().out
    assert "1.25" in out and "could not run" not in out
    assert single_number(np.array([3])) == 3 and isinstance(single_number(np.array([3])), int)
    assert single_number(np.zeros(2)).shape == (2,) and single_number("a") == "a"


# ------------------------------------------------------------------------------------------------------------
# An error is located at the learner's own line, never in numpy's Cython, autograph's code or the check's helpers
# ------------------------------------------------------------------------------------------------------------


def _run(learner, *args):
    def checker(function):
        call(function, *args, what="`learner(...)`")

    return Exercise("a check", checker, hints=[]).evaluate(learner)


def test_an_error_raised_inside_numpys_cython_is_located_at_the_learners_line():
    def learner(n):
        rng = np.random.default_rng(0)
        return rng.normal(0, -1.0, n)  # a negative scale: numpy raises from its Cython code

    result = _run(learner, 3)
    assert "your code raised ValueError" in result.message
    assert "of learner" in result.message and "rng.normal(0, -1.0, n)" in result.message
    assert (
        ".pyx" not in result.message
        and "_common.pyx" not in result.message
        and "check_constraint" not in result.message
    )


def test_an_error_inside_tensorflow_is_located_at_the_learners_line():
    import tensorflow as tf

    def learner(x):
        return tf.matmul(tf.ones((2, 3)), tf.ones((2, 3)))  # shapes that do not multiply

    result = _run(learner, 1)
    assert "your code raised InvalidArgumentError" in result.message and "tf.matmul(" in result.message
    assert "site-packages" not in result.message and "function_node" not in result.message


def test_an_error_in_code_run_by_tf_function_is_mapped_back_to_the_learners_line():
    """Autograph runs converted code from a generated file: "line 174 of if_body_11" is no place to look."""
    import tensorflow as tf

    def step(x):
        y = x * 2
        if tf.reduce_sum(y) > 0:
            y = y + y.numpy()  # no .numpy() in a graph
        return y

    def checker(function):
        tf.function(function)(tf.ones(3))

    result = Exercise("a check", checker, hints=[]).evaluate(step)
    assert "your code raised AttributeError" in result.message and "of step" in result.message
    assert "y.numpy()" in result.message and "tf.function" in result.message
    assert (
        "if_body" not in result.message and "autograph" not in result.message and "in user code" not in result.message
    )
    assert ".numpy()" in result.hint


def test_a_learner_frame_is_neither_cython_nor_generated_nor_the_course():
    from utils.checks._core import _is_learner_file

    assert _is_learner_file("/tmp/ipykernel_123/456.py") and _is_learner_file("<string>")
    assert _is_learner_file("/home/ada/course/my_answers.py")
    for filename in (
        "numpy/random/_generator.pyx",
        "/tmp/__autograph_generated_fileldgpujaa.py",
        "<__array_function__ internals>",
        "<frozen importlib._bootstrap>",
        utils.checks._core.__file__,
        np.__file__,
    ):
        assert not _is_learner_file(filename), filename


def test_the_checks_own_failure_after_the_learners_code_returned_is_not_blamed_on_them():
    def learner(n):
        return n  # fine

    def checker(function):
        value = call(function, 1)
        return {}[value]  # the check's own bug, after the learner's code returned

    from utils.checks import _core

    checker.__code__ = checker.__code__.replace(co_filename=_core.__file__)  # as if written in utils/checks
    result = Exercise("a check", checker, hints=[]).evaluate(learner)
    assert "your code raised" not in result.message and "please report" in result.message
    assert "KeyError" in result.message and "type and shape" in result.hint


def test_a_declared_mistake_pairs_its_message_and_hint():
    from utils.checks._core import Mistake

    mistake = Mistake(
        0.5, "the threshold {value:g} clips every step.", "Pick it from a healthy run's norms, not {value:g}."
    )
    wrong = mistake.wrong(value=0.5)
    assert isinstance(wrong, Wrong) and wrong.message == "the threshold 0.5 clips every step."
    assert wrong.hint == "Pick it from a healthy run's norms, not 0.5."
    assert Mistake(None, "no hint").wrong().hint is None
    assert mistake.gives(0.5) and not mistake.gives(0.6)
    assert not Mistake(lambda x: 1 / x, "a mistake that cannot run on a case").gives(1.0, (0,))


def test_an_op_that_fails_as_a_graph_runs_is_located_at_the_learners_line():
    """TensorFlow raises "Graph execution error" from its executor: the op's definition is the learner's line."""
    import tensorflow as tf

    def step(x):
        return tf.gather(x, tf.constant([5]))  # out of range, found only when the graph runs

    def checker(function):
        tf.function(function)(tf.ones(3))

    from utils.checks import _core

    checker.__code__ = checker.__code__.replace(co_filename=_core.__file__)  # the check's own code calls it
    result = Exercise("a check", checker, hints=[]).evaluate(step)
    assert "your code raised InvalidArgumentError: indices[0] = 5 is not in [0, 3)" in result.message
    assert "of step" in result.message and "tf.gather(" in result.message
    assert "Graph execution error" not in result.message and "{{node" not in result.message


def test_a_function_given_as_its_name_or_its_result_gets_a_hint():
    from utils.checks._core import as_callable

    with pytest.raises(Wrong) as wrong:
        as_callable("fans", "fans")
    assert "got str" in wrong.value.message and "without quotes" in wrong.value.hint
    with pytest.raises(Wrong) as wrong:
        as_callable(np.zeros(3), "fans")
    assert "without parentheses" in wrong.value.hint and "check(fans)" in wrong.value.hint


@pytest.mark.parametrize(("chapter", "question"), EXERCISES)
def test_a_learners_function_that_raises_is_told_where_in_every_chapter(chapter, question):
    """Whichever check runs it (directly, in tf.function, in a fit), the error is the learner's, at their line."""
    result = question.evaluate(*[_raises] * _arity(question))
    assert not result.passed
    if "RuntimeError" in result.message:
        assert "your code raised RuntimeError: the learner's code failed (line" in result.message, result.message
        assert "of _raises" in result.message and "please report" not in result.message

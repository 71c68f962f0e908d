"""The chapter 02 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint,
and never raise on an unfinished or broken answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.checks import ch02

QUESTIONS = {"q1": ch02.q1, "q2": ch02.q2, "q3": ch02.q3, "q4": ch02.q4, "q5": ch02.q5}
RIGHT_CHOICE = {"sigmoid": "glorot_x4", "tanh": "glorot", "relu": "he", "selu": "lecun"}


@pytest.fixture(scope="module")
def solved(keras) -> dict:
    """Run every exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    from utils.init import verdict_table
    from utils.mlp import compare_stacks

    namespace = {"np": np, "keras": keras, "compare_stacks": compare_stacks, "verdict_table": verdict_table}
    candidates = ["lecun", "glorot", "glorot_x4", "he", "he_fan_avg"]
    namespace["square"] = [(a, i) for a in ("sigmoid", "tanh", "relu", "selu") for i in candidates]
    namespace["bottleneck"] = [("relu", "he"), ("relu", "he_fan_avg")]
    namespace["alpha"] = 0.3
    namespace["z"] = np.random.default_rng(0).standard_normal(1_000_000)  # the notebook's, before exercise 4
    return run_solutions(QUESTIONS, namespace)


def fans(shape):
    field = int(np.prod(shape[:-2]))
    return shape[-2] * field, shape[-1] * field


def glorot_limit(shape):
    return math.sqrt(6 / sum(fans(shape)))


def he_std(shape):
    return math.sqrt(2 / fans(shape)[0])


def leaky_std(fan_in, alpha):
    return math.sqrt(2 / ((1 + alpha**2) * fan_in))


KEPT = (1 + 0.3**2) / 2


def _wrong(result, *words):
    text = f"{result.message} {result.hint or ''}"
    assert not result.passed and result.message.startswith("❌"), result.message
    assert all(word in text for word in words), text


# ------------------------------------------------------------------------------------------------------------
# Every check passes on its solution (the generated text that q.solution() prints)
# ------------------------------------------------------------------------------------------------------------


def test_solutions_pass(solved):
    assert ch02.q1.evaluate(solved["fans"]).passed
    assert ch02.q2.evaluate(solved["glorot_uniform_limit"], solved["he_normal_std"]).passed
    assert ch02.q3.evaluate(solved["choice"]).passed
    assert ch02.q4.evaluate(solved["kept_fraction"], solved["leaky_he_std"]).passed
    assert ch02.q5.evaluate(solved["he_init"]).passed


def test_other_right_answers_pass(keras):
    assert ch02.q1.evaluate(lambda s: tuple(np.array(fans(s)) * 1.0)).passed  # floats, numpy
    assert ch02.q2.evaluate(lambda s: np.float32(glorot_limit(s)), he_std).passed
    assert ch02.q3.evaluate({**RIGHT_CHOICE, "tanh": "lecun"}).passed  # tanh: LeCun is the forward-only rule
    assert ch02.q5.evaluate("he_normal").passed
    assert ch02.q5.evaluate(keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal", seed=1)).passed


# ------------------------------------------------------------------------------------------------------------
# Typical mistakes get the intended message and hint
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda s: (1, 2, 3), ("a pair (fan_in, fan_out), got 3 values", "return fan_in, fan_out")),
        (lambda s: "fan_in", ("a pair (fan_in, fan_out), got text",)),
        (lambda s: {"fan_in": s[-2], "fan_out": s[-1]}, ("a pair (fan_in, fan_out), got a dict", "return fan_in")),
        (lambda s: s[-2], ("a pair (fan_in, fan_out), got one int",)),
    ],
)
def test_q1_mistakes(answer, words):
    _wrong(ch02.q1.evaluate(answer), *words)


def test_q1_never_blames_the_learner_for_the_checks_own_errors():
    """A dict used to be reported as 'your code raised KeyError (line 29 of _as_pair)'."""
    result = ch02.q1.evaluate(lambda s: {"fan_in": 1, "fan_out": 2})
    assert "your code raised" not in result.message and "_as_pair" not in result.message


def _fans_2d_window_only(shape):
    if len(shape) == 2:
        return shape
    return shape[2] * shape[0] * shape[1], shape[3] * shape[0] * shape[1]  # fails on a 1-D window (3 axes)


def test_q1_names_the_call_that_failed():
    result = ch02.q1.evaluate(_fans_2d_window_only)
    assert "your code raised IndexError" in result.message and "fans((3, 64, 128))" in result.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (["sigmoid", "tanh"], ("dict",)),
        ({"sigmoid": "glorot_x4"}, ("no entry for", "relu")),
        ({**RIGHT_CHOICE, "relu": "kaiming"}, ("not one of the names", "candidates")),
        ({**RIGHT_CHOICE, "sigmoid": "4 × Glorot"}, ("write the name 'glorot_x4'", "candidates")),
        ({**RIGHT_CHOICE, "relu": "He"}, ("write the name 'he'",)),
        ({**RIGHT_CHOICE, "relu": ["he"]}, ("should be a name (text), got list",)),
        ("relu: he", ("dict", "{")),
    ],
)
def test_q3_malformed(answer, words):
    _wrong(ch02.q3.evaluate(answer), *words)


@pytest.mark.parametrize(
    ("kept", "sigma", "words"),
    [
        (100 * KEPT, leaky_std, ("percentage", "between 0 and 1")),
    ],
)
def test_q4_mistakes(kept, sigma, words):
    _wrong(ch02.q4.evaluate(kept, sigma), *words)


@pytest.mark.parametrize(
    ("sigma", "message", "hint"),
    [
        (lambda f, a: 0.0847, "for every fan_in and α", "√(2 / ((1 + α²)"),
        (lambda f, a: 1.3 * leaky_std(f, a), "but σ should be", "Start from the variance"),
    ],
    ids=["constant", "off"],
)
def test_q4_every_wrong_sigma_gets_a_hint(sigma, message, hint):
    assert_caught(ch02.q4.evaluate(KEPT, sigma), message, hint)


def test_q5_mistakes(keras):
    _wrong(ch02.q5.evaluate(keras.initializers.VarianceScaling()), "LeCun", "factor=2.0")
    _wrong(ch02.q5.evaluate(keras.initializers.LecunNormal()), "LeCun")
    _wrong(ch02.q5.evaluate(keras.initializers.HeUniform()), "uniform=False")
    _wrong(ch02.q5.evaluate(keras.initializers.VarianceScaling(2.0, "fan_avg")), "FAN_IN")
    _wrong(
        ch02.q5.evaluate(keras.initializers.VarianceScaling(2.0, distribution="untruncated_normal")),
        "truncated",
    )
    _wrong(ch02.q5.evaluate(keras.initializers.HeNormal), "class")
    _wrong(ch02.q5.evaluate(keras.initializers.Zeros()), "VarianceScaling")
    _wrong(ch02.q5.evaluate("kaiming_normal"), "not a Keras initializer name")
    _wrong(ch02.q5.evaluate(3), "VarianceScaling")
    _wrong(ch02.q5.evaluate(keras.initializers.GlorotNormal()), "Glorot's initialization", "HeNormal()")


# ------------------------------------------------------------------------------------------------------------
# Unfinished or crashing answers never raise
# ------------------------------------------------------------------------------------------------------------


def test_functions_still_returning_none_are_unanswered():
    assert ch02.q1.evaluate(lambda s: None).message.startswith("✏️")
    assert ch02.q2.evaluate(lambda s: None, lambda s: None).message.startswith("✏️")
    assert ch02.q4.evaluate(KEPT, lambda f, a: None).message.startswith("✏️")


def test_crashing_answers_are_reported_not_raised(capsys):
    def broken(shape):
        return shape[7]

    result = ch02.q1.evaluate(broken)
    assert not result.passed and "IndexError" in result.message
    assert not ch02.q2.check(glorot_limit, lambda s: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not ch02.q2.evaluate(lambda s: float("nan"), he_std).passed
    assert not ch02.q4.evaluate("0.545", leaky_std).passed


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch02.q2.check(solved["glorot_uniform_limit"], solved["he_normal_std"])
    assert "GlorotUniform max |w|" in capsys.readouterr().out
    assert ch02.q3.check(solved["choice"])
    out = capsys.readouterr().out
    assert "Your choices on two more draws" in out and "4 × Glorot" in out
    assert ch02.q4.check(solved["kept_fraction"], solved["leaky_he_std"])
    assert "plain He" in capsys.readouterr().out


def test_q2_says_when_the_two_functions_come_in_the_other_order(solved):
    result = ch02.q2.evaluate(solved["he_normal_std"], solved["glorot_uniform_limit"])
    _wrong(result, "He's normal σ", "check(glorot_uniform_limit, he_normal_std)")


@pytest.mark.parametrize(
    "transform", [str, lambda v: f"{v:.3f}", lambda v: np.array([str(v)])], ids=["str", "f", "arr"]
)
def test_numbers_given_as_text_are_refused_saying_so(solved, transform):
    def limit_as_text(shape):
        return transform(solved["glorot_uniform_limit"](shape))

    _wrong(ch02.q2.evaluate(limit_as_text, solved["he_normal_std"]), "text", "str(")
    _wrong(ch02.q4.evaluate(transform(solved["kept_fraction"]), solved["leaky_he_std"]), "text", "f-string")

    def fans_as_text(shape):
        return tuple(transform(v) for v in solved["fans"](shape))

    _wrong(ch02.q1.evaluate(fans_as_text), "text")


@pytest.mark.parametrize("wrap", [lambda v: np.array([v]), np.float32, np.array], ids=["size-1", "float32", "0-d"])
def test_numbers_as_size_1_arrays_or_float32_pass(solved, wrap, capsys):
    def limit(shape):
        return wrap(solved["glorot_uniform_limit"](shape))

    assert ch02.q2.check(limit, solved["he_normal_std"])
    assert ch02.q4.check(wrap(solved["kept_fraction"]), solved["leaky_he_std"])
    assert "could not run" not in capsys.readouterr().out

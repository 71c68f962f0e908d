"""The chapter 03 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint,
and never raise on an unfinished or broken answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.activations import SELU_ALPHA, SELU_LAMBDA
from utils.checks import ch03

QUESTIONS = {"q1": ch03.q1, "q2": ch03.q2, "q3": ch03.q3, "q4": ch03.q4}
ARITY = {"q1": 2, "q2": 2, "q3": 1, "q4": 2}
ALPHA, LAMBDA = SELU_ALPHA, SELU_LAMBDA


@pytest.fixture(scope="module")
def solved() -> dict:
    """Run every exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    namespace = {"np": np, "ALPHA": ALPHA, "LAMBDA": LAMBDA}
    return run_solutions(QUESTIONS, namespace)


ANSWERS = {
    "q1": ("elu", "elu_grad"),
    "q2": ("selu", "selu_grad"),
    "q3": ("dead_fraction",),
    "q4": ("lecun_std", "standardize"),
}


def answers(solved, name):
    return [solved[key] for key in ANSWERS[name]]


# ------------------------------------------------------------------------------------------------------------
# Every check passes on its solution (the generated text that q.solution() prints)
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUESTIONS)
def test_solutions_pass(solved, name):
    result = QUESTIONS[name].evaluate(*answers(solved, name))
    assert result.passed, result.message


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch03.q2.check(*answers(solved, "q2"))
    assert "the fixed point" in capsys.readouterr().out
    assert ch03.q3.check(*answers(solved, "q3"))
    out = capsys.readouterr().out
    assert "your counter" in out and "first batch only" in out and "could not run" not in out
    assert ch03.q4.check(*answers(solved, "q4"))
    out = capsys.readouterr().out
    assert "He init" in out and "raw pixels" in out and "could not run" not in out


def test_q4_shapes_keep_every_wrong_formula_apart_from_the_right_one():
    """On no tested shape does a typical wrong std coincide with 1/√fan_in (e.g. 1/√fan_out when fan_in = fan_out)."""
    for fan_in, fan_out in ch03.Q4_SHAPES:
        right = 1 / np.sqrt(fan_in)
        for mistake in ch03.q4.mistakes[: len(ch03._LECUN_MISTAKES)]:
            assert not np.isclose(mistake.answer(fan_in, fan_out), right, rtol=1e-3)


def test_q4_accepts_the_sample_std():
    """pandas' std divides by n − 1: on 256 rows the scaling differs by 0.2%, which SELU does not mind."""

    def standardize(X):
        std = X.std(axis=0, ddof=1)
        return (X - X.mean(axis=0)) / np.where(std > 0, std, 1)

    assert ch03.q4.evaluate(_lecun, standardize).passed


def test_solutions_do_not_overflow_for_large_z(solved):
    z = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):  # exp(-1000) underflows to 0, harmlessly
        for name in ("elu", "elu_grad", "selu", "selu_grad"):
            assert np.all(np.isfinite(solved[name](z)))


def test_alternative_correct_answers_pass():
    def elu(z, alpha=1.0):  # the max/min form, and a float64 cast
        z = np.asarray(z, dtype=np.float64)
        return np.maximum(z, 0) + np.minimum(alpha * np.expm1(np.minimum(z, 0)), 0)

    def elu_grad(z, alpha=1.0):
        return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))

    assert ch03.q1.evaluate(elu, elu_grad).passed
    assert ch03.q2.evaluate(lambda z: 1.0507 * elu(z, 1.6733), lambda z: 1.0507 * elu_grad(z, 1.6733)).passed
    assert ch03.q3.evaluate(lambda batches: np.mean(np.vstack(batches).max(axis=0) <= 0)).passed

    def standardize(X):
        return (X - X.mean(0)) / (X.std(0) + (X.std(0) == 0))

    assert ch03.q4.evaluate(lambda fan_in, fan_out: fan_in**-0.5, standardize).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: ELU and its derivative
# ------------------------------------------------------------------------------------------------------------


def _elu(z, alpha=1.0):
    return np.where(z < 0, alpha * (np.exp(z) - 1), z)


def _elu_grad(z, alpha=1.0):
    return np.where(z < 0, alpha * np.exp(z), 1.0)


def _elu_in_place(z, alpha=1.0):
    z[z < 0] = alpha * (np.exp(z[z < 0]) - 1)
    return z


def _elu_with_if(z, alpha=1.0):
    if z < 0:
        return alpha * (np.exp(z) - 1)
    return z


@pytest.mark.parametrize(
    ("elu", "elu_grad", "message", "hint"),
    [
        (lambda z: _elu(z), _elu_grad, "does not accept α", "def elu(z, alpha=1.0)"),
        (_elu, lambda z, alpha=1.0: _elu_grad(z, alpha) * 1.1, "finite difference", "α exp(z)"),
        (lambda z, alpha=1.0: float(np.mean(z)), _elu_grad, "returned one number", "np.where"),
        (_elu_in_place, _elu_grad, "changed its input z in place", "np.where"),
        (_elu_with_if, _elu_grad, "raised ValueError", "np.where"),
    ],
    ids=[
        "no alpha argument",
        "grad off",
        "scalar",
        "in place",
        "if",
    ],
)
def test_q1_catches_mistakes(elu, elu_grad, message, hint):
    assert_caught(ch03.q1.evaluate(elu, elu_grad), message, hint)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: SELU and its derivative
# ------------------------------------------------------------------------------------------------------------


def _selu(z):
    return LAMBDA * np.where(z < 0, ALPHA * (np.exp(z) - 1), z)


def _selu_grad(z):
    return LAMBDA * np.where(z < 0, ALPHA * np.exp(z), 1.0)


@pytest.mark.parametrize(
    ("selu", "selu_grad", "message", "hint"),
    [
        (lambda z: 1.05 * _elu(z, 1.67), _selu_grad, "rounded too much", "4 decimals"),
        (_selu, lambda z: _selu_grad(z) + 0.3, "finite difference", "λ α exp(z)"),
    ],
    ids=[
        "rounded",
        "grad off",
    ],
)
def test_q2_catches_mistakes(selu, selu_grad, message, hint):
    assert_caught(ch03.q2.evaluate(selu, selu_grad), message, hint)


def test_q2_accepts_four_decimals():
    assert ch03.q2.evaluate(lambda z: 1.0507 * _elu(z, 1.6733), lambda z: 1.0507 * _elu_grad(z, 1.6733)).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: dead units over a whole data set
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ch03.Q3_DATA, ids=["4 batches", "3 batches"])
def test_q3_data_fools_every_count_that_skips_a_batch(data):
    """No proper subset of the batches (one batch, the first and the last, ...) finds only the dead units."""
    batches = ch03.dead_unit_batches(**data)
    expected = ch03._reference_dead_fraction(batches)
    assert all(v > expected for v in ch03._dead_on_subsets(batches))
    assert np.mean(np.all(np.concatenate(batches) == 0, axis=1)) > 0  # axis=1 finds something, unlike `< 0`


def test_q3_data_has_20_percent_dead_units():
    batches = ch03.dead_unit_batches()
    assert ch03._reference_dead_fraction(batches) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("dead_fraction", "message", "hint"),
    [
        (lambda b: np.mean(np.all(b[0] == 0, axis=0)), "overcounts", "np.concatenate(batches)"),
        (lambda b: np.mean(np.all(b[-1] == 0, axis=0)), "overcounts", "np.concatenate(batches)"),
        (lambda b: 0.3, "expected", "Concatenate"),
        (lambda b: np.all(np.concatenate(b) == 0, axis=0), "40 booleans (one per unit)", "np.mean"),
        (
            lambda b: np.mean(np.all(np.concatenate([b[0], b[-1]]) == 0, axis=0)),
            "overcounts",
            "np.concatenate(batches)",
        ),
        (lambda b: np.all(np.concatenate(b) == 0), "True or False", "axis=0"),
        (lambda b: np.mean(np.all(np.concatenate(b) == 0, axis=0), keepdims=True), None, None),
    ],
    ids=[
        "first batch",
        "last batch",
        "off",
        "mask",
        "first and last",
        "no axis",
        "keepdims (right)",
    ],
)
def test_q3_catches_mistakes(dead_fraction, message, hint):
    if message is None:  # a right answer in a size-1 array
        assert ch03.q3.evaluate(dead_fraction).passed
        return
    assert_caught(ch03.q3.evaluate(dead_fraction), message, hint)


def test_q3_the_no_dead_unit_message_is_not_given_for_axis_1():
    """axis=1 used to be told "test `== 0`", though it did test == 0: the message must name the axis."""
    result = ch03.q3.evaluate(lambda b: np.mean(np.all(np.concatenate(b) == 0, axis=1)))
    assert "test `== 0`" not in result.message and "axis" in result.message


def _zeroes_in_place(batches):
    for b in batches:
        b[b > 0] = 1  # the caller's activations are lost
    return np.mean(np.all(np.concatenate(batches) == 0, axis=0))


def test_q3_catches_a_counter_that_changes_its_input():
    assert_caught(ch03.q3.evaluate(_zeroes_in_place), "changed the batches", "np.concatenate")


def test_q3_catches_a_hard_coded_answer():
    result = ch03.q3.evaluate(lambda b: 0.2)  # right for the first data set only (the second has 30%)
    assert not result.passed and "expected 0.3" in result.message


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: a self-normalizing 100-layer network
# ------------------------------------------------------------------------------------------------------------


def _standardize(X):
    mean, std = X.mean(axis=0), X.std(axis=0)
    return (X - mean) / np.where(std > 0, std, 1)


def _lecun(fan_in, fan_out):
    return 1 / np.sqrt(fan_in)


def _in_place(X):
    X -= X.mean(axis=0)
    std = X.std(axis=0)
    X /= np.where(std > 0, std, 1)
    return X


@pytest.mark.parametrize(
    ("lecun_std", "standardize", "message", "hint"),
    [
        (lambda i, o: 0.3, _standardize, "for every layer shape", "1 / np.sqrt(fan_in)"),
        (lambda i, o: 0.1, _standardize, "for every layer shape", "1 / np.sqrt(fan_in)"),  # 1/√fan_out of (64, 100)
        (lambda i, o: 1.1 / np.sqrt(i), _standardize, "expected", "1 / np.sqrt(fan_in)"),
        (
            lambda i, o: np.random.default_rng(0).normal(0, i**-0.5, (i, o)),
            _standardize,
            "not the weights themselves",
            "1 / np.sqrt(fan_in)",
        ),
        (_lecun, lambda X: (X - X.mean(0)) / X.std(0), "NaN or infinity", "np.where(std > 0, std, 1)"),
        (_lecun, _in_place, "in place", None),
        (_lecun, lambda X: X, "mean 0 and std 1", "X.mean(axis=0)"),
        (_lecun, lambda X: X[:10], "keep X's shape", None),
    ],
    ids=[
        "constant",
        "constant 0.1",
        "off",
        "weights",
        "constant pixels",
        "in place",
        "identity",
        "shape",
    ],
)
def test_q4_catches_mistakes(lecun_std, standardize, message, hint):
    assert_caught(ch03.q4.evaluate(lecun_std, standardize), message, hint)


# ------------------------------------------------------------------------------------------------------------
# Never raise: placeholders, wrong types and shapes, NaN, and exceptions inside the learner's code
# ------------------------------------------------------------------------------------------------------------


def _raises(*args):
    raise RuntimeError("boom")


def _placeholder(*args): ...


@pytest.mark.parametrize("name", QUESTIONS)
def test_one_right_one_broken_answer_never_raises(solved, name):
    if ARITY[name] == 1:
        return
    right = answers(solved, name)
    for position in range(2):
        for broken in (None, _placeholder, _raises, "text"):
            args = list(right)
            args[position] = broken
            result = QUESTIONS[name].evaluate(*args)
            assert not result.passed and result.message.startswith(("❌", "✏️"))


def test_a_failing_demo_does_not_raise(capsys, monkeypatch, solved):
    monkeypatch.setattr(ch03.q4, "on_pass", _raises)
    assert ch03.q4.check(*answers(solved, "q4"))
    assert "could not run" in capsys.readouterr().out


def test_q4_refuses_a_standardized_array_returned_as_text(solved):
    """np.asarray(text, dtype=float) converts: standardize returning text used to pass."""

    def standardize_as_text(X):
        return solved["standardize"](X).astype(str)

    result = ch03.q4.evaluate(solved["lecun_std"], standardize_as_text)
    assert_caught(result, "holds text", "str(")


@pytest.mark.parametrize("transform", [str, lambda v: f"{v:.3f}"], ids=["str", "f-string"])
def test_numbers_returned_as_text_are_refused_saying_so(solved, transform):
    def lecun_std_as_text(fan_in, fan_out):
        return transform(solved["lecun_std"](fan_in, fan_out))

    def dead_fraction_as_text(batches):
        return transform(solved["dead_fraction"](batches))

    assert_caught(ch03.q4.evaluate(lecun_std_as_text, solved["standardize"]), "the text", "f-string")
    assert_caught(ch03.q3.evaluate(dead_fraction_as_text), "the text", "f-string")


def test_float32_and_size_1_answers_pass_with_their_demo(solved, capsys):
    def lecun_std_size_1(fan_in, fan_out):
        return np.array([solved["lecun_std"](fan_in, fan_out)], dtype=np.float32)

    def dead_fraction_size_1(batches):
        return np.array([solved["dead_fraction"](batches)])

    assert ch03.q4.check(lecun_std_size_1, solved["standardize"])
    assert ch03.q3.check(dead_fraction_size_1)  # its demo used to fail on float(array([0.2]))
    assert "could not run" not in capsys.readouterr().out


@pytest.mark.parametrize("name", ["q1", "q2"])
def test_functions_passed_in_the_other_order_are_told_so(solved, name):
    first, second = answers(solved, name)
    result = QUESTIONS[name].evaluate(second, first)
    assert_caught(result, "in the other order", f"ch03.{name}.check(")

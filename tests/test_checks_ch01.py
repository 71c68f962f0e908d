"""The chapter 01 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint,
and never raise on an unfinished or broken answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.checks import ch01

QUESTIONS = {"q1": ch01.q1, "q2": ch01.q2, "q3": ch01.q3, "q4": ch01.q4}


@pytest.fixture(scope="module")
def solved() -> dict:
    """Run every exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    import keras
    import tensorflow as tf

    from utils.mlp import compute_gradient_flow

    namespace = {"np": np, "keras": keras, "tf": tf, "compute_gradient_flow": compute_gradient_flow}
    namespace["z"] = np.linspace(-6, 6, 1201)
    return run_solutions(QUESTIONS, namespace)


def _tf():
    import keras
    import tensorflow as tf

    return keras, tf


# ------------------------------------------------------------------------------------------------------------
# Every check passes on its solution (the generated text that q.solution() prints)
# ------------------------------------------------------------------------------------------------------------


def test_solutions_pass(solved, capsys):
    assert ch01.q1.evaluate(solved["logistic_derivative"]).passed
    assert ch01.q2.evaluate(solved["max_slope"], solved["z_at_max"], solved["best_case_10"]).passed
    assert ch01.q3.evaluate(solved["layer_gradient_norms"]).passed
    assert ch01.q4.evaluate(solved["scale"]).passed


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch01.q2.check(solved["max_slope"], solved["z_at_max"], solved["best_case_10"])
    assert "product over the 10 layers" in capsys.readouterr().out
    assert ch01.q3.check(solved["layer_gradient_norms"])
    out = capsys.readouterr().out
    assert "keras_layer_stats" in out and "dense_8" in out
    assert ch01.q4.check(solved["scale"])
    assert "over 5 seeds" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the logistic derivative
# ------------------------------------------------------------------------------------------------------------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        (lambda z: math.exp(-z), "raised TypeError", "np.exp"),
        (
            lambda z: float(np.mean(_sigmoid(z) * (1 - _sigmoid(z)))),
            "returned one number",
            "np.exp, not math.exp",
        ),
        (lambda z: _sigmoid(z) * (1 - _sigmoid(z)) + 0.01, "at z =", "test your function at z = 0"),
    ],
    ids=["math.exp", "scalar", "off"],
)
def test_q1_catches_mistakes(answer, message, hint):
    assert_caught(ch01.q1.evaluate(answer), message, hint)


def _in_place(z):
    z *= -1  # the caller's array is lost
    s = 1 / (1 + np.exp(z))
    return s * (1 - s)


def _branches_with_if(z):
    if z > 0:
        return np.exp(-z) / (1 + np.exp(-z)) ** 2
    return np.exp(z) / (1 + np.exp(z)) ** 2


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        (_in_place, "changed its input z in place", "np.where"),
        (_branches_with_if, "raised ValueError", "np.where"),
        (lambda: 0.25, "the check passes 1 argument", "`def` line"),
    ],
    ids=["in place", "if on an array", "no parameter"],
)
def test_q1_explains_code_errors(answer, message, hint):
    assert_caught(ch01.q1.evaluate(answer), message, hint)


def test_q1_accepts_float32_and_lists():
    assert ch01.q1.evaluate(lambda z: _sigmoid(z.astype(np.float32)) * (1 - _sigmoid(z.astype(np.float32)))).passed
    assert ch01.q1.evaluate(lambda z: [float(_sigmoid(v) * (1 - _sigmoid(v))) for v in z]).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: the largest slope and the 10-layer bound
# ------------------------------------------------------------------------------------------------------------

BOUND = 0.25**10


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        ((0.5, 0.0, BOUND), "is σ(0)", "not of the logistic function"),
        ((1.0, 0.0, BOUND), "tanh's largest slope", "ch01.q1.check"),
        ((0.2, 0.0, BOUND), "grid misses the steepest point", "contains z = 0"),
        ((0.25, 0.25, BOUND), "value, not where it is", "np.argmax"),
        ((0.25, 1.5, BOUND), "steepest elsewhere", "σ(z) = 0.5"),
        ((0.25, 0.0, 2.5), "do not add up", "0.25 ** 10"),
        ((0.25, 0.0, 0.25**9), "one factor too few", "10 factors"),
        ((0.25, 0.0, 4.0**10), "larger than 1", "0.25 ** 10"),
        ((0.25, 0.0, 1e-3), "expected about", "max_slope ** 10"),
    ],
    ids=[
        "sigma(0)",
        "tanh",
        "coarse grid",
        "value as place",
        "wrong place",
        "times 10",
        "9 layers",
        "growth",
        "off",
    ],
)
def test_q2_catches_mistakes(answer, message, hint):
    assert_caught(ch01.q2.evaluate(*answer), message, hint)


def test_q2_accepts_numbers_in_size_one_arrays():
    """np.max(..., keepdims=True) and friends give shape (1,) or (1, 1): a number in all but its shape."""
    assert ch01.q2.evaluate(np.array([0.25]), np.array([[0.0]]), np.array([BOUND])).passed
    assert ch01.q2.evaluate(np.float32(0.25), np.float32(0.0), np.float32(BOUND)).passed


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        ((np.array([0.25, 0.2]), 0.0, BOUND), "one number, got an array of shape (2,)", "a single value"),
        (([0.25], 0.0, BOUND), "should be a number, got list", "no brackets"),
        ((0.25, 600, BOUND), "looks like an index", "z[np.argmax"),
        ((0.25, 0.5, BOUND), "σ's value at its steepest point", "z[np.argmax"),
        ((float(_sigmoid(6.0)), 0.0, BOUND), "largest value of the logistic function itself", "logistic_derivative"),
    ],
    ids=["two numbers", "list", "index", "sigma value as place", "max of sigma"],
)
def test_q2_explains_what_a_number_is(answer, message, hint):
    assert_caught(ch01.q2.evaluate(*answer), message, hint)


def test_q2_accepts_a_grid_without_zero():
    z = np.linspace(-5, 5, 100)  # no z = 0 on this grid: the maximum is a hair under 0.25
    slopes = _sigmoid(z) * (1 - _sigmoid(z))
    assert ch01.q2.evaluate(slopes.max(), z[slopes.argmax()], slopes.max() ** 10).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: per-layer gradient norms
# ------------------------------------------------------------------------------------------------------------


def _norms(kind: str):
    """Return a layer_gradient_norms with a mistake of shape or data (``kind``; the declared ones: ch01.q3.mistakes)."""

    def layer_gradient_norms(model, x, y):
        keras, tf = _tf()
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        if kind == "notebook batch":  # the notebook's own x, y (its first 128 training digits), not the arguments
            x, y = ch01._q3_batch()
        variables = model.trainable_variables if kind == "all" else [layer.kernel for layer in model.layers]
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        grads = tape.gradient(loss, variables)
        if kind == "axis":
            return [tf.norm(g, axis=0).numpy() for g in grads]
        if kind == "gradients":
            return grads
        if kind == "global":
            return tf.linalg.global_norm(grads)
        if kind == "hidden only":
            grads = grads[:-1]
        return [float(tf.norm(g)) for g in grads]

    return layer_gradient_norms


@pytest.mark.parametrize(
    ("kind", "message", "hint"),
    [
        ("axis", "taken along an axis", "without axis="),
        ("all", "kernels and biases together", "keep only the kernels"),
        ("gradients", "kernel gradients themselves", "tf.norm(g)"),
        ("global", "a single number", "one norm per layer"),
        ("hidden only", "the output layer counts", "output layer included"),
        ("notebook batch", "notebook's batch", "use only its parameters"),
    ],
)
def test_q3_catches_mistakes(kind, message, hint):
    assert_caught(ch01.q3.evaluate(_norms(kind)), message, hint)


def test_q3_accepts_tensors_and_lists(solved):
    keras, tf = _tf()

    def as_tensors(model, x, y):
        return [tf.constant(v) for v in solved["layer_gradient_norms"](model, x, y)]

    assert ch01.q3.evaluate(as_tensors).passed
    assert ch01.q3.evaluate(lambda m, x, y: list(solved["layer_gradient_norms"](m, x, y))).passed


def test_q3_feeds_two_batches_and_the_first_is_the_notebooks():
    assert ch01.Q3_BATCH_STARTS[0] == 0 and len(set(ch01.Q3_BATCH_STARTS)) == len(ch01.Q3_ARCHITECTURES)


def test_q3_catches_a_hard_coded_answer():
    model = ch01.q3_model()
    x, y = ch01._q3_batch()
    fixed = ch01._right_norms(model, x, y)  # right for the first model only
    result = ch01.q3.evaluate(lambda m, x, y: fixed)
    assert not result.passed and "numbers for a model with 4 Dense layers" in result.message


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: a weight scale for 30 tanh layers
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1.2, 1.4])
def test_q4_accepts_a_range(scale):
    assert ch01.q4.evaluate(scale).passed


@pytest.mark.parametrize(
    ("scale", "message", "hint"),
    [
        (0.5, "collapse", "Try a larger scale"),
        (3.0, "tanh saturates", "Try a smaller scale"),
        (0.1, "collapse", "looks like a standard deviation"),
        (1e6, "far too large", "Try a smaller scale"),
        (-1.0, "positive", None),
        ("1.2", "you returned the text '1.2'", "f-string"),
        (True, "should be a number, got bool", None),
        ([1.2], "should be a number, got list", None),
    ],
)
def test_q4_catches_mistakes(scale, message, hint):
    assert_caught(ch01.q4.evaluate(scale), message, hint)


def test_q4_accepts_a_size_one_array():
    assert ch01.q4.evaluate(np.array([1.2])).passed


def _passing_seeds(scale: float) -> int:
    return sum(ch01.scale_problem(ch01.scale_report(scale, seed)) is None for seed in ch01.Q4_SEEDS)


def _edge_scale(good: float, bad: float) -> float:
    """Bisect between a scale that passes every seed and one that fails all, to one that splits them."""
    assert _passing_seeds(good) == len(ch01.Q4_SEEDS) and _passing_seeds(bad) == 0
    for _ in range(20):
        middle = (good + bad) / 2
        passing = _passing_seeds(middle)
        if 0 < passing < len(ch01.Q4_SEEDS):
            return middle
        good, bad = (middle, bad) if passing else (good, middle)
    raise AssertionError("no scale splits the seeds: the seeds behave identically at the edge")


@pytest.mark.parametrize(("good", "bad"), [(1.0, 0.9), (1.4, 1.8)], ids=["collapse edge", "saturation edge"])
def test_q4_catches_a_scale_that_works_for_some_seeds_only(good, bad):
    scale = _edge_scale(good, bad)
    result = ch01.q4.evaluate(scale)
    assert not result.passed
    assert "works for seed" in result.message and "but not for seed" in result.message
    assert "edge of the working range" in result.hint


# ------------------------------------------------------------------------------------------------------------
# Never raise: placeholders, wrong types and shapes, NaN, and exceptions inside the learner's code
# ------------------------------------------------------------------------------------------------------------


def _raises(*args):
    raise RuntimeError("boom")


def test_an_error_names_the_learners_line():
    def logistic_derivative(z):
        return np.exp(-z) / undefined_name  # noqa: F821 (the learner's bug)

    result = ch01.q1.evaluate(logistic_derivative)
    assert "NameError" in result.message and "of logistic_derivative" in result.message


def test_a_failing_demo_does_not_raise(capsys, monkeypatch, solved):
    monkeypatch.setattr(ch01.q4, "on_pass", _raises)
    assert ch01.q4.check(solved["scale"])
    assert "could not run" in capsys.readouterr().out


def _norms_with_loss(**loss_kwargs):
    """Return a layer_gradient_norms whose loss gets ``loss_kwargs`` (e.g. a wrong from_logits=True)."""
    keras, tf = _tf()

    def layer_gradient_norms(model, x, y):
        kernels = [layer.kernel for layer in model.layers]
        with tf.GradientTape() as tape:
            loss = keras.losses.SparseCategoricalCrossentropy(**loss_kwargs)(y, model(x))
        return np.array([float(tf.norm(g)) for g in tape.gradient(loss, kernels)])

    return layer_gradient_norms


def test_q3_catches_from_logits_on_softmax_outputs():
    """Keras' TensorFlow backend undoes from_logits=True for its own softmax (the check used to pass it):
    the check's second model ends with tf.nn.softmax, where the mistake shows."""
    assert ch01.q3.evaluate(_norms_with_loss()).passed
    result = ch01.q3.evaluate(_norms_with_loss(from_logits=True))
    assert_caught(result, "from_logits=True", "from_logits=False")
    assert "softmax" in result.message and "softmax" in result.hint


def test_q3_the_plain_softmax_model_computes_the_same_probabilities():
    plain, keras_softmax = ch01.q3_model(3, 16, plain_softmax=True), ch01.q3_model(3, 16)
    x, _ = ch01._q3_batch()
    assert np.allclose(np.asarray(plain(x)), np.asarray(keras_softmax(x)), atol=1e-6)


def test_q3_accepts_float32_tensors_and_lists(solved):
    keras, tf = _tf()

    def as_tensors(model, x, y):
        return [tf.constant(v, tf.float32) for v in solved["layer_gradient_norms"](model, x, y)]

    def as_size_1_arrays(model, x, y):
        return [np.array([v]) for v in solved["layer_gradient_norms"](model, x, y)]

    assert ch01.q3.evaluate(as_tensors).passed and ch01.q3.evaluate(as_size_1_arrays).passed


def test_q3_refuses_norms_returned_as_text(solved):
    def as_text(model, x, y):
        return [f"{v:.3g}" for v in solved["layer_gradient_norms"](model, x, y)]

    assert_caught(ch01.q3.evaluate(as_text), "holds text", "f-string")


@pytest.mark.parametrize(
    "transform", [str, lambda v: f"{v:.4f}", lambda v: np.array([str(v)])], ids=["str", "f-string", "text array"]
)
def test_q2_and_q4_refuse_numbers_given_as_text(solved, transform):
    result = ch01.q2.evaluate(transform(solved["max_slope"]), solved["z_at_max"], solved["best_case_10"])
    assert_caught(result, "text", "str(...)")
    assert_caught(ch01.q4.evaluate(transform(solved["scale"])), "text", "f-string")


@pytest.mark.parametrize(
    "wrap",
    [lambda v: np.array([v]), np.float32, lambda v: np.array([[v]])],
    ids=["array of 1", "float32", "1x1 array"],  # names, not reprs: reprs hold addresses that differ per xdist worker
)
def test_q2_and_q4_accept_size_1_arrays_and_float32_with_their_demo(solved, wrap, capsys):
    assert ch01.q2.check(wrap(solved["max_slope"]), wrap(solved["z_at_max"]), wrap(solved["best_case_10"]))
    assert ch01.q4.check(wrap(solved["scale"]))
    assert "could not run" not in capsys.readouterr().out


@pytest.mark.parametrize("order", [(2, 1, 0), (1, 0, 2), (0, 2, 1)], ids=str)
def test_q2_says_when_right_values_come_in_another_order(solved, order):
    values = [solved["max_slope"], solved["z_at_max"], solved["best_case_10"]]
    result = ch01.q2.evaluate(*[values[i] for i in order])
    assert_caught(result, "not in the order", "check(max_slope, z_at_max, best_case_10)")

"""The chapter 04 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint,
and never raise on an unfinished or broken answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.checks import ch04

QUESTIONS = {"q1": ch04.q1, "q2": ch04.q2, "q3": ch04.q3, "q4": ch04.q4}
FUNCTIONS = {"q1": "bn_forward_train", "q2": "bn_step", "q3": "bn_backward", "q4": "evaluate_accuracy"}


@pytest.fixture(scope="module")
def solved() -> dict:
    """Run every exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    namespace = {"np": np}
    return run_solutions(QUESTIONS, namespace)


# ------------------------------------------------------------------------------------------------------------
# Every check passes on its solution (the generated text that q.solution() prints)
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUESTIONS)
def test_solutions_pass(solved, name):
    result = QUESTIONS[name].evaluate(solved[FUNCTIONS[name]])
    assert result.passed, result.message


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch04.q1.check(solved["bn_forward_train"])
    assert "each column of your output has mean" in capsys.readouterr().out
    assert ch04.q2.check(solved["bn_step"])
    assert "keras.layers.BatchNormalization agree within 1e-5" in capsys.readouterr().out
    assert ch04.q3.check(solved["bn_backward"])
    out = capsys.readouterr().out
    assert "finite differences (float64): below 1e-8" in out and "float64 Keras layer: below 1e-10" in out
    assert ch04.q4.check(solved["evaluate_accuracy"])
    assert "for any batch size" in capsys.readouterr().out


def test_the_check_model_shows_the_training_mode_gap():
    _, inference, training = ch04._q4_reference()
    assert inference > 0.85 and inference - training > 0.05


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the forward pass in training mode
# ------------------------------------------------------------------------------------------------------------


def _forward(mistake: str):
    """Return a bn_forward_train with a mistake of shape or order (the declared ones: ch04.q1.mistakes)."""

    def bn_forward_train(x, gamma, beta, epsilon=1e-3):
        axis = 1 if mistake == "rows" else 0
        mean = x.mean(axis=axis, keepdims=mistake == "rows")
        variance = x.var(axis=axis, ddof=1 if mistake == "unbiased" else 0, keepdims=mistake == "rows")
        std = np.sqrt(variance + epsilon)
        x_hat = (x - mean) / std
        y = gamma * x_hat + beta
        returned = np.sqrt(variance) if mistake == "std returned" else variance
        if mistake == "two values":
            return y, mean
        if mistake == "mean and variance swapped":
            return y, returned, mean
        if mistake == "in place":
            x -= mean  # the caller's x is lost
            return gamma * x / std + beta, mean, returned
        return y, mean, returned

    return bn_forward_train


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("unbiased", "unbiased one (divide by m − 1)", "x.var(axis=0)"),
        ("rows", "one number per example", "axis=0"),
        ("std returned", "standard deviation where the variance was asked", "without a square root"),
        ("two values", "should return three things", "return y, mean, variance"),
        ("mean and variance swapped", "mean and variance are swapped", "return y, mean, variance"),
        ("in place", "changed its input x in place", "x_hat"),
    ],
)
def test_q1_catches_mistakes(mistake, message, hint):
    assert_caught(ch04.q1.evaluate(_forward(mistake)), message, hint)


def test_q1_accepts_float32_and_keepdims(solved):
    def float32_forward(x, gamma, beta, epsilon=1e-3):
        return tuple(np.asarray(v, np.float32) for v in solved["bn_forward_train"](x.astype(np.float32), gamma, beta))

    def keepdims_forward(x, gamma, beta, epsilon=1e-3):
        mean, variance = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
        return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta, mean, variance

    assert ch04.q1.evaluate(float32_forward).passed
    assert ch04.q1.evaluate(keepdims_forward).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: both modes with the moving averages, against Keras
# ------------------------------------------------------------------------------------------------------------


def _step(mistake: str):
    """Return a bn_step with a mistake not declared in ch04.q2.mistakes."""

    def bn_step(x, gamma, beta, moving_mean, moving_variance, training, momentum=0.99, epsilon=1e-3):
        if training:
            mean, variance = x.mean(axis=0), x.var(axis=0)
            moving_mean = momentum * moving_mean + (1 - momentum) * mean
            moving_variance = momentum * moving_variance + (1 - momentum) * variance
        else:
            mean, variance = moving_mean, moving_variance
        return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta, moving_mean, moving_variance

    assert mistake == "momentum 0.9"  # right formula, not Keras' default momentum
    return lambda *args: bn_step(*args, momentum=0.9)


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        (
            "momentum 0.9",
            "differ from keras.layers.BatchNormalization",
            "momentum * moving + (1 - momentum) * batch",
        ),
    ],
)
def test_q2_catches_mistakes(mistake, message, hint):
    assert_caught(ch04.q2.evaluate(_step(mistake)), message, hint)


def test_q2_accepts_float32_and_keyword_free_answers(solved):
    def float32_step(x, gamma, beta, mm, mv, training):
        y, mm, mv = solved["bn_step"](x.astype(np.float32), gamma, beta, mm, mv, training)
        return y.astype(np.float32), mm, mv

    assert ch04.q2.evaluate(float32_step).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: the backward pass
# ------------------------------------------------------------------------------------------------------------


def _backward(mistake: str):
    """Return a bn_backward with a mistake not declared in ch04.q3.mistakes."""

    def bn_backward(dy, x, gamma, epsilon=1e-3):
        mean, variance = x.mean(axis=0), x.var(axis=0)
        inv_std = 1 / np.sqrt(variance + epsilon)
        x_hat = (x - mean) * inv_std
        dgamma, dbeta = np.sum(dy * x_hat, axis=0), np.sum(dy, axis=0)
        dx = gamma * inv_std * (dy - dy.mean(axis=0) - x_hat * (dy * x_hat).mean(axis=0))
        if mistake == "off":
            dx = dx * 1.1
        if mistake == "dgamma over features":
            dgamma = np.sum(dy * x_hat, axis=1)
        if mistake == "swapped":
            return dx, dbeta, dgamma
        if mistake == "in place":
            dy -= dy.mean(axis=0)  # the caller's dy is lost
        return dx, dgamma, dbeta

    return bn_backward


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("off", "differs from the finite-difference gradient", "chain rule"),
        ("dgamma over features", "summed over the features (axis=1)", "axis=0"),
        ("swapped", "dgamma and dbeta are swapped", "return dx, dgamma, dbeta"),
        ("in place", "changed its input dy in place", "dy_hat"),
    ],
)
def test_q3_catches_mistakes(mistake, message, hint):
    assert_caught(ch04.q3.evaluate(_backward(mistake)), message, hint)


def test_q3_accepts_float32(solved):
    def float32_backward(dy, x, gamma, epsilon=1e-3):
        args = (dy.astype(np.float32), x.astype(np.float32), gamma.astype(np.float32), np.float32(epsilon))
        return solved["bn_backward"](*args)

    assert ch04.q3.evaluate(float32_backward).passed


def test_q3_accepts_keepdims(solved):
    def keepdims_backward(dy, x, gamma, epsilon=1e-3):
        dx, dgamma, dbeta = solved["bn_backward"](dy, x, gamma, epsilon)
        return dx, dgamma[None, :], dbeta[None, :]

    assert ch04.q3.evaluate(keepdims_backward).passed


def test_q3_catches_an_answer_hard_coded_for_one_batch():
    dy0, x0, gamma0 = ch04._q3_inputs()
    fixed = ch04._q3_reference(dy0, x0, gamma0)
    result = ch04.q3.evaluate(
        lambda dy, x, gamma, epsilon=1e-3: fixed if x.shape == x0.shape else (0 * x, 0 * gamma, 0 * gamma)
    )
    assert not result.passed and "not on a second one" in result.message


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: evaluate in inference mode
# ------------------------------------------------------------------------------------------------------------


def _evaluation(mistake: str):
    """Return an evaluate_accuracy with one typical mistake."""

    def evaluate_accuracy(model, X, y, batch_size=16):
        correct, per_batch = 0, []
        stop = len(X) - batch_size + 1 if mistake == "last batch dropped" else len(X)
        for start in range(0, stop, batch_size):
            probs = np.asarray(model(X[start : start + batch_size], training=mistake == "training mode"))
            hits = np.argmax(probs, axis=1) == y[start : start + batch_size]
            correct += int(np.sum(hits))
            per_batch.append(float(np.mean(hits)))
        if mistake == "percent":
            return 100 * correct / len(X)
        if mistake == "count":
            return correct
        if mistake == "mean of batches":
            return float(np.mean(per_batch))
        return correct / len(X)

    return evaluate_accuracy


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("training mode", "changed the model's moving averages", "training=False"),
        ("percent", "percentage", "fraction between 0 and 1"),
        ("count", "number of correct predictions", "len(X)"),
        ("last batch dropped", "inference-mode accuracy is", "over all batches"),
        ("mean of batches", "inference-mode accuracy is", "over all batches"),
    ],
)
def test_q4_catches_mistakes(mistake, message, hint):
    result = ch04.q4.evaluate(_evaluation(mistake))
    assert not result.passed
    assert message in result.message
    assert hint.lower() in (result.hint or "").lower()


@pytest.mark.parametrize("mistake", ["last batch dropped", "mean of batches"])
def test_q4_counts_examples_in_whole_numbers(mistake):
    """The message used to say "236.2 of 270 examples right": a count of examples is a whole number."""
    import re

    result = ch04.q4.evaluate(_evaluation(mistake))
    assert not result.passed
    assert not re.search(r"\d\.\d+ of \d+ examples", result.message), result.message
    counts = re.findall(r"(\d+(?:\.\d+)?) of (\d+) examples", result.message)
    assert counts and all(float(c).is_integer() for c, _ in counts), result.message
    if mistake == "mean of batches":
        assert "no whole number" in result.message and "per-batch" in result.message
        assert "divide by len(X) once" in result.hint


def test_q4_leaves_its_model_unchanged_after_a_training_mode_answer():
    model, _, _ = ch04._q4_reference()
    saved = [v.numpy().copy() for v in model.non_trainable_variables]
    ch04.q4.evaluate(_evaluation("training mode"))
    assert all(np.array_equal(s, v.numpy()) for s, v in zip(saved, model.non_trainable_variables, strict=True))


def _float32_metric(model, X, y, batch_size=16):
    """A right answer through keras.metrics: a float32 accuracy, a few 1e-8 away from correct / len(X)."""
    import keras

    metric = keras.metrics.SparseCategoricalAccuracy()
    for start in range(0, len(X), batch_size):
        metric.update_state(y[start : start + batch_size], model(X[start : start + batch_size], training=False))
    return metric.result()


def test_q4_catches_an_integer_division():
    def evaluate_accuracy(model, X, y, batch_size=16):
        return int(np.sum(np.argmax(model.predict(X, verbose=0), axis=1) == y)) // len(X)

    assert_caught(ch04.q4.evaluate(evaluate_accuracy), "integer division", "not //")


def test_q4_restores_the_model_whatever_the_answer_does_to_it():
    """model.trainable = False made the check's own restoring code fail, and would have stayed on its cached model."""

    def evaluate_accuracy(model, X, y, batch_size=16):
        model.trainable = False  # BN layers then run in inference mode, even with training=True
        return float(np.mean(np.argmax(model(X, training=True), axis=1) == y))

    result = ch04.q4.evaluate(evaluate_accuracy)
    assert result.passed, result.message
    model, _, _ = ch04._q4_reference()
    assert model.trainable and all(layer.trainable for layer in model.layers)


def test_q4_accepts_a_float32_accuracy():
    assert ch04.q4.evaluate(_float32_metric).passed


def test_q4_catches_an_answer_that_ignores_its_arguments():
    from utils.data import load_digits_splits

    digits = load_digits_splits()  # the notebook's variables

    def evaluate_accuracy(model, X, y, batch_size=16):
        return float(np.mean(np.argmax(model(digits.X_test, training=False), axis=1) == digits.y_test))

    assert_caught(ch04.q4.evaluate(evaluate_accuracy), "does not compute from its arguments", "use only its parameters")
    _, inference, _ = ch04._q4_reference()
    assert_caught(ch04.q4.evaluate(lambda *args: inference), "does not compute from its arguments", None)


def test_q4_accepts_predict(solved):
    def with_predict(model, X, y, batch_size=16):
        return float(np.mean(np.argmax(model.predict(X, batch_size=batch_size, verbose=0), axis=1) == y))

    assert ch04.q4.evaluate(with_predict).passed


# ------------------------------------------------------------------------------------------------------------
# Never raise: placeholders, wrong types and shapes, NaN, and exceptions inside the learner's code
# ------------------------------------------------------------------------------------------------------------


def _raises(*args, **kwargs):
    raise RuntimeError("boom")


def test_a_failing_demo_does_not_raise(capsys, monkeypatch, solved):
    monkeypatch.setattr(ch04.q1, "on_pass", _raises)
    assert ch04.q1.check(solved["bn_forward_train"])
    assert "could not run" in capsys.readouterr().out

"""The chapter 06 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint,
and never raise on an unfinished or broken answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.checks import ch06

QUESTIONS = {"q1": ch06.q1, "q2": ch06.q2, "q3": ch06.q3, "q4": ch06.q4}
FUNCTIONS = {"q1": "make_model_b", "q2": "freeze_and_train", "q3": "frozen_features", "q4": "transfer_classic"}


@pytest.fixture(scope="module")
def solved(keras) -> dict:
    """Run every exercise's solution text with the notebook's imports, as a learner who pastes it would."""
    from utils.models import compile_model
    from utils.transfer import accuracy, fit_steps, split_at

    namespace = {
        "np": np,
        "keras": keras,
        "accuracy": accuracy,
        "compile_model": compile_model,
        "fit_steps": fit_steps,
        "split_at": split_at,
    }
    return run_solutions(QUESTIONS, namespace)


@pytest.mark.parametrize("name", QUESTIONS)
def test_solutions_pass(solved, name):
    result = QUESTIONS[name].evaluate(solved[FUNCTIONS[name]])
    assert result.passed, result.message


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch06.q1.check(solved["make_model_b"])
    assert "a new output, and A untouched" in capsys.readouterr().out
    assert ch06.q3.check(solved["frozen_features"])
    assert "moving averages would have moved" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: reuse without sharing
# ------------------------------------------------------------------------------------------------------------


def _model_b(keras, mistake: str):
    def make_model_b(model_a):
        clone = keras.models.clone_model(model_a)
        if mistake != "no set_weights":
            clone.set_weights(model_a.get_weights())
        source = model_a if mistake == "shared" else clone
        hidden = source.layers[: 2 if mistake == "two hidden" else 4]
        units, activation = (10, "softmax") if mistake == "ten outputs" else (5, "softmax")
        activation = "linear" if mistake == "logits" else activation
        output = keras.layers.Dense(units, activation=activation, name="new_output")
        if mistake == "output reused":
            output = source.layers[-1]
        if mistake == "output as hidden":
            hidden = source.layers  # all of A's layers, its softmax output included, under the new output
        if mistake == "no activation":  # rebuilt Dense layers (linear by default) given A's weights
            hidden = [keras.layers.Dense(32, name=f"copy_{i}") for i in range(4)]
            for layer, original in zip(hidden, model_a.layers[:4], strict=True):
                layer.build((None, original.kernel.shape[0]))
                layer.set_weights(original.get_weights())
        return keras.Sequential([keras.Input(shape=(64,)), *hidden, output])

    return make_model_b


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("shared", "shares layers (and so weights) with model A", "clone_model"),
        ("no set_weights", "does not hold model A's weights", "set_weights"),
        ("output reused", "your output layer is model A's output layer", "new keras.layers.Dense(5"),
        ("two hidden", "2 hidden Dense layers", "clone.layers[:-1]"),
        ("ten outputs", "task B has 5 classes", "Dense(5"),
        ("logits", "not probabilities", "softmax"),
        ("output as hidden", "sits inside your model as a hidden layer", "clone.layers[:-1]"),
        ("no activation", "computes `linear` instead of A's `relu`", "activation='relu'"),
    ],
)
def test_q1_catches(keras, mistake, message, hint):
    assert_caught(ch06.q1.evaluate(_model_b(keras, mistake)), message, hint)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: freeze, compile again, train the head
# ------------------------------------------------------------------------------------------------------------


def _freeze_and_train(mistake: str):
    from utils.models import compile_model
    from utils.transfer import fit_steps

    def freeze_and_train(model_b, X, y):
        layers = {"partial": model_b.layers[:2], "output too": model_b.layers, "none": []}.get(
            mistake, model_b.layers[:4]
        )
        for layer in layers:
            layer.trainable = False
        if mistake == "tiny rate":
            compile_model(model_b, learning_rate=1e-6, momentum=0.9)
            fit_steps(model_b, X, y, epochs=30)
            return model_b
        if mistake != "no compile":
            compile_model(model_b, learning_rate=0.05, momentum=0.9)
        fit_steps(model_b, X, y, epochs=3)
        return model_b

    return freeze_and_train


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("no compile", "the model was not compiled again", "compile(...) again"),
        ("partial", "only ['dense_1', 'dense_2'] were frozen", "all four reused layers"),
        ("none", "only none were frozen", "trainable = False"),
        ("output too", "the new output layer did not change", "must stay trainable"),
        (
            "tiny rate",
            "learning rate is too small to learn",
            "compile_model(model_b, learning_rate=0.05, momentum=0.9), not a",
        ),
    ],
)
def test_q2_catches(keras, mistake, message, hint):
    assert_caught(ch06.q2.evaluate(_freeze_and_train(mistake)), message, hint)


def test_q2_wants_the_model_back(keras, solved):
    def returns_a_copy(model_b, X, y):
        from utils.models import copy_model

        return copy_model(solved["freeze_and_train"](model_b, X, y))

    assert_caught(ch06.q2.evaluate(returns_a_copy), "return the model you were given", "return model_b")


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: cache a frozen BN trunk in inference mode
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        (lambda trunk, X: np.asarray(trunk(X, training=True)), "BN layers ran in training mode", "trainable = False"),
        (lambda trunk, X: np.asarray(trunk(X, training=False)), "the trunk is not frozen", "trunk.trainable = False"),
        (lambda trunk, X: X, "should have shape (100, 32)", "training=False"),
        (lambda trunk, X: np.asarray(trunk(X[::-1], training=False)), "not the trunk's outputs", None),
    ],
    ids=["training mode", "not frozen", "inputs returned", "other images"],
)
def test_q3_catches(keras, answer, message, hint):
    assert_caught(ch06.q3.evaluate(answer), message, hint)


def test_q3_accepts_predict_after_freezing(keras):
    def frozen_features(trunk, X):
        trunk.trainable = False
        return trunk.predict(X, verbose=0)

    assert ch06.q3.evaluate(frozen_features).passed


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: the classic
# ------------------------------------------------------------------------------------------------------------


def test_q4_catches_evaluation_on_training_data(keras, solved):
    from utils.transfer import accuracy

    def transfer_classic(model_a, X, y, X_test, y_test):
        model_b, _ = solved["transfer_classic"](model_a, X, y, X_test, y_test)
        return model_b, accuracy(model_b, X, y)

    assert_caught(ch06.q4.evaluate(transfer_classic), "the accuracy on the training images", "X_test, y_test")


def test_q4_catches_no_fine_tuning(keras, solved):
    from utils.models import compile_model
    from utils.transfer import accuracy, fit_steps, split_at

    def transfer_classic(model_a, X, y, X_test, y_test):  # unfreezes, but fits without compiling again
        model_b = solved["make_model_b"](model_a)
        trunk, head = split_at(model_b, 4)
        trunk.trainable = False
        compile_model(head, learning_rate=0.05, momentum=0.9)
        fit_steps(head, np.asarray(trunk(X, training=False)), y, epochs=5)
        compile_model(model_b, learning_rate=0.05, momentum=0.9)
        fit_steps(model_b, X, y, epochs=1)
        for layer in model_b.layers[2:4]:
            layer.trainable = True
        fit_steps(model_b, X, y, epochs=2)
        return model_b, accuracy(model_b, X_test, y_test)

    assert_caught(ch06.q4.evaluate(transfer_classic), "they were not fine-tuned", "compile again")


def test_q4_catches_sharing_and_the_reused_output(keras):
    def shared(model_a, X, y, X_test, y_test):
        output = keras.layers.Dense(5, activation="softmax", name="new_output")
        return keras.Sequential([keras.Input(shape=(64,)), *model_a.layers[:-1], output]), 0.5

    def output_reused(model_a, X, y, X_test, y_test):
        from utils.models import copy_model

        return copy_model(model_a), 0.5

    def all_unfrozen(model_a, X, y, X_test, y_test):
        from utils.models import compile_model, copy_model
        from utils.transfer import fit_steps, reuse_layers

        model_b = reuse_layers(copy_model(model_a))
        compile_model(model_b, learning_rate=0.05, momentum=0.9)
        fit_steps(model_b, X, y, epochs=1)
        return model_b, 0.5

    assert_caught(ch06.q4.evaluate(shared), "shares layers", "clone_model")
    assert_caught(ch06.q4.evaluate(output_reused), "output layer is model A's", "new keras.layers.Dense(5")
    assert_caught(ch06.q4.evaluate(all_unfrozen), "two lowest reused layers changed", "model_b.layers[2:4]")


def test_q4_wants_two_things(keras):
    assert_caught(ch06.q4.evaluate(lambda *args: 0.8), "return two things", "return model_b, acc")


def test_q2_accepts_freezing_by_looping_over_every_layer(keras):
    from utils.models import compile_model
    from utils.transfer import fit_steps

    def freeze_and_train(model_b, X, y):
        for layer in model_b.layers:  # a loop over all layers, keeping only the new output trainable: right too
            layer.trainable = layer.name == "new_output"
        compile_model(model_b, learning_rate=0.05, momentum=0.9)
        fit_steps(model_b, X, y, epochs=30)
        return model_b

    result = ch06.q2.evaluate(freeze_and_train)
    assert result.passed, result.message


def test_q4_catches_a_fresh_head_fine_tuned_with_the_reused_layers(keras, solved):
    from utils.models import compile_model
    from utils.transfer import accuracy, fit_steps

    def transfer_classic(model_a, X, y, X_test, y_test):  # no head-only phase: unfreeze the top two at once
        model_b = solved["make_model_b"](model_a)
        for layer in model_b.layers[:2]:
            layer.trainable = False
        compile_model(model_b, learning_rate=0.005, momentum=0.9)
        fit_steps(model_b, X, y, epochs=10)
        return model_b, accuracy(model_b, X_test, y_test)

    assert_caught(
        ch06.q4.evaluate(transfer_classic), "fresh, untrained output layer", "Train the new output layer first"
    )


def test_q4_prints_the_scratch_baseline_next_to_the_score(keras, solved, capsys):
    assert ch06.q4.check(solved["transfer_classic"])
    out = capsys.readouterr().out
    assert "trained from scratch on the same images" in out and "Test accuracy on 5-9" in out
    baseline = ch06.scratch_baseline()
    assert baseline.shape == (3,) and np.all(baseline > 0.6)

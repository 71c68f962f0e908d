"""The chapter 08 exercise checks: each passes on its solution, fails on the unfixed set-up, names a symptom-only
fix as such, and catches a wrong diagnosis with the intended hint."""

from __future__ import annotations

import pytest

from tests.checking import assert_caught
from utils import capstone
from utils.checks import ch08

QUESTIONS = {
    "vanishing": ch08.q1,
    "exploding": ch08.q2,
    "dead": ch08.q3,
    "bn_mode": ch08.q4,
    "transfer": ch08.q5,
    "rnn": ch08.q6,
    "mystery": ch08.q7,
}
FUNCTIONS = {
    "vanishing": "fixed_vanishing",
    "exploding": "fixed_exploding",
    "dead": "fixed_dead",
    "bn_mode": "fixed_bn_step",
    "transfer": "fixed_transfer",
    "rnn": "fixed_rnn",
    "mystery": "fixed_mystery",
}


@pytest.fixture(autouse=True, scope="module")
def _setup():
    from utils.course import setup

    setup()


def _solved(name: str) -> dict:
    """Run one exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    import keras
    import tensorflow as tf

    from utils.capstone import compile_rnn, compile_sgd, dense_stack, sum_rnn

    namespace = {
        "keras": keras,
        "tf": tf,
        "compile_rnn": compile_rnn,
        "compile_sgd": compile_sgd,
        "dense_stack": dense_stack,
        "sum_rnn": sum_rnn,
    }
    exec(QUESTIONS[name].solution_text, namespace)  # noqa: S102 (the course's own solution text)
    return namespace


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_solutions_pass(name, capsys):
    solved = _solved(name)
    assert QUESTIONS[name].check(solved["diagnosis"], solved[FUNCTIONS[name]])
    assert "Trains now, on each of seeds 0, 1, 2" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_the_unfixed_setup_is_caught(name):
    setup = capstone.SETUPS[name]
    diagnosis = setup.causes[0] if len(setup.causes) == 1 else setup.causes
    message = {"bn_mode": "BN still never runs in training mode", "transfer": "the layers you froze still train"}
    result = QUESTIONS[name].evaluate(diagnosis, setup.broken)
    assert_caught(result, message.get(name, "still does not train"), None)
    if name not in message:
        assert "The statistic that still looks wrong:" in result.message


def test_clipping_a_bad_initialization_is_named_symptom_only():
    result = ch08.q2.evaluate("exploding", capstone.clipped_exploding)
    assert_caught(result, "clipping treats the symptom only", "initialize with He")


def test_a_lower_learning_rate_for_dead_units_is_named_symptom_only():
    result = ch08.q3.evaluate("dead", capstone.slower_dead)
    assert_caught(result, "a lower learning rate treats a symptom only", "start the biases at 0")


def test_a_lower_learning_rate_on_the_mystery_is_named_symptom_only():
    def slower_mystery():
        return capstone.compile_sgd(capstone.dense_stack("relu", capstone.normal(0.02), bias=-1.0), learning_rate=0.005)

    assert_caught(ch08.q7.evaluate(("dead", "init_too_small"), slower_mystery), "treats a symptom only", None)


def test_half_a_fix_of_the_mystery_says_what_is_left():
    result = ch08.q7.evaluate(("dead", "init_too_small"), capstone.half_fixed_mystery)
    assert_caught(result, "std(W)·√fan_in", "doctor")


def test_half_a_diagnosis_of_the_mystery():
    assert_caught(ch08.q7.evaluate("dead", capstone.fixed_mystery), "this set-up has two", "Give both keys")


@pytest.mark.parametrize(
    ("name", "wrong"),
    [("vanishing", "dead"), ("exploding", "too_high_lr"), ("dead", "vanishing"), ("rnn", "exploding")],
)
def test_a_wrong_diagnosis_is_caught_before_training(name, wrong):
    result = QUESTIONS[name].evaluate(wrong, capstone.SETUPS[name].fixed)
    assert_caught(result, "does not match what the statistics show", None)


def test_an_unknown_diagnosis_says_where_the_keys_are():
    assert_caught(ch08.q1.evaluate("gradients vanish", capstone.fixed_vanishing), "is not one of", "show_diagnoses")


def test_a_shallow_network_is_not_a_repair():
    def shallow():
        return capstone.compile_sgd(capstone.dense_stack("sigmoid", depth=2))

    assert_caught(ch08.q1.evaluate("vanishing", shallow), "a shallower network trains", "Keep the 8 hidden layers")


def test_an_uncompiled_model_is_caught():
    assert_caught(ch08.q2.evaluate("exploding", lambda: capstone.dense_stack()), "not compiled", "Compile it")


def test_a_transfer_without_freezing_is_caught():
    def unfrozen(base):
        import keras

        model = keras.Sequential([keras.Input(shape=(64,)), *base.layers[:-1], keras.layers.Dense(5, "softmax")])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return model

    assert_caught(ch08.q5.evaluate("frozen_train", unfrozen), "the reused layers are not frozen", "trainable = False")


def test_a_bn_step_that_returns_nothing_is_unanswered():
    def step(model, x, y):
        model(x, training=True)

    result = ch08.q4.evaluate("bn_mode", step)
    assert not result.passed and result.message.startswith("✏️")


def test_show_diagnoses_lists_every_key(capsys):
    ch08.show_diagnoses()
    out = capsys.readouterr().out
    assert all(key in out for key in ch08.DIAGNOSES)

"""The chapter 08 exercise checks: each passes on its solution, fails on the unfixed set-up, names a symptom-only
fix as such, and catches a wrong diagnosis with the intended hint."""

from __future__ import annotations

import pytest

from tests.checking import assert_caught
from utils import capstone
from utils.checks import ch08
from utils.checks._core import solution_text

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
def _setup(course_setup):
    """Every test here builds Keras models: the course's setup first."""


def _stack(activation="relu", kernel_initializer="he_normal", **options):
    """Return the set-ups' deep MLP (DEPTH hidden layers of WIDTH units), uncompiled."""
    return capstone.build_mlp(
        capstone.DEPTH, capstone.WIDTH, activation, kernel_initializer=kernel_initializer, **options
    )


def _compiled(model):
    return capstone.compile_model(model, learning_rate=capstone.LEARNING_RATE)


def _solved(name: str) -> dict:
    """Run one exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    import keras
    import tensorflow as tf

    from utils.capstone import DEPTH, LEARNING_RATE, WIDTH, build_mlp, compile_model, sum_rnn

    namespace = {
        "keras": keras,
        "tf": tf,
        "DEPTH": DEPTH,
        "WIDTH": WIDTH,
        "LEARNING_RATE": LEARNING_RATE,
        "build_mlp": build_mlp,
        "compile_model": compile_model,
        "sum_rnn": sum_rnn,
    }
    exec(solution_text(QUESTIONS[name]), namespace)  # noqa: S102 (the course's own solution text)
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
        model = _stack("relu", capstone.normal(0.02), bias_initializer=-1.0)
        return capstone.compile_model(model, learning_rate=0.005)

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
        return _compiled(capstone.build_mlp(2, capstone.WIDTH, "sigmoid", kernel_initializer="he_normal"))

    assert_caught(ch08.q1.evaluate("vanishing", shallow), "a shallower network trains", "Keep the 8 hidden layers")


def test_an_uncompiled_model_is_caught():
    assert_caught(ch08.q2.evaluate("exploding", lambda: _stack()), "not compiled", "Compile it")


def test_a_transfer_without_freezing_is_caught():
    def unfrozen(base):
        import keras

        model = keras.Sequential(
            [keras.Input(shape=(64,)), *base.layers[:-1], keras.layers.Dense(5, "softmax", name="head")]
        )
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


# ------------------------------------------------------------------------------------------------------------
# Issue 19's defects: each answer fed to its check, verdict and hint asserted
# ------------------------------------------------------------------------------------------------------------


def test_he_std_for_32_inputs_passes_q2():
    """normal(0.25) is He's std for the 32-unit hidden layers: a correct repair, judged on its last epochs."""

    def fixed_exploding():
        return _compiled(_stack("relu", capstone.normal(0.25)))

    result = ch08.q2.evaluate("exploding", fixed_exploding)
    assert result.passed, result.message


def test_an_eager_step_returning_numpy_is_told_about_the_graph():
    def step(model, x, y):
        return capstone.fixed_bn_step(model, x, y).numpy()

    result = ch08.q4.evaluate("bn_mode", step)
    assert_caught(result, "inside a tf.function", "Return the loss tensor itself")
    assert "if_body" not in result.message and "line" not in result.message


def test_a_bn_step_whose_averages_lag_is_not_told_it_does_not_train():
    def step(model, x, y):
        for layer in model.layers:
            if "bn" in layer.name:
                layer.momentum = 0.999  # averages over about 1000 steps: they lag the weights
        return capstone.fixed_bn_step(model, x, y)

    result = ch08.q4.evaluate("bn_mode", step)
    assert_caught(result, "at inference only", "moving averages")
    assert "does not train" not in result.message


def test_an_uncompiled_transfer_model_is_told_not_compiled():
    def uncompiled(base):
        import keras

        model = keras.Sequential(
            [keras.Input(shape=(64,)), *base.layers[:-1], keras.layers.Dense(5, "softmax", name="head")]
        )
        for layer in model.layers[:-1]:
            layer.trainable = False
        return model

    assert_caught(ch08.q5.evaluate("frozen_train", uncompiled), "not compiled", "model.compile")


def test_a_smoke_test_fit_before_freezing_is_not_blamed_on_compile():
    def smoke_tested(base):
        import keras

        model = keras.Sequential(
            [keras.Input(shape=(64,)), *base.layers[:-1], keras.layers.Dense(5, "softmax", name="head")]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        data = capstone.transfer_data()
        model.fit(data.X_train[:10], data.y_train[:10], epochs=1, verbose=0)
        for layer in model.layers[:-1]:
            layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return model

    result = ch08.q5.evaluate("frozen_train", smoke_tested)
    assert_caught(result, "a fit before freezing", "Freeze first, then compile, then fit")
    assert "Compile after setting" not in (result.hint or "")


def test_a_copy_left_unfrozen_is_not_said_to_share_the_base():
    def unfrozen_copy(base):
        import keras

        copy = keras.models.clone_model(base)
        copy.set_weights(base.get_weights())
        model = keras.Sequential(
            [keras.Input(shape=(64,)), *copy.layers[:-1], keras.layers.Dense(5, "softmax", name="head")]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return model

    result = ch08.q5.evaluate("frozen_train", unfrozen_copy)
    assert_caught(result, "no layer of the model has trainable=False", "trainable = False")
    assert "shares" not in result.message


def test_the_sharing_solution_of_old_still_passes_but_the_fix_copies():
    """Freezing and compiling shared layers keeps them unchanged too; the course's solution copies them first."""
    assert "clone_model" in solution_text(ch08.q5) and "set_weights" in solution_text(ch08.q5)
    assert ch08.q5.evaluate("frozen_train", capstone.broken_transfer).passed is False


def test_nothing_seen_by_the_doctor_gives_a_hint_that_does_not_send_the_learner_to_it():
    def too_slow():
        return capstone.compile_model(_stack(), learning_rate=1e-4)

    result = ch08.q1.evaluate("vanishing", too_slow)
    assert_caught(result, "none that the doctor sees", "look at the training itself")
    assert "it names what is left to fix" not in (result.hint or "")


def test_the_rnn_solution_uses_global_clipnorm():
    text = solution_text(ch08.q6)
    assert "global_clipnorm=1.0" in text and "clipnorm=1.0)" not in text.replace("global_clipnorm=1.0)", "")


def test_a_new_head_named_like_a_reused_layer_gets_a_hint():
    """Keras names an unnamed Dense dense, dense_1, ...: one can clash with the reused dense_1 (a real learner trap)."""

    def clashing(base):
        import keras

        for layer in base.layers[:-1]:
            layer.trainable = False
        head = keras.layers.Dense(5, activation="softmax", name="dense_1")  # what Keras' automatic name can be
        model = keras.Sequential([keras.Input(shape=(64,)), *base.layers[:-1], head])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return model

    result = ch08.q5.evaluate("frozen_train", clashing)
    assert not result.passed and "unique names" in result.message
    assert "name='head'" in result.hint

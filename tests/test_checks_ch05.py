"""The chapter 05 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint,
and never raise on an unfinished or broken answer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.checking import assert_caught, run_solutions
from utils.checks import ch05

QUESTIONS = {"q1": ch05.q1, "q2": ch05.q2, "q3": ch05.q3, "q4": ch05.q4}
FUNCTIONS = {"q1": "clip_by_global_norm", "q2": "pick_threshold", "q3": "make_optimizer", "q4": "train_step"}


@pytest.fixture(scope="module")
def solved() -> dict:
    """Run every exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    namespace = {"np": np, "keras": keras, "tf": tf, "ch05": ch05}
    return run_solutions(QUESTIONS, namespace)


@pytest.mark.parametrize("name", QUESTIONS)
def test_solutions_pass(solved, name):
    result = QUESTIONS[name].evaluate(solved[FUNCTIONS[name]])
    assert result.passed, result.message


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch05.q1.check(solved["clip_by_global_norm"])
    assert "the same as tf.clip_by_global_norm" in capsys.readouterr().out
    assert ch05.q2.check(solved["pick_threshold"])
    assert "clips 10% of its healthy steps" in capsys.readouterr().out
    assert ch05.q3.check(solved["make_optimizer"])
    out = capsys.readouterr().out
    assert "Without clipping: 1.03" in out and "plain SGD at the 3× smaller learning rate 0.01: 0.50" in out
    assert ch05.q4.check(solved["train_step"])
    assert "learning rate × threshold = 0.05" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: clip by global norm
# ------------------------------------------------------------------------------------------------------------


def _clip(mistake: str):
    """Return a clip_by_global_norm with a mistake not declared in ch05.q1.mistakes."""

    def clip_by_global_norm(grads, threshold):
        norm = np.sqrt(sum(np.sum(g**2) for g in grads))
        if mistake == "sum of norms":
            norm = sum(np.linalg.norm(g) for g in grads)
        if mistake == "in place":
            scale = threshold / max(norm, threshold)
            for g in grads:
                g *= scale
            return grads, norm
        if mistake == "always rescaled":
            return [g * threshold / norm for g in grads], norm
        clipped = [g * threshold / max(norm, threshold) for g in grads]
        if mistake == "norm after":
            return clipped, np.sqrt(sum(np.sum(c**2) for c in clipped))
        if mistake == "list only":
            return clipped
        if mistake == "one array":
            return np.concatenate([c.ravel() for c in clipped]), norm
        if mistake == "off":
            return [1.1 * c for c in clipped], norm
        return clipped, norm

    return clip_by_global_norm


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("in place", "changed the gradients it was given", "Build new arrays"),
        ("always rescaled", "still changed the gradients", "scale small gradients *up*"),
        ("sum of norms", "sum of the tensors' norms", "sqrt(sum over tensors"),
        ("norm after", "global norm after clipping", "from the original gradients"),
        ("list only", "should return two things", "return clipped, global_norm"),
        ("one array", "your clipped gradients are a ndarray", "one clipped array per gradient"),
        ("off", "differ from tf.clip_by_global_norm", "threshold / max(global_norm, threshold)"),
    ],
)
def test_q1_catches_mistakes(mistake, message, hint):
    assert_caught(ch05.q1.evaluate(_clip(mistake)), message, hint)


def test_q1_accepts_tensorflow_answers():
    import tensorflow as tf

    def with_tf(grads, threshold):
        clipped, norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], threshold)
        return clipped, norm

    assert ch05.q1.evaluate(with_tf).passed


def _clip_returning(kind: str):
    def clip_by_global_norm(grads, threshold):
        norm = np.sqrt(sum(np.sum(g**2) for g in grads))
        clipped = [g * threshold / max(norm, threshold) for g in grads]
        if kind == "text":
            return clipped, str(norm)
        if kind == "swapped":
            return norm, clipped
        return clipped, np.array([norm])  # "size 1": a number in all but its shape

    return clip_by_global_norm


def test_q1_refuses_a_norm_given_as_text():
    assert_caught(ch05.q1.evaluate(_clip_returning("text")), "you returned the text", "not text made from it")


def test_q1_names_a_swapped_return():
    assert_caught(ch05.q1.evaluate(_clip_returning("swapped")), "(global_norm, clipped)", "return clipped, global_norm")


def test_q1_accepts_a_size_one_norm_and_its_demo_runs(capsys):
    assert ch05.q1.check(_clip_returning("size 1"))
    out = capsys.readouterr().out
    assert "could not run" not in out and "global norm 7.48, after clipping 1.00" in out


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: a threshold from a healthy run
# ------------------------------------------------------------------------------------------------------------


def _sorting_percentile(norms):
    norms.sort()  # in place: the caller's array changes
    return float(norms[int(0.9 * len(norms))])


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        (lambda norms: float(np.max(norms)), "is the largest norm of the healthy run", "np.percentile(norms, 90)"),
        (lambda norms: float(np.max(norms)) * 10, "above every norm of the healthy run", "np.percentile(norms, 90)"),
        (lambda norms: float(np.percentile(norms, 99.5)), "clips only", "90th to 95th percentile"),
        (lambda norms: float(np.min(norms)), "clips 100% of the healthy steps", "np.percentile(norms, 90)"),
        (lambda norms: float(np.median(norms)), "clips 50% of the healthy steps", "rare large ones"),
        (lambda norms: float(np.percentile(norms, 0.9)), "takes a percentage", "np.percentile(norms, 90)"),
        (lambda norms: float(np.percentile(norms, 25)), "clips 75%", "np.percentile(norms, 90)"),
        (lambda norms: 0.0, "must be positive", None),
        (_sorting_percentile, "changed the array of norms", "np.sort(norms)"),
        (lambda norms: str(np.percentile(norms, 90)), "you returned the text", "not text made from it"),
        (lambda norms: f"{np.percentile(norms, 90):.2f}", "you returned the text", "not text made from it"),
    ],
    ids=[
        "max",
        "above max",
        "99.5th percentile",
        "min",
        "median",
        "fraction for percent",
        "25th percentile",
        "zero",
        "sorts in place",
        "str",
        "f-string",
    ],
)
def test_q2_catches_mistakes(answer, message, hint):
    assert_caught(ch05.q2.evaluate(answer), message, hint)


def test_q2_largest_norm_is_not_called_above_every_norm():
    result = ch05.q2.evaluate(lambda norms: float(np.max(norms)))
    assert "above every norm" not in result.message and "no step is above it" in result.message


@pytest.mark.parametrize("q", [75, 90, 95, 97])
def test_q2_accepts_high_percentiles(q):
    assert ch05.q2.evaluate(lambda norms: np.percentile(norms, q)).passed


def test_q2_demo_takes_a_size_one_array(capsys):
    def as_array(norms):
        return np.percentile(norms, [90])  # shape (1,): a number in all but its shape

    assert ch05.q2.check(as_array)
    out = capsys.readouterr().out
    assert "could not run" not in out and "clips 10% of its healthy steps" in out


def test_q2_norms_are_the_chapters_healthy_runs_and_a_copy():
    from utils.clipping import HEALTHY_LEARNING_RATE, healthy_norms

    assert HEALTHY_LEARNING_RATE == 0.01 and np.array_equal(ch05.q2_norms(), healthy_norms())
    assert len(ch05.q2_norms()) == 3 * 80
    ch05.q2_norms()[:] = 0
    assert np.all(ch05.q2_norms() > 0)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: tame the thrashing RNN with the right Keras option
# ------------------------------------------------------------------------------------------------------------


def test_exercise_2s_threshold_passes_exercise_3(solved):
    """The threshold exercise 2 teaches (its solution, and the range of percentiles it accepts) passes exercise 3."""
    norms = ch05.q2_norms()
    for q in (75, 90, 95, 97):
        assert ch05.q2.evaluate(lambda n, q=q: np.percentile(n, q)).passed
        threshold = float(np.percentile(norms, q))
        result = ch05.q3.evaluate(lambda t=threshold: keras.optimizers.SGD(0.03, global_clipnorm=t))
        assert result.passed, (q, result.message)
    assert ch05.q3.evaluate(solved["make_optimizer"]).passed


@pytest.mark.parametrize("threshold", [1.0, 1e-3])
def test_q3_flags_a_threshold_that_clips_every_step(threshold):
    """global_clipnorm=1 ends at a low loss, but clips 100% of the steps: a smaller learning rate in disguise."""
    result = ch05.q3.evaluate(lambda: keras.optimizers.SGD(0.03, global_clipnorm=threshold))
    assert_caught(result, "clipping acts at 100% of the steps", "higher threshold")
    assert "smaller learning rate in disguise" in result.message and "lower" not in (result.hint or "")


@pytest.mark.parametrize(
    ("make", "message", "hint"),
    [
        (lambda: keras.optimizers.SGD(0.03, clipnorm=8.0), "clips each variable by its own norm", "global_clipnorm"),
        (lambda: keras.optimizers.SGD(0.03, clipvalue=0.5), "clipped by value", "global_clipnorm"),
        (lambda: keras.optimizers.SGD(0.03), "does not clip", "global_clipnorm=..."),
        (lambda: keras.optimizers.SGD(0.01, global_clipnorm=8.0), "learning rate is 0.01", "Keep 0.03"),
        (lambda: keras.optimizers.Adam(0.03, global_clipnorm=8.0), "which adapts its steps", "SGD(learning_rate=0.03"),
        (lambda: keras.optimizers.SGD(0.03, momentum=0.9, global_clipnorm=8.0), "momentum=0.9", "default momentum"),
        (lambda: keras.optimizers.SGD(0.03, global_clipnorm=1e6), "about what predicting 0 scores", "lower threshold"),
        (lambda: keras.optimizers.SGD(0.03, global_clipnorm=30.0), "acted at only", "lower threshold"),
        (lambda: "sgd", "not a Keras optimizer", "keras.optimizers.SGD"),
        (lambda: keras.optimizers.SGD(0.03, clipnorm=1.0, global_clipnorm=1.0), "your code raised ValueError", None),
    ],
    ids=[
        "clipnorm",
        "clipvalue",
        "no clipping",
        "lower lr",
        "adam",
        "momentum",
        "never triggers",
        "too high",
        "text",
        "two options",
    ],
)
def test_q3_catches_mistakes(make, message, hint):
    assert_caught(ch05.q3.evaluate(make), message, hint)


def test_q3_momentum_is_not_called_adaptive():
    result = ch05.q3.evaluate(lambda: keras.optimizers.SGD(0.03, momentum=0.9, global_clipnorm=8.0))
    assert "adaptive" not in result.message and "adapts" not in result.message


def test_q3_describes_a_loss_above_predicting_0_as_worse(monkeypatch):
    """Losses of 2.5-20 are worse than predicting 0, never "hardly better"; and a 1e-3 threshold is not told 'lower'."""
    from utils.clipping import TrainRun

    for loss, words in ((2.5, "worse than predicting 0"), (20.0, "worse than predicting 0"), (0.8, "above the target")):
        run = TrainRun(np.full(80, loss), np.full(80, 2.0))  # norms below the threshold: clipping never acts
        monkeypatch.setattr(ch05, "_q3_train", lambda optimizer, run=run: run)
        result = ch05.q3.evaluate(lambda: keras.optimizers.SGD(0.03, global_clipnorm=8.0))
        assert_caught(result, words, "lower threshold")
        assert "hardly better" not in result.message


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: clip the gradients, not the loss
# ------------------------------------------------------------------------------------------------------------


def _train_step(mistake: str):
    """Return a train_step with a mistake not declared in ch05.q4.mistakes (or "right")."""

    def train_step(model, optimizer, x, y, threshold):
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
            if mistake == "loss clipped":
                loss = tf.clip_by_value(loss, 0.0, threshold)
        grads = tape.gradient(loss, model.trainable_variables)
        raw, norm = grads, tf.linalg.global_norm(grads)
        if mistake in ("right", "norm after", "loss only"):
            grads, norm = tf.clip_by_global_norm(grads, threshold)
            if mistake == "norm after":
                norm = tf.linalg.global_norm(grads)
        elif mistake in ("swapped", "loss as text"):
            grads, norm = tf.clip_by_global_norm(grads, threshold)
        elif mistake == "half":
            grads = [0.5 * g for g in tf.clip_by_global_norm(raw, threshold)[0]]
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        if mistake == "swapped":
            return norm, loss
        if mistake == "loss as text":
            return f"{float(loss):.2f}", norm
        return loss if mistake == "loss only" else (loss, norm)

    return train_step


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("loss clipped", "the weights did not move", "Clip the gradients, not the loss"),
        ("half", "differ from one SGD step", "apply_gradients"),
        ("norm after", "norm after clipping", "norm before clipping"),
        ("loss only", "should return two things", "return loss, norm"),
        ("swapped", "returned (norm, loss)", "`return loss, norm`"),
        ("loss as text", "you returned the text", "not text made from it"),
    ],
)
def test_q4_catches_mistakes(mistake, message, hint):
    assert_caught(ch05.q4.evaluate(_train_step(mistake)), message, hint)


def test_q4_passes_the_right_step_and_the_buggy_one_leaves_weights_alone():
    assert ch05.q4.evaluate(_train_step("right")).passed
    model, (x, y) = ch05.q4_model(), ch05.q4_data()
    before = model.get_weights()
    _train_step("loss clipped")(model, keras.optimizers.SGD(0.05), x, y, 1.0)
    assert all(np.array_equal(b, a) for b, a in zip(before, model.get_weights(), strict=True))

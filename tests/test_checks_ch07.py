"""The chapter 07 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint (an
NT-Xent without normalization, temperature or the k != i rule; pairs drawn from the global ``np.random``, with an
image and itself, unbalanced; a fresh head fine-tuned together with the reused layers, a fine-tuning ignored for
want of a second compile, ``clone_model`` without its weights, a shared encoder), and never raise."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.checks import ch07

QUESTIONS = {"q1": ch07.q1, "q2": ch07.q2, "q3": ch07.q3}
FUNCTIONS = {"q1": "nt_xent", "q2": "make_pairs", "q3": "probe_then_fine_tune"}


@pytest.fixture(scope="module")
def solved() -> dict:
    """Run every exercise's solution text, as a learner who calls ``q.solution()`` would paste it."""
    namespace = {"np": np, "keras": keras}
    return run_solutions(QUESTIONS, namespace)


@pytest.mark.parametrize("name", QUESTIONS)
def test_solutions_pass(solved, name):
    result = QUESTIONS[name].evaluate(solved[FUNCTIONS[name]])
    assert result.passed, result.message


def test_passing_checks_print_their_demo(solved, capsys):
    assert ch07.q1.check(solved["nt_xent"])
    assert "two views of each image almost equal" in capsys.readouterr().out
    assert ch07.q2.check(solved["make_pairs"])
    assert "1225 possible pairs" in capsys.readouterr().out


def test_unanswered_exercises_say_so():
    for question in QUESTIONS.values():
        assert "Not answered yet" in question.evaluate(None).message


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the NT-Xent loss
# ------------------------------------------------------------------------------------------------------------


def test_q1_reports_other_wrong_values_with_the_expected_one():
    assert_caught(ch07.q1.evaluate(lambda z, t: 1.0), "NT-Xent is", "softmax")


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: pairs drawn with the given generator
# ------------------------------------------------------------------------------------------------------------


def _pairs(mistake: str):
    """Return a make_pairs with one typical mistake."""

    def make_pairs(X, y, n_pairs, rng):
        if mistake == "fixed seed":
            rng = np.random.default_rng(0)
        left, right, same = [], [], []
        for k in range(n_pairs):
            i = np.random.randint(len(y)) if mistake == "global random" else rng.integers(len(y))  # noqa: NPY002
            want_same = k % 2 == 0 if mistake != "random" else None
            if want_same is None:
                j = rng.choice(np.flatnonzero(np.arange(len(y)) != i))
            elif want_same:
                mine = np.flatnonzero(y == y[i])
                pool = mine if mistake == "self pairs" else mine[mine != i]
                j = rng.choice(pool)
            else:
                j = rng.choice(np.flatnonzero(y != y[i]))
            left.append(i)
            right.append(j)
            same.append(int(y[i] == y[j]))
        same = np.array(same)
        if mistake == "reversed":
            same = 1 - same
        return X[left], X[right], same

    return make_pairs


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("global random", "also draws from the global np.random", "generator you are given"),
        ("reversed", "same is reversed", "(y[i] == y[j])"),
        ("self pairs", "an image with itself", "j != i"),
        ("random", "aim for about half", "every second pair"),
        ("fixed seed", "a different rng gave the same pairs", "rng"),
    ],
)
def test_q2_catches_mistakes(mistake, message, hint):
    assert_caught(ch07.q2.evaluate(_pairs(mistake)), message, hint)


def test_q2_leaves_the_global_random_state_as_it_was(solved):
    np.random.seed(123)  # noqa: NPY002
    expected = np.random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    ch07.q2.evaluate(_pairs("global random"))
    ch07.q2.evaluate(solved["make_pairs"])
    assert np.random.random() == expected  # noqa: NPY002


def test_q2_catches_wrong_flags_and_shapes():
    def wrong_flags(X, y, n_pairs, rng):
        left, right, same = _pairs("ok")(X, y, n_pairs, rng)
        same = same.copy()
        same[:3] = 1 - same[:3]
        return left, right, same

    assert_caught(ch07.q2.evaluate(wrong_flags), "same is wrong for 3", "same label")
    assert_caught(ch07.q2.evaluate(lambda X, y, n, rng: (X, X)), "three arrays", "return left, right, same")


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: a linear probe, then fine-tuning
# ------------------------------------------------------------------------------------------------------------


def _reuse(mistake: str):
    """Return a probe_then_fine_tune with one typical mistake."""

    def probe_then_fine_tune(encoder, X, y, probe_epochs, tune_epochs):
        if mistake == "shared":
            copy = encoder
        else:
            copy = keras.models.clone_model(encoder)
            if mistake != "no weights":
                copy.set_weights(encoder.get_weights())
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model = keras.Sequential([copy, keras.layers.Dense(10)])
        if mistake == "fresh head together":  # no probe: everything trains from the first step
            model.compile(keras.optimizers.Adam(1e-3), loss, jit_compile=False)
            model.fit(X, y, epochs=probe_epochs + tune_epochs, batch_size=len(X), verbose=0)
            return model
        copy.trainable = False
        model.compile(keras.optimizers.Adam(1e-2), loss, jit_compile=False)
        model.fit(X, y, epochs=probe_epochs, batch_size=len(X), verbose=0)
        copy.trainable = True
        if mistake != "no second compile":
            model.compile(keras.optimizers.Adam(1e-3), loss, jit_compile=False)
        model.fit(X, y, epochs=tune_epochs, batch_size=len(X), verbose=0)
        return model

    return probe_then_fine_tune


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("fresh head together", "together with the new, random output layer", "copy.trainable = False"),
        ("no second compile", "did not change during fine-tuning", "compile(...) again"),
        ("no weights", "does not start from the pretrained weights", "set_weights"),
        ("shared", "the encoder you were given changed", "clone_model"),
    ],
)
def test_q3_catches_mistakes(mistake, message, hint):
    assert_caught(ch07.q3.evaluate(_reuse(mistake)), message, hint)


def test_q3_catches_a_probe_without_fine_tuning():
    def probe_only(encoder, X, y, probe_epochs, tune_epochs):
        copy = keras.models.clone_model(encoder)
        copy.set_weights(encoder.get_weights())
        copy.trainable = False
        model = keras.Sequential([copy, keras.layers.Dense(10)])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
        model.fit(X, y, epochs=probe_epochs, batch_size=len(X), verbose=0)
        return model

    assert_caught(ch07.q3.evaluate(probe_only), "called fit 1 time(s)", "fit once with the copy frozen")


def test_q3_restores_keras_fit():
    fit = keras.Model.fit
    ch07.q3.evaluate(lambda *args: 1 / 0)
    assert keras.Model.fit is fit


def test_a_failing_demo_does_not_raise(capsys, monkeypatch, solved):
    def boom(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(ch07.q1, "on_pass", boom)
    assert ch07.q1.check(solved["nt_xent"])
    assert "could not run" in capsys.readouterr().out

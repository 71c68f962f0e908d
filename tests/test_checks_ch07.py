"""The chapter 07 exercise checks: they pass on the solutions, catch typical mistakes with the intended hint
(test images or labels in the pretraining data, encoder weights re-initialized by ``clone_model``, the decoder reused
instead of the encoder, a shared or unfrozen encoder, pairs outside the labeled set), and never raise."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.checking import assert_caught, run_solutions
from utils.checks import ch07

QUESTIONS = {"q1": ch07.q1, "q2": ch07.q2, "q3": ch07.q3, "q4": ch07.q4}
FUNCTIONS = {"q1": "pretraining_images", "q2": "train_autoencoder", "q3": "build_classifier", "q4": "make_pairs"}


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
    assert ch07.q1.check(solved["pretraining_images"])
    assert "none of the 270 test images" in capsys.readouterr().out
    assert ch07.q3.check(solved["build_classifier"])
    assert "Frozen, 330 weights learn" in capsys.readouterr().out
    assert ch07.q4.check(solved["make_pairs"])
    assert "1225 possible pairs" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the images pretraining may use
# ------------------------------------------------------------------------------------------------------------

MISTAKES_Q1 = {
    "all images": lambda s: np.vstack([s.X_train, s.X_valid, s.X_test]),
    "labels appended": lambda s: np.column_stack([np.vstack([s.X_train, s.X_valid]), np.r_[s.y_train, s.y_valid]]),
    "images and labels": lambda s: (np.vstack([s.X_train, s.X_valid]), np.r_[s.y_train, s.y_valid]),
    "train only": lambda s: s.X_train,
    "train and test": lambda s: np.vstack([s.X_train, s.X_test]),
    "rescaled": lambda s: np.vstack([s.X_train, s.X_valid]) / 2,
    "twice": lambda s: np.vstack([s.X_train, s.X_valid, s.X_valid]),
    "half": lambda s: s.X_train[:500],
}


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("all images", "test images are in your pretraining set", "training and validation images only"),
        ("train and test", "test images are in your pretraining set", "np.vstack"),
        ("labels appended", "labels were appended", "without any y"),
        ("images and labels", "images only", "needs no label"),
        ("train only", "left out the validation images", "X_valid"),
        ("rescaled", "not images of the data set", "as they are"),
        ("twice", "more than once", "once"),
        ("half", "your set has 500 images", "X_valid"),
    ],
)
def test_q1_catches_mistakes(mistake, message, hint):
    assert_caught(ch07.q1.evaluate(MISTAKES_Q1[mistake]), message, hint)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: build and train the autoencoder
# ------------------------------------------------------------------------------------------------------------


def _autoencoder(mistake: str):
    """Return a train_autoencoder with one typical mistake."""

    def train_autoencoder(X, epochs=10):
        Dense = keras.layers.Dense
        codings = 64 if mistake == "no bottleneck" else 32
        encoder = keras.Sequential([keras.Input((64,)), Dense(64, "relu"), Dense(codings, "relu")])
        last = "relu" if mistake == "relu output" else None
        decoder = keras.Sequential([keras.Input((codings,)), Dense(64, "relu"), Dense(64, activation=last)])
        autoencoder = keras.Sequential([encoder, decoder])
        autoencoder.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", jit_compile=False)
        if mistake == "not trained":
            return encoder, decoder, autoencoder
        if mistake == "fresh encoder returned":
            autoencoder.fit(X, X, epochs=3, batch_size=64, verbose=0)
            fresh = keras.Sequential([keras.Input((64,)), Dense(64, "relu"), Dense(codings, "relu")])
            return fresh, decoder, autoencoder
        autoencoder.fit(X, X, epochs=3 if mistake != "relu output" else 1, batch_size=64, verbose=0)
        if mistake == "two models":
            return encoder, autoencoder
        return encoder, decoder, autoencoder

    return train_autoencoder


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("no bottleneck", "should output 32 codings", "Dense(32, relu)"),
        ("relu output", "never negative", "no activation"),
        ("not trained", "has not learned to reproduce its inputs", "fit(X, X"),
        ("fresh encoder returned", "not the trained autoencoder's layers", "Sequential([encoder, decoder])"),
        ("two models", "three Keras models", "return encoder, decoder, autoencoder"),
    ],
)
def test_q2_catches_mistakes(mistake, message, hint):
    assert_caught(ch07.q2.evaluate(_autoencoder(mistake)), message, hint)


def test_q2_catches_an_autoencoder_trained_on_the_labels():
    def train_on_labels(X, epochs=10):
        from utils.pretraining import build_keras_autoencoder

        encoder, decoder, autoencoder = build_keras_autoencoder()
        autoencoder.compile(optimizer="adam", loss="mse", jit_compile=False)
        labels = np.resize(np.arange(10.0), len(X))  # a column of labels as the target, broadcast to 64 outputs
        autoencoder.fit(X, np.repeat(labels[:, None], 64, axis=1), epochs=2, batch_size=64, verbose=0)
        return encoder, decoder, autoencoder

    result = ch07.q2.evaluate(train_on_labels)
    assert not result.passed and ("fit(X, X" in (result.hint or "") or "never negative" in result.message)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: reuse the encoder
# ------------------------------------------------------------------------------------------------------------


def _classifier(mistake: str):
    """Return a build_classifier with one typical mistake."""

    def build_classifier(encoder, frozen):
        head = keras.layers.Dense(10, activation="softmax")
        if mistake == "decoder":
            _, decoder = ch07._q3_models()
            copy = keras.models.clone_model(decoder)
            copy.set_weights(decoder.get_weights())
            return keras.Sequential([copy, head])
        if mistake == "shared":
            encoder.trainable = not frozen
            return keras.Sequential([encoder, head])
        copy = keras.models.clone_model(encoder)
        if mistake != "clone only":
            copy.set_weights(encoder.get_weights())
        copy.trainable = True if mistake == "never frozen" else not frozen
        if mistake == "always frozen":
            copy.trainable = False
        if mistake == "freeze original":
            encoder.trainable = not frozen
        if mistake == "no softmax":
            head = keras.layers.Dense(10)
        if mistake == "two heads":
            return keras.Sequential([copy, keras.layers.Dense(16, "relu"), head])
        return keras.Sequential([copy, head])

    return build_classifier


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("clone only", "clone_model copies the architecture with NEW random weights", "set_weights"),
        ("decoder", "starts with the decoder", "Reuse the encoder"),
        ("shared", "shares the encoder's layers", "clone_model"),
        ("never frozen", "with frozen=True the encoder's layers are still trainable", "trainable = False"),
        ("always frozen", "with frozen=False some layers are not trainable", "not frozen"),
        ("freeze original", "changed the encoder's own trainable flags", "copy.trainable"),
        ("no softmax", "not class probabilities", "softmax"),
        ("two heads", "plus one new Dense(10, softmax) layer", "keras.Sequential"),
    ],
)
def test_q3_catches_mistakes(mistake, message, hint):
    assert_caught(ch07.q3.evaluate(_classifier(mistake)), message, hint)


def test_q3_leaves_its_encoder_as_it_was():
    encoder, _ = ch07._q3_models()
    saved = [w.copy() for w in encoder.get_weights()]
    for mistake in ("shared", "freeze original"):
        ch07.q3.evaluate(_classifier(mistake))
    assert encoder.trainable and all(layer.trainable for layer in encoder.layers)
    assert all(np.array_equal(a, b) for a, b in zip(saved, encoder.get_weights(), strict=True))


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: same-digit pairs from the few labels
# ------------------------------------------------------------------------------------------------------------


def _pairs(mistake: str):
    """Return a make_pairs with one typical mistake."""

    def make_pairs(X, y, n_pairs, rng):
        if mistake == "pool labels":  # the whole pool's true labels: labels we do not have
            data = ch07.few_label_splits(50, 0)
            X, y = data.X_labeled, data.y_labeled
        if mistake == "test images":
            data = ch07.few_label_splits(5, 0)
            X = np.vstack([X[:-5], data.X_test[:5]])
        left, right, same = [], [], []
        for k in range(n_pairs):
            i = rng.integers(len(y))
            want_same = k % 2 == 0 if mistake != "random" else None
            if want_same is None:
                j = rng.choice(np.flatnonzero(np.arange(len(y)) != i))
            elif want_same:
                pool = (
                    np.flatnonzero(y == y[i])
                    if mistake == "self pairs"
                    else np.flatnonzero((y == y[i]) & (np.arange(len(y)) != i))
                )
                j = rng.choice(pool)
            else:
                j = rng.choice(np.flatnonzero(y != y[i]))
            left.append(i)
            right.append(j)
            same.append(int(y[i] == y[j]))
        same = np.array(same)
        if mistake == "reversed":
            same = 1 - same
        if mistake == "fixed seed":
            return make_pairs_fixed(X, y, n_pairs)
        return X[left], X[right], same

    def make_pairs_fixed(X, y, n_pairs):
        return _pairs("ok")(X, y, n_pairs, np.random.default_rng(0))

    return make_pairs


@pytest.mark.parametrize(
    ("mistake", "message", "hint"),
    [
        ("pool labels", "not among the labeled images you were given", "Draw both images of every pair from X"),
        ("test images", "contains test images", None),
        ("reversed", "same is reversed", "(y[i] == y[j])"),
        ("self pairs", "an image with itself", "j != i"),
        ("random", "aim for about half", "every second pair"),
        ("fixed seed", "a different rng gave the same pairs", "rng"),
    ],
)
def test_q4_catches_mistakes(mistake, message, hint):
    assert_caught(ch07.q4.evaluate(_pairs(mistake)), message, hint)


def test_q4_catches_wrong_flags_and_shapes():
    def wrong_flags(X, y, n_pairs, rng):
        left, right, same = _pairs("ok")(X, y, n_pairs, rng)
        same = same.copy()
        same[:3] = 1 - same[:3]
        return left, right, same

    assert_caught(ch07.q4.evaluate(wrong_flags), "same is wrong for 3", "same label")
    assert_caught(ch07.q4.evaluate(lambda X, y, n, rng: (X, X)), "three arrays", "return left, right, same")


def test_a_failing_demo_does_not_raise(capsys, monkeypatch, solved):
    def boom(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(ch07.q1, "on_pass", boom)
    assert ch07.q1.check(solved["pretraining_images"])
    assert "could not run" in capsys.readouterr().out

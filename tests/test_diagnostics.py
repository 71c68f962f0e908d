"""Keras diagnostics against a hand computation and finite differences, and their errors on bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils import activations
from utils.diagnostics import DiagnosticsCallback, keras_layer_stats


def _small_model(dtype="float32", seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(4,), dtype=dtype),
            keras.layers.Dense(3, activation="tanh", dtype=dtype),
            keras.layers.Dense(3, activation="sigmoid", dtype=dtype),
            keras.layers.Dense(2, activation="softmax", dtype=dtype),
        ]
    )


def _data(dtype=np.float32, n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(dtype), rng.integers(0, 2, n)


def test_forward_statistics_match_a_hand_computation():
    model, (x, y) = _small_model(), _data()
    (W1, b1), (W2, b2), _ = [layer.get_weights() for layer in model.layers]
    h1 = np.tanh(x @ W1 + b1)
    h2 = activations.sigmoid(h1 @ W2 + b2)
    stats = keras_layer_stats(model, x, y)
    assert stats.names == [layer.name for layer in model.layers]
    assert stats.activation == ["tanh", "sigmoid", "softmax"]
    np.testing.assert_allclose(stats.act_mean[:2], [h1.mean(), h2.mean()], rtol=1e-5)
    np.testing.assert_allclose(stats.act_std[:2], [h1.std(), h2.std()], rtol=1e-5)
    assert stats.frac_saturated[0] == pytest.approx(activations.saturated_fraction("tanh", h1))


def test_gradient_norms_match_gradient_tape_and_finite_differences():
    model, (x, y) = _small_model("float64"), _data(np.float64)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(dtype="float64")
    stats = keras_layer_stats(model, x, y, loss_fn)
    kernels = [layer.kernel for layer in model.layers]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    tape_norms = [np.linalg.norm(g.numpy()) for g in tape.gradient(loss, kernels)]
    np.testing.assert_allclose(stats.grad_norm, tape_norms, rtol=1e-10)
    h = 1e-6
    for layer, norm in zip(model.layers, stats.grad_norm, strict=True):
        W = layer.kernel.numpy()
        fd = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            for sign in (1, -1):
                bumped = W.copy()
                bumped[idx] += sign * h
                layer.kernel.assign(bumped)
                fd[idx] += sign * float(loss_fn(y, model(x))) / (2 * h)
            layer.kernel.assign(W)
        assert np.linalg.norm(fd) == pytest.approx(norm, rel=1e-6)


def test_dead_units_are_counted_over_the_whole_batch():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    W, b = model.layers[0].get_weights()
    b[:2] = -100.0  # two units can never fire on these inputs
    model.layers[0].set_weights([W, b])
    x, y = _data()
    stats = keras_layer_stats(model, x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert stats.frac_dead[0] == pytest.approx(0.5)
    assert stats.activation == ["relu", "linear"]


def test_blocks_group_batch_norm_and_activation_layers():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(5, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    x, y = _data()
    stats = keras_layer_stats(model, x, y)
    assert len(stats) == 2 and stats.activation[0] == "relu"
    assert np.all(stats.samples[0] >= 0)


def test_functional_chain_is_accepted_and_branches_are_refused():
    inputs = keras.Input(shape=(4,))
    chain = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Dense(3)(inputs)))
    x, y = _data()
    assert len(keras_layer_stats(chain, x, y)) == 2
    a, b = keras.layers.Dense(3)(inputs), keras.layers.Dense(3)(inputs)
    branched = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Add()([a, b])))
    with pytest.raises(ValueError, match="chain of layers"):
        keras_layer_stats(branched, x, y)


def test_bad_models_get_errors_that_say_what_to_pass():
    x, y = _data()
    with pytest.raises(ValueError, match="no layers"):
        keras_layer_stats(keras.Sequential(), x, y)
    with pytest.raises(ValueError, match="not built"):
        keras_layer_stats(keras.Sequential([keras.layers.Dense(2)]), x, y)
    with pytest.raises(TypeError, match="keras Model"):
        keras_layer_stats(lambda t: t, x, y)
    rounding = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(3),
            keras.layers.Lambda(lambda t: keras.ops.round(t)),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    with pytest.raises(ValueError, match="non-differentiable"):
        keras_layer_stats(rounding, x, y)


def test_callback_records_statistics_update_ratios_and_movement():
    model, (x, y) = _small_model(), _data(n=64)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", jit_compile=False)
    recorder = DiagnosticsCallback(x, y)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[recorder])
    assert recorder.epochs == [1, 2, 3]
    assert recorder.update_ratio.shape == recorder.moved.shape == recorder.grad_norm.shape == (3, 3)
    assert np.all(recorder.update_ratio > 0) and np.all(np.diff(recorder.moved, axis=0) >= -1e-7)


def test_progress_line_prints_one_updating_line(capsys):
    from utils.diagnostics import ProgressLine

    model, (x, y) = _small_model(), _data(n=32)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=False)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[ProgressLine(3)])
    out = capsys.readouterr().out
    assert out.count("\r") == 2 and out.endswith("\n") and out.count("\n") == 1
    assert "epoch   3/3" in out and "loss=" in out

"""utils.layers: the RReLU Keras layer (both modes, its random slopes, saving, loading), activation layers by name."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from utils import activations as A  # noqa: E402
from utils import layers as L  # noqa: E402
from utils.course import output_dir  # noqa: E402
from utils.data import load_digits_splits  # noqa: E402
from utils.models import activation_layer, build_mlp  # noqa: E402

MEAN_SLOPE = (A.RRELU_LOWER + A.RRELU_UPPER) / 2


def negative_slopes(layer, n=200_000, training=True):
    x = -np.ones((n // 100, 100), np.float32)
    return -keras.ops.convert_to_numpy(layer(x, training=training)).ravel()


# ------------------------------------------------------------------------------------------------------------
# RReLU: inference and training modes
# ------------------------------------------------------------------------------------------------------------


def test_rrelu_inference_uses_the_mean_slope():
    z = np.linspace(-5, 5, 101, dtype=np.float32).reshape(1, -1)
    layer = L.RReLU()
    out = keras.ops.convert_to_numpy(layer(z))  # training defaults to False
    np.testing.assert_allclose(out, np.where(z >= 0, z, MEAN_SLOPE * z), rtol=1e-6)
    np.testing.assert_array_equal(out, keras.ops.convert_to_numpy(layer(z, training=False)))
    assert layer.mean_slope == pytest.approx(MEAN_SLOPE)
    np.testing.assert_allclose(out, A.rrelu(z), rtol=1e-6)  # the numpy function agrees


def test_rrelu_inference_in_a_model_is_deterministic():
    model = keras.Sequential([keras.Input((20,)), L.RReLU()])
    x = np.random.default_rng(0).standard_normal((50, 20)).astype(np.float32)
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, A.rrelu(x), rtol=1e-6)


def test_rrelu_training_slopes_are_uniform_per_element():
    slopes = negative_slopes(L.RReLU(seed=0))
    lower, upper = A.RRELU_LOWER, A.RRELU_UPPER
    assert lower <= slopes.min() and slopes.max() <= upper
    assert slopes.mean() == pytest.approx((lower + upper) / 2, abs=1e-3)
    assert slopes.std() == pytest.approx((upper - lower) / np.sqrt(12), rel=0.02)  # a uniform's std
    counts, _ = np.histogram(slopes, bins=10, range=(lower, upper))
    assert counts.min() > 0.9 * counts.mean()  # flat: every tenth of the range gets about 10%
    assert len(np.unique(slopes)) > 0.9 * slopes.size  # one draw per element, not one per batch or unit


def test_rrelu_training_keeps_positive_inputs_and_redraws_each_call():
    layer = L.RReLU(seed=1)
    x = np.abs(np.random.default_rng(0).standard_normal((10, 10))).astype(np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), x)
    assert not np.array_equal(negative_slopes(layer, 1000), negative_slopes(layer, 1000))


def test_rrelu_seed_reproduces_the_slopes():
    np.testing.assert_array_equal(negative_slopes(L.RReLU(seed=7), 1000), negative_slopes(L.RReLU(seed=7), 1000))


def test_rrelu_custom_range_and_validation():
    slopes = negative_slopes(L.RReLU(0.01, 0.02, seed=0), 10_000)
    assert 0.01 <= slopes.min() and slopes.max() <= 0.02
    np.testing.assert_allclose(negative_slopes(L.RReLU(0.01, 0.02), 100, training=False), 0.015, rtol=1e-6)
    with pytest.raises(ValueError):
        L.RReLU(0.5, 0.1)
    with pytest.raises(ValueError):
        L.RReLU(-0.1, 0.1)


def test_rrelu_gradient():
    z = tf.constant([[-2.0, -0.5, 0.5, 2.0]])
    layer = L.RReLU()
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = layer(z, training=False)
    np.testing.assert_allclose(tape.gradient(y, z).numpy(), [[MEAN_SLOPE, MEAN_SLOPE, 1, 1]], rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = layer(z, training=True)
    grad = tape.gradient(y, z).numpy()[0]
    np.testing.assert_allclose(grad[:2], (y.numpy()[0] / z.numpy()[0])[:2], rtol=1e-6)  # the drawn slope
    np.testing.assert_array_equal(grad[2:], [1, 1])


# ------------------------------------------------------------------------------------------------------------
# RReLU: configuration, saving and loading
# ------------------------------------------------------------------------------------------------------------


def test_rrelu_config_round_trip():
    layer = L.RReLU(0.05, 0.25, seed=3, name="rr")
    config = layer.get_config()
    assert {"lower": 0.05, "upper": 0.25, "seed": 3}.items() <= config.items()
    clone = L.RReLU.from_config(config)
    assert (clone.lower, clone.upper, clone.seed, clone.name) == (0.05, 0.25, 3, "rr")
    assert keras.saving.get_registered_name(L.RReLU) == "course>RReLU"


def test_rrelu_model_saves_and_loads_in_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16), L.RReLU(0.1, 0.3, seed=5), keras.layers.Dense(3)]
    )
    x = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    path = tmp_path / "rrelu_model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    layer = loaded.layers[1]
    assert isinstance(layer, L.RReLU) and (layer.lower, layer.upper, layer.seed) == (0.1, 0.3, 5)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_rrelu_model_saves_under_the_course_output_dir():
    """Where a notebook saves it: utils.course.output_dir (git-ignored)."""
    model = build_mlp(2, 8, "rrelu")
    path = output_dir("tests", "ch03") / "rrelu_mlp.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert sum(isinstance(layer, L.RReLU) for layer in loaded.layers) == 2
    x = np.ones((4, 64), np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    path.unlink()


def test_rrelu_trains_in_a_model():
    keras.utils.set_random_seed(0)
    splits = load_digits_splits()
    model = build_mlp(2, 32, "rrelu")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", jit_compile=False)
    history = model.fit(splits.X_train, splits.y_train, epochs=3, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


# ------------------------------------------------------------------------------------------------------------
# Keras layers by name
# ------------------------------------------------------------------------------------------------------------


def test_activation_layer_by_name():
    assert isinstance(activation_layer("rrelu"), L.RReLU)
    leaky = activation_layer("leaky_relu")
    assert isinstance(leaky, keras.layers.LeakyReLU) and leaky.negative_slope == pytest.approx(A.LEAKY_SLOPE)
    prelu = activation_layer("prelu")
    prelu.build((None, 5))
    np.testing.assert_allclose(prelu.get_weights()[0], L.PRELU_INITIAL_SLOPE)
    assert activation_layer("selu", name="s").name == "s"


def test_diagnostics_group_activation_layers_with_their_dense():
    from utils.diagnostics import keras_layer_stats

    model = build_mlp(3, 8, "prelu", bias_initializer=-50.0)
    stats = keras_layer_stats(model, np.zeros((5, 64), np.float32), np.zeros(5, int))
    assert stats.names == ["dense_1", "dense_2", "dense_3", "output"]
    assert stats.activation[:3] == ["prelu"] * 3
    dead_relu = build_mlp(3, 8, "relu", bias_initializer=-50.0, activation_layers=True)
    assert keras_layer_stats(dead_relu, np.zeros((5, 64), np.float32), np.zeros(5, int)).frac_dead[0] == 1.0

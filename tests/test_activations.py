"""utils.activations against trusted references: Keras' activations, TensorFlow autodiff, finite differences.

Also the chapter 03 compute function behind the explorer (``compute_signal_through_depth``), its dropout
against Keras' ``Dropout`` and ``AlphaDropout``, and the explorer built on it.
"""

from __future__ import annotations

import inspect

import matplotlib
import numpy as np
import pytest

from utils import activations as A

matplotlib.use("Agg")

keras = pytest.importorskip("keras")

Z = np.concatenate([np.linspace(-6, 6, 241), [-30.0, -1e-4, 1e-4, 30.0]]).astype(np.float32)
Z_SMOOTH = Z[np.abs(Z) > 1e-2].astype(np.float64)  # away from the kinks at 0, for finite differences


def keras_values(function, z=Z, **kwargs):
    return np.asarray(keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(z), **kwargs)))


# Every numpy function with a Keras twin: (ours, Keras', keyword arguments for both).
KERAS_TWINS = {
    "sigmoid": (A.sigmoid, keras.activations.sigmoid, {}),
    "tanh": (A.tanh, keras.activations.tanh, {}),
    "relu": (A.relu, keras.activations.relu, {}),
    "leaky_relu": (A.leaky_relu, keras.activations.leaky_relu, {}),
    "leaky_relu_0.3": (lambda z: A.leaky_relu(z, 0.3), lambda z: keras.activations.leaky_relu(z, 0.3), {}),
    "elu": (A.elu, keras.activations.elu, {}),
    "elu_0.5": (lambda z: A.elu(z, 0.5), lambda z: keras.activations.elu(z, alpha=0.5), {}),
    "selu": (A.selu, keras.activations.selu, {}),
    "gelu": (A.gelu, keras.activations.gelu, {}),
    "gelu_exact": (A.gelu, lambda z: keras.activations.gelu(z, approximate=False), {}),
    "silu": (A.silu, keras.activations.silu, {}),
    "swish": (A.swish, keras.activations.swish, {}),
    "linear": (A.linear, keras.activations.linear, {}),
}


@pytest.mark.parametrize("name", KERAS_TWINS)
def test_function_matches_keras(name):
    ours, theirs, kwargs = KERAS_TWINS[name]
    np.testing.assert_allclose(ours(Z, **kwargs), keras_values(theirs, **kwargs), rtol=1e-5, atol=1e-6)


def test_every_registered_activation_has_a_keras_twin_checked():
    assert set(A.ACTIVATIONS) <= set(KERAS_TWINS)
    for name in A.ACTIVATIONS:
        assert keras.activations.get(name) is not None  # the names are Keras' names


def test_leaky_relu_default_slopes():
    """The function's default slope is 0.2 (keras.activations.leaky_relu's); the LeakyReLU *layer*'s: 0.3."""
    assert inspect.signature(keras.activations.leaky_relu).parameters["negative_slope"].default == A.LEAKY_SLOPE
    assert keras.layers.LeakyReLU().negative_slope == pytest.approx(0.3)
    layer_out = keras.ops.convert_to_numpy(keras.layers.LeakyReLU()(Z))
    np.testing.assert_allclose(layer_out, A.leaky_relu(Z, 0.3), rtol=1e-6)
    assert not np.allclose(layer_out, A.leaky_relu(Z))


def test_selu_constants_are_keras_constants():
    lam = float(keras_values(keras.activations.selu, np.array([1.0]))[0])
    saturation = float(keras_values(keras.activations.selu, np.array([-60.0]))[0])
    assert lam == pytest.approx(A.SELU_LAMBDA, rel=1e-6)
    assert -saturation / lam == pytest.approx(A.SELU_ALPHA, rel=1e-6)
    assert A.SELU_ALPHA == pytest.approx(1.6733, abs=1e-4) and A.SELU_LAMBDA == pytest.approx(1.0507, abs=1e-4)


def test_formulas_as_taught():
    """ReLU(z) = max(0, z), LeakyReLU(z) = max(αz, z), SELU = λ·(α(exp(z)−1) if z < 0 else z)."""
    z = Z.astype(np.float64)
    np.testing.assert_allclose(A.relu(z), np.maximum(0, z))
    np.testing.assert_allclose(A.leaky_relu(z, 0.1), np.maximum(0.1 * z, z))
    expected = A.SELU_LAMBDA * np.where(z < 0, A.SELU_ALPHA * (np.exp(z) - 1), z)
    np.testing.assert_allclose(A.selu(z), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A.gelu(z), z * 0.5 * (1 + np.vectorize(__import__("math").erf)(z / np.sqrt(2))))


# name -> (f, f') for every derivative in the module, parametrized variants included.
DERIVATIVES = {
    **A.ACTIVATIONS,
    "leaky_relu_0.3": A.with_parameter("leaky_relu", 0.3),
    "elu_0.5": A.with_parameter("elu", 0.5),
    "selu_alpha_1": A.with_parameter("selu", 1.0),
    "swish": (A.swish, A.swish_grad),
    "rrelu (inference)": (A.rrelu, A.rrelu_grad),
}


@pytest.mark.parametrize("name", DERIVATIVES)
def test_derivative_matches_finite_differences(name):
    f, df = DERIVATIVES[name]
    h = 1e-6
    numeric = (f(Z_SMOOTH + h) - f(Z_SMOOTH - h)) / (2 * h)
    np.testing.assert_allclose(df(Z_SMOOTH), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "selu", "gelu", "silu", "sigmoid", "tanh"])
def test_derivative_matches_tensorflow_autodiff(name):
    import tensorflow as tf

    z = tf.constant(Z_SMOOTH)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = keras.activations.get(name)(z)
    np.testing.assert_allclose(A.ACTIVATIONS[name][1](Z_SMOOTH), tape.gradient(y, z).numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["gelu", "silu", "rrelu"])
def test_float32_stays_float32(name):
    f, df = A.with_parameter(name)
    assert f(Z).dtype == np.float32 and df(Z).dtype == np.float32


def test_rrelu_of_the_paper_has_the_same_range_and_another_mean():
    divisors = np.random.default_rng(0).uniform(*A.RRELU_PAPER_DIVISORS, 200_000)
    slopes = 1 / divisors  # Xu et al. (2015): y = z / a
    assert A.RRELU_LOWER <= slopes.min() and slopes.max() <= A.RRELU_UPPER
    assert slopes.mean() == pytest.approx(np.log(8 / 3) / 5, abs=1e-3)  # E[1/a], a ~ U(3, 8)
    assert 1 / np.mean(A.RRELU_PAPER_DIVISORS) == pytest.approx(1 / 5.5)  # the paper's test-time slope


def test_rrelu_slopes_in_training_and_inference():
    z = -np.ones(100_000, np.float32)
    slopes = -A.rrelu(z, rng=np.random.default_rng(0))
    assert A.RRELU_LOWER <= slopes.min() and slopes.max() <= A.RRELU_UPPER
    assert slopes.mean() == pytest.approx((A.RRELU_LOWER + A.RRELU_UPPER) / 2, abs=2e-3)
    np.testing.assert_allclose(-A.rrelu(z), (A.RRELU_LOWER + A.RRELU_UPPER) / 2)
    np.testing.assert_array_equal(A.rrelu(np.abs(Z), rng=np.random.default_rng(0)), np.abs(Z))


def test_with_parameter():
    np.testing.assert_allclose(A.with_parameter("leaky_relu", 0.05)[0](Z), A.leaky_relu(Z, 0.05))
    np.testing.assert_allclose(A.with_parameter("elu", 2.0)[0](Z), A.elu(Z, 2.0))
    np.testing.assert_allclose(A.with_parameter("selu", A.SELU_ALPHA)[0](Z), A.selu(Z), rtol=1e-6)
    assert A.with_parameter("relu", 5.0) == A.ACTIVATIONS["relu"]  # parameter-free: ignored
    with pytest.raises(ValueError, match="unknown activation"):
        A.with_parameter("nope")


def test_selu_self_normalizes_with_lecun_init():
    for seed in range(3):
        signal = A.compute_signal_through_depth("selu", 100, 100, n=256, seed=seed)
        assert np.max(np.abs(signal.mean)) < 0.15
        assert 0.85 < signal.std.min() and signal.std.max() < 1.2
        assert signal.diverged_at is None and np.all(signal.dead == 0)


def test_what_breaks_self_normalization():
    he = A.compute_signal_through_depth("selu", 100, init="he")
    assert he.std[-1] > 10
    skip = A.compute_signal_through_depth("selu", 100, skip=True)
    assert skip.diverged_at is not None and np.isnan(skip.std[skip.diverged_at - 1 :]).all()
    dropout = A.compute_signal_through_depth("selu", 100, dropout=0.1)
    alpha = A.compute_signal_through_depth("selu", 100, dropout=0.1, alpha_dropout=True)
    assert dropout.std[50:].mean() > 1.15 and abs(alpha.std[50:].mean() - 1) < 0.05
    shifted = A.compute_signal_through_depth("selu", 100, input_scale=5)
    assert shifted.std[0] > 3 and abs(shifted.std[-1] - 1) < 0.1  # far off at first, pulled back deeper


def test_relu_with_lecun_vanishes_and_counts_dead_units():
    signal = A.compute_signal_through_depth("relu", 50)
    assert signal.std[-1] < 1e-3 * signal.std[0]
    assert np.nanmax(signal.dead) > 0


def test_signal_is_pure_and_reproducible():
    X = np.random.default_rng(0).standard_normal((32, 10)).astype(np.float32)
    before = X.copy()
    a = A.compute_signal_through_depth("elu", 20, 16, X=X, dropout=0.2, seed=3)
    b = A.compute_signal_through_depth("elu", 20, 16, X=X, dropout=0.2, seed=3)
    np.testing.assert_array_equal(X, before)
    for field in ("mean", "std", "unit_std", "dead", "grad_std", "f", "df"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = A.compute_signal_through_depth("elu", 20, 16, X=X, dropout=0.2, seed=4)
    assert not np.array_equal(a.std, c.std)


@pytest.mark.parametrize(
    "kwargs",
    [{"depth": 0}, {"depth": 10_000}, {"width": 0}, {"width": 1000}, {"dropout": 1.0}, {"X": np.ones(5)}],
)
def test_signal_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        A.compute_signal_through_depth("selu", **{"depth": 5, **kwargs})


def test_gradient_matches_tensorflow():
    """The backward pass of the stack (no dropout) is the gradient of sum(g * h_top) for the same random g."""
    import tensorflow as tf

    depth, width, seed = 6, 12, 1
    signal = A.compute_signal_through_depth("elu", depth, width, n=16, seed=seed)
    X = tf.constant(A._signal_inputs(16, seed))
    units = A._signal_weights(seed)
    zs, h = [], X
    with tf.GradientTape() as tape:
        for i in range(depth):
            W = np.float32(np.sqrt(1 / h.shape[1])) * units[i, : h.shape[1], :width]
            z = h @ tf.constant(W)
            tape.watch(z)
            zs.append(z)
            h = tf.nn.elu(z)
        g = np.random.default_rng(seed).standard_normal(h.shape).astype(np.float32)
        loss = tf.reduce_sum(g * h)
    grads = tape.gradient(loss, zs)
    np.testing.assert_allclose(signal.grad_std, [np.std(gz.numpy()) for gz in grads], rtol=1e-4)


@pytest.mark.parametrize("alpha", [False, True])
def test_dropout_matches_keras(alpha):
    """Same mask (read back from Keras' output), same output: Dropout and AlphaDropout in training mode."""
    rate = 0.2
    x = A.selu(np.random.default_rng(0).standard_normal((64, 50)).astype(np.float32))
    layer = keras.layers.AlphaDropout(rate, seed=1) if alpha else keras.layers.Dropout(rate, seed=1)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    if alpha:
        saturation = -A.SELU_LAMBDA * A.SELU_ALPHA  # a dropped unit becomes a * saturation + b, the same for all
        a = ((1 - rate) * (1 + rate * saturation**2)) ** -0.5
        kept = ~np.isclose(y, a * saturation - a * saturation * rate, atol=1e-6)
    else:
        kept = y != 0
    ours, gain = A._dropout(x, rate, alpha, np.where(kept, 1.0, 0.0).astype(np.float32))
    np.testing.assert_allclose(ours, y, rtol=1e-5, atol=1e-6)
    assert np.all(gain[~kept] == 0)


# ------------------------------------------------------------------------------------------------------------
# The explorer (compute -> plot -> widget)
# ------------------------------------------------------------------------------------------------------------


def test_plot_signal_through_depth_draws_every_case():
    import matplotlib.pyplot as plt

    from utils.plots import plot_depth_cases, plot_signal_through_depth

    cases = {
        "selu": A.compute_signal_through_depth("selu", 30),
        "relu": A.compute_signal_through_depth("relu", 30),
        "skip": A.compute_signal_through_depth("selu", 60, skip=True),
    }
    for signal in cases.values():
        axes = plot_signal_through_depth(signal, title="t")
        assert len(axes) == 3
    ax = plot_depth_cases(cases, styles={"skip": {"color": "k"}})
    assert len(ax.get_lines()) >= 3
    plt.close("all")


def test_explorer_controls_drive_the_compute(monkeypatch):
    import matplotlib.pyplot as plt

    from utils import widgets

    calls = []
    original = A.compute_signal_through_depth
    monkeypatch.setattr(A, "compute_signal_through_depth", lambda *a, **k: calls.append((a, k)) or original(*a, **k))
    monkeypatch.setattr(plt, "show", lambda: None)
    box = widgets.explore_activations()
    controls = box.controls
    assert set(controls) == {"activation", "param", "init", "depth", "inputs"}
    assert controls["param"].value == pytest.approx(A.SELU_ALPHA, abs=0.01)
    controls["activation"].value = "relu"
    assert controls["param"].disabled
    controls["activation"].value = "leaky_relu"
    assert not controls["param"].disabled and controls["param"].value == pytest.approx(A.LEAKY_SLOPE)
    controls["depth"].value = controls["depth"].min
    controls["inputs"].value = "shifted + 2"
    assert calls and calls[-1][1]["input_shift"] == 2.0 and calls[-1][0][1] == controls["depth"].min
    plt.close("all")


def test_signal_title_mentions_divergence():
    from utils.widgets import signal_title

    assert "explodes" in signal_title(A.compute_signal_through_depth("selu", 60, skip=True))
    assert "std" in signal_title(A.compute_signal_through_depth("selu", 10))

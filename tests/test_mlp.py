"""utils.mlp, the course's one numpy network, against TensorFlow and Keras: loss, every gradient (PReLU's slopes
included), RReLU's training mode, Adam, and the trainer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils import activations as A
from utils import layers as L
from utils import mlp
from utils import mlp as M  # the trainer's tests, moved from test_layers.py
from utils.data import load_digits_splits


def _tf_loss(weights, biases, activation, X, y):
    h = tf.constant(X)
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = h @ W + b
        h = z if i == len(weights) - 1 else _tf_activation(activation, z)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))


def _tf_activation(name, z):
    return {
        "sigmoid": tf.sigmoid,
        "tanh": tf.tanh,
        "relu": tf.nn.relu,
        "leaky_relu": lambda t: tf.where(t > 0, t, 0.2 * t),  # tf.nn.leaky_relu rounds alpha to float32
        "elu": tf.nn.elu,
        "selu": tf.nn.selu,
        "linear": tf.identity,
    }[name](z)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "linear"])
def test_gradients_match_tensorflow(activation):
    rng = np.random.default_rng(1)
    net = mlp.init_mlp([6, 5, 4, 3], activation, gain=1.3, seed=2)
    net.weights = [w.astype(np.float64) for w in net.weights]
    net.biases = [rng.normal(0, 0.1, b.shape) for b in net.biases]
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, 8)
    loss, dWs, dbs, _ = mlp.backward(net, X, y)
    variables = [tf.Variable(a) for a in net.weights + net.biases]
    with tf.GradientTape() as tape:
        tf_loss = _tf_loss(variables[:3], variables[3:], activation, X, y)
    grads = tape.gradient(tf_loss, variables)
    assert loss == pytest.approx(float(tf_loss), rel=1e-10)
    for mine, theirs in zip(dWs + dbs, grads, strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-8, atol=1e-12)


def test_output_gradients_are_the_chain_rule_inputs():
    net = mlp.init_mlp([4, 3, 2], "tanh", seed=0)
    X, y = np.ones((5, 4), np.float32), np.array([0, 1, 0, 1, 1])
    _, dWs, _, dhs = mlp.backward(net, X, y)
    _, hs = mlp.forward(net, X)
    np.testing.assert_allclose(dWs[-1], hs[-2].T @ dhs[-1], rtol=1e-6)


@pytest.mark.parametrize(("mode", "fan"), [("fan_in", 30), ("fan_out", 20), ("fan_avg", 25)])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_init_std_is_gain_over_sqrt_fan(mode, fan, distribution):
    net = mlp.init_mlp([30, 20, 2], "relu", gain=2.0, mode=mode, distribution=distribution, seed=0)
    sampled = np.concatenate(
        [
            mlp.init_mlp([30, 20, 2], gain=2.0, mode=mode, distribution=distribution, seed=s).weights[0].ravel()
            for s in range(50)
        ]
    )
    assert net.weights[0].dtype == np.float32
    assert np.std(sampled) == pytest.approx(2.0 / np.sqrt(fan), rel=0.02)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="choose one of"):
        mlp.init_mlp([3, 2], "softplusish")
    with pytest.raises(ValueError, match="mode must be"):
        mlp.init_mlp([3, 2], mode="fan_sum")
    with pytest.raises(ValueError, match="sizes"):
        mlp.init_mlp([3])
    with pytest.raises(ValueError, match="depth >= 1"):
        mlp.compute_gradient_flow(depth=0)
    with pytest.raises(ValueError, match="depth <="):
        mlp.compute_gradient_flow(depth=mlp.MAX_EXPLORER_DEPTH + 1)


def test_compute_gradient_flow_is_pure_and_shaped():
    a = mlp.compute_gradient_flow(depth=6, width=16, activation="tanh", scale=1.0)
    b = mlp.compute_gradient_flow(depth=6, width=16, activation="tanh", scale=1.0)
    assert len(a) == 7 and a.names[-1] == "output"
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    bigger = mlp.compute_gradient_flow(depth=6, width=16, activation="tanh", scale=3.0)
    assert bigger.act_std[-2] > a.act_std[-2]


def test_sigmoid_gradients_vanish_and_big_tanh_explodes():
    assert mlp.compute_gradient_flow(depth=20, activation="sigmoid").vanishing_ratio() < 1e-9
    assert mlp.compute_gradient_flow(depth=30, activation="tanh", scale=4.0).vanishing_ratio() > 1e3
    assert 0.1 < mlp.compute_gradient_flow(depth=30, activation="tanh", scale=1.0).vanishing_ratio() < 10


# ------------------------------------------------------------------------------------------------------------
# The trainer's network (PReLU, RReLU) against Keras and TensorFlow; Adam against Keras'
# ------------------------------------------------------------------------------------------------------------


def _keras_twin(net: M.MLP):
    """Return a Keras model with the same weights as ``net`` (RReLU in inference mode)."""
    model = L.build_activation_mlp(
        net.depth, net.weights[0].shape[1], net.activation, n_classes=net.weights[-1].shape[1]
    )
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for layer, W, b in zip(dense, net.weights, net.biases, strict=True):
        layer.set_weights([W, b])
    prelus = [layer for layer in model.layers if isinstance(layer, keras.layers.PReLU)]
    for layer, slope in zip(prelus, net.slopes, strict=True):
        layer.set_weights([slope])
    return model, dense, prelus


@pytest.mark.parametrize("name", sorted(M.RECOMMENDED_INIT))
def test_numpy_gradients_match_tensorflow(name):
    net = M.init_numpy_net([64, 16, 16, 16, 10], name, bias=0.1, seed=0)
    if net.slopes:
        net.slopes = [
            s + np.random.default_rng(i).normal(0, 0.1, s.shape).astype(np.float32) for i, s in enumerate(net.slopes)
        ]
    rng = np.random.default_rng(1)
    X = rng.standard_normal((32, 64)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    loss, grads = M.net_gradients(net, X, y)  # rng=None: RReLU in inference mode, as Keras' training=False
    model, dense, prelus = _keras_twin(net)
    variables = [layer.kernel for layer in dense] + [layer.bias for layer in dense] + [layer.alpha for layer in prelus]
    with tf.GradientTape() as tape:
        keras_loss = keras.losses.sparse_categorical_crossentropy(y, model(X, training=False))
        keras_loss = tf.reduce_mean(keras_loss)
    expected = tape.gradient(keras_loss, variables)
    assert loss == pytest.approx(float(keras_loss), rel=1e-5)
    assert len(grads) == len(expected)
    for ours, theirs in zip(grads, expected, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=2e-3, atol=2e-6)


def test_numpy_rrelu_training_draws_fresh_slopes():
    net = M.init_numpy_net([64, 32, 10], "rrelu", seed=0)
    X = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    zs, hs, local = M.net_forward(net, X, rng=np.random.default_rng(1))
    negative = zs[0] < 0
    slopes = hs[1][negative] / zs[0][negative]
    assert A.RRELU_LOWER <= slopes.min() and slopes.max() <= A.RRELU_UPPER and slopes.std() > 0.03
    np.testing.assert_allclose(local[0][negative], slopes, rtol=1e-5)


def test_adam_matches_keras():
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(5)]
    ours = start.copy()
    adam = M.Adam([ours], learning_rate=0.01)
    variable = keras.Variable(start)
    keras_adam = keras.optimizers.Adam(learning_rate=0.01)
    for g in grads:
        adam.step([ours], [g])
        keras_adam.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    np.testing.assert_allclose(ours, variable.numpy(), rtol=1e-5, atol=1e-6)


def test_training_is_deterministic_and_learns():
    splits = load_digits_splits()
    a = M.train_numpy_net(splits, "elu", depth=3, width=32, epochs=3, seed=0)
    b = M.train_numpy_net(splits, "elu", depth=3, width=32, epochs=3, seed=0)
    np.testing.assert_array_equal(a.val_accuracy, b.val_accuracy)
    assert a.val_accuracy[-1] > 0.8 and a.loss[-1] < a.loss[0]
    assert a.seconds > 0


def test_prelu_slopes_are_learned():
    run = M.train_numpy_net(load_digits_splits(), "prelu", depth=3, width=32, epochs=2, learning_rate=1e-2, seed=0)
    slopes = np.concatenate(run.net.slopes)
    assert np.abs(slopes - M.PRELU_INITIAL_SLOPE).max() > 0.01


def test_dead_and_silent_fractions():
    X = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
    relu = M.init_numpy_net([64, 16, 16, 10], "relu", bias=-100.0)
    leaky = M.init_numpy_net([64, 16, 16, 10], "leaky_relu", bias=-100.0)
    np.testing.assert_array_equal(M.dead_fractions(relu, X), [1.0, 1.0])
    np.testing.assert_array_equal(M.silent_fractions(relu, X), [1.0, 1.0])
    np.testing.assert_array_equal(M.dead_fractions(leaky, X), [0.0, 0.0])  # never exactly 0 ...
    assert M.silent_fractions(leaky, X)[0] == 1.0  # ... but silent: z < 0 for every example
    healthy = M.init_numpy_net([64, 16, 16, 10], "relu")
    assert M.dead_fractions(healthy, X).max() < 0.2


def test_comparison_summaries():
    splits = load_digits_splits()
    comparison = M.compare_activations(splits, ["relu", "tanh"], seeds=(0, 1), depth=2, width=16, epochs=1)
    assert comparison.names == ["relu", "tanh"] and len(comparison.runs) == 4
    assert comparison.accuracy("relu").shape == (2,)
    table = comparison.table()
    assert table.splitlines()[0].startswith("activation") and "relu" in table and "±" in table
    assert "× relu" in comparison.time_table()


def test_plots_of_the_comparison_and_slopes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.plots import plot_activation_comparison, plot_slopes_per_layer

    splits = load_digits_splits()
    comparison = M.compare_activations(splits, ["prelu", "selu"], seeds=(0, 1), depth=2, width=8, epochs=1)
    axes = plot_activation_comparison(comparison)
    assert [t.get_text() for t in axes[0].get_yticklabels()] == sorted(
        comparison.names, key=lambda n: comparison.accuracy(n).mean()
    )
    prelu = comparison.runs[0].net
    plot_slopes_per_layer(prelu.slopes, initial=M.PRELU_INITIAL_SLOPE)
    plt.close("all")

"""The numpy MLP against TensorFlow: forward pass, loss and every gradient."""

import numpy as np
import pytest
import tensorflow as tf

from utils import mlp


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

"""The one numpy engine (utils.nets): gradients against TensorFlow's, a training run against Keras'."""

import numpy as np
import pytest

from utils import nets

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "prelu", "rrelu"]


def _tf_activation(name, tf, slope=None):
    from utils import activations

    if name == "prelu":
        return lambda z: tf.where(z >= 0, z, slope * z)
    if name == "rrelu":  # inference mode: the mean slope
        mean = (activations.RRELU_LOWER + activations.RRELU_UPPER) / 2
        return lambda z: tf.where(z >= 0, z, mean * z)
    if name == "leaky_relu":
        return lambda z: tf.nn.leaky_relu(z, activations.LEAKY_SLOPE)
    if name == "gelu":
        return lambda z: tf.nn.gelu(z, approximate=False)
    return {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "relu": tf.nn.relu, "elu": tf.nn.elu, "selu": tf.nn.selu}.get(
        name, tf.nn.silu
    )


@pytest.mark.parametrize("stacked", [None, 3], ids=["one", "stacked"])
@pytest.mark.parametrize("activation", ACTS)
def test_gradients_match_tensorflow(course_setup, activation, stacked):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    net = nets.init_net([6, 5, 4, 3], activation, n_models=stacked, seed=1)
    for i in net.slopes:
        net.slopes[i] = net.slopes[i] + rng.uniform(-0.1, 0.1, net.slopes[i].shape)
    net.biases = [b + 0.1 * rng.standard_normal(b.shape) for b in net.biases]
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    loss, grads = nets.gradients(net, X, y)
    variables = [tf.Variable(p) for p in net.parameters()]
    n_layers = len(net.weights)
    with tf.GradientTape() as tape:
        h = tf.constant(X)
        slopes = dict(zip(sorted(net.slopes), variables[2 * n_layers :], strict=True))
        for i in range(n_layers):
            z = h @ variables[i] + variables[n_layers + i]
            h = z if i == n_layers - 1 else _tf_activation(activation, tf, slopes.get(i))(z)
        labels = np.broadcast_to(y, h.shape[:-1])
        per_net = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, h), axis=-1)
        total = tf.reduce_sum(per_net)
    np.testing.assert_allclose(loss, per_net.numpy(), rtol=1e-6)
    for mine, theirs in zip(grads, tape.gradient(total, variables), strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-6, atol=1e-9)


def test_input_gradient_and_mse(course_setup):
    import tensorflow as tf

    rng = np.random.default_rng(2)
    net = nets.init_net([4, 6, 4], ["relu", "linear"], n_models=2, seed=3)
    X = rng.standard_normal((5, 4))
    trace = nets.forward(net, X)
    loss, d_out = nets.mse(trace.output, X)
    grads = nets.backward(net, trace, d_out, input_gradient=True)
    x = tf.Variable(X)
    with tf.GradientTape() as tape:
        h = tf.nn.relu(x @ net.weights[0] + net.biases[0]) @ net.weights[1] + net.biases[1]
        total = tf.reduce_sum(tf.reduce_mean((h - X) ** 2, axis=(-2, -1)))
    np.testing.assert_allclose(loss, tf.reduce_mean((h - X) ** 2, axis=(-2, -1)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(grads.input.sum(axis=0), tape.gradient(total, x).numpy(), rtol=1e-8, atol=1e-12)


def test_stacked_networks_equal_single_ones():
    rng = np.random.default_rng(4)
    stacked = nets.init_net([5, 7, 3], "relu", n_models=3, seed=5)
    X, y = rng.standard_normal((12, 5)), rng.integers(0, 3, 12)
    nets.fit(stacked.copy(), X, y, epochs=1)  # a copy: the originals stay for the comparison
    for m in range(3):
        single = nets.MLP([w[m] for w in stacked.weights], [b[m, 0] for b in stacked.biases], stacked.activations)
        copy = stacked.copy()
        nets.fit(copy, X, y, epochs=2, batch_size=4, optimizer="sgd", learning_rate=0.1, momentum=0.9)
        nets.fit(single, X, y, epochs=2, batch_size=4, optimizer="sgd", learning_rate=0.1, momentum=0.9)
        np.testing.assert_allclose(copy.weights[0][m], single.weights[0], rtol=1e-12)
        assert nets.accuracy(copy, X, y)[m] == nets.accuracy(single, X, y)


def test_cached_frozen_layers_train_the_same_and_count_the_saving():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    base = nets.init_net([5, 8, 8, 3], "relu", n_models=2, seed=7)
    results = {}
    for cache in (True, False):
        net = base.copy()
        net.n_frozen = 2
        nets.fit(net, X, y, epochs=3, batch_size=5, optimizer="sgd", learning_rate=0.05, momentum=0.9, cache=cache)
        results[cache] = net
        np.testing.assert_array_equal(net.weights[0], base.weights[0])  # frozen: unchanged
    np.testing.assert_allclose(results[True].weights[2], results[False].weights[2], rtol=1e-12)
    per_pass = 2 * 20 * (5 * 8 + 8 * 8)  # M networks x rows x the frozen layers' multiply-adds
    assert results[True].frozen_multiply_adds == per_pass
    assert results[False].frozen_multiply_adds == 3 * per_pass


def test_a_training_run_matches_keras(course_setup):
    keras = course_setup
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((64, 6)).astype(np.float32), rng.integers(0, 3, 64)
    net = nets.init_net([6, 16, 3], "relu", seed=9, dtype=np.float32)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, "relu"), keras.layers.Dense(3)])
    model.set_weights([w for pair in zip(net.weights, net.biases, strict=True) for w in pair])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-2), loss, jit_compile=False)
    model.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    nets.fit(net, X, y, epochs=3, batch_size=16, learning_rate=1e-2)
    for mine, theirs in zip(net.parameters()[:2], model.get_weights()[::2], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4)


def test_init_net_reads_the_table_and_checks_its_input():
    net = nets.init_net([400, 300, 10], ["relu", "linear"], n_models=2, seed=0)
    assert net.weights[0].shape == (2, 400, 300) and net.biases[0].shape == (2, 1, 300)
    assert abs(net.weights[0].std() - np.sqrt(2 / 400)) < 0.01 * np.sqrt(2 / 400)  # He before ReLU
    assert abs(net.weights[1].std() - np.sqrt(2 / 310)) < 0.03 * np.sqrt(2 / 310)  # Glorot at the output
    uniform = nets.init_net([400, 300], ["tanh"], distribution="uniform", seed=0)
    assert np.abs(uniform.weights[0]).max() <= np.sqrt(6 / 700)
    with pytest.raises(ValueError, match="choose one of"):
        nets.init_net([3, 2, 2], "swish")
    with pytest.raises(ValueError, match="one per layer"):
        nets.init_net([3, 2, 2], ["relu"])

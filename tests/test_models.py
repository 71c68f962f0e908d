"""The shared Keras model builders."""

import keras
import numpy as np
import pytest

from utils.models import batches, build_mlp, compile_model, copy_model, fresh_initializer, restart, run_epochs


@pytest.mark.parametrize(
    "initializer", ["he_normal", keras.initializers.HeNormal, keras.initializers.VarianceScaling(2.0, "fan_in")]
)
def test_every_layer_gets_its_own_kernel(initializer):
    keras.utils.set_random_seed(0)
    model = build_mlp(3, 8, "relu", kernel_initializer=initializer, n_inputs=8)
    kernels = [layer.kernel.numpy() for layer in model.layers[:3]]
    assert not np.allclose(kernels[1], kernels[2])
    keras.utils.set_random_seed(0)
    again = build_mlp(3, 8, "relu", kernel_initializer=initializer, n_inputs=8)
    np.testing.assert_array_equal(kernels[2], again.layers[2].kernel.numpy())


def test_fresh_initializer_keeps_the_settings():
    fresh = fresh_initializer(keras.initializers.VarianceScaling(3.0, "fan_avg", "uniform", seed=1))
    config = fresh.get_config()
    assert (config["scale"], config["mode"], config["distribution"], config["seed"]) == (
        3.0,
        "fan_avg",
        "uniform",
        None,
    )


def test_batch_norm_blocks_and_bad_sizes():
    model = build_mlp(2, 4, "tanh", batch_norm=True)
    assert [type(layer).__name__ for layer in model.layers[:3]] == ["Dense", "BatchNormalization", "Activation"]
    with pytest.raises(ValueError, match="depth >= 1"):
        build_mlp(0, 4)


def test_placements_names_and_options():
    after = build_mlp(2, 4, "sigmoid", batch_norm="after")
    assert [layer.name for layer in after.layers] == ["dense_1", "bn_1", "dense_2", "bn_2", "output"]
    assert after.get_layer("dense_1").use_bias and after.get_layer("dense_1").activation.__name__ == "sigmoid"
    separate = build_mlp(2, 4, "prelu", bias_initializer=-3, logits=True, dtype="float64")
    assert [layer.name for layer in separate.layers] == ["dense_1", "prelu_1", "dense_2", "prelu_2", "output"]
    np.testing.assert_array_equal(separate.get_layer("dense_1").bias.numpy(), -3.0)
    np.testing.assert_allclose(separate.get_layer("prelu_1").alpha.numpy(), 0.25)
    assert separate.get_layer("output").activation.__name__ == "linear"
    assert {w.dtype for w in separate.weights} == {"float64"}
    assert build_mlp(1, 4, "leaky_relu").get_layer("leaky_relu_1").negative_slope == pytest.approx(0.2)
    assert type(build_mlp(1, 4, "rrelu").layers[1]).__name__ == "RReLU"
    with pytest.raises(ValueError, match="batch_norm must be"):
        build_mlp(2, 4, batch_norm="middle")
    with pytest.raises(ValueError, match="Keras activation name"):
        build_mlp(2, 4, "prelu", batch_norm="after")


def test_a_function_returning_initializers_draws_one_seed_per_layer():
    def he():
        return keras.initializers.HeNormal()

    keras.utils.set_random_seed(1)
    from_function = build_mlp(2, 4, kernel_initializer=he)
    keras.utils.set_random_seed(1)
    by_name = build_mlp(2, 4, kernel_initializer="he_normal")
    for a, b in zip(from_function.get_weights(), by_name.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_compile_model_and_copy_model():
    model = compile_model(build_mlp(1, 4), learning_rate=0.1, momentum=0.9, metrics=["accuracy"], clipnorm=1.0)
    config = model.optimizer.get_config()
    assert (type(model.optimizer).__name__, config["momentum"], config["clipnorm"]) == ("SGD", 0.9, 1.0)
    assert config["learning_rate"] == pytest.approx(0.1) and model.loss == "sparse_categorical_crossentropy"
    adam = compile_model(build_mlp(1, 4), "adam", learning_rate=1e-3, loss="mse")
    assert type(adam.optimizer).__name__ == "Adam" and adam.loss == "mse"
    with pytest.raises(ValueError, match="'sgd', 'adam'"):
        compile_model(build_mlp(1, 4), "rmsprop")
    copy = copy_model(model)
    for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    copy.layers[0].kernel.assign(np.zeros((64, 4), np.float32))
    assert np.any(model.layers[0].kernel.numpy() != 0)


def test_batching_rules():
    assert [len(b) for b in batches(10, 4)] == [4, 4]
    assert [len(b) for b in batches(10, 4, "split")] == [4, 3, 3]
    wrapped = batches(10, 4, "wrap", steps=4)
    assert [b.tolist() for b in wrapped] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [2, 3, 4, 5]]
    with pytest.raises(ValueError, match="unknown batching rule"):
        batches(10, 4, "round")


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 64)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)


def test_run_epochs_matches_a_plain_gradient_tape_loop():
    import tensorflow as tf

    X, y = _data()
    keras.utils.set_random_seed(0)
    model = compile_model(build_mlp(2, 8, batch_norm=True), learning_rate=0.1, momentum=0.9)
    reference = copy_model(model)
    optimizer, loss_fn = keras.optimizers.SGD(0.1, momentum=0.9), keras.losses.SparseCategoricalCrossentropy()
    record = run_epochs(model, X, y, epochs=2, batch_size=16, seed=5, rule="split", validation=X[:3])
    rng, norms = np.random.default_rng(5), []
    for _ in range(2):
        for part in batches(40, 16, "split", order=rng.permutation(40)):
            with tf.GradientTape() as tape:
                loss = loss_fn(y[part], reference(X[part], training=True))
            grads = tape.gradient(loss, reference.trainable_variables)
            norms.append(float(tf.linalg.global_norm(grads)))
            optimizer.apply_gradients(zip(grads, reference.trainable_variables, strict=True))
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(record.step_norm.ravel(), norms, rtol=1e-5)
    assert record.step_loss.shape == (2, 3) and record.loss.shape == record.grad_norm.shape == (2,)
    np.testing.assert_allclose(record.outputs[-1], model(X[:3], training=False), rtol=1e-5, atol=1e-6)


def test_run_epochs_stops_after_a_non_finite_epoch_and_takes_a_custom_step():
    X, y = _data()
    model = compile_model(build_mlp(1, 4), learning_rate=1e30)
    record = run_epochs(model, X * 1e10, y, epochs=3, batch_size=8)
    assert not np.isfinite(record.loss[0]) and np.all(np.isnan(record.loss[1:]))
    calls = []

    def step(x, y):
        calls.append(1)  # once per trace, not per step
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, fresh(x)))

    fresh = compile_model(build_mlp(1, 4))
    custom = run_epochs(fresh, X, y, epochs=2, batch_size=8, step=lambda x, y: step(x, y))
    assert np.all(np.isnan(custom.step_norm)) and np.all(np.isfinite(custom.step_loss)) and len(calls) == 1


def test_restart_zeroes_the_optimizer_state_and_keeps_the_learning_rate():
    X, y = _data()
    model = compile_model(build_mlp(1, 4), learning_rate=0.05, momentum=0.9)
    start = model.get_weights()
    run_epochs(model, X, y, epochs=1, batch_size=8)
    restart(model, start, model.optimizer)
    assert int(model.optimizer.iterations) == 0 and float(model.optimizer.learning_rate) == pytest.approx(0.05)
    for a, b in zip(model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(a, b)


def test_run_epochs_traces_again_after_freezing_or_compiling():
    X, y = _data()
    model = compile_model(build_mlp(2, 4), learning_rate=0.1)
    run_epochs(model, X, y, epochs=1, batch_size=8)
    model.get_layer("dense_1").trainable = False
    frozen = model.get_layer("dense_1").kernel.numpy().copy()
    run_epochs(model, X, y, epochs=1, batch_size=8)
    np.testing.assert_array_equal(model.get_layer("dense_1").kernel.numpy(), frozen)
    compile_model(model, learning_rate=0.0)  # a new optimizer: its learning rate is the one used
    before = model.get_weights()
    run_epochs(model, X, y, epochs=1, batch_size=8)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)

"""Chapter 04's numpy batch normalization against its references: finite differences (float64), TensorFlow's
automatic differentiation and ``keras.layers.BatchNormalization``; plus the explorer's compute, plot, widget.

Tolerances: float64 against float64 (finite differences, TensorFlow in float64): relative error 1e-8 or less;
numpy (float64) against Keras (float32 computation): 1e-5 absolute, on values of order 1 to 10.
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import batchnorm as bn  # noqa: E402

KERAS_TOLERANCE = 1e-5


def _keras():
    import keras

    return keras


# ------------------------------------------------------------------------------------------------------------
# Forward pass
# ------------------------------------------------------------------------------------------------------------


def test_batch_moments_use_the_biased_variance():
    x = np.random.default_rng(0).normal(size=(7, 3))
    mean, variance = bn.batch_moments(x)
    assert np.allclose(mean, x.mean(axis=0)) and np.allclose(variance, x.var(axis=0, ddof=0))
    assert not np.allclose(variance, x.var(axis=0, ddof=1))


def test_training_mode_normalizes_each_feature():
    x = np.random.default_rng(1).normal([5, -3, 0], [3, 0.1, 20], (64, 3))
    step = bn.batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), training=True)
    var = x.var(axis=0)
    assert np.allclose(step.y.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(step.y.std(axis=0), np.sqrt(var / (var + bn.EPSILON)), rtol=1e-12)  # epsilon inside the root


def test_inference_mode_uses_the_moving_statistics_and_keeps_them():
    x = np.random.default_rng(2).normal(size=(5, 2))
    mm, mv = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    step = bn.batchnorm_forward(x, np.array([2.0, 1.0]), np.array([0.1, 0.2]), mm, mv, training=False)
    assert np.allclose(step.y, np.array([2.0, 1.0]) * (x - mm) / np.sqrt(mv + bn.EPSILON) + np.array([0.1, 0.2]))
    assert step.moving_mean is mm and step.moving_variance is mv


def test_moving_update_is_keras_convention():
    assert bn.update_moving(10.0, 20.0) == pytest.approx(0.99 * 10 + 0.01 * 20)
    assert bn.steps_to_forget(0.99) == 459 and 0.99**459 < 0.01 < 0.99**458


def test_gamma_and_beta_can_undo_the_normalization():
    x = np.random.default_rng(3).normal(2, 3, (16, 4))
    mean, var = bn.batch_moments(x)
    assert np.allclose(bn.normalize(x, mean, var, np.sqrt(var + bn.EPSILON), mean), x)


def test_numpy_layer_matches_the_functions_and_counts_parameters():
    rng = np.random.default_rng(4)
    layer = bn.BatchNorm(3)
    assert (layer.trainable_count, layer.non_trainable_count) == (6, 6)
    x = rng.normal(size=(8, 3))
    y = layer(x, training=True)
    reference = bn.batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), training=True)
    assert np.allclose(y, reference.y) and np.allclose(layer.moving_mean, reference.moving_mean)
    dy = rng.normal(size=(8, 3))
    dx = layer.backward(dy)
    assert np.allclose(dx, bn.batchnorm_backward(dy, reference.cache)[0])
    assert layer.dgamma.shape == layer.dbeta.shape == (3,)
    with pytest.raises(RuntimeError):
        bn.BatchNorm(2).backward(dy[:, :2])


# ------------------------------------------------------------------------------------------------------------
# Backward pass: finite differences and TensorFlow, float64
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_matches_finite_differences(training, seed):
    errors = bn.gradient_check(training=training, seed=seed, n=6 + seed, features=3 + seed)
    assert max(errors.values()) < 1e-8, errors


def test_gradient_check_catches_a_backward_that_ignores_the_batch_statistics():
    def naive(dy, x, gamma, epsilon):
        mean, var = bn.batch_moments(x)
        x_hat = (x - mean) / np.sqrt(var + epsilon)
        return gamma * dy / np.sqrt(var + epsilon), np.sum(dy * x_hat, 0), np.sum(dy, 0)

    errors = bn.gradient_check(naive)
    assert errors["dx"] > 0.1 and errors["dgamma"] < 1e-8 and errors["dbeta"] < 1e-8


@pytest.mark.parametrize("seed", [0, 1])
def test_backward_matches_tensorflow_in_float64(seed):
    rng = np.random.default_rng(seed)
    x, dy, gamma = rng.normal(2, 3, (8, 5)), rng.normal(size=(8, 5)), rng.normal(1, 0.5, 5)
    step = bn.batchnorm_forward(x, gamma, np.zeros(5), np.zeros(5), np.ones(5), training=True)
    for ours, theirs in zip(bn.batchnorm_backward(dy, step.cache), bn.keras_gradients(x, dy, gamma), strict=True):
        assert bn.relative_error(ours, theirs) < 1e-12


def test_relative_error_and_numerical_gradient():
    assert bn.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert bn.relative_error([1.0], [-1.0]) == 1.0
    grad = bn.numerical_gradient(lambda v: float(np.sum(v**3)), np.array([1.0, -2.0]))
    assert np.allclose(grad, [3.0, 12.0], rtol=1e-8)


# ------------------------------------------------------------------------------------------------------------
# Keras: conventions read in its source, and the whole layer matched
# ------------------------------------------------------------------------------------------------------------


def test_keras_defaults_are_the_course_conventions():
    keras = _keras()
    layer = keras.layers.BatchNormalization()
    layer.build((None, 3))
    assert (layer.momentum, layer.epsilon) == (bn.MOMENTUM, bn.EPSILON) == (0.99, 1e-3)
    assert np.all(layer.moving_mean.numpy() == 0) and np.all(layer.moving_variance.numpy() == 1)
    assert np.all(layer.gamma.numpy() == 1) and np.all(layer.beta.numpy() == 0)
    assert [v.trainable for v in layer.weights] == [True, True, False, False]


@pytest.mark.parametrize(("n_steps", "batch_size", "features", "seed"), [(20, 16, 4, 0), (50, 4, 3, 1), (5, 64, 8, 2)])
def test_numpy_layer_matches_keras_over_several_steps(n_steps, batch_size, features, seed):
    batches, x_test = bn.make_batches(n_steps, batch_size, features, seed)
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(1, 0.3, features), rng.normal(0, 0.3, features)
    differences = bn.run_numpy(batches, x_test, gamma, beta).max_difference(bn.run_keras(batches, x_test, gamma, beta))
    assert max(differences.values()) < KERAS_TOLERANCE, differences


def test_keras_feeds_the_moving_variance_the_biased_batch_variance():
    keras = _keras()
    x = np.random.default_rng(5).normal(3, 2, (8, 3)).astype(np.float32)
    layer = keras.layers.BatchNormalization()
    layer(x, training=True)
    biased, unbiased = x.var(axis=0, dtype=np.float64), x.var(axis=0, ddof=1, dtype=np.float64)
    assert np.allclose(layer.moving_variance.numpy(), 0.99 + 0.01 * biased, rtol=1e-6)
    assert not np.allclose(layer.moving_variance.numpy(), 0.99 + 0.01 * unbiased, rtol=1e-4)
    assert np.allclose(layer.moving_mean.numpy(), 0.01 * x.mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize("mistake", list(bn.MISTAKES))
def test_every_typical_mistake_is_far_from_keras(mistake):
    batches, x_test = bn.make_batches()
    keras_run = bn.run_keras(batches, x_test)
    wrong = bn.run_numpy(batches, x_test, step=bn.mistaken_step(mistake))
    assert max(wrong.max_difference(keras_run).values()) > 100 * KERAS_TOLERANCE


def test_unknown_mistake_is_refused():
    with pytest.raises(ValueError, match="unknown mistake"):
        bn.mistaken_step("typo")


def test_a_call_without_training_is_inference_mode_and_changes_nothing():
    keras = _keras()
    x = np.random.default_rng(6).normal(3, 2, (16, 4)).astype(np.float32)
    layer = keras.layers.BatchNormalization()
    assert np.array_equal(layer(x), layer(x, training=False))
    assert np.all(layer.moving_mean.numpy() == 0)


def test_a_frozen_keras_bn_layer_runs_in_inference_mode():
    keras = _keras()
    x = np.random.default_rng(7).normal(3, 2, (16, 4)).astype(np.float32)
    layer = keras.layers.BatchNormalization()
    layer(x, training=True)  # move the moving averages away from 0 and 1
    layer.trainable = False
    before = layer.moving_mean.numpy().copy()
    assert np.allclose(layer(x, training=True), layer(x, training=False))
    assert np.array_equal(before, layer.moving_mean.numpy())


# ------------------------------------------------------------------------------------------------------------
# Keras helpers of the chapter
# ------------------------------------------------------------------------------------------------------------


def test_set_bn_momentum():
    from utils.models import build_mlp

    keras = _keras()
    model = bn.set_bn_momentum(build_mlp(3, 8, "tanh", batch_norm="after"), 0.9)
    assert all(layer.momentum == 0.9 for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))


@pytest.fixture(scope="module")
def digits():
    from utils.data import load_digits_splits

    return load_digits_splits()


def test_batched_accuracy_restores_the_moving_averages(digits):
    from utils.models import build_mlp

    keras = _keras()
    keras.utils.set_random_seed(0)
    model = build_mlp(1, 8, "relu", batch_norm=True)
    saved = [v.numpy().copy() for v in model.non_trainable_variables]
    X, y = digits.X_test[:60], digits.y_test[:60]
    by_size = [bn.batched_accuracy(model, X, y, batch_size=b, training=False) for b in (1, 7, 60)]
    assert max(by_size) - min(by_size) < 1e-12
    bn.batched_accuracy(model, X, y, batch_size=2, training=True)  # 30 batches: the traced path
    bn.batched_accuracy(model, X, y, batch_size=30, training=True)  # 2 batches: the eager path
    assert all(np.array_equal(s, v.numpy()) for s, v in zip(saved, model.non_trainable_variables, strict=True))
    one, other = model(X[:1], training=True), model(X[1:2], training=True)
    assert np.allclose(one, other)  # batch of one in training mode: the same output for any input


def _bn_after():
    from utils.models import build_mlp

    return build_mlp(2, 8, "tanh", batch_norm="after")


def test_train_over_seeds_equals_a_fresh_model_per_seed(digits):
    from utils.course import seed_everything

    build = _bn_after

    runs = bn.train_over_seeds(build, digits, seeds=(0, 1), epochs=2)
    assert runs.loss.shape == (2, 2) and runs.val_accuracy.shape == (2,)
    np.testing.assert_allclose(
        bn.train_over_seeds(build, digits, seeds=(1,), epochs=2).loss[0], runs.loss[1], rtol=1e-6
    )
    seed_everything(1)  # Keras' own training step on the same batches agrees
    fresh = build()
    fresh.compile(optimizer=_keras().optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", jit_compile=False)
    order = np.random.default_rng(1).permutation(len(digits.y_train))
    batches = np.array_split(order, int(np.ceil(len(order) / 32)))
    losses = [float(fresh.train_on_batch(digits.X_train[i], digits.y_train[i])) for i in batches]
    np.testing.assert_allclose(np.mean(losses), runs.loss[1, 0], rtol=1e-4)


def test_train_over_seeds_measures_at_init_and_three_accuracies(digits):
    build = _bn_after

    calls = []

    def at_init(model):
        model(digits.X_train[:16], training=True)  # a training-mode call moves the moving averages...
        calls.append(len(calls))
        return 1.5

    runs = bn.train_over_seeds(build, digits, seeds=(0, 1), epochs=1, at_init=at_init)
    assert calls == [0, 1] and np.array_equal(runs.at_init, [1.5, 1.5])
    for accuracy in (runs.val_accuracy, runs.val_accuracy_training, runs.val_accuracy_population):
        assert accuracy.shape == (2,) and np.all((0 <= accuracy) & (accuracy <= 1))
    plain = bn.train_over_seeds(build, digits, seeds=(0, 1), epochs=1)  # ...which at_init must not change
    assert plain.at_init is None and np.allclose(plain.loss, runs.loss, rtol=1e-6)
    moving = [v.numpy() for v in runs.model.non_trainable_variables]
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(moving, plain.model.non_trainable_variables, strict=True))


def test_population_statistics_follow_the_paper():
    keras = _keras()
    keras.utils.set_random_seed(0)
    scale = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(2.0), use_bias=False)
    model = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.BatchNormalization(), scale, keras.layers.BatchNormalization()]
    )
    X = np.random.default_rng(0).normal(loc=[1.0, -2.0, 5.0], scale=[1.0, 3.0, 0.5], size=(100, 3)).astype(np.float32)
    bn.population_statistics(model, X, batch_size=8)
    batches = X[:96].reshape(12, 8, 3)  # full batches only: 4 rows left out
    first, second = model.layers[0], model.layers[2]
    np.testing.assert_allclose(first.moving_mean.numpy(), batches.mean(axis=1).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(first.moving_variance.numpy(), 8 / 7 * batches.var(axis=1).mean(axis=0), rtol=1e-5)
    below = np.asarray(scale(first(X, training=False)))  # the second layer sees the first one's new statistics
    below = below[:96].reshape(12, 8, 3)
    np.testing.assert_allclose(second.moving_mean.numpy(), below.mean(axis=1).mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(second.moving_variance.numpy(), 8 / 7 * below.var(axis=1).mean(axis=0), rtol=1e-4)


def test_custom_loop_runs_and_forgetting_training_keeps_the_moving_averages(digits):
    import tensorflow as tf

    from utils.models import build_mlp, run_epochs

    keras = _keras()
    keras.utils.set_random_seed(0)
    model = build_mlp(1, 8, "relu", batch_norm=True)
    loss_fn, optimizer = keras.losses.SparseCategoricalCrossentropy(), keras.optimizers.SGD(0.05)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))  # the forgotten training=True
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True)
        )
        return loss

    losses = run_epochs(model, digits.X_train, digits.y_train, epochs=2, batch_size=64, step=step, seed=0).loss
    assert losses.shape == (2,) and losses[1] < losses[0]
    assert np.all(model.get_layer("bn_1").moving_mean.numpy() == 0)


# ------------------------------------------------------------------------------------------------------------
# The explorer: compute, plot, widget
# ------------------------------------------------------------------------------------------------------------


def test_running_stats_follow_keras_update_from_the_start_values():
    run = bn.compute_running_stats(momentum=0.9, batch_size=8, epochs=1, drift=1.0)
    mean, var = 0.0, 1.0
    for t in range(len(run.steps)):
        mean, var = (
            bn.update_moving(mean, run.batch_mean[t], 0.9),
            bn.update_moving(var, run.batch_variance[t], 0.9),
        )
        assert np.isclose(run.moving_mean[t], mean) and np.isclose(run.moving_variance[t], var)
    assert run.steps_per_epoch == int(np.ceil(bn.DIGITS_TRAIN_SIZE / 8))
    assert run.true_mean[-1] == pytest.approx(bn.EXPLORER_TRUE_MEAN + bn.EXPLORER_TRUE_STD)


def test_running_stats_converge_and_the_biased_variance_shows():
    long = bn.compute_running_stats(momentum=0.99, batch_size=4, epochs=30)
    late = slice(len(long.steps) // 2, None)
    assert long.moving_variance[late].mean() / long.true_variance[late].mean() == pytest.approx(0.75, abs=0.05)
    shift, _ = bn.compute_running_stats(momentum=0.99, batch_size=32, epochs=30).inference_shift()
    assert abs(shift) < 0.1
    short_shift, _ = bn.compute_running_stats(momentum=0.99, batch_size=32, epochs=1).inference_shift()
    assert short_shift > 1  # one epoch: the moving mean is still far below the true mean


@pytest.mark.parametrize("kwargs", [{"momentum": 1.0}, {"batch_size": 1}, {"epochs": 0}])
def test_running_stats_refuse_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        bn.compute_running_stats(**kwargs)


def test_running_stats_are_fast_enough_for_a_slider():
    from utils.widgets import BN_BATCH_SIZES

    worst = {"batch_size": min(BN_BATCH_SIZES), "epochs": 30, "drift": 3.0}
    bn.compute_running_stats(**worst)
    times = []
    for _ in range(9):
        start = time.perf_counter()
        bn.compute_running_stats(**worst)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.05


def test_plots_return_their_axes():
    from utils.plots import plot_mode_gap, plot_running_stats

    axes = plot_running_stats(bn.compute_running_stats(), title="t")
    assert len(axes) == 2 and axes[0].get_ylabel() == "mean" and axes[1].get_ylabel() == "variance"
    ax = plot_mode_gap([1, 4, 16], [0.1, 0.5, 0.9], [0.9, 0.9, 0.9])
    assert len(ax.get_lines()) == 2
    plt.close("all")


def test_running_stats_explorer_builds_and_responds():
    from utils import widgets

    box = widgets.explore_running_stats()
    controls = box.controls
    assert set(controls) == {"momentum", "batch_size", "epochs", "drift"}
    assert max(controls["momentum"].options) < 1 and min(controls["batch_size"].options) >= 2
    assert controls["epochs"].min >= 1
    for name, value in {"momentum": 0.9, "batch_size": 4, "epochs": 30, "drift": 3.0}.items():
        controls[name].value = value
    controls["epochs"].value = 0  # clamped by the slider: zero epochs would have no step to plot
    assert controls["epochs"].value == controls["epochs"].min
    assert "momentum 0.9" in widgets.running_stats_title(bn.compute_running_stats(momentum=0.9))
    plt.close("all")

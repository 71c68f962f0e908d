"""utils.transfer (chapter 06): the tasks, the Keras reuse/freeze/cache helpers, the numpy twin against Keras,
the seed sweeps and the explorer's compute/plot/widget."""

from __future__ import annotations

import time

import matplotlib
import numpy as np
import pytest

from utils import transfer as T
from utils.data import load_digits_splits

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def keras_ready():
    from utils.course import setup

    setup()
    import keras

    return keras


@pytest.fixture(scope="module")
def model_a(keras_ready):
    from utils import zoo

    return zoo.load("digits_0to4_mlp")


def test_tasks_split_the_classes_and_few_labels_are_balanced():
    task_a, task_b = T.tasks()
    assert set(task_a.y_train) == set(task_b.y_train) == set(range(5))
    assert len(task_a.y_train) + len(task_b.y_train) == len(load_digits_splits().y_train)
    X, y = T.few_labels(task_b, 7, seed=3)
    X2, y2 = T.few_labels(task_b, 7, seed=3)
    assert np.all(np.bincount(y) == 7) and np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(y, T.few_labels(task_b, 7, seed=4)[1])


def test_copy_model_owns_its_weights(model_a):
    copy = T.copy_model(model_a)
    assert all(np.array_equal(a, b) for a, b in zip(model_a.get_weights(), copy.get_weights(), strict=True))
    assert not {id(v) for v in copy.weights} & {id(v) for v in model_a.weights}


def test_reuse_layers_copies_drops_and_replaces(model_a, keras_ready):
    model_b = T.reuse_layers(model_a, 2, n_new=1)
    assert [layer.name for layer in model_b.layers] == ["dense_1", "dense_2", "new_dense_1", "new_output"]
    assert np.array_equal(model_b.layers[0].kernel.numpy(), model_a.layers[0].kernel.numpy())
    assert not any(layer is other for layer in model_b.layers for other in model_a.layers)
    assert model_b.output_shape == (None, 5)
    bn = T.reuse_layers(T.build_task_model(batch_norm=True), 1)
    assert [type(layer).__name__ for layer in bn.layers] == ["Dense", "BatchNormalization", "Activation", "Dense"]


def test_fit_steps_equals_fit_without_shuffling(model_a):
    X, y = T.few_labels(T.tasks()[1], 10, seed=0)
    one = T.reuse_layers(model_a)
    two = T.copy_model(one)
    T.compile_sgd(one)
    T.compile_sgd(two)
    one.fit(X, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    T.fit_steps(two, X, y, epochs=3)
    assert all(np.array_equal(a, b) for a, b in zip(one.get_weights(), two.get_weights(), strict=True))


def test_freeze_then_compile_keeps_the_frozen_layers(model_a):
    X, y = T.few_labels(T.tasks()[1], 10, seed=0)
    model_b = T.reuse_layers(model_a)
    assert T.freeze(model_b, 3) == ["dense_1", "dense_2", "dense_3"]
    T.compile_sgd(model_b)
    before = [w.copy() for w in model_b.get_weights()]
    T.fit_steps(model_b, X, y, epochs=2)
    after = model_b.get_weights()
    assert all(np.array_equal(b, a) for b, a in zip(before[:6], after[:6], strict=True))
    assert not np.array_equal(before[6], after[6]) and not np.array_equal(before[-1], after[-1])


def test_split_at_shares_layers_and_caching_is_exact(model_a):
    model_b = T.reuse_layers(model_a)
    trunk, head = T.split_at(model_b, 4)
    assert trunk.layers[0] is model_b.layers[0] and head.layers[-1] is model_b.layers[-1]
    X = T.tasks()[1].X_test[:16]
    features = T.cached_features(trunk, X)
    assert features.shape == (16, 32) and features.dtype == np.float32
    assert np.allclose(head(features), model_b(X), atol=1e-6)


def test_numpy_twin_matches_keras_with_frozen_layers(model_a):
    X, y = T.few_labels(T.tasks()[1], 10, seed=1)
    model_b = T.reuse_layers(model_a)
    twin = T.NumpyMLP.from_keras(model_b)
    T.freeze(model_b, 2)
    T.compile_sgd(model_b)
    T.fit_steps(model_b, X, y, epochs=8)
    twin.n_frozen = 2
    twin.fit(X, y, epochs=8)
    gaps = [np.max(np.abs(t - k)) for t, k in zip(twin.keras_weights(), model_b.get_weights(), strict=True)]
    assert max(gaps) < 1e-4 and max(gaps[4:]) > 0  # close, and the trained layers did move apart from float32
    assert np.array_equal(twin.keras_weights()[0], model_b.get_weights()[0])  # frozen: untouched in both


def test_twin_caching_changes_nothing_but_time():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 64)), rng.integers(0, 5, 40)
    nets = []
    for cache in (False, True):
        net = T.NumpyMLP.random([64, 16, 16, 5], 3, np.random.default_rng(1))
        net.n_frozen = 1
        nets.append(net.fit(X, y, epochs=5, cache=cache))
    for a, b in zip(nets[0].kernels + nets[0].biases, nets[1].kernels + nets[1].biases, strict=True):
        assert np.allclose(a, b, rtol=0, atol=1e-12)


def test_twin_counts_the_multiply_adds_caching_saves():
    X, y = np.random.default_rng(0).normal(size=(40, 64)), np.arange(40) % 5
    counts = {}
    for cache in (False, True):
        net = T.NumpyMLP.random([64, 16, 16, 5], 3, np.random.default_rng(1))
        net.n_frozen = 2
        counts[cache] = net.fit(X, y, epochs=5, batch_size=8, cache=cache).frozen_multiply_adds
    per_pass = 3 * 40 * (64 * 16 + 16 * 16)  # 3 seeds, 40 images, the two frozen layers
    assert counts == {True: per_pass, False: 5 * per_pass}


def test_twin_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(1, 6, 4)), rng.integers(0, 3, (1, 6))
    net = T.NumpyMLP.random([4, 5, 3], 1, rng)

    def loss(n):
        p = n.forward(X)[-1]
        return -np.mean(np.log(np.take_along_axis(p, y[..., None], axis=-1)))

    stepped = T.NumpyMLP([k.copy() for k in net.kernels], [b.copy() for b in net.biases])
    stepped.fit(X, y, epochs=1, batch_size=6, learning_rate=1.0, momentum=0.0)  # one step: w - gradient
    gradient = net.kernels[0] - stepped.kernels[0]
    h, numeric = 1e-6, np.zeros_like(gradient)
    for index in np.ndindex(gradient.shape):
        plus, minus = (T.NumpyMLP([k.copy() for k in net.kernels], net.biases) for _ in range(2))
        plus.kernels[0][index] += h
        minus.kernels[0][index] -= h
        numeric[index] = (loss(plus) - loss(minus)) / (2 * h)
    assert np.allclose(gradient, numeric, atol=1e-7)


def test_transfer_b_validates_and_is_deterministic():
    with pytest.raises(ValueError, match="n_frozen"):
        T.transfer_b(None, 1, 2, 5)
    pretrained = T.pretrain_a(seeds=(0, 1))
    first = T.transfer_b(pretrained, 2, 1, 5, seeds=(0, 1), steps=20)
    assert first.shape == (2,) and np.array_equal(first, T.transfer_b(pretrained, 2, 1, 5, seeds=(0, 1), steps=20))
    assert np.all(pretrained.accuracy(T.tasks()[0].X_test, T.tasks()[0].y_test) > 0.9)


@pytest.fixture(scope="module")
def small_results():
    """A hand-made sweep (no training): accuracy = 0.9 - 0.1 * frozen + 0.01 * seed index."""
    accuracy = {
        (k, f, n): 0.9 - 0.1 * f + 0.01 * np.arange(3)
        for n in (5, 10)
        for k in range(T.DEPTH + 1)
        for f in range(k + 1)
    }
    return T.SweepResults(accuracy, (0, 1, 2), (5, 10))


def test_compute_transfer_view_is_a_fast_lookup(small_results):
    view = T.compute_transfer_view(3, 2, 10, results=small_results)
    assert np.allclose(view.mean, 0.71) and np.allclose(view.scratch_mean, 0.91) and abs(view.gain() + 0.2) < 1e-12
    assert np.isnan(view.grid[1, 2]) and abs(view.grid[4, 4] - 0.51) < 1e-12
    assert T.compute_transfer_view(1, 4, 5, results=small_results).n_frozen == 1  # frozen ≤ reused
    start = time.perf_counter()
    for _ in range(20):
        T.compute_transfer_view(2, 1, 5, results=small_results)
    assert (time.perf_counter() - start) / 20 < 0.05
    assert T.mean_std([0.5, 0.7]) == "0.60 ± 0.10"


def test_plots_and_explorer(small_results):
    import matplotlib.pyplot as plt

    from utils.plots import plot_reuse_sweep, plot_transfer_view
    from utils.widgets import explore_transfer, transfer_title

    ax = plot_reuse_sweep(small_results, 5)
    assert len(ax.lines) >= 1 and "5 labels per class" in ax.get_title()
    view = T.compute_transfer_view(results=small_results)
    axes = plot_transfer_view(view, title=transfer_title(view))
    assert len(axes) == 2 and "2 layers reused, 2 frozen" in transfer_title(view)
    plt.close("all")
    box = explore_transfer(small_results, per_class=5)
    box.controls["n_reused"].value = 4
    box.controls["n_frozen"].value = 3
    box.controls["per_class"].value = 10
    plt.close("all")


# ------------------------------------------------------------------------------------------------------------
# Printed → handwritten (the chapter's central experiment)
# ------------------------------------------------------------------------------------------------------------


def test_twin_adam_matches_keras_adam(keras_ready):
    keras = keras_ready
    rng = np.random.default_rng(3)
    X, y = rng.random((40, 64)).astype(np.float32), rng.integers(0, 10, 40)
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    twin = T.NumpyMLP.from_keras(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=False)
    model.fit(X, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    twin.fit(X.astype(np.float64), y, epochs=5, batch_size=16, learning_rate=1e-3, optimizer="adam")
    gaps = [np.max(np.abs(t - k)) for t, k in zip(twin.keras_weights(), model.get_weights(), strict=True)]
    assert max(gaps) < 1e-4


def test_twin_adam_seeds_are_independent_and_state_resets_with_freezing():
    rng = np.random.default_rng(4)
    X, y = rng.random((2, 30, 8)), rng.integers(0, 3, (2, 30))
    both = T.NumpyMLP.random([8, 6, 3], 2, np.random.default_rng(5))
    alone = T.NumpyMLP([k[1:].copy() for k in both.kernels], [b[1:].copy() for b in both.biases])
    both.fit(X, y, epochs=3, learning_rate=1e-2, optimizer="adam")
    alone.fit(X[1:], y[1:], epochs=3, learning_rate=1e-2, optimizer="adam")
    assert all(np.allclose(a[1], b[0], atol=1e-12) for a, b in zip(both.kernels, alone.kernels, strict=True))
    before = both.kernels[0].copy()
    both.n_frozen = 1
    both.fit(X, y, epochs=2, learning_rate=1e-2, optimizer="adam")
    assert np.array_equal(before, both.kernels[0]) and both.adam[0] == (1, 1e-2)
    with pytest.raises(ValueError, match="optimizer"):
        both.fit(X, y, epochs=1, optimizer="rmsprop")


def test_few_real_labels_are_balanced_disjoint_and_leave_the_test_half_alone():
    data = T.few_real_labels(2, (0, 1))
    assert data.X.shape == (2, 20, 64) and data.X_valid.shape == (2, 10 * T.VALID_PER_CLASS, 64)
    for s in range(2):
        assert np.all(np.bincount(data.y[s], minlength=10) == 2)
        train_rows = {tuple(r) for r in data.X[s]}
        assert not train_rows & {tuple(r) for r in data.X_valid[s]} or len(train_rows) < 20  # duplicates aside
    assert len(data.y_test) > 890 and data.X.max() <= 1.0 and data.X_test.max() <= 1.0
    assert not np.array_equal(data.y[0], data.y[1])  # each seed draws its own labels


def test_reuse_accuracy_validates_and_scratch_is_deterministic():
    with pytest.raises(ValueError, match="strategy"):
        T.reuse_accuracy(None, "fine-tune", 2)
    a = T.reuse_accuracy(None, "scratch", 2, (0, 1), epochs=20)
    assert a.shape == (2,) and np.array_equal(a, T.reuse_accuracy(None, "scratch", 2, (0, 1), epochs=20))
    body = T.random_bodies(2)
    frozen_start = body.kernels[0].copy()
    T.reuse_accuracy(body, "head", 2, (0, 1), epochs=10)
    assert np.array_equal(frozen_start, body.kernels[0])  # the source network is copied, never trained in place


def test_participation_ratio_counts_directions():
    rng = np.random.default_rng(0)
    assert abs(T.participation_ratio(rng.normal(size=(20000, 8))) - 8) < 0.2
    line = rng.normal(size=(500, 1)) * rng.normal(size=(1, 8))
    assert abs(T.participation_ratio(line) - 1) < 1e-6
    assert T.gain_summary([1.0, 3.0]) == " +2 [ +1]"


def test_tune_batch_size_caps_an_epoch_at_four_steps():
    assert [T.tune_batch_size(n) for n in (20, 100, 200, 500)] == [32, 32, 50, 125]


def test_plot_transfer_gains_draws_a_mean_and_the_seeds():
    import matplotlib.pyplot as plt

    from utils.plots import plot_transfer_gains

    gains = {"fine-tune all": np.array([[10.0, 12.0], [5.0, 4.0], [1.0, 0.0]]), "permuted source": np.zeros((2, 2))}
    ax = plot_transfer_gains(gains, (2, 5, 10))
    assert len(ax.lines) == 5 and "gain" in ax.get_ylabel()  # 2 means, 2 seed clouds, the zero line
    plt.close("all")


def test_glyph_sweep_trains_the_fresh_layers_first_by_default():
    source = T.random_bodies(1, seed=3)
    probe = T.glyph_sweep(source, labels_per_class=(2,), seeds=(0,))
    at_once = T.glyph_sweep(source, labels_per_class=(2,), seeds=(0,), strategy="fresh_head_together")
    assert sorted(probe.accuracy) == sorted(at_once.accuracy) and len(probe.accuracy) == 15
    assert np.array_equal(probe.scratch(2), at_once.scratch(2))  # k = 0 is scratch in both
    assert any(not np.array_equal(probe.get(k, 0, 2), at_once.get(k, 0, 2)) for k in range(1, 5))

"""utils.transfer (chapter 06): the tasks, the Keras reuse/freeze/cache helpers, the numpy twin (on utils.nets,
whose gradients, optimizers and caching tests/test_nets.py checks) against Keras, the seed sweeps and the explorer."""

from __future__ import annotations

import time

import numpy as np
import pytest

from utils import nets
from utils import transfer as T
from utils.data import load_digits_splits
from utils.models import build_mlp, compile_model, copy_model


@pytest.fixture(scope="module")
def model_a(keras):
    from utils import zoo

    return zoo.load("digits_0to4_mlp")


def _compile(model):
    """Compile with the chapter's optimizer: SGD(LEARNING_RATE, momentum=MOMENTUM)."""
    return compile_model(model, learning_rate=T.LEARNING_RATE, momentum=T.MOMENTUM, metrics=["accuracy"])


def test_tasks_split_the_classes_and_few_labels_are_balanced():
    task_a, task_b = T.tasks()
    assert set(task_a.y_train) == set(task_b.y_train) == set(range(5))
    assert len(task_a.y_train) + len(task_b.y_train) == len(load_digits_splits().y_train)
    X, y = T.few_labels(task_b, 7, seed=3)
    X2, y2 = T.few_labels(task_b, 7, seed=3)
    assert np.all(np.bincount(y) == 7) and np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(y, T.few_labels(task_b, 7, seed=4)[1])


def test_reuse_layers_copies_drops_and_replaces(model_a):
    model_b = T.reuse_layers(model_a, 2, n_new=1)
    assert [layer.name for layer in model_b.layers] == ["dense_1", "dense_2", "new_dense_1", "new_output"]
    assert np.array_equal(model_b.layers[0].kernel.numpy(), model_a.layers[0].kernel.numpy())
    assert not any(layer is other for layer in model_b.layers for other in model_a.layers)
    assert model_b.output_shape == (None, 5)
    bn = T.reuse_layers(build_mlp(T.DEPTH, T.WIDTH, n_classes=T.N_CLASSES, batch_norm=True), 1)
    assert [type(layer).__name__ for layer in bn.layers] == ["Dense", "BatchNormalization", "Activation", "Dense"]


def test_fit_steps_equals_fit_without_shuffling(model_a):
    X, y = T.few_labels(T.tasks()[1], 10, seed=0)
    one = T.reuse_layers(model_a)
    two = copy_model(one)
    _compile(one)
    _compile(two)
    one.fit(X, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    T.fit_steps(two, X, y, epochs=3)
    assert all(np.array_equal(a, b) for a, b in zip(one.get_weights(), two.get_weights(), strict=True))


def test_freeze_then_compile_keeps_the_frozen_layers(model_a):
    X, y = T.few_labels(T.tasks()[1], 10, seed=0)
    model_b = T.reuse_layers(model_a)
    assert T.freeze(model_b, 3) == ["dense_1", "dense_2", "dense_3"]
    _compile(model_b)
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
    twin = T.from_keras(model_b)
    assert all(np.array_equal(t, k) for t, k in zip(T.keras_weights(twin), model_b.get_weights(), strict=True))
    T.freeze(model_b, 2)
    _compile(model_b)
    T.fit_steps(model_b, X, y, epochs=8)
    twin.n_frozen = 2
    nets.fit(twin, X, y, epochs=8, **T.SGD_RECIPE)
    gaps = [np.max(np.abs(t - k)) for t, k in zip(T.keras_weights(twin), model_b.get_weights(), strict=True)]
    assert max(gaps) < 1e-4 and max(gaps[4:]) > 0  # close, and the trained layers did move apart from float32
    assert np.array_equal(T.keras_weights(twin)[0], model_b.get_weights()[0])  # frozen: untouched in both
    assert np.array_equal(nets.classes(twin, X)[0], np.argmax(model_b(X), axis=1))  # logits: the same classes


def test_random_net_draws_keras_glorot_uniform_kernels_seed_by_seed():
    net = T.random_net([64, 32, 5], 3, np.random.default_rng(0))
    rng = np.random.default_rng(0)  # Glorot uniform, as Keras' Dense: limit sqrt(6 / (fan_in + fan_out))
    for w, (fan_in, fan_out) in zip(net.weights, [(64, 32), (32, 5)], strict=True):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        np.testing.assert_array_equal(w, rng.uniform(-limit, limit, (3, fan_in, fan_out)))
    assert net.activations == ["relu", "linear"] and all(not b.any() for b in net.biases)
    weights = T.keras_weights(net, 2)
    assert [w.shape for w in weights] == [(64, 32), (32,), (32, 5), (5,)] and weights[0].dtype == np.float32
    again = T.keras_weights(T.from_keras(weights, n_seeds=2), 1)
    assert all(np.array_equal(a, b) for a, b in zip(again, weights, strict=True))


def test_transfer_b_validates_and_is_deterministic():
    with pytest.raises(ValueError, match="n_frozen"):
        T.transfer_b(None, 1, 2, 5)
    pretrained = T.pretrain_a(seeds=(0, 1))
    first = T.transfer_b(pretrained, 2, 1, 5, seeds=(0, 1), steps=20)
    assert first.shape == (2,) and np.array_equal(first, T.transfer_b(pretrained, 2, 1, 5, seeds=(0, 1), steps=20))
    assert np.all(nets.accuracy(pretrained, T.tasks()[0].X_test, T.tasks()[0].y_test) > 0.9)


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
    frozen_start = body.weights[0].copy()
    T.reuse_accuracy(body, "head", 2, (0, 1), epochs=10)
    assert np.array_equal(frozen_start, body.weights[0])  # the source network is copied, never trained in place


def test_early_stopping_keeps_each_seeds_best_network():
    start, later = (T.random_net([4, 3, 2], 3, np.random.default_rng(s)) for s in (0, 1))
    kept = T._keep(start.copy(), later, np.array([True, False, True]))
    pairs = zip(kept.weights + kept.biases, start.weights + start.biases, later.weights + later.biases, strict=True)
    for k, s, n in pairs:
        assert np.array_equal(k[[0, 2]], n[[0, 2]]) and np.array_equal(k[1], s[1])
    assert kept.weights[0] is not later.weights[0]  # a copy: training on goes on without touching it


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

"""Chapter 07's pretraining module: the scarce-label data (test images kept out), corruptions and pairs, the batched
float64 networks against finite differences and Keras, the sweep's bookkeeping, and the explorer's compute, plot
and widget.

Tolerances: float64 gradients against central finite differences: relative error 1e-6; numpy Adam against Keras' Adam
(float32): 1e-5.
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import pretraining as pt  # noqa: E402

# ------------------------------------------------------------------------------------------------------------
# Data: few labels, the test images kept apart
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (10, 3), (50, 4)])
def test_few_label_splits_keep_the_test_images_out(k, seed):
    data = pt.few_label_splits(k, seed)
    assert np.all(np.bincount(data.y_labeled, minlength=10) == k)
    assert pt.shared_rows(data.X_unlabeled, data.X_test) == 0
    assert pt.shared_rows(data.X_labeled, data.X_unlabeled) == len(data.X_labeled)
    assert len(data.X_unlabeled) + len(data.X_test) == 1797 and data.X_labeled.dtype == np.float64


def test_few_label_splits_depend_on_the_seed_only():
    a, b, c = pt.few_label_splits(5, 0), pt.few_label_splits(5, 0), pt.few_label_splits(5, 1)
    assert np.array_equal(a.X_labeled, b.X_labeled) and not np.array_equal(a.X_labeled, c.X_labeled)
    assert np.array_equal(a.X_test, c.X_test)


def test_the_shared_pool_is_read_only():
    data = pt.few_label_splits(2, 0)
    with pytest.raises(ValueError):
        data.X_unlabeled[0, 0] = 1.0


def test_shared_rows_counts_exact_matches():
    a = np.arange(12.0).reshape(4, 3)
    assert pt.shared_rows(a, a[[1, 3]]) == 2 and pt.shared_rows(a, a + 0.5) == 0
    assert pt.shared_rows(a.astype(np.float32), a) == 4  # float32 and float64 copies of one image match


def test_corrupt_swaps_the_lower_rows_for_another_images():
    X = pt.few_label_splits(2, 0).X_test[:50]
    bad = pt.corrupt(X, np.random.default_rng(0))
    images, corrupted = X.reshape(-1, 8, 8), bad.reshape(-1, 8, 8)
    assert np.array_equal(images[:, :3], corrupted[:, :3])  # rows 0-2 always kept
    assert np.mean(np.any(images[:, 5:] != corrupted[:, 5:], axis=(1, 2))) > 0.9  # the bottom comes from elsewhere
    assert pt.shared_rows(bad, X) < 5  # chimeras, not copies (a donor may be the image itself, rarely)


def test_make_pairs_is_balanced_correct_and_uses_the_given_images_only():
    data = pt.few_label_splits(3, 1)
    left, right, same = pt.make_pairs(data.X_labeled, data.y_labeled, 5000, np.random.default_rng(2))
    lookup = {row.tobytes(): label for row, label in zip(data.X_labeled, data.y_labeled, strict=True)}
    y_left = np.array([lookup[r.tobytes()] for r in left])
    y_right = np.array([lookup[r.tobytes()] for r in right])
    assert same.mean() == 0.5 and np.array_equal(same == 1, y_left == y_right)
    assert not np.any(np.all(left == right, axis=1))
    assert np.all(np.bincount(y_right, minlength=10) > 300)  # every digit appears on both sides


def test_the_course_solution_of_exercise_4_passes_the_modules_own_check():
    from utils.checks import ch07

    assert ch07.q4.evaluate(pt.make_pairs).passed


# ------------------------------------------------------------------------------------------------------------
# Batched float64 networks: gradients against finite differences, Adam against Keras
# ------------------------------------------------------------------------------------------------------------


def _numeric_gradient(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        up = f()
        array[index] = saved - eps
        down = f()
        array[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_backward_matches_finite_differences(loss):
    rng = np.random.default_rng(0)
    stack = pt.init_stack((5, 4, 3), ("relu", "linear"), 2, rng)
    for b in stack.biases:
        b += rng.normal(0, 0.1, b.shape)
    X = rng.normal(size=(2, 6, 5))
    target = rng.normal(size=(2, 6, 3)) if loss == "mse" else rng.integers(0, 3, (2, 6))
    gradient = pt.mse_gradient if loss == "mse" else pt.cross_entropy_gradient

    def total():
        return float(np.sum(gradient(pt.forward(stack, X)[0][-1], target)[0]))

    hs, zs = pt.forward(stack, X)
    _, d_out = gradient(hs[-1], target)
    grads, d_X = pt.backward(stack, hs, zs, d_out, input_gradient=True)
    for analytic, param in zip(grads, stack.parameters(), strict=True):
        numeric = _numeric_gradient(total, param)
        assert np.linalg.norm(analytic - numeric) <= 1e-6 * (np.linalg.norm(numeric) + 1e-12)
    assert np.allclose(d_X, _numeric_gradient(total, X), atol=1e-7)


def test_networks_of_a_stack_are_independent():
    rng = np.random.default_rng(1)
    stack = pt.init_stack((4, 3, 2), ("relu", "linear"), 3, rng)
    X = rng.normal(size=(3, 5, 4))
    together = pt.predict(stack, X)
    alone = pt.predict(stack.select([1]), X[1:2])
    assert np.allclose(together[1:2], alone)


def test_adam_matches_keras():
    import keras

    rng = np.random.default_rng(3)
    start = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(5)]
    ours = start.copy()
    adam = pt.Adam([ours], learning_rate=0.01)
    variable = keras.Variable(start.astype(np.float32))
    theirs = keras.optimizers.Adam(learning_rate=0.01)
    for g in grads:
        adam.step([ours], [g])
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g.astype(np.float32)), variable)])
    assert np.allclose(ours, np.asarray(variable), atol=1e-5)


def test_frozen_layers_do_not_move_in_train_classifiers():
    data = pt.few_label_splits(2, 0)
    encoders = pt.new_encoders(2, np.random.default_rng(0))
    X, y = np.stack([data.X_labeled] * 2), np.stack([data.y_labeled] * 2)
    net = pt.train_classifiers(encoders, X, y, np.array([True, False]), steps=20)
    assert np.array_equal(net.weights[0][0], encoders.weights[0][0])  # frozen: unchanged
    assert not np.array_equal(net.weights[0][1], encoders.weights[0][1])  # fine-tuned: trained
    assert np.array_equal(encoders.weights[0][1], pt.new_encoders(2, np.random.default_rng(0)).weights[0][1])


# ------------------------------------------------------------------------------------------------------------
# Pretraining: each task learns, and the greedy stack reconstructs worse than the joint autoencoder
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    data = pt.few_label_splits(5, 0)
    return data.X_unlabeled, data.X_test


def test_autoencoder_learns_to_reconstruct(pool):
    X, X_test = pool
    run = pt.pretrain_autoencoder(X, X_test, seeds=(0, 1), epochs=5)
    mean_image = np.mean((X_test - X.mean(axis=0)) ** 2)
    assert np.all(run.losses[-1] < 0.6 * run.losses[0]) and np.all(run.score < 0.7 * mean_image)
    assert run.decoder.sizes == (32, 64, 64) and run.encoder.sizes == pt.ENCODER_SIZES


def test_greedy_stacks_two_shallow_autoencoders(pool):
    X, X_test = pool
    greedy = pt.pretrain_greedy(X, X_test, seeds=(0,), epochs=3)
    assert greedy.encoder.sizes == pt.ENCODER_SIZES and greedy.network.sizes == (64, 64, 32, 64, 64)
    assert np.all(np.isfinite(greedy.score)) and len(greedy.losses) == 6


def test_corrupted_task_beats_chance(pool):
    X, X_test = pool
    run = pt.pretrain_corrupted(X, X_test, seeds=(0, 1), epochs=2)
    assert np.all(run.score > 0.7)


def test_pairs_task_needs_two_labels_per_digit_and_beats_chance():
    with pytest.raises(ValueError, match="at least 2"):
        pt.pretrain_pairs([pt.few_label_splits(1, 0)])
    run = pt.pretrain_pairs([pt.few_label_splits(20, s) for s in (0, 1)], steps=150)
    assert np.all(run.score > 0.6)


# ------------------------------------------------------------------------------------------------------------
# The sweep's bookkeeping, on a small real sweep and on a made-up grid
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sweep():
    return pt.run_sweep(labels_per_class=(2, 10), seeds=(0, 1))


def test_small_sweep_fills_every_cell_but_scratch_frozen(small_sweep):
    acc = small_sweep.accuracy
    assert acc.shape == (len(pt.KINDS), 2, 2, 2)
    assert np.all(np.isnan(acc[0, 1])) and np.all(np.isfinite(acc[1:])) and np.all(np.isfinite(acc[0, 0]))
    assert np.all((acc[np.isfinite(acc)] > 0.3) & (acc[np.isfinite(acc)] <= 1))
    assert small_sweep.pairs_score.shape == (2, 2)


def test_sweep_is_deterministic(small_sweep):
    again = pt.run_sweep(labels_per_class=(2,), seeds=(0, 1))
    assert np.array_equal(again.accuracy[:, :, 0], small_sweep.accuracy[:, :, 0], equal_nan=True)


def _made_up_sweep():
    acc = np.full((len(pt.KINDS), 2, 2, 3), 0.5)
    acc[1, 0, 0] = [0.6, 0.7, 0.55]  # autoencoder, fine-tuned, 2 labels: better on every seed
    acc[1, 0, 1] = [0.6, 0.4, 0.5]  # mixed
    acc[2, 1, 0] = [0.4, 0.3, 0.45]  # corrupted, frozen: worse on every seed
    acc[0, 1] = np.nan
    return pt.Sweep(acc, (2, 10), (0, 1, 2))


def test_verdicts_need_every_seed():
    sweep = _made_up_sweep()
    assert sweep.verdict("autoencoder", "fine-tuned", 2) == "helps"
    assert sweep.verdict("autoencoder", "fine-tuned", 10) == "mixed"
    assert sweep.verdict("corrupted", "frozen", 2) == "hurts"
    assert np.allclose(sweep.gain("autoencoder", "fine-tuned", 2), [0.1, 0.2, 0.05])
    assert np.array_equal(sweep.get("none", "frozen", 2), sweep.get("none", "fine-tuned", 2))  # scratch has one


def test_tables_print_means_and_stds():
    sweep = _made_up_sweep()
    table = sweep.table("fine-tuned")
    assert "from scratch" in table and "0.62 ± 0.06" in table and "frozen" not in table
    assert "from scratch" not in sweep.table("frozen") and "helps" in sweep.verdicts()


# ------------------------------------------------------------------------------------------------------------
# The explorer: compute (a lookup), plot, widget
# ------------------------------------------------------------------------------------------------------------


def test_compute_view_reads_the_sweep_fast(small_sweep):
    pt.compute_pretraining_view("pairs", "frozen", 10, sweep=small_sweep)
    start = time.perf_counter()
    view = pt.compute_pretraining_view("pairs", "frozen", 10, sweep=small_sweep)
    assert time.perf_counter() - start < 0.05
    assert np.array_equal(view.accuracy, small_sweep.get("pairs", "frozen", 10))
    assert view.counts == (2, 10) and view.verdict in ("helps", "hurts", "mixed")


def test_plots_return_their_axes(small_sweep):
    from utils.plots import plot_digit_rows, plot_pretraining_sweep, plot_pretraining_view

    view = pt.compute_pretraining_view(sweep=small_sweep)
    assert len(plot_pretraining_view(view, title="t")) == 2
    assert len(plot_pretraining_sweep(small_sweep)) == 2
    images = pt.few_label_splits(2, 0).X_test
    assert plot_digit_rows({"a": images, "b": images}, n=4).shape == (2, 4)
    plt.close("all")


def test_explorer_builds_and_responds(small_sweep):
    from utils import widgets

    box = widgets.explore_pretraining(small_sweep)
    controls = box.controls
    assert set(controls) == {"kind", "reuse", "labels_per_class"}
    assert "none" not in [value for _, value in controls["kind"].options]
    controls["kind"].value = "corrupted"
    controls["reuse"].value = "frozen"
    controls["labels_per_class"].value = 2
    plt.close("all")


# ------------------------------------------------------------------------------------------------------------
# Keras helpers: the autoencoder's shapes, and a copy that keeps the weights where clone_model does not
# ------------------------------------------------------------------------------------------------------------


def test_keras_autoencoder_and_copy_encoder():
    import keras

    keras.utils.set_random_seed(0)
    encoder, decoder, autoencoder = pt.build_keras_autoencoder()
    assert encoder.output_shape == (None, 32) and autoencoder.output_shape == (None, 64)
    assert autoencoder.layers == [encoder, decoder]
    clone = keras.models.clone_model(encoder)
    copy = pt.copy_encoder(encoder, trainable=False)
    assert not np.array_equal(clone.get_weights()[0], encoder.get_weights()[0])
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), encoder.get_weights(), strict=True))
    assert not copy.trainable and encoder.trainable and copy.weights[0] is not encoder.weights[0]

"""Chapter 07's pretraining module: the few-label data (the test half kept apart), augmented views and pairs, the
encoders' draws on the numpy engine (utils.nets, tested once in test_nets.py), the NT-Xent loss and the siamese step
against finite differences, training with early stopping, the sweep's bookkeeping, and the explorer.

Tolerances: float64 gradients against central finite differences: relative error 1e-6.
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import nets  # noqa: E402
from utils import pretraining as pt  # noqa: E402

# ------------------------------------------------------------------------------------------------------------
# Data: few labels and a validation set from the pool half, the test half kept apart
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (10, 3), (50, 4)])
def test_few_label_splits_keep_the_halves_apart(k, seed):
    data = pt.few_label_splits(k, seed)
    assert np.all(np.bincount(data.y_labeled, minlength=10) == k)
    assert np.all(np.bincount(data.y_valid, minlength=10) == pt.VALID_PER_CLASS)
    assert pt.shared_rows(data.X_pool, data.X_test) == 0
    assert pt.shared_rows(data.X_labeled, data.X_pool) == len(data.X_labeled)
    assert pt.shared_rows(data.X_labeled, data.X_valid) == 0
    assert len(data.X_pool) + len(data.X_test) == 1797 and data.X_labeled.dtype == np.float64
    assert 0 <= data.X_pool.min() and data.X_pool.max() <= 1


def test_few_label_splits_depend_on_the_seed_only():
    a, b, c = pt.few_label_splits(5, 0), pt.few_label_splits(5, 0), pt.few_label_splits(5, 1)
    assert np.array_equal(a.X_labeled, b.X_labeled) and not np.array_equal(a.X_labeled, c.X_labeled)
    assert np.array_equal(a.X_test, c.X_test)


def test_the_shared_pool_is_read_only():
    data = pt.few_label_splits(2, 0)
    with pytest.raises(ValueError):
        data.X_pool[0, 0] = 1.0


def test_shared_rows_counts_exact_matches():
    a = np.arange(12.0).reshape(4, 3)
    assert pt.shared_rows(a, a[[1, 3]]) == 2 and pt.shared_rows(a, a + 0.5) == 0
    assert pt.shared_rows(a.astype(np.float32), a) == 4  # float32 and float64 copies of one image match


# ------------------------------------------------------------------------------------------------------------
# Augmented views and pairs
# ------------------------------------------------------------------------------------------------------------


def test_augment_without_change_is_the_identity_and_keeps_shapes():
    X = pt.few_label_splits(2, 0).X_labeled
    same = pt.augment(X, np.random.default_rng(0), rotation=0, shear=0, scale=0, shift=0)
    assert np.allclose(same, X, atol=1e-12)
    batch = np.stack([X, X])
    assert pt.augment(batch, np.random.default_rng(0)).shape == batch.shape


def test_augment_is_reproducible_moves_pixels_and_keeps_most_ink():
    X = pt.few_label_splits(5, 0).X_labeled
    a, b = pt.augment(X, np.random.default_rng(1)), pt.augment(X, np.random.default_rng(1))
    assert np.array_equal(a, b) and not np.allclose(a, X)
    kept = a.sum(axis=1) / X.sum(axis=1)
    assert 0.8 < np.median(kept) < 1.2 and a.min() >= 0 and a.max() <= 1 + 1e-12


def test_make_pairs_is_balanced_correct_and_uses_the_given_images_only():
    data = pt.few_label_splits(3, 1)
    left, right, same = pt.make_pairs(data.X_labeled, data.y_labeled, 5000, np.random.default_rng(2))
    lookup = {row.tobytes(): label for row, label in zip(data.X_labeled, data.y_labeled, strict=True)}
    y_left = np.array([lookup[r.tobytes()] for r in left])
    y_right = np.array([lookup[r.tobytes()] for r in right])
    assert same.mean() == 0.5 and np.array_equal(same == 1, y_left == y_right)
    assert not np.any(np.all(left == right, axis=1))
    assert np.all(np.bincount(y_right, minlength=10) > 300)  # every digit appears on both sides


def test_make_pairs_uses_only_its_generator():
    data = pt.few_label_splits(3, 1)
    np.random.seed(0)  # noqa: NPY002 (the global state must not matter)
    first = pt.make_pairs(data.X_labeled, data.y_labeled, 50, np.random.default_rng(5))
    np.random.seed(1)  # noqa: NPY002
    second = pt.make_pairs(data.X_labeled, data.y_labeled, 50, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_the_modules_make_pairs_passes_the_exercise_check():
    from utils.checks import ch07

    assert ch07.q2.evaluate(pt.make_pairs).passed


# ------------------------------------------------------------------------------------------------------------
# The networks on the engine: the encoders' draws, the chapter's own losses against finite differences
# ------------------------------------------------------------------------------------------------------------


def test_new_encoders_draw_he_normal_layer_by_layer():
    """The draw order the zoo's and the chapter's seeds rely on: each layer's kernels, He normal, zero biases."""
    encoders, rng = pt.new_encoders(2, np.random.default_rng(0)), np.random.default_rng(0)
    for W, b in zip(encoders.weights, encoders.biases, strict=True):
        _, fan_in, fan_out = W.shape
        assert np.array_equal(W, np.sqrt(2 / fan_in) * rng.standard_normal((2, fan_in, fan_out)))
        assert b.shape == (2, 1, fan_out) and not b.any()


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


def test_siamese_step_matches_finite_differences():
    rng = np.random.default_rng(0)
    encoder = nets.init_net((5, 4, 3), "relu", n_models=2, seed=rng)
    head = nets.init_net((3, 2), ["linear"], n_models=2, seed=rng)
    left, right, same = rng.normal(size=(2, 6, 5)), rng.normal(size=(2, 6, 5)), rng.integers(0, 2, (2, 6))

    def total():
        return float(np.sum(pt._siamese_step(encoder, head, left, right, same)[0]))

    _, grads = pt._siamese_step(encoder, head, left, right, same)
    for analytic, param in zip(grads, encoder.parameters() + head.parameters(), strict=True):
        numeric = _numeric_gradient(total, param)
        assert np.linalg.norm(analytic - numeric) <= 1e-6 * np.linalg.norm(numeric)


def test_nt_xent_matches_its_formula_and_finite_differences():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2, 8, 3))
    loss, grad = pt.nt_xent_gradient(z, 0.3)
    for m in range(2):
        u = z[m] / np.linalg.norm(z[m], axis=1, keepdims=True)
        s = u @ u.T / 0.3
        terms = [
            -np.log(np.exp(s[i, (i + 4) % 8]) / sum(np.exp(s[i, k]) for k in range(8) if k != i)) for i in range(8)
        ]
        assert np.isclose(loss[m], np.mean(terms), rtol=1e-12)

    def total():
        return float(np.sum(pt.nt_xent_gradient(z, 0.3)[0]))

    numeric = _numeric_gradient(total, z)
    assert np.linalg.norm(grad - numeric) <= 1e-6 * np.linalg.norm(numeric)


def test_nt_xent_is_low_when_views_agree():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1, 32, 8))
    aligned = np.concatenate([z[:, :16], z[:, :16]], axis=1)
    assert pt.nt_xent_gradient(aligned, 0.2)[0][0] < 0.5 * pt.nt_xent_gradient(z, 0.2)[0][0]


# ------------------------------------------------------------------------------------------------------------
# Training classifiers: frozen layers, early stopping, the probe-then-fine-tune recipe
# ------------------------------------------------------------------------------------------------------------


def _labeled(k=2, m=2):
    data = pt.few_label_splits(k, 0)
    X, y = np.stack([data.X_labeled] * m), np.stack([data.y_labeled] * m)
    return data, X, y, (np.stack([data.X_valid] * m), np.stack([data.y_valid] * m))


def test_early_stopping_keeps_the_best_validation_checkpoint():
    data, X, y, valid = _labeled()
    network = pt.new_encoders(2, np.random.default_rng(0)).then(pt.new_heads(2, 0))
    trained = pt.train_classifiers(
        network, X, y, valid, (data.X_test, data.y_test), steps=100, learning_rate=1e-3, every=25
    )
    assert np.all(trained.best_step % 25 == 0) and np.all(trained.best_step <= 100)
    assert np.array_equal(trained.test_accuracy, nets.accuracy(trained.best, data.X_test, data.y_test))
    assert np.all(nets.accuracy(trained.best, *valid) >= nets.accuracy(trained.network, *valid))  # best, not last
    last = pt.train_classifiers(
        pt.new_encoders(2, np.random.default_rng(0)).then(pt.new_heads(2, 0)),
        X,
        y,
        None,
        (data.X_test, data.y_test),
        steps=30,
        learning_rate=1e-3,
        select=False,
    )
    assert np.all(last.best_step == 30) and last.best is last.network


def test_probe_then_fine_tune_trains_the_probe_first():
    data = pt.few_label_splits(2, 0)
    encoder = pt.new_encoders(2, np.random.default_rng(0))
    probe, tuned = pt.probe_then_fine_tune(encoder, data.X_labeled, data.y_labeled, (data.X_test, data.y_test))
    assert probe.shape == tuned.shape == (2,) and np.all(probe > 0.3) and np.all(tuned > 0.3)
    assert np.array_equal(encoder.weights[0], pt.new_encoders(2, np.random.default_rng(0)).weights[0])  # untouched


# ------------------------------------------------------------------------------------------------------------
# Pretraining: each task learns (short runs)
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pretrained():
    X_pool, y_pool, _, _ = pt.digits_task()
    seeds = (0, 1)
    return {
        "simclr": pt.pretrain_simclr(X_pool, seeds, steps=60),
        "autoencoder": pt.pretrain_autoencoder(X_pool, seeds, steps=60),
        "pairs": pt.pretrain_pairs(X_pool, y_pool, seeds, steps=60),
    }


@pytest.mark.parametrize("kind", pt.PRETRAINED)
def test_each_pretraining_lowers_its_loss(pretrained, kind):
    losses = pretrained[kind].losses
    assert losses.shape == (60, 2) and np.all(losses[-10:].mean(axis=0) < 0.9 * losses[:5].mean(axis=0))
    assert pretrained[kind].encoder.sizes == pt.ENCODER_SIZES


def test_letter_pairs_pretrain_on_letters_and_evaluate_on_digits():
    letters = pt.pretrain_letter_pairs((0, 1), n_per_class=4, n_answers=200, steps=30)
    assert letters.kind == "letters" and letters.losses.shape == (30, 2)
    frozen, tuned = pt.evaluate_encoders(letters.encoder, 2, (0, 1))
    assert frozen.shape == tuned.shape == (2,) and np.all((tuned > 0.3) & (tuned <= 1))


def test_pair_answers_depend_on_the_seed():
    X_pool, y_pool, _, _ = pt.digits_task()
    left, right, same = pt.pair_answers(X_pool, y_pool, 100, seeds=(0, 1))
    assert left.shape == (2, 100, 64) and same.shape == (2, 100) and not np.array_equal(left[0], left[1])


# ------------------------------------------------------------------------------------------------------------
# The sweep's bookkeeping, on a small real sweep and on a made-up grid
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sweep(pretrained):
    return pt.run_sweep(labels_per_class=(2, 10), seeds=(0, 1), pretrained=pretrained)


def test_small_sweep_fills_the_cells_that_exist(small_sweep):
    acc = small_sweep.accuracy
    assert acc.shape == (len(pt.KINDS), 2, 2, 2)
    for kind in pt.KINDS:
        for reuse in pt.REUSE:
            cell = acc[list(pt.KINDS).index(kind), pt.REUSE.index(reuse)]
            exists = pt.ONLY.get(kind, reuse) == reuse
            assert np.all(np.isfinite(cell)) if exists else np.all(np.isnan(cell)), (kind, reuse)
    finite = acc[np.isfinite(acc)]
    assert np.all((finite > 0.3) & (finite <= 1))


def test_sweep_is_deterministic(small_sweep, pretrained):
    again = pt.run_sweep(labels_per_class=(2,), seeds=(0, 1), pretrained=pretrained)
    assert np.array_equal(again.accuracy[:, :, 0], small_sweep.accuracy[:, :, 0], equal_nan=True)


def test_fresh_head_fine_tune_returns_one_accuracy_per_kind_and_seed(pretrained):
    acc = pt.fresh_head_fine_tune(2, (0, 1), pretrained)
    assert acc.shape == (len(pt.PRETRAINED), 2) and np.all((acc > 0.3) & (acc <= 1))


def _made_up_sweep():
    acc = np.full((len(pt.KINDS), 2, 2, 3), np.nan)
    kinds = list(pt.KINDS)
    for kind in kinds:
        for r, reuse in enumerate(pt.REUSE):
            if pt.ONLY.get(kind, reuse) == reuse:
                acc[kinds.index(kind), r] = 0.5
    acc[kinds.index("simclr"), 0, 0] = [0.6, 0.7, 0.55]  # better on every seed
    acc[kinds.index("simclr"), 0, 1] = [0.6, 0.4, 0.5]  # mixed
    acc[kinds.index("autoencoder"), 1, 0] = [0.4, 0.3, 0.45]  # worse on every seed
    return pt.Sweep(acc, (2, 10), (0, 1, 2))


def test_verdicts_need_every_seed():
    sweep = _made_up_sweep()
    assert sweep.verdict("simclr", "fine-tuned", 2) == "helps"
    assert sweep.verdict("simclr", "fine-tuned", 10) == "mixed"
    assert sweep.verdict("autoencoder", "frozen", 2) == "hurts"
    assert np.allclose(sweep.gain("simclr", "fine-tuned", 2), [0.1, 0.2, 0.05])
    assert np.array_equal(sweep.get("none", "frozen", 2), sweep.get("none", "fine-tuned", 2))  # scratch has one
    assert np.array_equal(sweep.get("logistic", "fine-tuned", 2), sweep.get("logistic", "frozen", 2))


def test_tables_print_means_stds_and_worst_seeds():
    sweep = _made_up_sweep()
    table = sweep.table("fine-tuned")
    assert "from scratch" in table and "0.62 ±0.06" in table and "contrastive (SimCLR), fine-tuned" in table
    gains = sweep.gains_table("fine-tuned")
    assert "+11.7 [+5.0]" in gains and "gain over from scratch" in gains


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
    from utils.plots import plot_digit_rows, plot_pretraining_gains, plot_pretraining_sweep, plot_pretraining_view

    view = pt.compute_pretraining_view("simclr", "fine-tuned", 2, sweep=small_sweep)
    assert len(plot_pretraining_view(view, title="t")) == 2
    assert len(plot_pretraining_sweep(small_sweep)) == 2
    ax = plot_pretraining_gains(small_sweep, pt.PRETRAINED)
    assert len(ax.get_legend().get_texts()) == len(pt.PRETRAINED)
    images = pt.few_label_splits(2, 0).X_test
    assert plot_digit_rows({"a": images, "b": images}, n=4).shape == (2, 4)
    plt.close("all")


def test_explorer_builds_and_responds(small_sweep):
    from utils import widgets

    box = widgets.explore_pretraining(small_sweep, kind="simclr", labels_per_class=2)
    controls = box.controls
    assert set(controls) == {"kind", "reuse", "labels_per_class"}
    assert "none" not in [value for _, value in controls["kind"].options]
    controls["kind"].value = "pairs"
    controls["reuse"].value = "frozen"
    controls["labels_per_class"].value = 10
    controls["kind"].value = "logistic"
    plt.close("all")


# ------------------------------------------------------------------------------------------------------------
# Keras: the numpy encoder's weights in a Keras encoder, and a copy that keeps them where clone_model does not
# ------------------------------------------------------------------------------------------------------------


def test_keras_encoder_computes_the_numpy_features():
    import keras

    keras.utils.set_random_seed(0)
    stack = pt.new_encoders(3, np.random.default_rng(0))
    X = pt.few_label_splits(2, 0).X_test[:20]
    encoder = pt.keras_encoder(stack, index=2)
    assert np.allclose(np.asarray(encoder(X)), nets.predict(stack, X)[2], atol=1e-5)
    clone = keras.models.clone_model(encoder)
    copy = pt.copy_encoder(encoder, trainable=False)
    assert not np.array_equal(clone.get_weights()[0], encoder.get_weights()[0])
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), encoder.get_weights(), strict=True))
    assert not copy.trainable and encoder.trainable and copy.weights[0] is not encoder.weights[0]


# ------------------------------------------------------------------------------------------------------------
# The full pretrainings in the zoo (made by `make zoo`): stored in Keras, loaded back as numpy encoders
# ------------------------------------------------------------------------------------------------------------


def test_encoders_survive_the_round_trip_through_keras():
    stack = pt.new_encoders(2, np.random.default_rng(3))
    model = pt.encoders_to_keras(stack, seeds=(0, 1))
    back = pt.encoders_from_keras(model, seeds=(0, 1))
    assert back.sizes == stack.sizes and back.weights[0].dtype == np.float64
    X = pt.few_label_splits(2, 0).X_test[:10]
    assert np.allclose(nets.predict(back, X), nets.predict(stack, X), atol=1e-5)  # stored as float32
    assert np.allclose(np.asarray(model(X)), np.concatenate(list(nets.predict(stack, X)), axis=1), atol=1e-4)


@pytest.mark.parametrize("kind", [*pt.PRETRAINED, "pairs_plain"])
def test_the_zoo_holds_the_full_pretrainings(kind):
    from utils import zoo

    item = zoo.entry(pt.zoo_name(kind))
    assert item.recipe["kind"] == kind and item.recipe["seeds"] == list(pt.SEEDS) and item.bytes < 1024**2
    assert item.recipe["steps"] == pt.FULL_PRETRAINING[kind]["steps"]
    loaded = pt.load_pretrained((kind,))[kind]
    assert loaded.encoder.n_models == len(pt.SEEDS) and loaded.encoder.sizes == pt.ENCODER_SIZES
    assert item.test_accuracy > 0.9  # 1-nearest-neighbour on the features: they separate the digits


def test_scratch_gets_a_larger_cap_and_the_sweep_records_best_steps(small_sweep):
    assert pt.SCRATCH["steps"] > pt.FINE_TUNE["steps"]
    assert set(small_sweep.best_steps) == {"none", "augmented", *pt.PRETRAINED}
    steps = small_sweep.best_steps["none"]
    assert steps.shape == (2, 2) and np.all((steps >= 0) & (steps <= pt.SCRATCH["steps"]))


def test_the_zoo_file_of_encoders_is_the_same_bytes_on_every_save(tmp_path):
    from tools import make_zoo

    stack = pt.new_encoders(2, np.random.default_rng(4))
    for name in ("one", "two"):  # two models built in one session: Keras' automatic names and ids must not leak in
        make_zoo.save_reproducibly(pt.encoders_to_keras(stack, seeds=(0, 1), name="e"), tmp_path / f"{name}.keras")
    assert (tmp_path / "one.keras").read_bytes() == (tmp_path / "two.keras").read_bytes()

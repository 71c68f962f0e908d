"""utils.clipping against trusted references: TensorFlow's clipping ops, Keras' optimizers, finite differences."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import clipping  # noqa: E402

THRESHOLDS = (0.5, 1.0, 100.0)  # below, near and above the example gradient's global norm


@pytest.fixture(scope="module")
def grads():
    return clipping.example_gradients(seed=3)


# ------------------------------------------------------------------------------------------------------------
# The three methods, from scratch, against TensorFlow and Keras
# ------------------------------------------------------------------------------------------------------------


def test_global_norm_matches_tensorflow(grads):
    import tensorflow as tf

    assert clipping.global_norm(grads) == pytest.approx(float(tf.linalg.global_norm(grads)), rel=1e-12)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_the_three_methods_match_tensorflow_ops(grads, threshold):
    import tensorflow as tf

    by_value = [tf.clip_by_value(g, -threshold, threshold).numpy() for g in grads]
    by_norm = [tf.clip_by_norm(g, threshold).numpy() for g in grads]
    by_global, norm = tf.clip_by_global_norm(grads, threshold)
    ours, our_norm = clipping.clip_by_global_norm(grads, threshold)
    for mine, theirs in (
        (clipping.clip_by_value(grads, threshold), by_value),
        (clipping.clip_by_norm(grads, threshold), by_norm),
        (ours, [g.numpy() for g in by_global]),
    ):
        assert all(np.allclose(a, b, rtol=1e-12, atol=1e-15) for a, b in zip(mine, theirs, strict=True))
    assert our_norm == pytest.approx(float(norm), rel=1e-12)


@pytest.mark.parametrize("method", clipping.METHODS)
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_keras_options_match_numpy(grads, method, threshold):
    keras_result = clipping.keras_clipped(grads, clipping.KERAS_OPTIONS[method], threshold)
    numpy_result = clipping.clip(grads, method, threshold)
    assert all(np.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(keras_result, numpy_result, strict=True))


def test_directions_and_lengths(grads):
    clipped, norm = clipping.clip_by_global_norm(grads, 1.0)
    assert norm > 1 and clipping.global_norm(clipped) == pytest.approx(1.0)
    assert clipping.cosine(grads, clipped) == pytest.approx(1.0, abs=1e-12)
    assert clipping.cosine(grads, clipping.clip_by_norm(grads, 1.0)) < 0.99  # per tensor: the direction turns
    assert clipping.cosine(grads, clipping.clip_by_value(grads, 0.1)) < 0.99


@pytest.mark.parametrize("method", [*clipping.METHODS, "none"])
def test_clipping_never_changes_its_inputs_and_leaves_small_gradients_alone(grads, method):
    saved = [g.copy() for g in grads]
    result = clipping.clip(grads, method, 1e6)
    assert all(np.array_equal(g, s) for g, s in zip(grads, saved, strict=True))
    assert all(np.array_equal(r, g) and not np.shares_memory(r, g) for r, g in zip(result, grads, strict=True))


def test_unknown_method_is_refused(grads):
    with pytest.raises(ValueError, match="unknown clipping method"):
        clipping.clip(grads, "by_magic", 1.0)


def test_keras_options_are_mutually_exclusive():
    assert "Only one of `clipnorm`, `clipvalue` and `global_clipnorm`" in clipping.mutually_exclusive_error()


def test_an_infinite_gradient_becomes_nan():
    clipped, norm = clipping.tf_clip_by_global_norm([np.array([np.inf, 1.0])], 1.0)
    assert norm == np.inf and np.all(np.isnan(clipped[0]))


# ------------------------------------------------------------------------------------------------------------
# The recurrent network and the training loop
# ------------------------------------------------------------------------------------------------------------


def test_make_sequences_targets_have_variance_one():
    x, y = clipping.make_sequences(n=2000, seed=1)
    assert x.shape == (2000, clipping.SEQ_LENGTH, 1) and y.shape == (2000, 1)
    assert np.allclose(y[:, 0], x.sum(axis=(1, 2)) / np.sqrt(clipping.SEQ_LENGTH), atol=1e-5)
    assert 0.9 < y.var() < 1.1


def test_build_rnn_sets_the_spectral_radius_and_is_seeded():
    a, b = clipping.build_rnn(1.3, seed=4), clipping.build_rnn(1.3, seed=4)
    kernel = a.get_layer("rnn").cell.recurrent_kernel.numpy()
    assert clipping.spectral_radius(kernel) == pytest.approx(1.3, rel=1e-5)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


def test_input_gradients_grow_back_in_time_above_radius_one():
    x, y = clipping.make_sequences(n=32)
    vanishing = clipping.input_gradient_norms(clipping.build_rnn(0.8), x, y)
    exploding = clipping.input_gradient_norms(clipping.build_rnn(1.5), x, y)
    assert vanishing.shape == (clipping.SEQ_LENGTH,)
    assert vanishing[0] < 1e-2 * vanishing[-1] and exploding[0] > exploding[-1]


def test_recording_restarts_from_weights_and_keeps_the_learning_rate():
    import keras

    from utils.models import restart

    x, y = clipping.make_sequences(n=64)
    optimizer = keras.optimizers.SGD(0.05, global_clipnorm=1.0)
    model, start = clipping.build_rnn(1.2), clipping.build_rnn(1.2).get_weights()
    first = clipping.train_recording(restart(model, start, optimizer), optimizer, x, y, steps=4)
    second = clipping.train_recording(restart(model, start, optimizer), optimizer, x, y, steps=4)
    assert np.array_equal(first.loss, second.loss) and np.array_equal(first.grad_norm, second.grad_norm)
    assert float(np.asarray(optimizer.learning_rate)) == pytest.approx(0.05)
    assert first.loss[-1] < first.loss[0] and not first.diverged


def test_train_run_statistics():
    run = clipping.TrainRun(np.array([1.0, 0.5, np.nan]), np.array([0.5, 2.0, np.inf]))
    assert run.diverged and np.isnan(run.final_loss()) and run.clipped_fraction(1.0) == pytest.approx(2 / 3)
    healthy = clipping.TrainRun(np.array([1.0, 0.5]), np.array([0.5, 2.0]))
    assert healthy.final_loss(last=1) == 0.5 and not healthy.diverged


def test_seed_results_summary_rounds_and_counts():
    runs = [clipping.TrainRun(np.array([1.0, v]), np.ones(2)) for v in (0.5, 0.7)]
    runs.append(clipping.TrainRun(np.array([1.0, np.nan]), np.ones(2)))
    summary = clipping.SeedResults((0, 1, 2), runs).summary()
    assert "0.80 ± 0.05" in summary and "diverged (NaN): 1 of 3" in summary


def test_seed_results_report_the_fraction_of_clipped_steps():
    runs = [clipping.TrainRun(np.array([1.0, v]), np.array([0.5, 2.0])) for v in (0.5, 0.7)]
    unclipped, clipped = clipping.SeedResults((0, 1), runs), clipping.SeedResults((0, 1), runs, threshold=1.0)
    assert np.all(unclipped.clipped == 0) and np.all(clipped.clipped == 0.5)
    assert "clipped steps  50% (50%-50%)" in clipped.row() and "0.80 ± 0.05" in clipped.row()  # means of the last steps
    assert "clipped steps    -" in unclipped.row()
    blown = clipping.SeedResults((0,), [clipping.TrainRun(np.array([5e9, 5e9]), np.ones(2))])
    assert "5e+09" in blown.row()  # a run that blew up without NaN: its magnitude


def test_largest_usable_learning_rate():
    def results(*finals):
        return clipping.SeedResults((0, 1), [clipping.TrainRun(np.array([v]), np.ones(1)) for v in finals])

    sweep = {0.01: results(0.4, 0.5), 0.03: results(0.5, 0.8), 0.1: results(np.nan, 0.3)}
    assert clipping.largest_usable(sweep, 0.7) == 0.01 and clipping.largest_usable(sweep, 0.9) == 0.03
    assert clipping.largest_usable(sweep, 0.1) is None


def test_sweep_keeps_the_threshold_and_the_healthy_norms_are_the_sweeps():
    sweep = clipping.learning_rate_sweep(1.2, (0.01,), 7.5, seeds=(0,), steps=5)
    assert sweep[0.01].threshold == 7.5 and len(sweep[0.01].runs[0].loss) == 5
    plain = clipping.learning_rate_sweep(1.2, (0.01,), seeds=(0,), steps=5)[0.01]
    assert plain.threshold is None
    assert np.array_equal(clipping.healthy_norms(seeds=(0,), steps=5), plain.runs[0].grad_norm)


def test_a_sweep_gives_the_same_runs_as_a_fresh_optimizer_per_learning_rate():
    import keras

    sweep = clipping.learning_rate_sweep(1.2, (0.01, 0.3), 2.0, seeds=(0, 1), steps=6)  # 0.3 runs after 0.01
    alone = clipping.rnn_over_seeds(1.2, keras.optimizers.SGD(0.3, global_clipnorm=2.0), seeds=(0, 1), steps=6)
    for a, b in zip(sweep[0.3].runs, alone.runs, strict=True):
        assert np.array_equal(a.loss, b.loss, equal_nan=True) and np.array_equal(a.grad_norm, b.grad_norm)
    assert alone.threshold == 2.0 and np.array_equal(sweep[0.3].clipped, alone.clipped)


def test_what_each_method_makes_of_an_infinite_gradient():
    results = clipping.nonfinite_clipping()
    assert [g.tolist() for g in results["Keras clipvalue"]] == [[1.0, 1.0], [0.5]]  # the overflow is hidden
    assert [g.tolist() for g in results["numpy clip by value"]] == [[1.0, 1.0], [0.5]]
    for name in ("Keras clipnorm", "numpy clip by norm"):  # only the offending tensor
        first, second = results[name]
        assert np.isnan(first[0]) and first[1] == 0 and second.tolist() == [0.5]
    for name in ("Keras global_clipnorm", "tf.clip_by_global_norm"):
        assert all(np.all(np.isnan(g)) for g in results[name])
    first, second = results["numpy clip by global norm"]
    assert np.isnan(first[0]) and first[1] == 0 and second.tolist() == [0.0]
    negative = clipping.keras_clipped([np.array([-np.inf, 2.0])], "clipvalue", 1.0)
    assert negative[0].tolist() == [-1.0, 1.0]


def test_float32_overflows_the_squared_global_norm():
    huge = [np.array([1e30, 1.0], np.float32), np.array([0.5], np.float32)]
    assert clipping.float32_global_norm(huge) == np.inf
    assert clipping.global_norm(huge) == pytest.approx(1e30, rel=1e-6)
    assert all(np.all(np.isnan(g)) for g in clipping.keras_clipped(huge, "global_clipnorm", 1.0))


# ------------------------------------------------------------------------------------------------------------
# The tiny numpy RNN and the explorer
# ------------------------------------------------------------------------------------------------------------


def test_numpy_rnn_gradients_match_finite_differences():
    rnn = clipping.init_numpy_rnn(units=4, radius=1.3, seed=2)
    x, y = clipping.make_sequences(n=5, length=6, seed=2)
    x, y = x.astype(np.float64), y.astype(np.float64)
    _, grads = clipping.numpy_rnn_loss_and_grads(rnn, x, y)
    h = 1e-6
    for param, grad in zip(rnn.params(), grads, strict=True):
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            up = clipping.numpy_rnn_loss_and_grads(rnn, x, y)[0]
            param[index] = saved - h
            down = clipping.numpy_rnn_loss_and_grads(rnn, x, y)[0]
            param[index] = saved
            numeric[index] = (up - down) / (2 * h)
        assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_numpy_rnn_explodes_without_clipping_and_learns_with_it():
    unclipped = clipping.numpy_rnn_run("none", 0.0)
    clipped = clipping.numpy_rnn_run("global_norm", 1.0)
    ends = unclipped.loss[np.isfinite(unclipped.loss)]
    assert ends[-1] > 1e6 and unclipped.clipped_fraction() == 0
    assert not clipped.diverged and np.mean(clipped.loss[-10:]) < 0.6 < clipped.loss[0]
    assert clipping.numpy_rnn_run("global_norm", 1.0) is clipped  # cached: a slider back to a value is instant


def test_compute_clipping_2d():
    plane = clipping.compute_clipping_2d(angle=20, length=3, threshold=1, other_norm=2)
    assert plane.angle("value") > 10 and plane.angle("norm") < 1e-6 and plane.angle("global_norm") < 1e-6
    assert np.linalg.norm(plane.clipped["global_norm"]) == pytest.approx(3 / np.sqrt(13))
    short = clipping.compute_clipping_2d(length=0.5, threshold=1, other_norm=0)
    assert all(np.allclose(v, short.gradient) for v in short.clipped.values())


def test_explorer_builds_responds_and_plots():
    from utils import widgets
    from utils.plots import plot_clipping_explorer, plot_norm_histogram, plot_time_step_gradients

    box = widgets.explore_clipping()
    assert set(box.controls) == {"angle", "length", "threshold", "other_norm", "method"}
    box.controls["threshold"].value = 100.0
    box.controls["method"].value = "value"
    view = clipping.compute_clipping_explorer(threshold=0.3, method="norm")
    assert "by global norm" in widgets.clipping_title(view)
    fig = plot_clipping_explorer(view, title="t")
    assert len(fig.axes) == 3
    assert plot_norm_histogram(np.exp(np.linspace(0, 2, 50)), thresholds={"t": 2.0}) is not None
    assert plot_time_step_gradients({"a": np.ones(5)}) is not None
    plt.close("all")


def test_plot_learning_rate_sweep_marks_nan_and_large_losses():
    from utils.plots import plot_learning_rate_sweep

    def results(*finals):
        return clipping.SeedResults((0, 1), [clipping.TrainRun(np.array([v]), np.ones(1)) for v in finals])

    sweeps = {"plain": {0.01: results(0.4, 0.5), 0.3: results(np.nan, np.nan)}, "clipped": {0.3: results(9.0, 1.0)}}
    ax = plot_learning_rate_sweep(sweeps, target=0.7)
    assert ax.get_xscale() == "log" and ax.get_ylim()[1] > 3
    crosses = [line for line in ax.lines if line.get_marker() == "x" and len(line.get_xdata())]
    assert sum(len(line.get_xdata()) for line in crosses) == 3  # two NaN and one loss of 9, drawn at the ceiling
    plt.close("all")

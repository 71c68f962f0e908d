"""utils.init against trusted references: Keras' own fan counting, the samples of Keras' initializers
(truncated normals included), scipy's truncated normal, and sampled second moments; plus chapter 02's deep
stacks and explorer (utils.mlp, on the numpy engine)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils import init
from utils.activations import ACTIVATIONS, leaky_relu
from utils.init import (
    CORRECT_TABLE,
    INITS,
    KERAS_BUILTINS,
    SEED_TABLE,
    TRUNCATED_STD,
    compute_fans,
)
from utils.mlp import build_stack, compare_stacks, compute_init_stats, leaky_stack_std, measure_stack

SHAPES = [
    (64, 10),
    (256, 128),
    (10, 300),
    (3, 3, 16, 32),
    (5, 5, 3, 64),
    (3, 64, 128),
    (2, 2, 2, 8, 4),
    (7,),
    (),
]
KERNELS = [(256, 128), (3, 3, 64, 128), (5, 100, 20)]


@pytest.fixture(scope="module")
def keras():
    from utils.course import setup

    setup()
    import keras

    return keras


# ------------------------------------------------------------------------------------------------------------
# Fans and formulas
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_fans_match_keras(keras, shape):
    from keras.src.initializers.random_initializers import compute_fans as keras_fans

    assert compute_fans(shape) == keras_fans(shape)


def test_fan_modes_and_bad_mode():
    assert init.fan((3, 3, 64, 128), "fan_in") == 576
    assert init.fan((3, 3, 64, 128), "fan_out") == 1152
    assert init.fan((3, 3, 64, 128), "fan_avg") == 864
    with pytest.raises(ValueError, match="mode must be one of"):
        init.fan((2, 2), "fan_sum")


@pytest.mark.parametrize("shape", KERNELS, ids=str)
def test_formulas(shape):
    fan_in, fan_out = compute_fans(shape)
    assert math.isclose(INITS["glorot"].std(shape), math.sqrt(2 / (fan_in + fan_out)))
    assert math.isclose(INITS["glorot"].limit(shape), math.sqrt(6 / (fan_in + fan_out)))
    assert math.isclose(INITS["he"].std(shape), math.sqrt(2 / fan_in))
    assert math.isclose(INITS["lecun"].variance(shape), 1 / fan_in)
    assert math.isclose(INITS["glorot_x4"].std(shape), 4 * INITS["glorot"].std(shape))
    for rule in INITS.values():
        assert math.isclose(rule.limit(shape), rule.std(shape) * math.sqrt(3))


def test_truncation_constant_matches_keras_and_scipy():
    from scipy.stats import truncnorm

    assert abs(init.truncated_std_factor(2.0) - TRUNCATED_STD) < 1e-12
    assert abs(truncnorm.std(-2, 2) - TRUNCATED_STD) < 1e-12
    assert abs(init.truncated_std_factor(50.0) - 1.0) < 1e-12  # no truncation, no correction


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 0.3, 0.5])
def test_leaky_relu_scale_matches_the_sampled_second_moment(alpha):
    z = np.random.default_rng(0).standard_normal(1_000_000)
    kept = np.mean(leaky_relu(z, alpha) ** 2) / np.mean(z**2)
    assert abs(init.leaky_relu_scale(alpha) * kept - 1) < 0.01


# ------------------------------------------------------------------------------------------------------------
# Against the samples of Keras' initializers
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KERAS_BUILTINS)
@pytest.mark.parametrize("shape", KERNELS, ids=str)
def test_keras_builtins_sample_the_formula_variance(keras, name, shape):
    rule, distribution = KERAS_BUILTINS[name]
    initializer = getattr(keras.initializers, name)(seed=1)
    assert (initializer.scale, initializer.mode, initializer.distribution) == (
        INITS[rule].scale,
        INITS[rule].mode,
        distribution,
    )
    weights = np.asarray(initializer(shape), dtype=np.float64)
    assert abs(weights.var() / INITS[rule].variance(shape) - 1) < 0.03
    bound = INITS[rule].limit(shape) if distribution == "uniform" else 2 * INITS[rule].std(shape) / TRUNCATED_STD
    assert np.abs(weights).max() <= bound * (1 + 1e-6)


@pytest.mark.parametrize("key", list(INITS))
@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal"])
def test_every_rule_in_keras_samples_its_variance(keras, key, distribution):
    shape = (3, 3, 64, 128)
    weights = np.asarray(INITS[key].keras(distribution, seed=3)(shape), dtype=np.float64)
    assert abs(weights.var() / INITS[key].variance(shape) - 1) < 0.03


def test_an_uncorrected_truncated_normal_loses_variance(keras):
    weights = np.asarray(keras.random.truncated_normal((200_000,), stddev=1.0, seed=0))
    assert abs(weights.std() - TRUNCATED_STD) < 0.005


def test_keras_sampling_table(keras):
    table = init.keras_sampling_table((3, 3, 64, 128))
    assert set(table) == set(KERAS_BUILTINS)
    assert all(abs(measured / expected - 1) < 0.02 for _, _, expected, measured in table.values())


def test_keras_defaults_the_chapter_states(keras):
    import inspect

    import tensorflow as tf

    default = keras.initializers.VarianceScaling()
    assert (default.scale, default.mode, default.distribution) == (1.0, "fan_in", "truncated_normal")  # LeCun
    assert inspect.signature(tf.compat.v1.variance_scaling_initializer).parameters["scale"].default == 1.0
    assert keras.initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    assert abs(1.3 * TRUNCATED_STD**2 - 1) < 0.01  # TF1 contrib's rough correction


def test_shared_initializer_object_repeats_itself_unless_seeded_by_a_generator(keras):
    shared = keras.initializers.GlorotUniform()
    assert np.array_equal(shared((8, 8)), shared((8, 8)))
    fresh = INITS["glorot"].keras("uniform", seed=keras.random.SeedGenerator(0))
    assert not np.array_equal(fresh((8, 8)), fresh((8, 8)))


# ------------------------------------------------------------------------------------------------------------
# The tables
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", CORRECT_TABLE + SEED_TABLE, ids=lambda r: f"{r.key}-{r.init}")
@pytest.mark.parametrize("shape", KERNELS, ids=str)
def test_printed_formulas_are_the_rules(row, shape):
    rule = INITS[row.init]
    assert np.allclose(row.evaluate(shape), (rule.limit(shape), rule.std(shape)), rtol=1e-12)
    assert row.key in ACTIVATIONS


def test_table_differences_are_the_two_errors():
    assert init.table_differences() == {
        "sigmoid": ("glorot", "glorot_x4"),
        "tanh": ("glorot_x4", "glorot"),
        "relu": ("he_fan_avg", "he"),
    }
    text = init.table_markdown(SEED_TABLE, mark=init.table_differences())
    assert text.count("❌") == 3 and "√2 · √(6 / (fan_in + fan_out))" in text
    assert "❌" not in init.table_markdown(CORRECT_TABLE)


def test_get_init():
    assert init.get_init("he") is INITS["he"]
    custom = init.Init("mine", 3.0, "fan_out")
    assert init.get_init(custom) is custom
    with pytest.raises(ValueError, match="unknown initialization"):
        init.get_init("kaiming")


# ------------------------------------------------------------------------------------------------------------
# Deep stacks: the verdicts the chapter asserts, on smaller stacks (fast)
# ------------------------------------------------------------------------------------------------------------


def test_build_stack_scales_hidden_layers_and_uses_glorot_for_the_output():
    widths = [128] * 5
    a = build_stack("tanh", "he", widths, seed=0)
    b = build_stack("tanh", "he", widths, multiplier=2.0, seed=0)
    assert np.allclose(b.weights[2], 2 * a.weights[2]) and np.allclose(b.weights[-1], a.weights[-1])
    assert abs(a.weights[2].std() / INITS["he"].std((128, 128)) - 1) < 0.02
    assert abs(a.weights[-1].std() / INITS["glorot"].std((128, 10)) - 1) < 0.1
    assert all(np.all(bias == 0) for bias in a.biases)


@pytest.mark.parametrize(
    "kwargs",
    [{"widths": []}, {"widths": [8] * 51}, {"widths": [300]}, {"widths": [8], "multiplier": 0.0}],
)
def test_build_stack_rejects_bad_arguments(kwargs):
    widths = kwargs.pop("widths")
    with pytest.raises(ValueError):
        build_stack("relu", "he", widths, **kwargs)


def test_stack_widths():
    assert init.stack_widths(4, 128, "bottleneck") == [128, 32, 128, 32]
    assert init.stack_widths(3, 64) == [64, 64, 64]
    with pytest.raises(ValueError):
        init.stack_widths(3, 64, "pyramid")


def test_verdicts_on_a_30_layer_stack():
    def verdict(activation, rule, **kwargs):
        return compare_stacks([(activation, rule)], depth=30, width=128, **kwargs)[0]

    assert np.all(verdict("tanh", "glorot_x4").grad_ratio > 1e4)
    assert np.all((verdict("tanh", "glorot").grad_ratio > 0.1) & (verdict("tanh", "glorot").grad_ratio < 10))
    relu_he = verdict("relu", "he")
    assert np.all((relu_he.act_ratio > 0.1) & (relu_he.act_ratio < 10))
    assert np.all(verdict("relu", "glorot").act_ratio < 1e-3)
    assert np.all(verdict("relu", "he_fan_avg", pattern="bottleneck").act_ratio < 0.2)
    assert np.all(verdict("relu", "he", pattern="bottleneck").act_ratio > 0.2)
    assert "tanh" in init.verdict_table([relu_he, verdict("tanh", "glorot")])


def test_coarse_verdicts_print_orders_of_magnitude_beyond_1e3():
    exploding = init.Verdict("tanh", "glorot_x4", np.array([1.0e9, 1.6e9]), np.array([0.77, 1.1]))
    assert exploding.row().endswith("1.0e+09..1.6e+09")
    assert exploding.row(coarse=True).endswith("1e+09..1e+09")
    assert "7.7e-01..1.1e+00" in init.verdict_table([exploding], coarse=True)
    assert init._ratio_text(2.5e-5, coarse=True) == "1e-05" and init._ratio_text(np.nan, coarse=True) == "nan"


def test_measure_stack_accepts_a_batch_of_data():
    rng = np.random.default_rng(0)
    stats = measure_stack("relu", "he", depth=5, width=32, X=rng.standard_normal((16, 20)), y=np.arange(16) % 10)
    assert len(stats) == 6 and np.all(np.isfinite(stats.grad_norm))


def test_leaky_stack_std_is_flat_with_the_leaky_gain():
    alpha = 0.3
    kept = leaky_stack_std(alpha, init.leaky_relu_scale(alpha))
    plain = leaky_stack_std(alpha, 2.0)
    assert 0.5 < kept[-1] / kept[0] < 2 and plain[-1] / plain[0] > 3
    with pytest.raises(ValueError):
        leaky_stack_std(alpha, 2.0, depth=0)


# ------------------------------------------------------------------------------------------------------------
# The explorer: compute, plot, widget
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_explorer_compute_works_for_every_activation_and_rule(activation):
    for rule in INITS:
        for pattern in init.WIDTH_PATTERNS:
            stats = compute_init_stats(activation, rule, depth=3, multiplier=0.1, pattern=pattern)
            assert len(stats) == 4 and np.all(np.isfinite(stats.act_std))


def test_explorer_extremes_stay_finite_and_quiet():
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.plots import plot_init_stats

    for activation in sorted(ACTIVATIONS):
        for rule in ("glorot_x4", "lecun"):
            for multiplier in (0.1, 10.0):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    stats = compute_init_stats(activation, rule, depth=50, multiplier=multiplier)
                assert np.all(np.isfinite(stats.act_std)) and np.all(np.isfinite(stats.grad_norm))
                assert all(np.all(np.isfinite(sample)) for sample in stats.samples)
    plot_init_stats(compute_init_stats("relu", "glorot_x4", 50, 10.0))  # the largest signal the explorer can make
    plt.close("all")


def test_explorer_compute_is_pure():
    first = compute_init_stats("relu", "he", 20)
    compute_init_stats("tanh", "glorot_x4", 50, 3.0, "bottleneck")
    again = compute_init_stats("relu", "he", 20)
    assert np.array_equal(first.grad_norm, again.grad_norm)


def test_plots_return_their_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.plots import plot_init_stats, plot_runs, plot_stack_comparison

    stats = {"tanh": compute_init_stats(), "relu": compute_init_stats("relu", "he")}
    axes = plot_stack_comparison(stats, styles={"relu": "--"})
    assert len(axes) == 2 and len(axes[0].lines) == 2 and axes[0].lines[1].get_linestyle() == "--"
    low, high = axes[1].get_ylim()
    assert high / low >= 99  # a flat line is drawn over two decades at least
    runs = {"a": [{"loss": np.array([2.0, 1.0])}, {"loss": np.array([2.2, 1.2])}]}
    ax = plot_runs(runs, "loss")
    assert np.allclose(ax.lines[0].get_ydata(), [2.1, 1.1])
    fig = plot_init_stats(stats["tanh"], title="t")
    assert len(fig.axes) == 3 and fig.axes[2].get_yscale() == "log"
    plt.close("all")


def test_widget_builds_and_redraws():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.widgets import explore_initialization

    box = explore_initialization()
    controls = box.controls
    assert set(controls) == {"activation", "init", "depth", "multiplier", "pattern"}
    assert controls["depth"].min >= 3 and controls["depth"].max == init.MAX_DEPTH
    assert controls["multiplier"].value == 1.0
    controls["activation"].value = "relu"
    controls["init"].value = "he_fan_avg"
    controls["pattern"].value = "bottleneck"
    controls["depth"].value = controls["depth"].max
    assert set(controls["init"].options) >= {(f"{r.label} ({r.scale:.3g}/{r.mode})", k) for k, r in INITS.items()}
    plt.close("all")

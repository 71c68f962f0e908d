"""utils.mlp, chapters 01-03's experiments on the numpy engine: the gradient-flow explorer, the deep stacks'
shared draws, the trainer (bit for bit the old one's draws), dead and silent units, the comparison.

The engine itself (gradients against TensorFlow, a training run against Keras) is tested in test_nets.py."""

import numpy as np
import pytest

from utils import activations as A
from utils import mlp as M
from utils import nets
from utils.data import load_digits_splits


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="choose one of"):
        M.compute_gradient_flow(activation="softplusish")
    with pytest.raises(ValueError, match="depth >= 1"):
        M.compute_gradient_flow(depth=0)
    with pytest.raises(ValueError, match="depth <="):
        M.compute_gradient_flow(depth=M.MAX_EXPLORER_DEPTH + 1)


def test_compute_gradient_flow_is_pure_and_shaped():
    a = M.compute_gradient_flow(depth=6, width=16, activation="tanh", scale=1.0)
    b = M.compute_gradient_flow(depth=6, width=16, activation="tanh", scale=1.0)
    assert len(a) == 7 and a.names[-1] == "output"
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    bigger = M.compute_gradient_flow(depth=6, width=16, activation="tanh", scale=3.0)
    assert bigger.act_std[-2] > a.act_std[-2]


def test_sigmoid_gradients_vanish_and_big_tanh_explodes():
    assert M.compute_gradient_flow(depth=20, activation="sigmoid").vanishing_ratio() < 1e-9
    assert M.compute_gradient_flow(depth=30, activation="tanh", scale=4.0).vanishing_ratio() > 1e3
    assert 0.1 < M.compute_gradient_flow(depth=30, activation="tanh", scale=1.0).vanishing_ratio() < 10


def test_the_explorers_share_one_draw():
    """Chapter 01's explorer and chapter 02's stacks slice their weights from the same cached numbers."""
    X, _, unit = M.unit_draws(0)
    assert M.unit_draws(0)[2] is unit and not unit.flags.writeable
    flow = M.compute_gradient_flow(depth=3, width=64, activation="linear", scale=1.0)
    stack = M.measure_stack("linear", "lecun", depth=3, width=64)
    np.testing.assert_allclose(flow.act_std[:-1], stack.act_std[:-1], rtol=1e-6)  # LeCun = scale 1 over fan_in
    first = M.build_stack("tanh", "he", [64, 64]).weights[0]
    np.testing.assert_allclose(first, np.sqrt(2 / 64) * unit[0, :64, :64], rtol=1e-6)


def test_layer_stats_are_the_chain_rule():
    net = nets.init_net([4, 3, 2], "tanh", seed=0)
    X, y = np.ones((5, 4)), np.array([0, 1, 0, 1, 1])
    stats = M.layer_stats(net, X, y)
    trace = nets.forward(net, X)
    grads = nets.backward(net, trace, nets.softmax_cross_entropy(trace.output, y)[1])
    np.testing.assert_allclose(stats.grad_norm, [np.linalg.norm(g) for g in grads.weights])
    np.testing.assert_allclose(stats.act_std, [h.std() for h in trace.inputs[1:]])


def test_rrelu_training_draws_fresh_slopes():
    net = nets.init_net([64, 32, 10], "rrelu", seed=0, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    trace = nets.forward(net, X, rng=np.random.default_rng(1))
    negative = trace.pre[0] < 0
    slopes = trace.hidden[0][negative] / trace.pre[0][negative]
    assert A.RRELU_LOWER <= slopes.min() and slopes.max() <= A.RRELU_UPPER and slopes.std() > 0.03


def test_training_is_deterministic_and_learns():
    splits = load_digits_splits()
    a = M.train_numpy_net(splits, "elu", depth=3, width=32, epochs=3, seed=0)
    b = M.train_numpy_net(splits, "elu", depth=3, width=32, epochs=3, seed=0)
    np.testing.assert_array_equal(a.val_accuracy, b.val_accuracy)
    assert a.val_accuracy[-1] > 0.8 and a.loss[-1] < a.loss[0]
    assert a.seconds > 0 and a.net.weights[0].dtype == np.float32


def test_training_keeps_the_draw_order():
    """Weights from default_rng(seed); one default_rng(seed + 1000) for each epoch's shuffle and RReLU's slopes."""
    splits = load_digits_splits()
    seen = []
    run = M.train_numpy_net(splits, "rrelu", depth=2, width=8, epochs=1, seed=3, on_epoch_end=lambda n: seen.append(1))
    again = nets.init_net([64, 8, 8, 10], "rrelu", seed=3, dtype=np.float32)
    nets.fit(again, splits.X_train, splits.y_train, epochs=1, rng=np.random.default_rng(1003))
    np.testing.assert_array_equal(run.net.weights[0], again.weights[0])
    assert len(seen) == 2  # before the first epoch and after it


def test_prelu_slopes_are_learned():
    run = M.train_numpy_net(load_digits_splits(), "prelu", depth=3, width=32, epochs=2, learning_rate=1e-2, seed=0)
    slopes = np.concatenate(list(run.net.slopes.values()))
    assert np.abs(slopes - nets.PRELU_INITIAL_SLOPE).max() > 0.01


def test_dead_and_silent_fractions():
    X = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
    relu = nets.init_net([64, 16, 16, 10], "relu", bias=-100.0)
    leaky = nets.init_net([64, 16, 16, 10], "leaky_relu", bias=-100.0)
    np.testing.assert_array_equal(M.dead_fractions(relu, X), [1.0, 1.0])
    np.testing.assert_array_equal(M.silent_fractions(relu, X), [1.0, 1.0])
    np.testing.assert_array_equal(M.dead_fractions(leaky, X), [0.0, 0.0])  # never exactly 0 ...
    assert M.silent_fractions(leaky, X)[0] == 1.0  # ... but silent: z < 0 for every example
    healthy = nets.init_net([64, 16, 16, 10], "relu")
    assert M.dead_fractions(healthy, X).max() < 0.2


def test_comparison_summaries():
    splits = load_digits_splits()
    comparison = M.compare_activations(splits, ["relu", "tanh"], seeds=(0, 1), depth=2, width=16, epochs=1)
    assert comparison.names == ["relu", "tanh"] and len(comparison.runs) == 4
    assert comparison.accuracy("relu").shape == (2,)
    table = comparison.table()
    assert table.splitlines()[0].startswith("activation") and "relu" in table and "±" in table


def test_plots_of_the_comparison_and_slopes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.plots import plot_activation_comparison, plot_slopes_per_layer

    splits = load_digits_splits()
    comparison = M.compare_activations(splits, ["prelu", "selu"], seeds=(0, 1), depth=2, width=8, epochs=1)
    axes = plot_activation_comparison(comparison)
    assert [t.get_text() for t in axes[0].get_yticklabels()] == sorted(
        comparison.names, key=lambda n: comparison.accuracy(n).mean()
    )
    prelu = comparison.runs[0].net
    plot_slopes_per_layer(list(prelu.slopes.values()), initial=nets.PRELU_INITIAL_SLOPE)
    plt.close("all")


def test_init_mlp_draws_float32_weights_of_std_gain_over_sqrt_fan_in():
    net = M.init_mlp([400, 300, 10], "sigmoid", gain=2.0, seed=0)
    assert net.weights[0].dtype == np.float32 and net.activations == ["sigmoid", "linear"]
    assert net.weights[0].std() == pytest.approx(2.0 / np.sqrt(400), rel=0.01)

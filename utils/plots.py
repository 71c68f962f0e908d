"""Plot helpers: one look for every figure, one color per activation function in every chapter.

Every helper takes ``ax=None`` (a new figure when None) and returns the axes it drew on.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from utils.diagnostics import LayerStats

# One color per activation, kept for the whole course (tab10-like, readable by most color-blind readers).
ACTIVATION_COLORS = {
    "sigmoid": "#C44E52",
    "tanh": "#DD8452",
    "relu": "#4C72B0",
    "leaky_relu": "#64B5CD",
    "rrelu": "#8172B3",
    "prelu": "#937860",
    "elu": "#55A868",
    "selu": "#DA8BC3",
    "gelu": "#8C8C8C",
    "swish": "#CCB974",
    "silu": "#CCB974",
    "linear": "#222222",
}


def activation_color(name: str) -> str:
    """Return the course color of an activation (dark gray for names the course does not color)."""
    return ACTIVATION_COLORS.get(name, "#444444")


def _axes(ax, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_function(z, values, *, label: str, name: str | None = None, ax=None, **kwargs):
    """Plot ``values`` against ``z`` in the color of activation ``name``; return the axes."""
    ax = _axes(ax)
    ax.plot(z, values, label=label, color=activation_color(name or label), **kwargs)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("z")
    return ax


def plot_layer_stats(stats: LayerStats, *, axes=None, title: str | None = None, include_output: bool = False):
    """Plot activation std and gradient norm per hidden layer, side by side; return the two axes.

    The left panel shows whether the forward signal keeps its scale; the right, on a log scale,
    whether gradients vanish (falling toward layer 1) or explode (rising toward layer 1).
    The output layer (a different kind of layer: softmax, 10 units) is left out unless ``include_output``.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    n = len(stats) if include_output else len(stats) - 1
    layers = np.arange(1, n + 1)
    color = activation_color(stats.activation[0])
    axes[0].plot(layers, stats.act_std[:n], "o-", ms=3, color=color)
    axes[0].set(xlabel="hidden layer (1 = lowest)", ylabel="std of activations", title="forward: activations")
    axes[0].set_ylim(bottom=0)
    axes[1].semilogy(layers, np.maximum(stats.grad_norm[:n], 1e-30), "o-", ms=3, color=color)
    axes[1].set(xlabel="hidden layer (1 = lowest)", ylabel="‖∂loss/∂W‖", title="backward: weight gradients")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_activation_histograms(stats: LayerStats, *, layers=None, ax=None, bins: int = 40):
    """Overlay histograms of a few layers' activations (lowest layers lightest); return the axes."""
    ax = _axes(ax)
    hidden = len(stats) - 1
    chosen = layers if layers is not None else sorted({0, hidden // 3, 2 * hidden // 3, hidden - 1})
    shades = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(chosen)))
    for shade, i in zip(shades, chosen, strict=True):
        ax.hist(stats.samples[i], bins=bins, histtype="step", density=True, color=shade, label=f"layer {i + 1}")
    ax.set(xlabel="activation value", ylabel="density", title=f"activations ({stats.activation[0]})")
    ax.legend()
    return ax


def plot_gradient_norms(named_stats: dict[str, LayerStats], *, ax=None, colors: dict[str, str] | None = None):
    """Plot the weight-gradient norm per hidden layer for several networks on one log axis; return the axes.

    Lines take their activation's course color unless ``colors`` maps a label to another one.
    """
    ax = _axes(ax)
    for label, stats in named_stats.items():
        layers = np.arange(1, len(stats))
        color = (colors or {}).get(label, activation_color(stats.activation[0]))
        ax.semilogy(layers, stats.grad_norm[:-1], "o-", ms=3, label=label, color=color)
    ax.set(xlabel="hidden layer (1 = lowest)", ylabel="‖∂loss/∂W‖")
    ax.legend()
    return ax


def plot_per_layer_over_time(values: np.ndarray, epochs, *, ylabel: str, ax=None, log: bool = True):
    """Plot one line per layer of ``values`` (epochs x layers) over training; return the axes."""
    ax = _axes(ax)
    n_layers = values.shape[1]
    shades = plt.get_cmap("viridis")(np.linspace(0.05, 0.95, n_layers))
    for j in range(n_layers):
        ax.plot(epochs, values[:, j], color=shades[j], label=f"layer {j + 1}" if j in (0, n_layers - 1) else None)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.legend(title="lowest = darkest", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


# ------------------------------------------------------------------------------------------------------------
# Chapter 02: initialization (activation std and gradient norms per layer on log axes, runs over seeds)
# ------------------------------------------------------------------------------------------------------------


def plot_stack_comparison(named_stats: dict[str, LayerStats], *, styles: dict[str, str] | None = None, axes=None):
    """Plot activation std and weight-gradient norm per layer (log axes) for several stacks; return the axes.

    Colors follow the activation; ``styles`` maps a label to a line style (e.g. ``"--"`` for a wrong rule).
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    styles = styles or {}
    for label, stats in named_stats.items():
        layers = np.arange(1, len(stats))  # hidden layers only: the output layer has no activation to compare
        kwargs = {"color": activation_color(stats.activation[0]), "ls": styles.get(label, "-"), "lw": 1.6}
        axes[0].semilogy(layers, np.maximum(stats.act_std[:-1], 1e-30), label=label, **kwargs)
        axes[1].semilogy(layers, np.maximum(stats.grad_norm[:-1], 1e-30), label=label, **kwargs)
    axes[0].set(xlabel="hidden layer (1 = lowest)", ylabel="std of activations", title="forward: activations")
    axes[1].set(xlabel="hidden layer (1 = lowest)", ylabel="‖∂loss/∂W‖", title="backward: weight gradients")
    axes[1].legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    for ax in axes[:2]:
        _span_decades(ax, 2)
    return axes


def _span_decades(ax, decades: float) -> None:
    """Widen a log y-axis to at least ``decades`` decades, so a flat line looks flat (no zoom on noise)."""
    low, high = ax.get_ylim()
    missing = decades - np.log10(high / low)
    if missing > 0:
        ax.set_ylim(low / 10 ** (missing / 2), high * 10 ** (missing / 2))


def plot_runs(runs: dict[str, list[dict]], key: str = "loss", *, colors: dict[str, str] | None = None, ax=None):
    """Plot the mean of ``key`` per epoch over several runs (seeds), with a ± 1 std band; return the axes."""
    ax = _axes(ax)
    colors = colors or {}
    for label, histories in runs.items():
        values = np.array([h[key] for h in histories])
        epochs = np.arange(1, values.shape[1] + 1)
        mean, std = values.mean(axis=0), values.std(axis=0)
        label_n = f"{label} ({len(histories)} seeds)"
        line = ax.plot(epochs, mean, "o-", ms=3, label=label_n, color=colors.get(label))
        ax.fill_between(epochs, mean - std, mean + std, color=line[0].get_color(), alpha=0.2)
    ax.set(xlabel="epoch", ylabel=key)
    ax.legend()
    return ax


def plot_init_stats(stats: LayerStats, *, title: str | None = None):
    """Draw the chapter 02 explorer's panels: activation std and gradient norm per layer (log), histograms."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    plot_stack_comparison({stats.activation[0]: stats}, axes=axes[:2])
    axes[1].get_legend().remove()
    plot_activation_histograms(stats, ax=axes[2])
    axes[2].set_yscale("log")  # ReLU's spike at 0 and tanh's piles at ±1 would flatten everything else
    axes[2].set_ylabel("density (log)")
    if title:
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------------------------------------------------
# Chapter 04: batch normalization (moving averages vs true statistics, training vs inference mode)
# ------------------------------------------------------------------------------------------------------------

BN_MODE_COLORS = {"training mode": "#C44E52", "inference mode": "#4C72B0"}
BN_PLACEMENT_COLORS = {"no BN": "#8C8C8C", "BN before activation": "#4C72B0", "BN after activation": "#55A868"}


def plot_running_stats(stats, *, axes=None, title: str | None = None):
    """Plot a BN unit's true, batch and moving mean (left) and variance (right) over training; return the axes.

    ``stats`` is a ``utils.batchnorm.RunningStats``; the x axis is in epochs.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    epochs = stats.steps / stats.steps_per_epoch
    panels = (
        (axes[0], stats.true_mean, stats.batch_mean, stats.moving_mean, "mean"),
        (axes[1], stats.true_variance, stats.batch_variance, stats.moving_variance, "variance"),
    )
    for ax, true, batch, moving, what in panels:
        stride = max(1, len(batch) // 400)  # a few hundred dots are enough to show the spread
        ax.plot(epochs[::stride], batch[::stride], ".", ms=2, color="0.7", label=f"batch {what}")
        ax.plot(epochs, true, color="0.1", lw=1.2, ls="--", label=f"true {what}")
        ax.plot(epochs, moving, color=BN_MODE_COLORS["inference mode"], label=f"moving {what}")
        ax.set(xlabel="epoch", ylabel=what)
        ax.legend(loc="best")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_mode_gap(batch_sizes, training_accuracy, inference_accuracy, *, ax=None):
    """Plot accuracy against the evaluation batch size in training mode and in inference mode; return the axes."""
    ax = _axes(ax)
    ax.semilogx(batch_sizes, training_accuracy, "o-", color=BN_MODE_COLORS["training mode"], label="training mode")
    ax.semilogx(batch_sizes, inference_accuracy, "o-", color=BN_MODE_COLORS["inference mode"], label="inference mode")
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
    ax.minorticks_off()
    ax.set(xlabel="evaluation batch size", ylabel="test accuracy", ylim=(0, 1.02))
    ax.legend(loc="lower right")
    return ax


# ------------------------------------------------------------------------------------------------------------
# Chapter 03: nonsaturating activations (functions and derivatives, the signal through depth, a comparison)
# ------------------------------------------------------------------------------------------------------------


def _zero_lines(ax) -> None:
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)


def plot_activation_curves(curves: dict, z, *, bands: dict | None = None, axes=None):
    """Plot activation functions (left) and their derivatives (right) in the course colors; return the axes.

    ``curves`` maps an activation name to ``(f(z), f'(z))`` on the grid ``z``; ``bands`` maps a name to
    ``(f_low, f_high, df_low, df_high)``, drawn as a shaded range (RReLU's random slope in training).
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, (values, slopes) in curves.items():
        axes[0].plot(z, values, color=activation_color(name), label=name)
        axes[1].plot(z, slopes, color=activation_color(name), label=name)
    for name, (low, high, slope_low, slope_high) in (bands or {}).items():
        axes[0].fill_between(z, low, high, color=activation_color(name), alpha=0.25, lw=0)
        axes[1].fill_between(z, slope_low, slope_high, color=activation_color(name), alpha=0.25, lw=0)
    for ax, what in zip(axes, ("f(z)", "f′(z)"), strict=True):
        _zero_lines(ax)
        ax.set(xlabel="z", title=what)
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return axes


def plot_signal_through_depth(signal, *, axes=None, title: str | None = None):
    """Draw a ``DepthSignal``: the function, per-layer mean and std, gradient std; return the axes."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    color = activation_color(signal.activation)
    axes[0].plot(signal.z, signal.f, color=color, label="f(z)")
    axes[0].plot(signal.z, signal.df, color=color, ls="--", label="f′(z)")
    _zero_lines(axes[0])
    axes[0].set(xlabel="z", title=signal.activation)
    axes[0].legend()
    layers = np.arange(1, len(signal.std) + 1)
    axes[1].plot(layers, signal.std, color=color, label="std")
    axes[1].plot(layers, signal.mean, color=color, ls="--", label="mean")
    axes[1].axhline(1, color="0.3", lw=0.8, ls=":")
    axes[1].axhline(0, color="0.6", lw=0.8)
    axes[1].set(xlabel="layer (1 = lowest)", title="forward: activations")
    axes[1].legend()
    if np.isfinite(signal.grad_std).any():
        axes[2].semilogy(layers, np.maximum(signal.grad_std, 1e-30), color=color)
        _span_decades(axes[2], 2)
    else:
        note = f"diverged at layer {signal.diverged_at}"
        axes[2].text(0.5, 0.5, note, ha="center", transform=axes[2].transAxes)
    axes[2].set(xlabel="layer (1 = lowest)", ylabel="std of ∂loss/∂z", title="backward: gradients")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_depth_cases(named_signals: dict, *, styles: dict | None = None, ax=None):
    """Plot the activations' std per layer (log axis) for several stacks; return the axes.

    ``styles`` maps a label to keyword arguments of ``ax.plot`` (color, ls...); a diverged stack ends in an ×.
    """
    ax = _axes(ax, figsize=(8, 3.6))
    styles = styles or {}
    for label, signal in named_signals.items():
        layers = np.arange(1, len(signal.std) + 1)
        style = {"color": activation_color(signal.activation), **styles.get(label, {})}
        ax.semilogy(layers, signal.std, label=label, **style)
        if signal.diverged_at:
            last = signal.diverged_at - 1
            ax.plot(last, signal.std[last - 1], "x", ms=8, color=style["color"])
    ax.axhline(1, color="0.3", lw=0.8, ls=":")
    ax.set(xlabel="layer (1 = lowest)", ylabel="std of activations (log)")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return ax


def plot_activation_comparison(comparison, *, axes=None):
    """Plot validation accuracy (mean ± std, a dot per seed) and training time per activation; return axes.

    ``comparison`` is a ``utils.layers.Comparison``; activations are sorted by mean accuracy.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.6), width_ratios=(2, 1))
    names = sorted(comparison.names, key=lambda n: comparison.accuracy(n).mean())
    colors = [activation_color(n) for n in names]
    y = np.arange(len(names))
    acc = [comparison.accuracy(n) for n in names]
    axes[0].barh(y, [a.mean() for a in acc], xerr=[a.std() for a in acc], color=colors, alpha=0.85)
    for i, a in enumerate(acc):
        axes[0].plot(a, np.full(len(a), i), "o", ms=3, color="0.15")
    axes[0].set_yticks(y, names)
    axes[0].set(xlabel="validation accuracy (bars: mean ± std over seeds; dots: seeds)", xlim=(0, 1))
    axes[1].barh(y, [comparison.seconds(n).mean() for n in names], color=colors, alpha=0.85)
    axes[1].set_yticks(y, [])
    axes[1].set(xlabel="training time (s, approximate)")
    return axes


def plot_slopes_per_layer(slopes, *, initial: float | None = None, name: str = "prelu", ax=None):
    """Box-plot learned negative-side slopes per layer (PReLU's), with the initial value; return the axes."""
    ax = _axes(ax)
    boxes = ax.boxplot(
        [np.asarray(s) for s in slopes], patch_artist=True, showfliers=False, widths=0.6, medianprops={"color": "0.15"}
    )
    for patch in boxes["boxes"]:
        patch.set(facecolor=activation_color(name), alpha=0.6)
    if initial is not None:
        ax.axhline(initial, color="0.3", lw=0.8, ls=":", label=f"initial slope {initial:g}")
        ax.legend()
    step = max(1, len(slopes) // 10)
    ax.set_xticks(np.arange(1, len(slopes) + 1)[::step], [str(i) for i in range(1, len(slopes) + 1)][::step])
    ax.set(xlabel="hidden layer (1 = lowest)", ylabel="learned slope (z < 0)")
    return ax

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


def plot_layer_stats(stats: LayerStats, *, axes=None, title: str | None = None):
    """Plot activation std and gradient norm per layer, side by side; return the two axes.

    The left panel shows whether the forward signal keeps its scale; the right, on a log scale,
    whether gradients vanish (falling toward layer 1) or explode (rising toward layer 1).
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    layers = np.arange(1, len(stats) + 1)
    color = activation_color(stats.activation[0])
    axes[0].plot(layers, stats.act_std, "o-", ms=3, color=color)
    axes[0].set(xlabel="layer (1 = lowest)", ylabel="std of activations", title="forward: activations")
    axes[0].set_ylim(bottom=0)
    axes[1].semilogy(layers, np.maximum(stats.grad_norm, 1e-30), "o-", ms=3, color=color)
    axes[1].set(xlabel="layer (1 = lowest)", ylabel="‖∂loss/∂W‖", title="backward: weight gradients")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_activation_histograms(stats: LayerStats, *, layers=None, ax=None, bins: int = 60):
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


def plot_gradient_norms(named_stats: dict[str, LayerStats], *, ax=None):
    """Plot the weight-gradient norm per layer for several networks on one log axis; return the axes."""
    ax = _axes(ax)
    for label, stats in named_stats.items():
        layers = np.arange(1, len(stats) + 1)
        ax.semilogy(layers, stats.grad_norm, "o-", ms=3, label=label, color=activation_color(stats.activation[0]))
    ax.set(xlabel="layer (1 = lowest)", ylabel="‖∂loss/∂W‖")
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
    ax.legend(title="lowest = darkest")
    return ax

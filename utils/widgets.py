"""Interactive explorers: ipywidgets controls wired to a pure ``compute_*`` function and a ``plot_*`` function.

Each ``explore_*`` returns the widget; the notebook displays it. Tests set the controls from plain pytest.
"""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from utils.activations import ACTIVATIONS
from utils.mlp import MAX_EXPLORER_DEPTH, MAX_EXPLORER_WIDTH, compute_gradient_flow
from utils.plots import plot_activation_histograms, plot_layer_stats


def plot_gradient_flow(stats, *, title: str | None = None):
    """Draw the three panels of the gradient-flow explorer (activation std, gradient norm, histograms)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    plot_layer_stats(stats, axes=axes[:2])
    plot_activation_histograms(stats, ax=axes[2])
    if title:
        fig.suptitle(title)
    return fig


def _gradient_flow_title(stats) -> str:
    ratio = stats.vanishing_ratio() if len(stats) > 2 else float("nan")
    return (
        f"gradient norm, lowest / top hidden layer: {ratio:.2g}   "
        f"saturated: {100 * stats.frac_saturated[:-1].mean():.0f}%   dead: {100 * stats.frac_dead[:-1].mean():.0f}%"
    )


def explore_gradient_flow(depth: int = 20, width: int = 100, activation: str = "sigmoid", scale: float = 1.0):
    """Return the chapter 01 explorer: depth, width, activation, weight scale -> per-layer statistics."""
    controls = {
        "depth": W.IntSlider(value=depth, min=2, max=MAX_EXPLORER_DEPTH, description="depth"),
        "width": W.IntSlider(value=width, min=8, max=MAX_EXPLORER_WIDTH, step=8, description="width"),
        "activation": W.Dropdown(options=sorted(ACTIVATIONS), value=activation, description="activation"),
        "scale": W.FloatLogSlider(value=scale, base=10, min=-1, max=1.3, step=0.05, description="weight scale"),
    }

    def draw(**kwargs):
        stats = compute_gradient_flow(**kwargs)
        plot_gradient_flow(stats, title=_gradient_flow_title(stats))
        plt.show()

    out = W.interactive_output(draw, controls)
    box = W.VBox([W.HBox(list(controls.values())[:2]), W.HBox(list(controls.values())[2:]), out])
    box.controls = controls  # handy for tests and for instructors driving the widget from code
    return box


def show(widget) -> None:
    """Display a widget (a thin wrapper so that notebooks need no IPython import)."""
    display(widget)

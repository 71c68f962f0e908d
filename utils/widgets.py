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


def wire(controls: dict, draw, rows: list[int]) -> W.VBox:
    """Return a VBox of ``controls`` (laid out ``rows[i]`` per line) above the output that ``draw(**values)`` plots.

    ``draw`` gets the controls' values by name on every change and draws one figure; the box keeps the
    controls as ``box.controls``, handy for tests and for instructors driving a widget from code.
    """

    def redraw(**values):
        draw(**values)
        plt.show()

    items, lines = list(controls.values()), []
    for count in rows:
        lines.append(W.HBox(items[:count]))
        items = items[count:]
    box = W.VBox([*lines, W.interactive_output(redraw, controls)])
    box.controls = controls
    return box


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
        "width": W.IntSlider(value=width, min=8, max=MAX_EXPLORER_WIDTH, step=4, description="width"),
        "activation": W.Dropdown(options=sorted(ACTIVATIONS), value=activation, description="activation"),
        "scale": W.FloatLogSlider(
            value=scale,
            base=10,
            min=-1,
            max=1.3,
            step=0.05,
            description="weight scale",
            style={"description_width": "initial"},
        ),
    }

    def draw(**values):
        stats = compute_gradient_flow(**values)
        plot_gradient_flow(stats, title=_gradient_flow_title(stats))

    return wire(controls, draw, rows=[2, 2])


def show(widget) -> None:
    """Display a widget (a thin wrapper so that notebooks need no IPython import)."""
    display(widget)


# ------------------------------------------------------------------------------------------------------------
# Chapter 02: initialization explorer
# ------------------------------------------------------------------------------------------------------------


def _init_title(stats) -> str:
    ratio = stats.vanishing_ratio() if len(stats) > 2 else float("nan")
    return (
        f"activation std, top / lowest hidden layer: {stats.act_std[-2] / stats.act_std[0]:.2g}   "
        f"gradient norm, lowest / top hidden layer: {ratio:.2g}"
    )


def explore_initialization(
    activation: str = "tanh",
    init: str = "glorot",
    depth: int = 30,
    multiplier: float = 1.0,
    pattern: str = "constant",
):
    """Return the chapter 02 explorer: activation x initialization x depth x std multiplier -> layer stats."""
    from utils.init import INITS, MAX_DEPTH, WIDTH_PATTERNS, compute_init_stats
    from utils.plots import plot_init_stats

    controls = {
        "activation": W.Dropdown(options=sorted(ACTIVATIONS), value=activation, description="activation"),
        "init": W.Dropdown(
            options=[(f"{rule.label} ({rule.scale:.3g}/{rule.mode})", key) for key, rule in INITS.items()],
            value=init,
            description="init",
        ),
        "depth": W.IntSlider(value=depth, min=3, max=MAX_DEPTH, description="depth"),
        "multiplier": W.FloatLogSlider(value=multiplier, base=10, min=-1, max=1, step=0.05, description="std ×"),
        "pattern": W.ToggleButtons(options=list(WIDTH_PATTERNS), value=pattern, description="widths"),
    }

    def draw(**values):
        stats = compute_init_stats(**values)
        plot_init_stats(stats, title=_init_title(stats))

    return wire(controls, draw, rows=[2, 2, 1])


# ------------------------------------------------------------------------------------------------------------
# Chapter 04: batch normalization, how the moving averages track the true statistics
# ------------------------------------------------------------------------------------------------------------

BN_MOMENTA = (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999)
BN_BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)


def running_stats_title(stats) -> str:
    """Return the explorer's one-line summary: what a unit's inference-mode output looks like at the end."""
    shift, scale = stats.inference_shift()
    return (
        f"momentum {stats.momentum}, batch size {stats.batch_size} ({stats.steps_per_epoch} steps per epoch)\n"
        f"at inference the unit's output has mean {shift:+.2f} and std {scale:.2f} (ideal: 0 and 1)"
    )


def explore_running_stats(momentum: float = 0.99, batch_size: int = 32, epochs: int = 5, drift: float = 0.0):
    """Return the chapter 04 explorer: momentum, batch size, epochs, drift -> moving vs true statistics of a unit."""
    from utils.batchnorm import compute_running_stats
    from utils.plots import plot_running_stats

    controls = {
        "momentum": W.SelectionSlider(options=BN_MOMENTA, value=momentum, description="momentum"),
        "batch_size": W.SelectionSlider(options=BN_BATCH_SIZES, value=batch_size, description="batch size"),
        "epochs": W.IntSlider(value=epochs, min=1, max=30, description="epochs"),
        "drift": W.FloatSlider(value=drift, min=0.0, max=3.0, step=0.25, description="drift (stds)"),
    }

    def draw(**values):
        stats = compute_running_stats(**values)
        plot_running_stats(stats, title=running_stats_title(stats))

    return wire(controls, draw, rows=[2, 2])


# ------------------------------------------------------------------------------------------------------------
# Chapter 03: nonsaturating activations, the function and what it does to the signal through depth
# ------------------------------------------------------------------------------------------------------------

SIGNAL_ACTIVATIONS = ("relu", "leaky_relu", "rrelu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid")
SIGNAL_INPUTS = {"standardized": (1.0, 0.0), "scaled × 5": (5.0, 0.0), "shifted + 2": (1.0, 2.0)}
EXPLORER_MAX_DEPTH = 150  # deep enough to see SELU's fixed point hold; deeper only slows the slider down
SIGNAL_INITS = {"LeCun (1/fan_in)": "lecun", "He (2/fan_in)": "he", "Glorot (2/(fan_in+fan_out))": "glorot"}


def signal_title(signal) -> str:
    """Return the explorer's one-line summary of a ``DepthSignal``."""
    import numpy as np

    if signal.diverged_at:
        return f"{signal.activation}: activations pass 1e6 at layer {signal.diverged_at}: the signal explodes"
    ratio = signal.grad_std[0] / signal.grad_std[-1] if signal.grad_std[-1] > 0 else float("inf")
    return (
        f"layer {len(signal.std)}: mean {signal.mean[-1]:+.2f}, std {signal.std[-1]:.2f}   "
        f"dead units (max over layers): {100 * np.nanmax(signal.dead):.0f}%   "
        f"gradient std, layer 1 / top: {ratio:.2g}"
    )


def explore_activations(
    activation: str = "selu",
    param: float | None = None,
    init: str = "lecun",
    depth: int = 100,
    inputs: str = "standardized",
):
    """Return the chapter 03 explorer: activation, its α or slope, init, depth, inputs -> per-layer stats."""
    from utils.activations import PARAMETERS, compute_signal_through_depth
    from utils.plots import plot_signal_through_depth

    def default(name):
        return PARAMETERS[name][1] if name in PARAMETERS else 0.0

    controls = {
        "activation": W.Dropdown(options=SIGNAL_ACTIVATIONS, value=activation, description="activation"),
        "param": W.FloatSlider(
            value=default(activation) if param is None else param,
            min=0.0,
            max=3.0,
            step=0.01,
            description="α / slope",
            disabled=activation not in PARAMETERS,
        ),
        "init": W.Dropdown(options=list(SIGNAL_INITS.items()), value=init, description="init"),
        "depth": W.IntSlider(value=depth, min=2, max=EXPLORER_MAX_DEPTH, description="depth"),
        "inputs": W.Dropdown(options=list(SIGNAL_INPUTS), value=inputs, description="inputs"),
    }

    def on_activation(change):  # each activation's own default α or slope; sliders off where there is none
        controls["param"].disabled = change["new"] not in PARAMETERS
        controls["param"].value = default(change["new"])

    controls["activation"].observe(on_activation, names="value")

    def draw(activation, param, init, depth, inputs):
        scale, shift = SIGNAL_INPUTS[inputs]
        if abs(param - default(activation)) < 0.005:  # the slider's 0.01 steps would miss SELU's exact α
            param = default(activation)
        signal = compute_signal_through_depth(
            activation, depth, param=param, init=init, input_scale=scale, input_shift=shift
        )
        plot_signal_through_depth(signal, title=signal_title(signal))

    return wire(controls, draw, rows=[2, 3])

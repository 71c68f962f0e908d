"""Interactive explorers: ipywidgets controls wired to a pure ``compute_*`` function and a ``plot_*`` function.

Each ``explore_*`` returns the widget; the notebook displays it. Tests set the controls from plain pytest.
Explorers only: the figures and their one-line titles live in ``utils.plots``, so a static figure needs no widgets
(the titles imported below are still reachable here, e.g. ``widgets.plot_gradient_flow``).
"""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from utils.activations import ACTIVATIONS
from utils.mlp import MAX_EXPLORER_DEPTH, MAX_EXPLORER_WIDTH, compute_gradient_flow
from utils.plots import (
    PRETRAINING_LABELS,
    capstone_title,
    clipping_title,
    gradient_flow_title,
    init_title,
    plot_capstone_view,
    plot_clipping_explorer,
    plot_gradient_flow,
    plot_init_stats,
    plot_pretraining_view,
    plot_running_stats,
    plot_signal_through_depth,
    plot_transfer_view,
    pretraining_title,
    running_stats_title,
    signal_title,
    transfer_title,
)


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
        plot_gradient_flow(stats, title=gradient_flow_title(stats))

    return wire(controls, draw, rows=[2, 2])


def show(widget) -> None:
    """Display a widget (a thin wrapper so that notebooks need no IPython import)."""
    display(widget)


# ------------------------------------------------------------------------------------------------------------
# Chapter 02: initialization explorer
# ------------------------------------------------------------------------------------------------------------


def explore_initialization(
    activation: str = "tanh",
    init: str = "glorot",
    depth: int = 30,
    multiplier: float = 1.0,
    pattern: str = "constant",
):
    """Return the chapter 02 explorer: activation x initialization x depth x std multiplier -> layer stats."""
    from utils.init import INITS, MAX_DEPTH, WIDTH_PATTERNS
    from utils.mlp import compute_init_stats

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
        plot_init_stats(stats, title=init_title(stats))

    return wire(controls, draw, rows=[2, 2, 1])


# ------------------------------------------------------------------------------------------------------------
# Chapter 04: batch normalization, how the moving averages track the true statistics
# ------------------------------------------------------------------------------------------------------------

BN_MOMENTA = (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999)
BN_BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)


def explore_running_stats(momentum: float = 0.99, batch_size: int = 32, epochs: int = 5, drift: float = 0.0):
    """Return the chapter 04 explorer: momentum, batch size, epochs, drift -> moving vs true statistics of a unit."""
    from utils.batchnorm import compute_running_stats

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


def explore_activations(
    activation: str = "selu",
    param: float | None = None,
    init: str = "lecun",
    depth: int = 100,
    inputs: str = "standardized",
):
    """Return the chapter 03 explorer: activation, its α or slope, init, depth, inputs -> per-layer stats."""
    from utils.activations import PARAMETERS, compute_signal_through_depth

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


# ------------------------------------------------------------------------------------------------------------
# Chapter 06: transfer learning, layers reused and frozen and labels per class -> task B accuracy over seeds
# ------------------------------------------------------------------------------------------------------------


def explore_transfer(results=None, n_reused: int = 2, n_frozen: int = 2, per_class: int = 10, target: str = "task B"):
    """Return the chapter 06 explorer: layers reused and frozen, labels per class -> accuracy over seeds (a lookup)."""
    from utils.transfer import DEPTH, compute_transfer_view, default_sweep

    results = results or default_sweep()
    controls = {
        "n_reused": W.IntSlider(value=n_reused, min=0, max=DEPTH, description="reused"),
        "n_frozen": W.IntSlider(value=n_frozen, min=0, max=DEPTH, description="frozen"),
        "per_class": W.SelectionSlider(
            options=list(results.labels_per_class), value=per_class, description="labels/class"
        ),
    }

    def draw(n_reused, n_frozen, per_class):
        view = compute_transfer_view(n_reused, n_frozen, per_class, results=results)
        plot_transfer_view(view, title=transfer_title(view), target=target)

    return wire(controls, draw, rows=[2, 1])


# ------------------------------------------------------------------------------------------------------------
# Chapter 05: gradient clipping, three methods in 2-D and a threshold on a tiny RNN
# ------------------------------------------------------------------------------------------------------------

CLIP_METHOD_OPTIONS = {"by value": "value", "by norm": "norm", "by global norm": "global_norm"}


def explore_clipping(
    angle: float = 20.0,
    length: float = 3.0,
    threshold: float = 1.0,
    other_norm: float = 2.0,
    method: str = "global_norm",
):
    """Return the chapter 05 explorer: a 2-D gradient, the threshold, the method -> clipped vectors and an RNN run."""
    from utils.clipping import compute_clipping_explorer

    controls = {
        "angle": W.FloatSlider(value=angle, min=-180, max=180, step=5, description="angle (°)"),
        "length": W.FloatLogSlider(value=length, base=10, min=-1, max=1.3, step=0.05, description="‖g‖"),
        "threshold": W.FloatLogSlider(value=threshold, base=10, min=-2, max=2, step=0.1, description="threshold"),
        "other_norm": W.FloatSlider(
            value=other_norm,
            min=0.0,
            max=5.0,
            step=0.25,
            description="‖other tensors‖",
            style={"description_width": "initial"},
        ),
        "method": W.Dropdown(options=list(CLIP_METHOD_OPTIONS.items()), value=method, description="RNN clips"),
    }

    def draw(**values):
        view = compute_clipping_explorer(**values)
        plot_clipping_explorer(view, title=clipping_title(view))

    return wire(controls, draw, rows=[2, 2, 1])


# ------------------------------------------------------------------------------------------------------------
# Chapter 07: pretraining with scarce labels, kind x frozen or fine-tuned x labels per digit -> accuracy over seeds
# ------------------------------------------------------------------------------------------------------------


def explore_pretraining(sweep=None, kind: str = "autoencoder", reuse: str = "fine-tuned", labels_per_class: int = 10):
    """Return the chapter 07 explorer: pretraining kind, frozen or fine-tuned, labels per digit -> accuracy (lookup).

    It reads a sweep computed once (default: the chapter's, ``utils.pretraining.default_sweep()``); it never trains.
    """
    from utils.pretraining import REUSE, compute_pretraining_view, default_sweep

    sweep = sweep or default_sweep()
    kinds = [(PRETRAINING_LABELS[k], k) for k in sweep.kinds if k != "none"]
    controls = {
        "kind": W.Dropdown(options=kinds, value=kind, description="pretraining"),
        "reuse": W.ToggleButtons(options=list(REUSE), value=reuse, description="encoder"),
        "labels_per_class": W.SelectionSlider(
            options=list(sweep.labels_per_class),
            value=labels_per_class,
            description="labels/digit",
            style={"description_width": "initial"},
        ),
    }

    def draw(kind, reuse, labels_per_class):
        view = compute_pretraining_view(kind, reuse, labels_per_class, sweep=sweep)
        plot_pretraining_view(view, title=pretraining_title(view))

    return wire(controls, draw, rows=[2, 1])


# ------------------------------------------------------------------------------------------------------------
# Chapter 08: the capstone, a broken set-up and one of its versions -> loss, score and per-layer statistics
# ------------------------------------------------------------------------------------------------------------


def explore_capstone(results: dict | None = None, name: str = "exploding", variant: str = "fixed"):
    """Return the chapter 08 explorer: a set-up and a version (broken, fixed, symptom-only) -> its curves (a lookup)."""
    from utils.capstone import SETUPS, compute_capstone_view

    controls = {
        "name": W.Dropdown(options=list(SETUPS), value=name, description="set-up"),
        "variant": W.ToggleButtons(options=["broken", "fixed", "symptom-only"], value=variant, description="version"),
    }

    def draw(name, variant):
        view = compute_capstone_view(name, variant, results=results)
        plot_capstone_view(view, title=capstone_title(view))

    return wire(controls, draw, rows=[1, 1])

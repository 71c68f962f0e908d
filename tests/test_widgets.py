"""Explorers: compute, plot and wiring, driven from plain pytest (no kernel)."""

import matplotlib.pyplot as plt

from utils import mlp, plots, widgets


def test_gradient_flow_explorer_builds_and_responds():
    box = widgets.explore_gradient_flow()
    controls = box.controls
    assert set(controls) == {"depth", "width", "activation", "scale"}
    assert controls["depth"].min >= 2 and controls["width"].min >= 1 and controls["scale"].min > -2
    assert controls["depth"].max <= mlp.MAX_EXPLORER_DEPTH and controls["width"].max <= mlp.MAX_EXPLORER_WIDTH
    controls["depth"].value = controls["depth"].max
    controls["activation"].value = "relu"
    controls["scale"].value = 1.4
    plt.close("all")


def test_controls_cannot_leave_their_range():
    controls = widgets.explore_gradient_flow().controls
    controls["depth"].value = 0  # a slider clamps; depth 0 would have no hidden layer to plot
    assert controls["depth"].value == controls["depth"].min >= 2


def test_plot_gradient_flow_returns_a_three_panel_figure():
    stats = mlp.compute_gradient_flow(depth=5, width=16)
    fig = plots.plot_gradient_flow(stats, title=plots.gradient_flow_title(stats))
    assert len(fig.axes) == 3 and "lowest / top hidden layer" in fig.get_suptitle()
    plt.close(fig)

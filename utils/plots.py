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


def plot_gradient_flow(stats, *, title: str | None = None):
    """Draw the three panels of chapter 01's gradient-flow explorer (activation std, gradient norm, histograms)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    plot_layer_stats(stats, axes=axes[:2])
    plot_activation_histograms(stats, ax=axes[2])
    if title:
        fig.suptitle(title)
    return fig


def gradient_flow_title(stats) -> str:
    """Return chapter 01's explorer summary: vanishing ratio, saturated and dead units."""
    ratio = stats.vanishing_ratio() if len(stats) > 2 else float("nan")
    return (
        f"gradient norm, lowest / top hidden layer: {ratio:.2g}   "
        f"saturated: {100 * stats.frac_saturated[:-1].mean():.0f}%   dead: {100 * stats.frac_dead[:-1].mean():.0f}%"
    )


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


def init_title(stats) -> str:
    """Return chapter 02's explorer summary: how the activations and the gradients change from bottom to top."""
    ratio = stats.vanishing_ratio() if len(stats) > 2 else float("nan")
    return (
        f"activation std, top / lowest hidden layer: {stats.act_std[-2] / stats.act_std[0]:.2g}   "
        f"gradient norm, lowest / top hidden layer: {ratio:.2g}"
    )


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


def running_stats_title(stats) -> str:
    """Return chapter 04's explorer summary: what a unit's inference-mode output looks like at the end."""
    shift, scale = stats.inference_shift()
    return (
        f"momentum {stats.momentum}, batch size {stats.batch_size} ({stats.steps_per_epoch} steps per epoch)\n"
        f"at inference the unit's output has mean {shift:+.2f} and std {scale:.2f} (ideal: 0 and 1)"
    )


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


def signal_title(signal) -> str:
    """Return chapter 03's explorer summary of a ``DepthSignal``."""
    if signal.diverged_at:
        return f"{signal.activation}: activations pass 1e6 at layer {signal.diverged_at}: the signal explodes"
    ratio = signal.grad_std[0] / signal.grad_std[-1] if signal.grad_std[-1] > 0 else float("inf")
    return (
        f"layer {len(signal.std)}: mean {signal.mean[-1]:+.2f}, std {signal.std[-1]:.2f}   "
        f"dead units (max over layers): {100 * np.nanmax(signal.dead):.0f}%   "
        f"gradient std, layer 1 / top: {ratio:.2g}"
    )


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

    ``comparison`` is a ``utils.mlp.Comparison``; activations are sorted by mean accuracy.
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


# ------------------------------------------------------------------------------------------------------------
# Chapter 06: transfer learning
# ------------------------------------------------------------------------------------------------------------

TRANSFER_COLORS = {"from scratch": "#8C8C8C", "reused, fine-tuned": "#4C72B0", "reused, frozen": "#C44E52"}


def plot_reuse_sweep(results, per_class: int, *, ax=None, source: str = "task A", target: str = "task B"):
    """Plot task B's accuracy (mean ± std over seeds) against the number of reused layers, frozen or not."""
    ax = _axes(ax)
    reused = np.arange(len({k for k, _, _ in results.accuracy}))
    scratch = results.scratch(per_class)
    ax.axhspan(scratch.mean() - scratch.std(), scratch.mean() + scratch.std(), color="0.85", label="from scratch")
    ax.axhline(scratch.mean(), color=TRANSFER_COLORS["from scratch"], lw=1)
    for label, frozen in (("reused, fine-tuned", lambda k: 0), ("reused, frozen", lambda k: k)):
        runs = np.array([results.get(k, frozen(k), per_class) for k in reused[1:]])
        ax.errorbar(
            reused[1:], runs.mean(1), yerr=runs.std(1), marker="o", capsize=3, label=label, color=TRANSFER_COLORS[label]
        )
    ax.set_xticks(reused)
    ax.set(
        xlabel=f"lower hidden layers reused from {source} (the rest replaced by fresh ones)",
        ylabel=f"{target} test accuracy",
        title=f"{per_class} labels per class, mean ± std over {len(results.seeds)} seeds",
    )
    ax.legend(loc="lower left")
    return ax


def plot_transfer_view(view, *, axes=None, title: str | None = None, target: str = "task B"):
    """Draw the transfer explorer: mean accuracy per (reused, frozen), and the chosen setting against labels."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    image = axes[0].imshow(view.grid.T, origin="lower", cmap="viridis", vmin=0.4, vmax=1.0)
    axes[0].plot(view.n_reused, view.n_frozen, "s", ms=30, mfc="none", mec="white", mew=2.5)
    for (k, f), value in np.ndenumerate(view.grid):
        if np.isfinite(value):
            axes[0].text(k, f, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white")
    axes[0].set(xlabel="layers reused", ylabel="of which frozen", title=f"mean accuracy, {view.per_class} labels/class")
    axes[0].grid(False)
    plt.colorbar(image, ax=axes[0])
    ax = axes[1]
    ax.errorbar(
        view.labels_per_class,
        view.scratch_mean,
        yerr=view.scratch_std,
        marker="o",
        capsize=3,
        color=TRANSFER_COLORS["from scratch"],
        label="from scratch",
    )
    ax.errorbar(
        view.labels_per_class,
        view.mean,
        yerr=view.std,
        marker="s",
        capsize=3,
        color="#4C72B0",
        label=f"{view.n_reused} reused, {view.n_frozen} frozen",
    )
    ax.set_xscale("log")
    ax.set_xticks(view.labels_per_class, [str(n) for n in view.labels_per_class])
    ax.set_xticks([], minor=True)  # no 3×10¹-style minor labels on the log axis
    ax.set(xlabel=f"{target} labels per class", ylabel=f"{target} test accuracy", ylim=(0.3, 1.0))
    ax.legend(loc="lower right")
    if title:
        ax.figure.suptitle(title)
    return axes


def transfer_title(view) -> str:
    """Return chapter 06's explorer summary: the chosen setting against training from scratch."""
    return (
        f"{view.n_reused} layers reused, {view.n_frozen} frozen, {view.per_class} labels per class: "
        f"{view.gain():+.2f} accuracy against training from scratch (mean over seeds)"
    )


GAIN_COLORS = {  # chapter 06's printed -> handwritten gains, one color per way of reusing the source
    "fine-tune all": "#4C72B0",
    "new head, then fine-tune": "#55A868",
    "frozen body, new head": "#C44E52",
    "letters: new head, then fine-tune": "#8172B3",
    "permuted source": "#937860",
    "frozen random body": "#CCB974",
    "logistic regression, pixels": "#DA8BC3",
}


def plot_transfer_gains(gains: dict, labels_per_class, *, ax=None, baseline: str = "training from scratch"):
    """Plot gains in accuracy points against labels per class: a line through the means, a dot per seed.

    ``gains`` maps a name to an array (len(labels_per_class), seeds) of gains (accuracy points, not fractions).
    """
    ax = _axes(ax, (6.4, 3.8))
    counts = np.asarray(labels_per_class)
    spread = np.linspace(-0.05, 0.05, len(gains))  # side by side, in log-x units
    for offset, (name, values) in zip(spread, gains.items(), strict=True):
        values = np.asarray(values)
        x = counts[: len(values)] * 10**offset
        color = GAIN_COLORS.get(name)
        ax.plot(x, values.mean(axis=1), "o-", color=color, label=name)
        ax.plot(np.repeat(x, values.shape[1]), values.ravel(), ".", color=color, alpha=0.5, ms=6)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(k) for k in counts])
    ax.minorticks_off()
    ax.set(xlabel="real labeled digits per class", ylabel=f"gain over {baseline}\n(accuracy points)")
    ax.legend(loc="upper right", fontsize=8)
    return ax


# ------------------------------------------------------------------------------------------------------------
# Chapter 05: gradient clipping (the three methods in 2-D, gradient norms over time steps and training steps)
# ------------------------------------------------------------------------------------------------------------

CLIP_COLORS = {"gradient": "#222222", "value": "#C44E52", "norm": "#4C72B0", "global_norm": "#55A868"}
CLIP_LABELS = {"value": "by value", "norm": "by norm", "global_norm": "by global norm"}


def plot_clipping_2d(plane, *, ax=None):
    """Draw a 2-D gradient and its three clipped versions, with the threshold's square and circle; return the axes.

    ``plane`` is a ``utils.clipping.Clip2D``: clipping by value stays inside the square, by norm on the circle.
    """
    ax = _axes(ax, figsize=(4.2, 4.2))
    t = plane.threshold
    ax.add_patch(plt.Rectangle((-t, -t), 2 * t, 2 * t, fill=False, ls=":", color=CLIP_COLORS["value"], lw=1))
    ax.add_patch(plt.Circle((0, 0), t, fill=False, ls=":", color=CLIP_COLORS["norm"], lw=1))
    arrows = [("gradient", plane.gradient, "gradient")] + [
        (name, vector, f"{CLIP_LABELS[name]} ({plane.angle(name):.0f}°)") for name, vector in plane.clipped.items()
    ]
    widths = {"gradient": 0.012, "value": 0.02, "norm": 0.035, "global_norm": 0.015}  # global over norm: both show
    for name, vector, label in arrows:
        width = widths[name]
        ax.quiver(0, 0, *vector, angles="xy", scale_units="xy", scale=1, color=CLIP_COLORS[name], width=width)
        ax.plot([], [], color=CLIP_COLORS[name], label=label)
    reach = 1.15 * max(np.max(np.abs(plane.gradient)), t)
    ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", xlabel="g₁", ylabel="g₂")
    _zero_lines(ax)
    ax.legend(loc="lower left", fontsize=8)
    return ax


def plot_time_step_gradients(norms: dict, *, ax=None):
    """Plot ‖∂loss/∂x_t‖ against the time step t for each labeled array in ``norms`` (log scale); return the axes."""
    ax = _axes(ax)
    for label, values in norms.items():
        ax.semilogy(np.arange(1, len(values) + 1), np.maximum(values, 1e-30), "o-", ms=2, label=label)
    ax.set(xlabel="time step t (1 = first input)", ylabel="‖∂loss/∂x_t‖", title="how far back the gradient reaches")
    ax.legend(loc="best")
    return ax


def _plot_steps(ax, values, label, color, ls="-"):
    steps = np.arange(1, len(values) + 1)
    finite = np.isfinite(values)
    ax.semilogy(steps[finite], values[finite], ls, color=color, label=label, lw=1.4)
    if not finite.all():  # mark where the run broke down
        first = int(np.argmin(finite))
        ax.axvline(first + 1, color=color, lw=0.8, ls=":")
        ax.annotate("inf/NaN", (first + 1, 0.97), xycoords=("data", "axes fraction"), color=color, fontsize=8, va="top")


def plot_training_runs(runs: dict, *, threshold: float | None = None, axes=None, colors: dict | None = None):
    """Plot the loss (left) and the raw global gradient norm (right) per step of several labeled runs.

    ``runs`` maps labels to objects with ``loss`` and ``grad_norm`` arrays (``TrainRun``, ``RNNRun``); a dotted
    line marks the step where a run's loss became NaN; ``threshold`` draws the clipping threshold on the right.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, run) in enumerate(runs.items()):
        color = (colors or {}).get(label, palette[i % len(palette)])
        _plot_steps(axes[0], np.asarray(run.loss, dtype=float), label, color)
        _plot_steps(axes[1], np.asarray(run.grad_norm, dtype=float), label, color)
    if threshold is not None:
        axes[1].axhline(threshold, color="0.3", ls="--", lw=1, label=f"threshold {threshold:g}")
    axes[0].set(xlabel="training step", ylabel="loss", title="loss")
    axes[1].set(xlabel="training step", ylabel="global gradient norm", title="gradient norm before clipping")
    axes[0].legend(loc="best")
    axes[1].legend(loc="best")
    return axes


def plot_norm_histogram(norms: np.ndarray, *, thresholds: dict | None = None, ax=None, bins: int = 30):
    """Plot a histogram of gradient norms (log-spaced bins) with labeled candidate thresholds; return the axes."""
    ax = _axes(ax)
    norms = np.asarray(norms, dtype=float)
    norms = norms[np.isfinite(norms) & (norms > 0)]
    edges = np.logspace(np.log10(norms.min()), np.log10(norms.max()), bins + 1)
    ax.hist(norms, bins=edges, color="0.6")
    ax.set_xscale("log")
    palette = ["#C44E52", "#4C72B0", "#55A868", "#8172B3"]
    for color, (label, value) in zip(palette, (thresholds or {}).items(), strict=False):
        ax.axvline(value, color=color, ls="--", lw=1.2, label=label)
    ax.set(xlabel="global gradient norm (log scale)", ylabel="training steps")
    if thresholds:
        ax.legend(loc="best")
    return ax


def plot_clipping_explorer(view, *, title: str | None = None):
    """Draw the chapter 05 explorer: the 2-D case, then the tiny RNN's loss and gradient norms; return the figure."""
    fig = plt.figure(figsize=(12, 3.6))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1.3, 1.3])
    plot_clipping_2d(view.plane, ax=fig.add_subplot(grid[0]))
    runs = {"no clipping": view.unclipped, f"clipped {CLIP_LABELS[view.clipped.method]}": view.clipped}
    colors = dict(zip(runs, ("0.55", CLIP_COLORS[view.clipped.method]), strict=True))
    axes = [fig.add_subplot(grid[1]), fig.add_subplot(grid[2])]
    plot_training_runs(runs, threshold=view.clipped.threshold, axes=axes, colors=colors)
    axes[0].set_title("tiny RNN: loss")
    for ax in axes:  # an exploding run would squash the clipped one against the axis: let it leave the panel
        ax.set_ylim(top=min(ax.get_ylim()[1], 1e4))
    if title:
        fig.suptitle(title)
    return fig


def clipping_title(view) -> str:
    """Return chapter 05's explorer summary: the clipped lengths and what the threshold did to the RNN run."""
    plane, run = view.plane, view.clipped
    lengths = "   ".join(f"{CLIP_LABELS[name]} {np.linalg.norm(v):.2f}" for name, v in plane.clipped.items())
    ending = "NaN" if run.diverged else f"{np.mean(run.loss[-10:]):.2f}"
    baseline = view.unclipped.loss[-10:]
    before = "NaN" if not np.all(np.isfinite(baseline)) else f"{np.mean(baseline):.2g}"
    return (
        f"gradient length {np.linalg.norm(plane.gradient):.2f}, clipped: {lengths}\n"
        f"tiny RNN: {100 * run.clipped_fraction():.0f}% of steps clipped, final loss {ending} "
        f"(without clipping: {before})"
    )


# ------------------------------------------------------------------------------------------------------------
# Chapter 07: pretraining with scarce labels (reconstructions, the results grid)
# ------------------------------------------------------------------------------------------------------------

PRETRAINING_COLORS = {"none": "#8C8C8C", "autoencoder": "#4C72B0", "corrupted": "#DD8452", "pairs": "#55A868"}
PRETRAINING_LABELS = {
    "none": "from scratch",
    "autoencoder": "autoencoder",
    "corrupted": "real vs corrupted",
    "pairs": "same-digit pairs",
}


def plot_digit_rows(rows: dict[str, np.ndarray], *, axes=None, n: int = 10):
    """Show ``n`` 8x8 digits per row, one row per named array of flat images (e.g. originals, reconstructions)."""
    if axes is None:
        _, axes = plt.subplots(len(rows), n, figsize=(n * 0.75, len(rows) * 0.85))
    axes = np.asarray(axes).reshape(len(rows), n)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            axes[r, c].imshow(np.asarray(images[c]).reshape(8, 8), cmap="gray_r")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            axes[r, c].grid(False)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    return axes


# Chapter 07 rebuilt: the baselines and the contrastive pretraining (added to the maps above, nothing renamed)
PRETRAINING_COLORS.update({"augmented": "#937860", "logistic": "#DA8BC3", "random": "#CCB974", "simclr": "#C44E52"})
PRETRAINING_LABELS.update(
    {
        "augmented": "from scratch, augmented",
        "logistic": "logistic regression, pixels",
        "random": "random encoder",
        "simclr": "contrastive (SimCLR)",
        "pairs": "same digit or not?",
    }
)


def plot_pretraining_gains(sweep, kinds, *, reuse: str = "fine-tuned", baseline: str = "none", ax=None):
    """Plot each kind's gain over a baseline (points) against labels per digit: mean line, one dot per seed."""
    ax = _axes(ax, (6.4, 3.8))
    counts = np.array(sweep.labels_per_class)
    spread = np.linspace(-0.06, 0.06, len(kinds))  # side by side, in log-x units
    for offset, kind in zip(spread, kinds, strict=True):
        gains = 100 * np.array([sweep.gain(kind, reuse, k, baseline) for k in counts])  # (counts, seeds)
        x = counts * 10**offset
        color = PRETRAINING_COLORS.get(kind)
        ax.plot(x, gains.mean(axis=1), "o-", color=color, label=PRETRAINING_LABELS.get(kind, kind))
        ax.plot(np.repeat(x, gains.shape[1]), gains.ravel(), ".", color=color, alpha=0.5, ms=6)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(k) for k in counts])
    ax.minorticks_off()
    ax.set(
        xlabel="labeled images per digit", ylabel=f"gain over {PRETRAINING_LABELS.get(baseline, baseline)}\n(points)"
    )
    ax.legend(loc="upper right")
    return ax


def plot_pretraining_sweep(sweep, *, axes=None):
    """Plot test accuracy against labels per digit, mean ± std over the seeds: fine-tuned (left), frozen (right)."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    counts = np.array(sweep.labels_per_class)
    for ax, reuse in zip(axes, ("fine-tuned", "frozen"), strict=True):
        for kind in sweep.kinds:
            acc = np.array([sweep.get(kind, reuse, k) for k in counts])
            label = PRETRAINING_LABELS.get(kind, kind)
            ax.errorbar(
                counts,
                acc.mean(axis=1),
                yerr=acc.std(axis=1),
                marker="o",
                ms=4,
                capsize=3,
                color=PRETRAINING_COLORS.get(kind),
                label=label,
                ls="--" if kind == "none" else "-",
            )
        ax.set_xscale("log")
        ax.set_xticks(counts, [str(k) for k in counts])
        ax.minorticks_off()
        ax.set(xlabel="labeled images per digit", title=f"pretrained encoder {reuse}")
    axes[0].set_ylabel("test accuracy")
    axes[1].legend(loc="lower right")
    return axes


def plot_pretraining_view(view, *, axes=None, title: str | None = None):
    """Draw the chapter 07 explorer: accuracy against labels per digit (left), per-seed gain at one count (right)."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.6, 1]})
    counts = np.array(view.counts)
    color = PRETRAINING_COLORS.get(view.kind)
    ax = axes[0]
    for mean, std, c, label in (
        (view.scratch_mean, view.scratch_std, PRETRAINING_COLORS["none"], "from scratch"),
        (view.mean, view.std, color, f"{PRETRAINING_LABELS.get(view.kind, view.kind)}, {view.reuse}"),
    ):
        ax.plot(counts, mean, "o-", color=c, label=label)
        ax.fill_between(counts, mean - std, mean + std, color=c, alpha=0.2)
    ax.axvline(view.labels_per_class, color="0.3", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(k) for k in counts])
    ax.minorticks_off()
    ax.set(xlabel="labeled images per digit", ylabel="test accuracy (mean ± std)")
    ax.legend(loc="lower right")
    seeds = np.arange(len(view.gain))
    axes[1].bar(seeds, 100 * view.gain, color=[color if g > 0 else "0.6" for g in view.gain])
    axes[1].axhline(0, color="0.3", lw=0.8)
    axes[1].set(
        xlabel="seed",
        ylabel="gain over scratch (points)",
        xticks=seeds,
        title=f"{view.labels_per_class} labels per digit",
    )
    if title:
        axes[0].figure.suptitle(title)
    return axes


def pretraining_title(view) -> str:
    """Return chapter 07's explorer summary: the chosen cell against from scratch, over the seeds, and the verdict."""
    gain = 100 * view.gain
    return (
        f"{view.kind}, {view.reuse}, {view.labels_per_class} labels per digit: accuracy "
        f"{view.accuracy.mean():.2f} ± {view.accuracy.std():.2f}, gain over scratch {gain.mean():+.1f} ± "
        f"{gain.std():.1f} points\nsign of the gain over {len(gain)} seeds: {view.verdict}"
    )


# ------------------------------------------------------------------------------------------------------------
# Chapter 08: the capstone's broken set-ups, their symptoms and their repairs
# ------------------------------------------------------------------------------------------------------------

CAPSTONE_COLORS = {"broken": "#C44E52", "fixed": "#4C72B0", "symptom-only": "#DD8452"}


def _loss_scale(ax, values) -> None:
    """Use a log scale only where the losses span more than a decade (flat losses read better on a linear one)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size and finite.max() / finite.min() > 20:
        ax.set_yscale("log")


def _nan_note(ax, text: str = "NaN loss from epoch 1:\nnothing to plot", *, corner: bool = False) -> None:
    x, y, ha, va = (0.97, 0.95, "right", "top") if corner else (0.5, 0.5, "center", "center")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, color=CAPSTONE_COLORS["broken"])


def plot_symptoms(runs: dict, *, key: str = "score", axes=None):
    """Draw one small panel per set-up: ``key`` ("score" or "loss") per epoch, one line per seed, target dashed."""
    names = list(runs)
    if axes is None:
        fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(12, 5), squeeze=False)
    axes = np.ravel(axes)
    for ax, name in zip(axes, names, strict=False):
        values = [np.asarray(getattr(run, key), dtype=float) for run in runs[name]]
        for run, v in zip(runs[name], values, strict=True):
            ax.plot(np.arange(1, len(v) + 1), v, color=CAPSTONE_COLORS.get(run.variant, "0.3"), alpha=0.8)
        if not any(np.isfinite(v).any() for v in values):
            _nan_note(ax)
        if key == "loss":
            _loss_scale(ax, np.concatenate(values))
        else:
            from utils.capstone import SETUPS

            ax.axhline(SETUPS[name].target, color="0.3", ls="--", lw=0.8)
            ax.set_ylim(-0.05, 1.02)
        ax.set_xlim(0.5, len(values[0]) + 0.5)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
    for ax in axes[len(names) :]:
        ax.axis("off")
    return axes


def plot_capstone_view(view, *, axes=None, title: str | None = None):
    """Draw the chapter 08 explorer: loss, validation score and a per-layer statistic, broken next to a version."""
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    runs = {"broken": view.broken} if view.variant == "broken" else {"broken": view.broken, view.variant: view.run}
    for label, run in runs.items():
        color, epochs = CAPSTONE_COLORS.get(label, "0.3"), np.arange(1, len(run.loss) + 1)
        axes[0].plot(epochs, run.loss, "o-", color=color, label=label, ms=3)
        axes[1].plot(epochs, run.score, "o-", color=color, label=label, ms=3)
        if run.stats is not None:
            layers = np.arange(1, len(run.stats) + 1)
            axes[2].plot(layers, np.maximum(run.stats.act_std, 1e-6), "o-", color=color, label=label, ms=3)
        else:
            axes[2].plot(epochs, run.grad_norm, "o-", color=color, label=label, ms=3)
    if view.broken.diverged() and not np.isfinite(view.broken.loss[0]):
        _nan_note(axes[0], "broken: NaN loss\nfrom epoch 1", corner=True)
    _loss_scale(axes[0], np.concatenate([run.loss for run in runs.values()]))
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].axhline(view.setup.target, color="0.3", ls="--", lw=0.8, label="target")
    axes[1].set(xlabel="epoch", ylabel=view.setup.score_name, ylim=(-0.05, 1.02))
    if view.run.stats is not None:
        axes[2].set(xlabel="layer (at initialization; last: output)", ylabel="activation std", yscale="log")
    else:
        axes[2].set(xlabel="epoch", ylabel="largest gradient norm", yscale="log")
    axes[1].legend(loc="lower right")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def capstone_title(view) -> str:
    """Return chapter 08's explorer summary: the set-up, the version, and where each run ended."""

    def ending(run):
        return "NaN loss" if run.diverged() else f"{run.final:.2f}"

    return (
        f"{view.setup.name} ({view.setup.title}), {view.variant}: {view.setup.score_name} {ending(view.run)} "
        f"after {len(view.run.loss)} epochs (broken: {ending(view.broken)}; target {view.setup.target})"
    )


def plot_learning_rate_sweep(sweeps: dict, *, target: float | None = None, ceiling: float = 3.0, ax=None):
    """Plot the final loss against the learning rate (log scale) for labeled sweeps of seeds; return the axes.

    ``sweeps`` maps labels to {learning rate: ``SeedResults``}; a dot per seed, a line through the means of the
    seeds that stayed finite. Losses above ``ceiling`` (and NaN) are drawn at the ceiling as crosses;
    ``target`` draws the loss a usable learning rate must beat in every seed.
    """
    ax = _axes(ax)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, sweep) in enumerate(sweeps.items()):
        color, shift = palette[i % len(palette)], 1 + 0.06 * (i - (len(sweeps) - 1) / 2)
        lrs = np.array(sorted(sweep))
        finals = np.array([sweep[lr].final for lr in lrs])  # (learning rates, seeds)
        inside = np.isfinite(finals) & (finals <= ceiling)
        means = [np.mean(row[ok]) if ok.all() else np.nan for row, ok in zip(finals, inside, strict=True)]
        ax.plot(lrs * shift, means, "-", color=color, label=label, lw=1.4)
        for lr, row, ok in zip(lrs, finals, inside, strict=True):
            ax.plot(np.full(ok.sum(), lr * shift), row[ok], "o", color=color, ms=4, alpha=0.8)
            ax.plot(np.full((~ok).sum(), lr * shift), np.full((~ok).sum(), ceiling), "x", color=color, ms=7)
    if target is not None:
        ax.axhline(target, color="0.3", ls="--", lw=1, label=f"usable: below {target:g} in every seed")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="final loss", ylim=(0, ceiling * 1.08))
    ax.annotate(f"× above {ceiling:g} or NaN", (0.01, 0.98), xycoords="axes fraction", fontsize=8, va="top")
    ax.legend(loc="center left", fontsize=8)
    return ax

"""Chapters 01-03's experiments, run on the course's one numpy engine (:mod:`utils.nets`).

Chapter 01's explorer (:func:`compute_gradient_flow`), chapter 02's deep stacks (:func:`measure_stack`,
:func:`compare_stacks`, :func:`compute_init_stats`, :func:`leaky_stack_std`) and chapter 03's trainer
(:func:`train_numpy_net`, :func:`compare_activations`, :func:`dead_fractions`) build :class:`utils.nets.MLP`
networks and run them with :func:`utils.nets.forward`, :func:`utils.nets.backward` and :func:`utils.nets.fit`.
The explorers slice their weights from one cached draw (:func:`unit_draws`): a slider move rescales the same
random numbers and costs a forward and backward pass only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from utils import activations, nets
from utils.blas import single_blas_thread
from utils.diagnostics import LayerStats, summarize
from utils.init import INITS, MAX_DEPTH, MAX_WIDTH, Init, Verdict, get_init, stack_widths

MAX_EXPLORER_DEPTH, MAX_EXPLORER_WIDTH = 50, 144  # chapter 01's sliders: the slowest corner stays under 50 ms


# ------------------------------------------------------------------------------------------------------------
# The explorers' random numbers, drawn once
# ------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def unit_draws(seed: int = 0, n: int = 64, n_inputs: int = 64):
    """Return N(0, 1) inputs (n, n_inputs), labels, and a (MAX_DEPTH + 1, 256, 256) stack of N(0, 1) weights.

    Drawn once per seed (13 MB, ~40 ms, most of a slider move's budget): every explorer and every rule rescales
    the same numbers, so two initializations are compared on the same draw. A fixed size, not the sliders'
    limits: moving a limit must not change the networks drawn below it.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_inputs), dtype=np.float32)
    y = rng.integers(0, 10, n)
    side = max(MAX_WIDTH, n_inputs)
    unit = rng.standard_normal((MAX_DEPTH + 1, side, side), dtype=np.float32)
    unit.flags.writeable = False  # shared between calls: nobody may change it
    return X, y, unit


def layer_stats(net: nets.MLP, X: np.ndarray, y: np.ndarray) -> LayerStats:
    """Return the per-layer forward and backward statistics of ``net`` on one batch (hidden layers, then output)."""
    trace = nets.forward(net, X)
    _, d_out = nets.softmax_cross_entropy(trace.output, y)
    grads = nets.backward(net, trace, d_out, stop=0)
    names = [f"dense_{i + 1}" for i in range(net.depth)] + ["output"]
    return summarize(names, net.activations, trace.inputs[1:], grads.outputs, net.weights, grads.weights)


def _stack(weights: list[np.ndarray], activation: str) -> nets.MLP:
    """Return a network of these kernels, zero biases, ``activation`` in the hidden layers and logits out."""
    biases = [np.zeros(w.shape[1], w.dtype) for w in weights]
    return nets.MLP(weights, biases, [activation] * (len(weights) - 1) + ["linear"])


# ------------------------------------------------------------------------------------------------------------
# Chapter 01: the gradient-flow explorer
# ------------------------------------------------------------------------------------------------------------


def compute_gradient_flow(
    depth: int = 20,
    width: int = 100,
    activation: str = "tanh",
    scale: float = 1.0,
    *,
    n: int = 64,
    n_inputs: int = 64,
    seed: int = 0,
) -> LayerStats:
    """Return per-layer statistics of a freshly initialized MLP on standardized random inputs.

    The weights are N(0, (scale / sqrt(fan_in))^2): scale 1 is LeCun's initialization, sqrt(2) He's.
    Pure and fast (a few ms at the defaults), so the chapter 01 explorer can call it on every slider move.

    Parameters
    ----------
    depth, width : number and width of the hidden layers (at least 1 each).
    activation : the hidden layers' activation name.
    scale : multiplies the weights' std.
    n, n_inputs : batch size and input features (the digits have 64); seed : for inputs, labels and weights.
    """
    if depth < 1 or width < 1 or not scale > 0:
        raise ValueError(f"need depth >= 1, width >= 1 and scale > 0; got {depth}, {width}, {scale}")
    activations.get(activation)
    X, y, unit = unit_draws(seed, n, n_inputs)
    sizes = [n_inputs] + [width] * depth + [10]
    if depth + 1 > len(unit) or width > unit.shape[2]:
        raise ValueError(f"depth <= {len(unit) - 1} and width <= {unit.shape[2]} here; got {depth}, {width}")
    # scale x LeCun's std, written as scale / sqrt(fan_in): the slider is the multiplier itself
    weights = [scale / np.sqrt(a) * unit[i, :a, :b] for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]
    with single_blas_thread():
        return layer_stats(_stack(weights, activation), X, y)


# ------------------------------------------------------------------------------------------------------------
# Chapter 02: deep stacks for any activation x initialization
# ------------------------------------------------------------------------------------------------------------


def build_stack(
    activation: str,
    init: str | Init,
    widths: list[int],
    *,
    multiplier: float = 1.0,
    n_inputs: int = 64,
    n_classes: int = 10,
    seed: int = 0,
    dtype=np.float32,
) -> nets.MLP:
    """Return a network: hidden ``widths`` initialized by ``init`` (std x ``multiplier``), a Glorot output.

    Parameters
    ----------
    activation : the hidden layers' activation (a name from ``utils.activations``).
    init : a key of ``utils.init.INITS`` or an :class:`utils.init.Init`.
    widths : hidden widths, at most MAX_DEPTH layers of at most MAX_WIDTH units.
    multiplier : multiplies every hidden layer's std (1: the rule itself).
    n_inputs, n_classes : input features and output units; seed : which draw of the random weights.
    dtype : float32 (fast) or float64 (room for signals that grow by 1e70, as the explorer's extremes do).
    """
    rule = get_init(init)
    activations.get(activation)
    sizes = [n_inputs, *widths, n_classes]
    if not 1 <= len(widths) <= MAX_DEPTH or max(sizes) > MAX_WIDTH or min(sizes) < 1 or not multiplier > 0:
        raise ValueError(
            f"need 1..{MAX_DEPTH} layers of 1..{MAX_WIDTH} units and multiplier > 0; got {sizes}, {multiplier}"
        )
    unit = unit_draws(seed)[2]
    weights = []
    for i, shape in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        std = INITS["glorot"].std(shape) if i == len(widths) else rule.std(shape) * multiplier
        weights.append((std * unit[i, : shape[0], : shape[1]]).astype(dtype, copy=False))
    return _stack(weights, activation)


def measure_stack(
    activation: str,
    init: str | Init,
    *,
    depth: int = MAX_DEPTH,
    width: int = MAX_WIDTH,
    pattern: str = "constant",
    multiplier: float = 1.0,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    seed: int = 0,
    dtype=np.float32,
) -> LayerStats:
    """Return the per-layer statistics of a freshly initialized deep stack on one batch.

    Parameters
    ----------
    activation, init : the hidden activation and the initialization rule (see :func:`build_stack`).
    depth, width, pattern : the hidden layers (see :func:`utils.init.stack_widths`).
    multiplier : multiplies the rule's std.
    X, y : a batch of inputs and integer labels; default: 64 standardized Gaussian inputs of 64 features.
    seed : which draw of random weights (and default inputs); dtype : of the weights and the computation.
    """
    X0, y0, _ = unit_draws(seed)
    X, y = (X0, y0) if X is None else (np.asarray(X), np.asarray(y))
    widths = stack_widths(depth, width, pattern)
    net = build_stack(activation, init, widths, multiplier=multiplier, n_inputs=X.shape[1], seed=seed, dtype=dtype)
    with single_blas_thread():  # small products: threads cost more than they bring (76 s vs 1.8 s under load)
        return layer_stats(net, X.astype(dtype, copy=False), y)


def leaky_stack_std(alpha: float, scale: float, *, depth: int = MAX_DEPTH, width: int = MAX_WIDTH, seed: int = 0):
    """Return the activation std per layer of a leaky-ReLU stack (slope ``alpha``), Var(W) = scale / fan_in.

    Forward only, for any slope (``utils.activations.leaky_relu`` takes it as an argument; the engine's
    ``"leaky_relu"`` has the course's fixed slope).
    """
    X, _, unit = unit_draws(seed)
    if not 1 <= depth <= MAX_DEPTH or not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"need 1 <= depth <= {MAX_DEPTH} and 1 <= width <= {MAX_WIDTH}; got {depth}, {width}")
    rule, h, stds = Init("leaky", scale, "fan_in"), X, []
    for i in range(depth):
        z = h @ (rule.std((h.shape[1], width)) * unit[i, : h.shape[1], :width])
        h = activations.leaky_relu(z, alpha)
        stds.append(float(h.std()))
    return np.array(stds)


def compare_stacks(combos, *, seeds=(0, 1, 2), **kwargs) -> list[Verdict]:
    """Return a :class:`utils.init.Verdict` per ``(activation, init)`` in ``combos``, over ``seeds``.

    Other keyword arguments go to :func:`measure_stack` (depth, width, pattern, multiplier, X, y).
    """
    verdicts = []
    for activation, init in combos:
        stats = [measure_stack(activation, init, seed=s, **kwargs) for s in seeds]
        verdicts.append(
            Verdict(
                activation,
                init if isinstance(init, str) else init.label,
                np.array([s.vanishing_ratio() for s in stats]),
                np.array([s.act_std[-2] / s.act_std[0] for s in stats]),
            )
        )
    return verdicts


def compute_init_stats(
    activation: str = "tanh",
    init: str = "glorot",
    depth: int = 30,
    multiplier: float = 1.0,
    pattern: str = "constant",
    *,
    width: int = 128,
    seed: int = 0,
) -> LayerStats:
    """Return per-layer statistics for the chapter 02 explorer (pure and fast: ~10-30 ms).

    ``pattern="bottleneck"`` alternates ``width`` and ``width // 4`` units, where fan_in and fan_out differ
    and the choice of fan starts to matter. Computed in float32, and again in float64 when a signal leaves
    float32's range (ReLU at 4 x Glorot x 10 grows by ~1e70 over 50 layers), so that every setting stays finite.
    """
    kwargs = dict(depth=depth, width=width, pattern=pattern, multiplier=multiplier, seed=seed)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"), single_blas_thread():
        stats = measure_stack(activation, init, **kwargs)
        if not (np.all(np.isfinite(stats.grad_norm)) and all(np.all(np.isfinite(s)) for s in stats.samples)):
            stats = measure_stack(activation, init, dtype=np.float64, **kwargs)
    big = float(np.finfo(np.float32).max)  # the histogram samples are float32
    stats.samples = [np.nan_to_num(s, nan=0.0, posinf=big, neginf=-big) for s in stats.samples]
    return stats


# ------------------------------------------------------------------------------------------------------------
# Chapter 03: a deep MLP with any activation, trained with Adam (nets.fit), over activations and seeds
# ------------------------------------------------------------------------------------------------------------


@dataclass
class NumpyRun:
    """One training run: the trained net, validation accuracy per epoch, training loss per epoch, seconds."""

    activation: str
    seed: int
    net: nets.MLP
    val_accuracy: np.ndarray
    loss: np.ndarray
    seconds: float


def train_numpy_net(
    splits,
    activation: str,
    *,
    depth: int = 20,
    width: int = 64,
    epochs: int = 6,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    init: str | None = None,
    distribution: str = "normal",
    bias: float = 0.0,
    optimizer: str = "adam",
    seed: int = 0,
    on_epoch_end=None,
) -> NumpyRun:
    """Train a float32 network on ``splits`` (a :class:`utils.data.Splits`); return a :class:`NumpyRun`.

    The weights are drawn from ``default_rng(seed)``; one generator ``default_rng(seed + 1000)`` shuffles every
    epoch and draws RReLU's slopes. ``seconds`` is the training time (no evaluation). ``init`` (default: the
    recommended one, see :func:`utils.nets.recommended_init`), ``distribution`` and ``bias`` go to
    :func:`utils.nets.init_net`; ``optimizer`` (``"adam"`` or ``"sgd"``, Keras' rules) to :func:`utils.nets.fit`.
    ``on_epoch_end(net)``, if given, is called before the first epoch and after each one.
    """
    sizes = [splits.n_features] + [width] * depth + [splits.n_classes]
    net = nets.init_net(
        sizes, activation, init=init or "recommended", distribution=distribution, bias=bias, seed=seed,
        dtype=np.float32,
    )  # fmt: skip
    val_acc = []

    def after_epoch(net, epoch):
        val_acc.append(nets.accuracy(net, splits.X_valid, splits.y_valid))
        if on_epoch_end is not None:
            on_epoch_end(net)

    if on_epoch_end is not None:
        with single_blas_thread():
            on_epoch_end(net)
    history = nets.fit(
        net, splits.X_train, splits.y_train, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
        learning_rate=learning_rate, rng=np.random.default_rng(seed + 1000), on_epoch_end=after_epoch,
    )  # fmt: skip
    return NumpyRun(activation, seed, net, np.array(val_acc), history.loss, history.seconds)


def dead_fractions(net: nets.MLP, X: np.ndarray) -> np.ndarray:
    """Return, per hidden layer, the fraction of units that output 0 for every row of ``X`` (inference)."""
    with single_blas_thread():
        hidden = nets.forward(net, X).hidden
    return np.array([np.mean(np.all(h == 0, axis=0)) for h in hidden])


def silent_fractions(net: nets.MLP, X: np.ndarray) -> np.ndarray:
    """Return, per hidden layer, the fraction of units whose pre-activation is <= 0 for every row of ``X``.

    For ReLU these units are dead (output 0, gradient 0); a leaky unit in that state still passes a gradient.
    """
    with single_blas_thread():
        pre = nets.forward(net, X).pre[:-1]
    return np.array([np.mean(np.all(z <= 0, axis=0)) for z in pre])


@dataclass
class Comparison:
    """Runs of several activations over several seeds, summarized per activation."""

    runs: list[NumpyRun]

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(run.activation for run in self.runs))

    def accuracy(self, name: str) -> np.ndarray:
        """Return the final validation accuracy of every seed's run of activation ``name``."""
        return np.array([run.val_accuracy[-1] for run in self.runs if run.activation == name])

    def seconds(self, name: str) -> np.ndarray:
        return np.array([run.seconds for run in self.runs if run.activation == name])

    def table(self) -> str:
        """Return accuracy per activation, best first, as mean ± std and min..max over the seeds."""
        rows = [f"{'activation':<12}{'val. accuracy':>16}{'min..max':>14}"]
        for name in sorted(self.names, key=lambda a: -self.accuracy(a).mean()):
            acc = self.accuracy(name)
            rows.append(f"{name:<12}{acc.mean():>9.3f} ± {acc.std():.3f}{acc.min():>8.3f}..{acc.max():.3f}")
        return "\n".join(rows)


def compare_activations(splits, names, seeds=(0, 1, 2), **train_kwargs) -> Comparison:
    """Train a network per activation and seed (:func:`train_numpy_net`); return a :class:`Comparison`."""
    return Comparison([train_numpy_net(splits, name, seed=seed, **train_kwargs) for name in names for seed in seeds])


# ------------------------------------------------------------------------------------------------------------
# Chapter 01's exercise check (utils.checks.ch01): its printed numbers come from these float32 draws
# ------------------------------------------------------------------------------------------------------------


def init_mlp(sizes, activation: str = "tanh", *, gain: float = 1.0, seed: int = 0) -> nets.MLP:
    """Return a network of float32 N(0, (gain / sqrt(fan_in))^2) weights, zero biases, logits out.

    Drawn in float32 (``rng.standard_normal(dtype=float32)``), unlike :func:`utils.nets.init_net`'s float64 draws.
    """
    rng = np.random.default_rng(seed)
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    weights = [
        (gain / np.sqrt(a) * rng.standard_normal((a, b), dtype=np.float32)).astype(np.float32) for a, b in shapes
    ]
    return _stack(weights, activation)

"""The course's numpy MLP, one network for every chapter, and the trainer beside it.

A stack of dense layers with a hand-written backward pass: fast enough for a widget to redraw on every slider
move (chapter 01's explorer, chapter 02's statistics), and to train a deep MLP with any of chapter 03's
activations (PReLU's slopes and RReLU's random slopes included) with Adam in well under a second, where a Keras
model needs about 1.5 s just to trace its training step. Taught in chapters 01 and 03; its gradients are checked
against TensorFlow's in ``tests/test_mlp.py``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from utils import activations
from utils.blas import single_blas_thread
from utils.diagnostics import LayerStats, summarize

FAN_MODES = ("fan_in", "fan_out", "fan_avg")


# The initialization each activation is trained with in chapter 03 (the softmax output layer always gets Glorot).
RECOMMENDED_INIT = {
    "sigmoid": "glorot",
    "tanh": "glorot",
    "relu": "he",
    "leaky_relu": "he",
    "rrelu": "he",
    "prelu": "he",
    "elu": "he",
    "selu": "lecun",
    "gelu": "he",
    "silu": "he",
}
PRELU_INITIAL_SLOPE = 0.25  # He et al. (2015); Keras' PReLU starts at 0, a plain ReLU


@dataclass
class MLP:
    """Weights and biases of a stack of dense layers; hidden layers share one activation, the output is softmax.

    ``slopes`` holds PReLU's learned per-unit slopes (one array per hidden layer), and is empty otherwise.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str
    slopes: list[np.ndarray] = field(default_factory=list)

    @property
    def depth(self) -> int:
        """Return the number of hidden layers."""
        return len(self.weights) - 1

    def parameters(self) -> list[np.ndarray]:
        """Return the trainable arrays in the order of :func:`net_gradients`: weights, biases, slopes."""
        return [*self.weights, *self.biases, *self.slopes]


def fan(shape: tuple[int, int], mode: str = "fan_in") -> float:
    """Return fan_in, fan_out or their average for a dense kernel of ``shape`` (inputs, outputs)."""
    fan_in, fan_out = shape
    if mode not in FAN_MODES:
        raise ValueError(f"mode must be one of {FAN_MODES}, got {mode!r}")
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def init_mlp(
    sizes: list[int],
    activation: str = "tanh",
    *,
    gain: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "normal",
    seed: int = 0,
) -> MLP:
    """Return an MLP whose weights have std = gain / sqrt(fan), biases zero.

    Parameters
    ----------
    sizes : layer widths, input first, output last (e.g. ``[64, 100, 100, 10]``: two hidden layers).
    activation : the hidden layers' activation (a name from ``utils.activations.ACTIVATIONS``).
    gain : multiplies the std; 1 with fan_in is LeCun, sqrt(2) with fan_in is He, 1 with fan_avg is Glorot.
    mode : ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
    distribution : ``"normal"``, or ``"uniform"`` on [-r, r] with r = std * sqrt(3) (the same variance).
    seed : the generator seed.
    """
    activations.get(activation)  # fail early, with the list of names
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs an input and an output width, all >= 1; got {sizes}")
    rng = np.random.default_rng(seed)
    weights = []
    for shape in zip(sizes[:-1], sizes[1:], strict=True):
        std = gain / np.sqrt(fan(shape, mode))
        if distribution == "normal":
            w = std * rng.standard_normal(shape, dtype=np.float32)
        elif distribution == "uniform":
            limit = std * np.sqrt(3.0)
            w = limit * (2 * rng.random(shape, dtype=np.float32) - 1)
        else:
            raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
        weights.append(w.astype(np.float32))
    biases = [np.zeros(n, np.float32) for n in sizes[1:]]
    return MLP(weights, biases, activation)


def _hidden(net: MLP, i: int, z: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Return hidden layer i's output and local derivative; RReLU draws slopes when ``rng`` is given (training)."""
    name = net.activation
    if name in ("prelu", "rrelu"):
        if name == "prelu":
            slope = net.slopes[i]
        elif rng is None:
            slope = (activations.RRELU_LOWER + activations.RRELU_UPPER) / 2
        else:
            slope = rng.uniform(activations.RRELU_LOWER, activations.RRELU_UPPER, z.shape).astype(z.dtype)
        return np.where(z >= 0, z, slope * z), np.where(z >= 0, 1, slope).astype(z.dtype)
    f, df = activations.get(name)
    return f(z), df(z)


def net_forward(net: MLP, X: np.ndarray, *, rng=None):
    """Return ``(zs, hs, local)``: pre-activations, layer inputs (then the logits), activation derivatives.

    ``rng`` switches RReLU to training mode (fresh random slopes); without it every layer runs in inference mode.
    """
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(net.weights[0].dtype)
    zs, hs, local = [], [X], []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = hs[-1] @ W + b
        zs.append(z)
        if i == net.depth:
            hs.append(z)
        else:
            h, d = _hidden(net, i, z, rng)
            hs.append(h.astype(z.dtype))
            local.append(d)
    return zs, hs, local


def forward(mlp: MLP, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return ``(zs, hs)``: pre-activations of every layer, and the inputs to every layer plus the logits last."""
    zs, hs, _ = net_forward(mlp, X)
    return zs, hs


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the mean cross-entropy of integer labels ``y`` and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_p[np.arange(n), y].mean()
    grad = np.exp(log_p)
    grad[np.arange(n), y] -= 1
    return float(loss), (grad / n).astype(logits.dtype)


def backward(mlp: MLP, X: np.ndarray, y: np.ndarray):
    """Return ``(loss, dWs, dbs, dhs)``: the loss, its gradients for each W and b, and for each layer's output.

    ``dhs[i]`` is the gradient with respect to the output of layer i (the logits for the last layer).
    """
    grads = _backward(mlp, X, y)
    return grads.loss, grads.dWs, grads.dbs, grads.dhs


@dataclass
class _Gradients:
    loss: float
    dWs: list[np.ndarray]
    dbs: list[np.ndarray]
    dhs: list[np.ndarray]  # with respect to each layer's output (the logits last)
    dslopes: list[np.ndarray]  # PReLU only
    hs: list[np.ndarray]  # the forward pass's layer inputs, then the logits


def _backward(net: MLP, X: np.ndarray, y: np.ndarray, *, rng=None) -> _Gradients:
    zs, hs, local = net_forward(net, X, rng=rng)
    loss, dz = softmax_cross_entropy(zs[-1], y)
    n_layers = len(zs)
    dWs, dbs, dhs = [None] * n_layers, [None] * n_layers, [None] * n_layers
    dslopes = [None] * net.depth if net.slopes else []
    dhs[-1] = dz
    for i in reversed(range(n_layers)):
        if i < net.depth:
            dz = dhs[i] * local[i]
            if net.slopes:
                dslopes[i] = np.sum(dhs[i] * np.minimum(zs[i], 0), axis=0)  # d(slope * z) / d slope = z, for z < 0
        dWs[i] = hs[i].T @ dz
        dbs[i] = dz.sum(axis=0)
        if i > 0:
            dhs[i - 1] = dz @ net.weights[i].T
    return _Gradients(loss, dWs, dbs, dhs, dslopes, hs)


def net_gradients(net: MLP, X: np.ndarray, y: np.ndarray, *, rng=None):
    """Return ``(loss, grads)``, grads ordered as :meth:`MLP.parameters` (weights, biases, slopes)."""
    grads = _backward(net, X, y, rng=rng)
    return grads.loss, [*grads.dWs, *grads.dbs, *grads.dslopes]


def layer_stats(mlp: MLP, X: np.ndarray, y: np.ndarray) -> LayerStats:
    """Return the per-layer forward and backward statistics of ``mlp`` on one batch (hidden layers, then output)."""
    grads = _backward(mlp, X, y)
    names = [f"dense_{i + 1}" for i in range(mlp.depth)] + ["output"]
    acts = [mlp.activation] * mlp.depth + ["linear"]
    return summarize(names, acts, grads.hs[1:], grads.dhs, mlp.weights, grads.dWs)


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
    X, y, unit = _unit_draws(n, n_inputs, seed)
    sizes = [n_inputs] + [width] * depth + [10]
    if depth + 1 > len(unit) or width > unit.shape[2]:
        raise ValueError(f"depth <= {len(unit) - 1} and width <= {unit.shape[2]} here; got {depth}, {width}")
    weights = [scale / np.sqrt(a) * unit[i, :a, :b] for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]
    biases = [np.zeros(b, np.float32) for b in sizes[1:]]
    with single_blas_thread():
        return layer_stats(MLP(weights, biases, activation), X, y)


MAX_EXPLORER_DEPTH, MAX_EXPLORER_WIDTH = 50, 144  # the slowest corner stays under 50 ms
_DRAW_SIDE = 256


@functools.lru_cache(maxsize=4)
def _unit_draws(n: int, n_inputs: int, seed: int):
    """Return inputs, labels and a stack of N(0, 1) matrices to slice weights from (drawn once per seed).

    Drawing 4 million normals costs ~40 ms, most of a slider move's budget: the explorer draws them once
    and only rescales, so moving a slider changes the network, never the random numbers behind it.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_inputs), dtype=np.float32)
    y = rng.integers(0, 10, n)
    # A fixed size, not the sliders' limits: moving a limit must not change the networks drawn below it.
    side = max(_DRAW_SIDE, n_inputs)
    unit = rng.standard_normal((MAX_EXPLORER_DEPTH + 1, side, side), dtype=np.float32)
    unit.flags.writeable = False  # shared between calls: nobody may change it
    return X, y, unit


# ---------------------------------------------------------------------------------------------------------
# Training: a deep MLP with any of chapter 03's activations, trained with Adam
# ---------------------------------------------------------------------------------------------------------


def init_numpy_net(
    sizes: list[int], activation: str, *, init: str | None = None, bias: float = 0.0, seed: int = 0
) -> MLP:
    """Return an MLP with normal weights (``init``: glorot, he or lecun; default: the recommended one).

    The hidden layers' biases start at ``bias`` (0 normally; a negative value silences ReLU units on purpose).
    """
    if activation not in RECOMMENDED_INIT:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(RECOMMENDED_INIT)}")
    init = init or RECOMMENDED_INIT[activation]
    rng = np.random.default_rng(seed)
    weights = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        kind = "glorot" if i == len(sizes) - 2 else init  # the softmax layer gets Glorot, as in Keras
        weights.append((activations.init_std(kind, a, b) * rng.standard_normal((a, b))).astype(np.float32))
    biases = [np.full(b, bias if i < len(sizes) - 2 else 0.0, np.float32) for i, b in enumerate(sizes[1:])]
    slopes = [np.full(b, PRELU_INITIAL_SLOPE, np.float32) for b in sizes[1:-1]] if activation == "prelu" else []
    return MLP(weights, biases, activation, slopes)


def predict(net: MLP, X: np.ndarray) -> np.ndarray:
    """Return predicted classes (inference mode: RReLU uses its mean slope)."""
    return np.argmax(net_forward(net, X)[0][-1], axis=1)


class Adam:
    """Adam, as ``keras.optimizers.Adam`` computes it (epsilon 1e-7 added to sqrt(v))."""

    def __init__(self, params: list[np.ndarray], learning_rate: float = 1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7):
        self.lr, self.b1, self.b2, self.eps, self.t = learning_rate, beta_1, beta_2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place."""
        self.t += 1
        alpha = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m += (g - m) * (1 - self.b1)
            v += (g * g - v) * (1 - self.b2)
            p -= (alpha * m / (np.sqrt(v) + self.eps)).astype(p.dtype)


@dataclass
class NumpyRun:
    """One training run: the trained net, validation accuracy per epoch, training loss per epoch, seconds."""

    activation: str
    seed: int
    net: MLP
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
    bias: float = 0.0,
    seed: int = 0,
    on_epoch_end=None,
) -> NumpyRun:
    """Train a numpy MLP on ``splits`` (a :class:`utils.data.Splits`) with Adam; return a :class:`NumpyRun`.

    The seed fixes the weights, the batch order and RReLU's slopes. ``seconds`` is the training time (no
    evaluation). ``init`` and ``bias`` go to :func:`init_numpy_net`; ``on_epoch_end(net)``, if given, is
    called before the first epoch and after each one (e.g. to record :func:`silent_fractions`).
    """
    sizes = [splits.n_features] + [width] * depth + [splits.n_classes]
    net = init_numpy_net(sizes, activation, init=init, bias=bias, seed=seed)
    params = net.parameters()
    optimizer = Adam(params, learning_rate)
    rng = np.random.default_rng(seed + 1000)
    n = len(splits.y_train)
    val_acc, losses, seconds = [], [], 0.0
    with single_blas_thread():
        if on_epoch_end is not None:
            on_epoch_end(net)
        for _ in range(epochs):
            start, epoch_loss = time.perf_counter(), []
            order = rng.permutation(n)
            for first in range(0, n, batch_size):
                batch = order[first : first + batch_size]
                loss, grads = net_gradients(net, splits.X_train[batch], splits.y_train[batch], rng=rng)
                optimizer.step(params, grads)
                epoch_loss.append(loss)
            seconds += time.perf_counter() - start
            losses.append(np.mean(epoch_loss))
            val_acc.append(np.mean(predict(net, splits.X_valid) == splits.y_valid))
            if on_epoch_end is not None:
                on_epoch_end(net)
    return NumpyRun(activation, seed, net, np.array(val_acc), np.array(losses), seconds)


def dead_fractions(net: MLP, X: np.ndarray) -> np.ndarray:
    """Return, per hidden layer, the fraction of units that output 0 for every row of ``X`` (inference)."""
    _, hs, _ = net_forward(net, X)
    return np.array([np.mean(np.all(h == 0, axis=0)) for h in hs[1:-1]])


def silent_fractions(net: MLP, X: np.ndarray) -> np.ndarray:
    """Return, per hidden layer, the fraction of units whose pre-activation is <= 0 for every row of ``X``.

    For ReLU these units are dead (output 0, gradient 0); a leaky unit in that state still passes a gradient.
    """
    zs, _, _ = net_forward(net, X)
    return np.array([np.mean(np.all(z <= 0, axis=0)) for z in zs[:-1]])


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

    def time_table(self) -> str:
        """Return each activation's training time relative to ReLU's (rounded: timings vary between runs)."""
        reference = self.seconds("relu").mean() if "relu" in self.names else 1.0
        rows = [f"{'activation':<12}{'seconds':>9}{'× relu':>8}"]
        for name in self.names:
            s = self.seconds(name).mean()
            rows.append(f"{name:<12}{s:>9.2f}{s / reference:>8.1f}")
        return "\n".join(rows)


def compare_activations(splits, names, seeds=(0, 1, 2), **train_kwargs) -> Comparison:
    """Train a numpy MLP per activation and seed (:func:`train_numpy_net`); return a :class:`Comparison`."""
    return Comparison([train_numpy_net(splits, name, seed=seed, **train_kwargs) for name in names for seed in seeds])

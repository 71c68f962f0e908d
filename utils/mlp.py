"""A small numpy MLP with a hand-written backward pass: fast enough for a widget to redraw on every slider move.

Taught in chapter 01; its gradients are checked against TensorFlow's in ``tests/test_mlp.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from utils import activations
from utils.blas import single_blas_thread
from utils.diagnostics import LayerStats, summarize

FAN_MODES = ("fan_in", "fan_out", "fan_avg")


@dataclass
class MLP:
    """Weights and biases of a stack of dense layers; hidden layers share one activation, the output is softmax."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str

    @property
    def depth(self) -> int:
        """Return the number of hidden layers."""
        return len(self.weights) - 1


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


def forward(mlp: MLP, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return ``(zs, hs)``: pre-activations of every layer, and the inputs to every layer plus the logits last."""
    f, _ = activations.get(mlp.activation)
    hs, zs = [X], []
    for i, (W, b) in enumerate(zip(mlp.weights, mlp.biases, strict=True)):
        z = hs[-1] @ W + b
        zs.append(z)
        hs.append(z if i == mlp.depth else f(z).astype(z.dtype))
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
    loss, dWs, dbs, dhs, _ = _backward(mlp, X, y)
    return loss, dWs, dbs, dhs


def _backward(mlp: MLP, X: np.ndarray, y: np.ndarray):
    _, df = activations.get(mlp.activation)
    zs, hs = forward(mlp, X)
    loss, dz = softmax_cross_entropy(zs[-1], y)
    dWs, dbs, dhs = [None] * len(zs), [None] * len(zs), [None] * len(zs)
    dhs[-1] = dz
    for i in reversed(range(len(zs))):
        if i < mlp.depth:
            dz = dhs[i] * df(zs[i])
        dWs[i] = hs[i].T @ dz
        dbs[i] = dz.sum(axis=0)
        if i > 0:
            dhs[i - 1] = dz @ mlp.weights[i].T
    return loss, dWs, dbs, dhs, hs


def layer_stats(mlp: MLP, X: np.ndarray, y: np.ndarray) -> LayerStats:
    """Return the per-layer forward and backward statistics of ``mlp`` on one batch (hidden layers, then output)."""
    _, dWs, _, dhs, hs = _backward(mlp, X, y)
    names = [f"dense_{i + 1}" for i in range(mlp.depth)] + ["output"]
    acts = [mlp.activation] * mlp.depth + ["linear"]
    return summarize(names, acts, hs[1:], dhs, mlp.weights, dWs)


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

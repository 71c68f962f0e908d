"""Activation layers: randomized leaky ReLU as a Keras layer, and a fast numpy MLP to compare activations.

Taught in chapter 03. Keras 3 has ``LeakyReLU``, ``PReLU`` and ``ELU`` layers and the ``selu``, ``gelu`` and
``silu`` activations, but no RReLU: :class:`RReLU` fills the gap and saves and loads like any Keras layer.

The numpy part trains a deep MLP with any of the chapter's activations (PReLU's slopes included) with Adam, in
well under a second: a Keras model needs about 1.5 s just to trace its training step, too much for a notebook
that compares ten activations over several seeds. ``tests/test_layers.py`` checks its gradients against
TensorFlow's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
import numpy as np

from utils import activations
from utils.blas import single_blas_thread
from utils.mlp import softmax_cross_entropy

# ---------------------------------------------------------------------------------------------------------
# Keras
# ---------------------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course")
class RReLU(keras.layers.Layer):
    """Randomized leaky ReLU (Xu et al., 2015): z for z >= 0, a * z for z < 0.

    In training, ``a`` is drawn from U(lower, upper) for every element of every batch (a regularizer, like
    dropout); at inference it is the mean slope (lower + upper) / 2, so predictions are deterministic.

    Parameters
    ----------
    lower, upper : the range of the random slope, 0 <= lower <= upper (default 1/8 and 1/3, as in the paper).
    seed : seeds the slopes' generator (None: from Keras' global seed, see ``keras.utils.set_random_seed``).
    """

    def __init__(
        self,
        lower: float = activations.RRELU_LOWER,
        upper: float = activations.RRELU_UPPER,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU needs 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper, self.seed = float(lower), float(upper), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True  # no weights of its own

    @property
    def mean_slope(self) -> float:
        """Return the slope used at inference, (lower + upper) / 2."""
        return (self.lower + self.upper) / 2

    def call(self, inputs, training=False):
        if training:
            shape = keras.ops.shape(inputs)
            slope = keras.random.uniform(
                shape, self.lower, self.upper, dtype=self.compute_dtype, seed=self.seed_generator
            )
        else:
            slope = self.mean_slope
        return keras.ops.where(inputs >= 0, inputs, slope * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "seed": self.seed}


# The initializer that keeps each activation's signal at a steady scale (chapter 02).
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
KERAS_INIT = {"glorot": "glorot_normal", "he": "he_normal", "lecun": "lecun_normal"}
PRELU_INITIAL_SLOPE = 0.25  # He et al. (2015); Keras' PReLU starts at 0, a plain ReLU


def activation_layer(activation: str, **kwargs) -> keras.layers.Layer:
    """Return a Keras layer for ``activation``, including ``"rrelu"`` and ``"prelu"`` (slopes start at 0.25).

    ``"leaky_relu"`` gets the course's slope 0.2 (the function's default; the ``LeakyReLU`` layer's is 0.3).
    Keyword arguments (``name``...) go to the layer.
    """
    if activation == "rrelu":
        return RReLU(**kwargs)
    if activation == "prelu":
        return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(PRELU_INITIAL_SLOPE), **kwargs)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=activations.LEAKY_SLOPE, **kwargs)
    return keras.layers.Activation(activation, **kwargs)


def build_activation_mlp(
    depth: int,
    width: int,
    activation: str,
    *,
    init: str | None = None,
    bias_initializer="zeros",
    n_inputs: int = 64,
    n_classes: int = 10,
) -> keras.Sequential:
    """Return a Sequential MLP of ``depth`` Dense layers, each followed by a layer of ``activation``.

    Parameters
    ----------
    depth, width : number and width of the hidden layers.
    activation : a Keras activation name, ``"rrelu"`` or ``"prelu"``.
    init : ``"glorot"``, ``"he"`` or ``"lecun"`` (normal); default: the one recommended for the activation.
    bias_initializer : for the hidden layers (e.g. a negative constant, to kill ReLU units on purpose).
    n_inputs, n_classes : input features and classes (64 and 10 for the digits).
    """
    init = init or RECOMMENDED_INIT.get(activation, "glorot")
    layers = [keras.Input(shape=(n_inputs,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(
                width,
                kernel_initializer=KERAS_INIT[init],
                bias_initializer=bias_initializer,
                name=f"dense_{i + 1}",
            )
        )
        layers.append(activation_layer(activation, name=f"{activation}_{i + 1}"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="output"))
    return keras.Sequential(layers, name=f"mlp_{depth}x{width}_{activation}")


# ---------------------------------------------------------------------------------------------------------
# numpy: a deep MLP with any of chapter 03's activations, trained with Adam
# ---------------------------------------------------------------------------------------------------------


@dataclass
class NumpyNet:
    """Weights, biases and (for PReLU) per-unit slopes of an MLP; hidden layers share one activation."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str
    slopes: list[np.ndarray] = field(default_factory=list)  # PReLU only: one slope per unit of each hidden layer

    @property
    def depth(self) -> int:
        """Return the number of hidden layers."""
        return len(self.weights) - 1

    def parameters(self) -> list[np.ndarray]:
        return [*self.weights, *self.biases, *self.slopes]


def init_numpy_net(
    sizes: list[int], activation: str, *, init: str | None = None, bias: float = 0.0, seed: int = 0
) -> NumpyNet:
    """Return a NumpyNet with normal weights (``init``: glorot, he or lecun; default: the recommended one).

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
    return NumpyNet(weights, biases, activation, slopes)


def _hidden(net: NumpyNet, i: int, z: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Return layer i's output and local derivative; RReLU draws slopes when ``rng`` is given (training)."""
    name = net.activation
    if name in ("prelu", "rrelu"):
        if name == "prelu":
            slope = net.slopes[i]
        elif rng is None:
            slope = (activations.RRELU_LOWER + activations.RRELU_UPPER) / 2
        else:
            slope = rng.uniform(activations.RRELU_LOWER, activations.RRELU_UPPER, z.shape).astype(np.float32)
        return np.where(z >= 0, z, slope * z), np.where(z >= 0, np.float32(1), slope).astype(np.float32)
    f, df = activations.get(name)
    return f(z), df(z)


def net_forward(net: NumpyNet, X: np.ndarray, *, rng=None):
    """Return ``(zs, hs, local)``: pre-activations, layer inputs (then logits), activation derivatives."""
    zs, hs, local = [], [np.asarray(X, np.float32)], []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = hs[-1] @ W + b
        zs.append(z)
        if i == net.depth:
            hs.append(z)
        else:
            h, d = _hidden(net, i, z, rng)
            hs.append(h.astype(np.float32))
            local.append(d)
    return zs, hs, local


def net_gradients(net: NumpyNet, X: np.ndarray, y: np.ndarray, *, rng=None):
    """Return ``(loss, grads)``, grads ordered as :meth:`NumpyNet.parameters` (weights, biases, slopes)."""
    zs, hs, local = net_forward(net, X, rng=rng)
    loss, dz = softmax_cross_entropy(zs[-1], y)
    n_layers = len(net.weights)
    dW, db, dslope = [None] * n_layers, [None] * n_layers, [None] * net.depth
    for i in reversed(range(n_layers)):
        if i < net.depth:
            dh = dz
            dz = dh * local[i]
            if net.slopes:
                dslope[i] = np.sum(dh * np.minimum(zs[i], 0), axis=0)  # d(slope * z) / d slope = z, for z < 0
        dW[i] = hs[i].T @ dz
        db[i] = dz.sum(axis=0)
        if i > 0:
            dz = dz @ net.weights[i].T
    return loss, [*dW, *db, *(dslope if net.slopes else [])]


def predict(net: NumpyNet, X: np.ndarray) -> np.ndarray:
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
    net: NumpyNet
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


def dead_fractions(net: NumpyNet, X: np.ndarray) -> np.ndarray:
    """Return, per hidden layer, the fraction of units that output 0 for every row of ``X`` (inference)."""
    _, hs, _ = net_forward(net, X)
    return np.array([np.mean(np.all(h == 0, axis=0)) for h in hs[1:-1]])


def silent_fractions(net: NumpyNet, X: np.ndarray) -> np.ndarray:
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

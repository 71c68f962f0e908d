"""The course's one numpy engine: dense networks with a hand-written backward pass, one or many side by side.

A :class:`MLP` is a stack of dense layers. Its arrays are either one network's, ``(fan_in, fan_out)`` kernels and
``(fan_out,)`` biases, or ``M`` networks' side by side, ``(M, fan_in, fan_out)`` and ``(M, 1, fan_out)``: one
matrix product then trains ``M`` seeds at once (chapters 06 and 07 do, for their seed sweeps). Every chapter's numpy
network is one of these: chapter 01's explorer and chapter 02's statistics, chapter 03's activations (PReLU's
learned slopes and RReLU's random ones included), chapter 06's frozen and cached layers, chapter 07's encoders.

The pieces, each in one place: :func:`init_net` (reads the one initialization table, ``utils.init.INITS``),
:func:`forward` (returns a :class:`Trace`), :func:`backward` (returns :class:`Grads`, optionally the input
gradient), the losses :func:`softmax_cross_entropy` and :func:`mse`, the optimizers :class:`SGD` (Keras' momentum
rule) and :class:`Adam` (Keras' Adam), :func:`fit` (frozen layers computed once: cached) and :func:`accuracy`.
Gradients are checked against TensorFlow's, and a training run against Keras', in ``tests/test_nets.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from utils import activations as _activations
from utils.blas import single_blas_thread
from utils.init import get_init

PRELU_INITIAL_SLOPE = 0.25  # He et al. (2015); Keras' PReLU starts at 0, a plain ReLU
LEARNED_SLOPES = ("prelu",)  # activations with a trainable parameter per unit


@dataclass
class MLP:
    """``weights[i]`` (fan_in, fan_out) or (M, fan_in, fan_out); ``biases[i]`` (fan_out,) or (M, 1, fan_out).

    ``activations`` names each layer's activation (``"linear"`` for logits or a regression output; any name of
    ``utils.activations``, and ``"prelu"``/``"rrelu"``). ``slopes`` maps a PReLU layer's index to its learned
    per-unit slopes. Layers below ``n_frozen`` are not trained; :func:`fit` computes their output once (cached).
    ``frozen_multiply_adds`` counts the multiply-adds spent in frozen layers so far: what caching saves.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]
    slopes: dict[int, np.ndarray] = field(default_factory=dict)
    n_frozen: int = 0
    frozen_multiply_adds: int = field(default=0, repr=False)

    def __post_init__(self):
        if not len(self.weights) == len(self.biases) == len(self.activations):
            raise ValueError("weights, biases and activations need one entry per layer")

    @property
    def n_models(self) -> int | None:
        """Return M, the number of networks side by side, or None for one network with 2-D kernels."""
        return self.weights[0].shape[0] if self.weights[0].ndim == 3 else None

    @property
    def sizes(self) -> tuple[int, ...]:
        """Return the layer widths, input first."""
        return (self.weights[0].shape[-2], *(w.shape[-1] for w in self.weights))

    @property
    def depth(self) -> int:
        """Return the number of hidden layers (every layer but the output)."""
        return len(self.weights) - 1

    def parameters(self) -> list[np.ndarray]:
        """Return the trainable arrays (layers from ``n_frozen`` on): weights, biases, then PReLU slopes."""
        top = range(self.n_frozen, len(self.weights))
        return [
            *(self.weights[i] for i in top),
            *(self.biases[i] for i in top),
            *(self.slopes[i] for i in sorted(self.slopes) if i >= self.n_frozen),
        ]

    def copy(self) -> MLP:
        """Return a deep copy (the same ``n_frozen``)."""
        return MLP(
            [w.copy() for w in self.weights],
            [b.copy() for b in self.biases],
            list(self.activations),
            {i: s.copy() for i, s in self.slopes.items()},
            self.n_frozen,
        )

    def layers(self, start: int = 0, stop: int | None = None) -> MLP:
        """Return layers ``start:stop`` as a network sharing these arrays (not copies); nothing frozen."""
        index = range(len(self.weights))[start:stop]
        return MLP(
            [self.weights[i] for i in index],
            [self.biases[i] for i in index],
            [self.activations[i] for i in index],
            {i - index.start: self.slopes[i] for i in index if i in self.slopes},
        )

    def then(self, other: MLP) -> MLP:
        """Return this network followed by ``other`` (the same arrays, not copies), frozen as this one is."""
        offset = len(self.weights)
        return MLP(
            self.weights + other.weights,
            self.biases + other.biases,
            self.activations + other.activations,
            {**self.slopes, **{i + offset: s for i, s in other.slopes.items()}},
            self.n_frozen,
        )

    def select(self, models) -> MLP:
        """Return a copy holding only the networks at positions ``models`` (repeats allowed) of a stacked MLP."""
        if self.n_models is None:
            raise ValueError("select() needs networks side by side (3-D kernels)")
        models = np.asarray(models)
        return MLP(
            [w[models] for w in self.weights],
            [b[models] for b in self.biases],
            list(self.activations),
            {i: s[models] for i, s in self.slopes.items()},
            self.n_frozen,
        )


def init_net(
    sizes,
    activations,
    *,
    init="recommended",
    distribution: str = "normal",
    n_models: int | None = None,
    seed: int | np.random.Generator = 0,
    dtype=np.float64,
    bias: float = 0.0,
    output_init: str | None = "glorot",
) -> MLP:
    """Return a freshly initialized network: weights from ``utils.init.INITS``, biases ``bias`` (output: 0).

    Parameters
    ----------
    sizes : layer widths, input first (``[64, 100, 100, 10]``: two hidden layers of 100).
    activations : one name for every hidden layer, or a list with one name per layer (output included).
        With one name, the output layer is ``"linear"`` (logits).
    init : a key of ``utils.init.INITS`` (``"lecun"``, ``"glorot"``, ``"he"``...), an ``Init``, a list with one
        per layer, or ``"recommended"`` (He before the ReLU family, LeCun before SELU, Glorot otherwise).
    distribution : ``"normal"``, or ``"uniform"`` on [-r, r] with the same variance.
    n_models : None for one network (2-D kernels), or M networks side by side, each its own draw.
    seed : an int, or a ``numpy.random.Generator`` to draw from (the draws: layer by layer, kernels only).
    dtype : of every array (draws are made in float64, then cast).
    bias : the hidden biases' initial value (a negative one silences ReLU units on purpose).
    output_init : the output layer's rule (Glorot, as Keras' default), or None to use ``init``'s.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs an input and an output width, all >= 1; got {sizes}")
    n_layers = len(sizes) - 1
    acts = [activations] * (n_layers - 1) + ["linear"] if isinstance(activations, str) else list(activations)
    if len(acts) != n_layers:
        raise ValueError(f"need {n_layers} activations (one per layer), got {len(acts)}")
    for name in acts:
        _check_activation(name)  # fail early, with the list of names
    inits = list(init) if isinstance(init, list | tuple) else [init] * n_layers
    if not isinstance(init, list | tuple) and output_init is not None:
        inits[-1] = output_init
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    lead = () if n_models is None else (n_models,)
    weights, biases, slopes = [], [], {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        rule = get_init(recommended_init(acts[i]) if inits[i] == "recommended" else inits[i])
        shape = (*lead, fan_in, fan_out)
        if distribution == "normal":
            w = rule.std((fan_in, fan_out)) * rng.standard_normal(shape)
        elif distribution == "uniform":
            limit = rule.limit((fan_in, fan_out))
            w = rng.uniform(-limit, limit, shape)
        else:
            raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
        weights.append(w.astype(dtype, copy=False))
        b_shape = (fan_out,) if n_models is None else (n_models, 1, fan_out)
        biases.append(np.full(b_shape, bias if i < n_layers - 1 else 0.0, dtype))
        if acts[i] in LEARNED_SLOPES:
            slopes[i] = np.full(b_shape, PRELU_INITIAL_SLOPE, dtype)
    return MLP(weights, biases, acts, slopes)


RECOMMENDED_INIT = {"sigmoid": "glorot", "tanh": "glorot", "linear": "glorot", "softmax": "glorot", "selu": "lecun"}


def recommended_init(activation: str) -> str:
    """Return the initialization chapter 02 recommends: Glorot for sigmoid/tanh, LeCun for SELU, He otherwise."""
    return RECOMMENDED_INIT.get(activation, "he")


def _check_activation(name: str) -> None:
    """Raise a ValueError listing the known names unless ``name`` is one (PReLU and RReLU live in :func:`forward`)."""
    if name not in ("prelu", "rrelu"):
        _activations.get(name)


# ------------------------------------------------------------------------------------------------------------
# Forward and backward
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Trace:
    """What :func:`forward` computed: ``inputs[k]`` feeds layer ``start + k`` (the network's output last),
    ``pre[k]`` is that layer's pre-activation; ``rrelu`` holds the random slopes drawn in training mode."""

    inputs: list[np.ndarray]
    pre: list[np.ndarray]
    start: int = 0
    rrelu: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        return self.inputs[-1]

    @property
    def hidden(self) -> list[np.ndarray]:
        """Return the outputs of the hidden layers (not the network's input, not its output)."""
        return self.inputs[1:-1]


def _as_float(X: np.ndarray, like: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(like.dtype)


def _activate(net: MLP, i: int, z: np.ndarray, rng, trace: Trace) -> np.ndarray:
    name = net.activations[i]
    if name == "prelu":
        return np.where(z >= 0, z, net.slopes[i] * z).astype(z.dtype, copy=False)
    if name == "rrelu":
        if rng is None:  # inference: the mean slope
            slope = (_activations.RRELU_LOWER + _activations.RRELU_UPPER) / 2
        else:
            slope = rng.uniform(_activations.RRELU_LOWER, _activations.RRELU_UPPER, z.shape).astype(z.dtype)
            trace.rrelu[i] = slope
        return np.where(z >= 0, z, slope * z).astype(z.dtype)
    return _activations.get(name)[0](z).astype(z.dtype, copy=False)


def forward(net: MLP, X: np.ndarray, *, start: int = 0, stop: int | None = None, rng=None) -> Trace:
    """Run layers ``start:stop`` on ``X`` (which feeds layer ``start``) and return the :class:`Trace`.

    ``X`` is (n, features), shared by all M networks, or (M, n, features). ``rng`` switches RReLU to training
    mode (fresh random slopes, drawn from ``rng``); without it every layer runs in inference mode.
    """
    trace = Trace([_as_float(X, net.weights[0])], [], start)
    stop = len(net.weights) if stop is None else stop
    for i in range(start, stop):
        z = trace.inputs[-1] @ net.weights[i] + net.biases[i]
        if i < net.n_frozen:  # counted: what caching saves is exactly this work, repeated every epoch
            net.frozen_multiply_adds += z.size * net.weights[i].shape[-2]
        trace.pre.append(z)
        trace.inputs.append(_activate(net, i, z, rng, trace))
    return trace


def _local(net: MLP, i: int, z: np.ndarray, trace: Trace) -> np.ndarray:
    """Return the activation's derivative at ``z`` for layer ``i``."""
    name = net.activations[i]
    if name in ("prelu", "rrelu"):
        if name == "prelu":
            slope = net.slopes[i]
        else:
            slope = trace.rrelu.get(i, (_activations.RRELU_LOWER + _activations.RRELU_UPPER) / 2)
        return np.where(z >= 0, 1, slope).astype(z.dtype)
    return _activations.get(name)[1](z)


@dataclass
class Grads:
    """What :func:`backward` computed, for the trained layers of the trace (index = layer index - ``first``).

    ``params`` is ordered as :meth:`MLP.parameters`; ``outputs[k]`` is the gradient with respect to layer
    ``first + k``'s output (the network's output last); ``input`` the one for the trace's input, if asked.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    slopes: dict[int, np.ndarray]
    outputs: list[np.ndarray]
    first: int
    input: np.ndarray | None = None

    @property
    def params(self) -> list[np.ndarray]:
        return [*self.weights, *self.biases, *(self.slopes[i] for i in sorted(self.slopes))]


def backward(
    net: MLP, trace: Trace, d_out: np.ndarray, *, input_gradient: bool = False, stop: int | None = None
) -> Grads:
    """Backpropagate ``d_out`` (the loss gradient for the trace's output) through the traced layers.

    Stops at layer ``max(trace.start, net.n_frozen)`` (or ``stop``, to go lower; e.g. 0 to measure every layer's
    gradient of a frozen network); ``input_gradient`` also returns the gradient for that layer's input.
    """
    first = max(trace.start, net.n_frozen) if stop is None else max(trace.start, stop)
    last = trace.start + len(trace.pre)
    n = last - first
    d_ws, d_bs, d_outs, d_slopes = [None] * n, [None] * n, [None] * n, {}
    d = d_out
    for i in reversed(range(first, last)):
        k, z = i - trace.start, trace.pre[i - trace.start]
        d_outs[i - first] = d
        if net.activations[i] in LEARNED_SLOPES:
            d_slopes[i] = np.sum(d * np.minimum(z, 0), axis=-2, keepdims=net.slopes[i].ndim == d.ndim)
        d = d * _local(net, i, z, trace)
        h = trace.inputs[k]
        if h.ndim != d.ndim:  # inputs shared by the M networks
            h = np.broadcast_to(h, (*d.shape[:-1], h.shape[-1]))
        d_ws[i - first] = np.swapaxes(h, -1, -2) @ d
        d_bs[i - first] = d.sum(axis=-2, keepdims=net.biases[i].ndim == d.ndim)
        if i > first or input_gradient:  # the lowest layer's input needs no gradient: skip one product
            d = d @ np.swapaxes(net.weights[i], -1, -2)
    return Grads(d_ws, d_bs, d_slopes, d_outs, first, d if input_gradient else None)


# ------------------------------------------------------------------------------------------------------------
# Losses: the value (one per network when stacked) and the gradient for the output
# ------------------------------------------------------------------------------------------------------------


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray):
    """Return the mean cross-entropy of integer labels ``y`` and its gradient with respect to ``logits``.

    ``logits`` is (n, classes), or (M, n, classes) with ``y`` (n,) shared or (M, n); the loss is a float, or
    one per network (shape (M,)).
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    n = logits.shape[-2]
    if logits.ndim == 2:
        index = (np.arange(n), np.asarray(y))
    else:  # each network's row i, label y[i] (or y[m, i])
        index = (np.arange(logits.shape[0])[:, None], np.arange(n), np.broadcast_to(y, logits.shape[:-1]))
    grad = np.exp(log_p)
    grad[index] -= 1
    loss = -log_p[index].mean(axis=-1)
    return (float(loss) if loss.ndim == 0 else loss), (grad / n).astype(logits.dtype, copy=False)


def mse(output: np.ndarray, target: np.ndarray):
    """Return the mean squared error (one per network when stacked) and its gradient with respect to ``output``."""
    error = output - target
    per_network = error.shape[-2] * error.shape[-1]
    loss = np.mean(error**2, axis=(-2, -1))
    return (float(loss) if loss.ndim == 0 else loss), 2 * error / per_network


LOSSES = {"cross_entropy": softmax_cross_entropy, "mse": mse}


# ------------------------------------------------------------------------------------------------------------
# Optimizers, as Keras computes them
# ------------------------------------------------------------------------------------------------------------


class SGD:
    """Keras' SGD: velocity = momentum · velocity − learning_rate · gradient; parameter += velocity."""

    def __init__(self, params: list[np.ndarray], learning_rate: float = 0.01, momentum: float = 0.0):
        self.lr, self.momentum = learning_rate, momentum
        self.velocity = [np.zeros_like(p) for p in params] if momentum else None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place."""
        if self.velocity is None:
            for p, g in zip(params, grads, strict=True):
                p -= (self.lr * g).astype(p.dtype, copy=False)
            return
        for p, g, v in zip(params, grads, self.velocity, strict=True):
            v *= self.momentum
            v -= self.lr * g
            p += v


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


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(net: MLP, optimizer="adam", learning_rate: float = 1e-3, **kwargs):
    """Return ``optimizer`` (a name of ``OPTIMIZERS``, or an instance, returned as is) for ``net``'s parameters."""
    if not isinstance(optimizer, str):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    return OPTIMIZERS[optimizer](net.parameters(), learning_rate, **kwargs)


# ------------------------------------------------------------------------------------------------------------
# Training and evaluation
# ------------------------------------------------------------------------------------------------------------


def gradients(net: MLP, X, y, *, loss: str = "cross_entropy", rng=None, start: int = 0):
    """Return ``(loss, grads)`` for one batch; ``grads`` ordered as :meth:`MLP.parameters`."""
    trace = forward(net, X, start=start, rng=rng)
    value, d_out = LOSSES[loss](trace.output, y)
    return value, backward(net, trace, d_out).params


def batches(n: int, batch_size: int, rng=None, n_models: int | None = None):
    """Yield one epoch's batches of row indices: in order (no ``rng``), one shuffle, or one per network (M, batch)."""
    if rng is None:
        order = np.arange(n)
    elif n_models is None:
        order = rng.permutation(n)
    else:
        order = np.argsort(rng.random((n_models, n)), axis=1)
    for first in range(0, n, batch_size):
        yield order[..., first : first + batch_size]


def rows(X: np.ndarray, index: np.ndarray, *, stacked: bool) -> np.ndarray:
    """Return the rows ``index`` of ``X``; ``stacked``: ``X`` has one block per network on axis 0, (M, n, ...).

    ``index`` is (batch,), the same rows for every network, or (M, batch), each network its own.
    """
    if not stacked:
        return X[index]
    if index.ndim == 1:
        return X[:, index]
    return X[np.arange(len(index))[:, None], index]


@dataclass
class History:
    """What :func:`fit` returns: the mean training loss per epoch (per network when stacked), and seconds."""

    loss: np.ndarray
    seconds: float


def fit(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 32,
    optimizer="adam",
    learning_rate: float = 1e-3,
    loss: str = "cross_entropy",
    rng: np.random.Generator | None = None,
    cache: bool = True,
    on_epoch_end=None,
    **optimizer_kwargs,
) -> History:
    """Train ``net`` in place with mini-batches; return its :class:`History`.

    Parameters
    ----------
    X, y : inputs (n, f) shared or (M, n, f), targets (labels (n,) or (M, n); or outputs for ``loss="mse"``).
    epochs, batch_size : passes over the data and rows per step.
    optimizer : ``"adam"``, ``"sgd"`` (``momentum=`` in ``optimizer_kwargs``), or an optimizer instance (to keep its
        state across calls).
    rng : shuffles every epoch (one order, or one per network when stacked) and draws RReLU's training slopes;
        None: the same order every epoch, like Keras' ``fit(shuffle=False)``.
    cache : run the frozen layers once, before training (False: at every step, as an uncached model does).
    on_epoch_end : called as ``on_epoch_end(net, epoch)`` after each epoch (not timed).
    """
    optimizer = make_optimizer(net, optimizer, learning_rate, **optimizer_kwargs)
    params = net.parameters()
    start = net.n_frozen if cache else 0
    with single_blas_thread():
        features = forward(net, X, stop=net.n_frozen).output if cache and net.n_frozen else X
        y = np.asarray(y)
        stacked_x, stacked_y = features.ndim == 3, y.ndim == (3 if loss == "mse" else 2)
        n, losses, seconds = features.shape[-2], [], 0.0
        for epoch in range(epochs):
            began, epoch_loss = time.perf_counter(), []
            for index in batches(n, batch_size, rng, net.n_models if rng is not None else None):
                X_batch, y_batch = rows(features, index, stacked=stacked_x), rows(y, index, stacked=stacked_y)
                value, grads = gradients(net, X_batch, y_batch, loss=loss, rng=rng, start=start)
                optimizer.step(params, grads)
                epoch_loss.append(value)
            seconds += time.perf_counter() - began
            losses.append(np.mean(epoch_loss, axis=0))
            if on_epoch_end is not None:
                on_epoch_end(net, epoch)
    return History(np.array(losses), seconds)


def predict(net: MLP, X: np.ndarray) -> np.ndarray:
    """Return the network's raw outputs (logits for a classifier), inference mode."""
    with single_blas_thread():
        return forward(net, X).output


def classes(net: MLP, X: np.ndarray) -> np.ndarray:
    """Return the predicted classes (the argmax of the outputs), (n,) or (M, n)."""
    return np.argmax(predict(net, X), axis=-1)


def accuracy(net: MLP, X: np.ndarray, y: np.ndarray):
    """Return the accuracy on ``(X, y)``: a float, or one per network (shape (M,)) when stacked."""
    result = np.mean(classes(net, X) == y, axis=-1)
    return float(result) if np.ndim(result) == 0 else result

"""Activation functions and their derivatives in numpy, checked against Keras in the tests.

Taught in chapters 01 (logistic, tanh) and 03 (the ReLU family, ELU, SELU).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from utils.blas import single_blas_thread
from utils.init import LEAKY_SLOPE, get_init

# SELU's constants (Klambauer et al., 2017), the same as keras.activations.selu.
SELU_ALPHA = 1.6732632423543772
SELU_LAMBDA = 1.0507009873554805


def sigmoid(z):
    """Return the logistic function 1 / (1 + exp(-z)), stable for large |z|."""
    # 0.5 (1 + tanh(z/2)) is the same function, overflow-free and faster than exp for large arrays.
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def sigmoid_grad(z):
    """Return the logistic function's derivative s(z)(1 - s(z)), at most 0.25 (at z = 0)."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1 - np.tanh(z) ** 2


def relu(z):
    """Return max(0, z)."""
    return np.maximum(0, z)


def relu_grad(z):
    z = np.asarray(z)
    return (z > 0).astype(_float_dtype(z))


def leaky_relu(z, slope: float = LEAKY_SLOPE):
    """Return max(slope * z, z) (for 0 < slope < 1)."""
    z = np.asarray(z)
    return np.where(z > 0, z, slope * z).astype(_float_dtype(z))


def leaky_relu_grad(z, slope: float = LEAKY_SLOPE):
    z = np.asarray(z)
    return np.where(z > 0, 1.0, slope).astype(_float_dtype(z))


def elu(z, alpha: float = 1.0):
    """Return z for z >= 0 and alpha (exp(z) - 1) for z < 0."""
    z = np.asarray(z)
    # alpha (exp(min(z, 0)) - 1) + max(z, 0): the same numbers as np.where(z > 0, ...), no overflow for large z,
    # and in place: the explorers call this on every slider move, 100 layers deep (2-3x faster than np.where).
    out = np.asarray(np.expm1(np.minimum(z, 0), dtype=_float_dtype(z)))
    out *= alpha
    out += np.maximum(z, 0)
    return out


def elu_grad(z, alpha: float = 1.0):
    z = np.asarray(z)
    out = np.asarray(np.exp(np.minimum(z, 0), dtype=_float_dtype(z)))
    out *= alpha
    np.putmask(out, z > 0, 1.0)
    return out


def selu(z):
    """Return lambda * elu(z, alpha) with SELU's alpha and lambda."""
    return SELU_LAMBDA * elu(z, SELU_ALPHA)


def selu_grad(z):
    return SELU_LAMBDA * elu_grad(z, SELU_ALPHA)


def linear(z):
    return np.asarray(z)


def linear_grad(z):
    z = np.asarray(z)
    return np.ones_like(z, dtype=_float_dtype(z))


def _float_dtype(z: np.ndarray):
    """Keep float32 inputs in float32 (derivatives must not silently promote a fast float32 network)."""
    return z.dtype if z.dtype.kind == "f" else np.float64


# name -> (function, derivative); the names are Keras' activation names.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "elu": (elu, elu_grad),
    "selu": (selu, selu_grad),
    "linear": (linear, linear_grad),
}

# The derivative's maximum, used to call a unit "saturated" when f'(z) < 10% of it (bounded functions only).
SATURATING = {"sigmoid": 0.25, "tanh": 1.0}
SATURATION_THRESHOLD = 0.1


def get(name: str):
    """Return ``(f, f_prime)`` for an activation name, or raise a ValueError listing the known names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def saturated_fraction(name: str, outputs: np.ndarray) -> float:
    """Return the fraction of outputs where a bounded activation's slope is under 10% of its maximum.

    Works from the outputs alone (s' = s(1 - s), tanh' = 1 - t^2), so it applies to any Keras layer too.
    Unbounded activations (ReLU family, ELU, SELU, linear) never saturate on the positive side: 0.
    """
    if name not in SATURATING:
        return 0.0
    a = np.asarray(outputs, dtype=np.float64)
    slope = a * (1 - a) if name == "sigmoid" else 1 - a**2
    return float(np.mean(slope < SATURATION_THRESHOLD * SATURATING[name]))


# ---------------------------------------------------------------------------------------------------------
# Chapter 03: GELU and SiLU (today's defaults), randomized leaky ReLU, and the signal through a deep stack
# ---------------------------------------------------------------------------------------------------------

# PyTorch's RReLU: slope ~ U(1/8, 1/3) in training, (1/8 + 1/3) / 2 at inference. Xu et al. (2015) instead divide
# by a ~ U(3, 8) (slopes 1/a: the same range, not uniform) and by (3 + 8) / 2 = 5.5 at test time (chapter 03).
RRELU_LOWER, RRELU_UPPER = 1 / 8, 1 / 3
RRELU_PAPER_DIVISORS = (3.0, 8.0)  # Xu et al. (2015): y = z / a for z < 0, a ~ U(3, 8); y = z / 5.5 at test time
_SQRT_HALF, _INV_SQRT_2PI = 0.5**0.5, (2 * np.pi) ** -0.5  # Python floats: float32 inputs stay float32


def gelu(z):
    """Return GELU, z * Phi(z) with Phi the standard normal CDF (the exact form, as Keras' default)."""
    from scipy.special import erf  # scipy comes with scikit-learn; imported here to keep `import utils` light

    z = np.asarray(z)
    out = erf(z * _SQRT_HALF) + 1.0  # in place from here on: the explorer calls this 100 times per move
    out *= 0.5 * z
    return np.asarray(out).astype(_float_dtype(z), copy=False)


def gelu_grad(z):
    """Return GELU's derivative Phi(z) + z * phi(z) (it dips slightly below 0 near z = -0.75)."""
    from scipy.special import erf

    z = np.asarray(z)
    pdf = np.exp(-0.5 * np.square(z)) * _INV_SQRT_2PI
    pdf *= z
    out = erf(z * _SQRT_HALF) + 1.0
    out *= 0.5
    out += pdf
    return np.asarray(out).astype(_float_dtype(z), copy=False)


def silu(z):
    """Return SiLU (also called Swish), z * sigmoid(z)."""
    z = np.asarray(z)
    return (z * sigmoid(z)).astype(_float_dtype(z))


def silu_grad(z):
    """Return SiLU's derivative s(z) (1 + z (1 - s(z)))."""
    z = np.asarray(z)
    s = sigmoid(z)
    return (s * (1 + z * (1 - s))).astype(_float_dtype(z))


swish = silu  # Keras has both names for the same function
swish_grad = silu_grad


def rrelu(z, lower: float = RRELU_LOWER, upper: float = RRELU_UPPER, *, rng=None):
    """Return randomized leaky ReLU: a slope ~ U(lower, upper) per element if ``rng`` is given (training),
    else the mean slope (lower + upper) / 2 (inference). PyTorch's variant; the paper's is in chapter 03."""
    z = np.asarray(z)
    slope = (lower + upper) / 2 if rng is None else rng.uniform(lower, upper, size=z.shape)
    return leaky_relu(z, slope)


def rrelu_grad(z, lower: float = RRELU_LOWER, upper: float = RRELU_UPPER):
    """Return the derivative of RReLU at inference (the mean slope for z <= 0)."""
    return leaky_relu_grad(z, (lower + upper) / 2)


# The one parameter of each parametrized activation: (the name shown to learners, its default value).
PARAMETERS = {"leaky_relu": ("slope", LEAKY_SLOPE), "elu": ("α", 1.0), "selu": ("α", SELU_ALPHA)}


def with_parameter(name: str, value: float | None = None):
    """Return ``(f, f_prime)`` of activation ``name`` with its slope or α set to ``value``.

    SELU keeps λ and changes only α. Parameter-free activations ignore ``value``; ``"rrelu"`` is its
    inference form (the mean slope).
    """
    if name == "rrelu":
        return rrelu, rrelu_grad
    f, df = get(name)
    if name not in PARAMETERS or value is None:
        return f, df
    if name == "leaky_relu":
        return (lambda z: leaky_relu(z, value)), (lambda z: leaky_relu_grad(z, value))
    if name == "elu":
        return (lambda z: elu(z, value)), (lambda z: elu_grad(z, value))
    return (lambda z: SELU_LAMBDA * elu(z, value)), (lambda z: SELU_LAMBDA * elu_grad(z, value))


@dataclass
class DepthSignal:
    """A batch pushed through a freshly initialized stack of dense layers: function, per-layer statistics."""

    activation: str
    z: np.ndarray  # a grid, with f and df on it, for drawing the function
    f: np.ndarray
    df: np.ndarray
    mean: np.ndarray  # per hidden layer, over every example and unit of the layer's outputs
    std: np.ndarray
    unit_std: np.ndarray  # per layer, each unit's std over the examples, averaged over units
    dead: np.ndarray  # fraction of units that output 0 for every example
    grad_std: np.ndarray  # std of a backpropagated random gradient at each layer's pre-activations
    diverged_at: int | None = None  # first layer (1-based) past DIVERGED; statistics are NaN from there


DIVERGED = 1e6
SIGNAL_MAX_DEPTH, SIGNAL_MAX_WIDTH = 200, 128


def compute_signal_through_depth(
    activation: str = "selu",
    depth: int = 100,
    width: int = 100,
    *,
    param: float | None = None,
    init="lecun",
    X: np.ndarray | None = None,
    input_shift: float = 0.0,
    input_scale: float = 1.0,
    dropout: float = 0.0,
    alpha_dropout: bool = False,
    skip: bool = False,
    n: int = 128,
    seed: int = 0,
) -> DepthSignal:
    """Return per-layer statistics of a batch pushed forward (a random gradient backward) through a stack.

    Taught in chapter 03 (self-normalization, and what breaks it); pure and fast, so its explorer calls it on
    every slider move. Biases are zero; dropout layers run in training mode after every activation.

    Parameters
    ----------
    activation, param : the hidden layers' activation and its slope or α (see :func:`with_parameter`).
    depth, width : number (<= 200) and width (<= 128) of the hidden layers.
    init : a key of ``utils.init.INITS`` (``"lecun"``, ``"he"``, ``"glorot"``...): normal weights of that std, or
        a function ``(fan_in, fan_out) -> std``.
    X : the inputs (rows are examples); default: ``n`` rows of 64 standard normal features.
    input_shift, input_scale : the inputs become ``X * input_scale + input_shift`` (1 and 0: unchanged).
    dropout, alpha_dropout : a dropout rate after each activation, regular or alpha dropout (SELU's).
    skip : add each layer's input to its output (a residual connection) where the shapes agree.
    seed : for the default inputs, the weights and the dropout masks (the same seed gives the same draws).
    """
    if not (1 <= depth <= SIGNAL_MAX_DEPTH and 1 <= width <= SIGNAL_MAX_WIDTH and 0 <= dropout < 1):
        raise ValueError(
            f"need 1 <= depth <= {SIGNAL_MAX_DEPTH}, 1 <= width <= {SIGNAL_MAX_WIDTH} and 0 <= dropout < 1; "
            f"got {depth}, {width}, {dropout}"
        )
    with single_blas_thread():
        return _signal_through_depth(
            activation, depth, width, param, init, X, input_shift, input_scale, dropout, alpha_dropout,
            skip, n, seed,
        )  # fmt: skip


def _signal_through_depth(
    activation, depth, width, param, init, X, input_shift, input_scale, dropout, alpha_dropout, skip, n, seed
) -> DepthSignal:
    f, df = with_parameter(activation, param)
    X = _signal_inputs(n, seed) if X is None else np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] > SIGNAL_MAX_WIDTH:
        raise ValueError(f"X must be 2-D with at most {SIGNAL_MAX_WIDTH} columns; got shape {X.shape}")
    units = _signal_weights(seed)
    uniforms = _signal_uniforms(len(X), seed) if dropout else None
    h = (X * input_scale + input_shift).astype(np.float32)
    stats = {key: np.full(depth, np.nan) for key in ("mean", "std", "unit_std", "dead", "grad_std")}
    caches, diverged_at = [], None
    for i in range(depth):
        std = init(h.shape[1], width) if callable(init) else get_init(init).std((h.shape[1], width))
        W = np.float32(std) * units[i, : h.shape[1], :width]
        z = h @ W
        mask_draws = None if uniforms is None else uniforms[i, :, :width]
        out, gain = _dropout(f(z).astype(np.float32, copy=False), dropout, alpha_dropout, mask_draws)
        h = h + out if skip and h.shape == out.shape else out
        caches.append((W, z, gain, skip and W.shape[0] == W.shape[1]))
        if not np.max(np.abs(h)) <= DIVERGED:  # also catches NaN
            diverged_at = i + 1
            break
        _record_layer(stats, i, h)
    if diverged_at is None:
        g = np.random.default_rng(seed).standard_normal(h.shape).astype(np.float32)
        for i in reversed(range(depth)):
            W, z, gain, residual = caches[i]
            gz = g * df(z) if isinstance(gain, float) and gain == 1.0 else g * gain * df(z)
            stats["grad_std"][i] = gz.std()
            g = gz @ W.T + (g if residual else 0)
    z_grid = np.linspace(-4, 4, 161)
    return DepthSignal(activation, z_grid, f(z_grid), df(z_grid), diverged_at=diverged_at, **stats)


def _record_layer(stats: dict, i: int, h: np.ndarray) -> None:
    """Store layer i's mean, std, mean per-unit std and dead fraction (one pass for the sums, in float64)."""
    column_mean = h.sum(axis=0, dtype=np.float64) / len(h)
    column_square = (h * h).sum(axis=0, dtype=np.float64) / len(h)
    mean = column_mean.mean()
    stats["mean"][i], stats["std"][i] = mean, np.sqrt(max(column_square.mean() - mean**2, 0.0))
    stats["unit_std"][i] = np.mean(np.sqrt(np.maximum(column_square - column_mean**2, 0.0)))
    stats["dead"][i] = np.mean(~np.any(h, axis=0))  # no unit output other than 0 (NaN counts as alive)


def _dropout(a: np.ndarray, rate: float, alpha: bool, uniform: np.ndarray):
    """Return dropout's output in training mode and its derivative with respect to ``a`` (as in Keras)."""
    if rate == 0:
        return a, 1.0
    keep = uniform >= rate
    if not alpha:
        return np.where(keep, a / (1 - rate), 0).astype(np.float32), keep / (1 - rate)
    saturation = -SELU_LAMBDA * SELU_ALPHA  # dropped units go to SELU's negative saturation value, not 0
    scale = ((1 - rate) * (1 + rate * saturation**2)) ** -0.5
    shift = -scale * saturation * rate
    return (scale * np.where(keep, a, saturation) + shift).astype(np.float32), scale * keep


def _signal_inputs(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 64), dtype=np.float32)


@functools.lru_cache(maxsize=2)
def _signal_weights(seed: int) -> np.ndarray:
    """Return N(0, 1) matrices to slice every layer's weights from, drawn once per seed.

    Not ``utils.mlp.unit_draws`` (the other explorers'): this stack goes 200 layers deep, and utils.mlp sits
    above this module. Nor ``utils.nets``: its dropout, alpha dropout and residual paths are this simulator's own.

    Moving a slider then changes the network's scale, never the random numbers behind it (and costs no draw).
    """
    draws = np.random.default_rng([seed, 1]).standard_normal(
        (SIGNAL_MAX_DEPTH, SIGNAL_MAX_WIDTH, SIGNAL_MAX_WIDTH), dtype=np.float32
    )
    draws.flags.writeable = False
    return draws


@functools.lru_cache(maxsize=2)
def _signal_uniforms(n: int, seed: int) -> np.ndarray:
    """Return U(0, 1) draws for the dropout masks of ``n`` examples, drawn once per (n, seed)."""
    draws = np.random.default_rng([seed, 2]).random((SIGNAL_MAX_DEPTH, n, SIGNAL_MAX_WIDTH), dtype=np.float32)
    draws.flags.writeable = False
    return draws


ACTIVATIONS["gelu"] = (gelu, gelu_grad)
ACTIVATIONS["silu"] = (silu, silu_grad)

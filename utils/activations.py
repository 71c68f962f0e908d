"""Activation functions and their derivatives in numpy, checked against Keras in the tests.

Taught in chapters 01 (logistic, tanh) and 03 (the ReLU family, ELU, SELU).
"""

from __future__ import annotations

import numpy as np

# SELU's constants (Klambauer et al., 2017), the same as keras.activations.selu.
SELU_ALPHA = 1.6732632423543772
SELU_LAMBDA = 1.0507009873554805
LEAKY_SLOPE = 0.2  # the default of keras.activations.leaky_relu (the LeakyReLU *layer* defaults to 0.3)


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
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))).astype(_float_dtype(z))


def elu_grad(z, alpha: float = 1.0):
    z = np.asarray(z)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))).astype(_float_dtype(z))


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
